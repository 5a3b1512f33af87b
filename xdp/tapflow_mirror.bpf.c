/* tapflow's tc programs for mirror mode.
 * tapflow_mirror runs on the ingress and egress hooks of a mirrored interface:
 * it sends a clone of every packet out of tapflow's veth and lets the original
 * go on untouched. tapflow_sink runs on the ingress hook of the veth's captured
 * end, after the capture taps: clones must not reach that end's IP stack.
 * Names and maps are shared with C++ via tapflow_mirror_shared.h. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "tapflow_mirror_shared.h"

/* The kernel reads the license string to decide which helpers the program may
 * use; bpf_clone_redirect is available to any license. */
char LICENSE[] SEC("license") = "Apache-2.0";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tapflow_mirror_config);
} TAPFLOW_MIRROR_CONFIG_MAP SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TAPFLOW_MIRROR_ACTION_COUNT);
	__type(key, __u32);
	__type(value, struct tapflow_mirror_count);
} TAPFLOW_MIRROR_STATS_MAP SEC(".maps");

static __always_inline void count(__u32 action, __u64 bytes)
{
	struct tapflow_mirror_count *c = bpf_map_lookup_elem(&TAPFLOW_MIRROR_STATS_MAP, &action);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* TC_ACT_UNSPEC, not TC_ACT_OK: in direct-action mode TC_ACT_OK ends the
 * hook's filter list, so a CNI's own filter after this one would no longer
 * run. UNSPEC hands the packet on to the next filter, or to the stack. */
SEC("tc")
int TAPFLOW_MIRROR_PROG(struct __sk_buff *skb)
{
	__u32 key = 0;
	struct tapflow_mirror_config *cfg = bpf_map_lookup_elem(&TAPFLOW_MIRROR_CONFIG_MAP, &key);

	if (!cfg || cfg->target_ifindex == 0) {
		count(TAPFLOW_MIRROR_UNCONFIGURED, skb->len);
		return TC_ACT_UNSPEC;
	}
	/* Flags 0: out of the veth's egress, so it arrives at the peer's ingress. */
	if (bpf_clone_redirect(skb, cfg->target_ifindex, 0) == 0)
		count(TAPFLOW_MIRROR_CLONED, skb->len);
	else
		count(TAPFLOW_MIRROR_CLONE_FAILED, skb->len);
	return TC_ACT_UNSPEC;
}

/* Capture taps (AF_PACKET) and XDP (AF_XDP) have seen the packet by the time
 * tc ingress runs; dropping here keeps a clone of someone else's broadcast,
 * router advertisement or ARP request from being answered by this host. */
SEC("tc")
int TAPFLOW_MIRROR_SINK_PROG(struct __sk_buff *skb)
{
	return TC_ACT_SHOT;
}
