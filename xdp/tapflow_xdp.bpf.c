/* tapflow's XDP program: decides in the kernel which packets reach user space.
 * Packets in the target set (addresses/CIDRs, ports, protocols) go to the AF_XDP
 * socket of their RX queue; everything else, and anything not IP, goes to the
 * stack untouched. Maps and names are shared with C++ via tapflow_xdp_shared.h. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tapflow_xdp_shared.h"

/* The kernel reads the license string to decide which helpers the program may
 * use; every helper used here is available to any license. */
char LICENSE[] SEC("license") = "Apache-2.0";

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, TAPFLOW_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} TAPFLOW_XDP_XSKS_MAP SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TAPFLOW_XDP_MAX_CIDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tapflow_lpm_v4_key);
	__type(value, tapflow_set_value);
} TAPFLOW_XDP_CIDR4_MAP SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TAPFLOW_XDP_MAX_CIDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tapflow_lpm_v6_key);
	__type(value, tapflow_set_value);
} TAPFLOW_XDP_CIDR6_MAP SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TAPFLOW_XDP_MAX_PORTS);
	__type(key, tapflow_port_key);
	__type(value, tapflow_set_value);
} TAPFLOW_XDP_PORTS_MAP SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TAPFLOW_XDP_PROTOCOLS);
	__type(key, __u32);
	__type(value, tapflow_set_value);
} TAPFLOW_XDP_PROTOS_MAP SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tapflow_xdp_config);
} TAPFLOW_XDP_CONFIG_MAP SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TAPFLOW_XDP_ACTION_COUNT);
	__type(key, __u32);
	__type(value, struct tapflow_xdp_count);
} TAPFLOW_XDP_STATS_MAP SEC(".maps");

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* Hop-by-hop, routing and destination options share this layout; length in
 * 8-byte units not counting the first 8. */
struct ipv6_ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-byte units << 3 | flags */
	__be32 identification;
};

/* TCP, UDP and SCTP all start with the two ports. */
struct l4_ports {
	__be16 source;
	__be16 dest;
};

enum verdict { VERDICT_PASS, VERDICT_MATCH, VERDICT_MALFORMED };

static __always_inline void count(__u32 action, __u64 bytes)
{
	struct tapflow_xdp_count *c = bpf_map_lookup_elem(&TAPFLOW_XDP_STATS_MAP, &action);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline int in_set(void *map, __u32 key)
{
	tapflow_set_value *v = bpf_map_lookup_elem(map, &key);

	return v && *v;
}

static __always_inline int has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* Headers are copied out of the frame with bpf_xdp_load_bytes at a scalar
 * offset, not read through packet pointers: a packet pointer plus a variable
 * offset (the IPv4 header length, an IPv6 extension header's) is refused by
 * the verifier's Spectre hardening unless the loader has CAP_PERFMON, and
 * tapflow runs with CAP_BPF and CAP_NET_ADMIN only. The helper checks the
 * bounds itself: 1 when `len` bytes at `off` are in the frame. */
static __always_inline int load(struct xdp_md *ctx, __u32 off, void *buf, __u32 len)
{
	return bpf_xdp_load_bytes(ctx, off, buf, len) == 0;
}

/* The port and protocol sets, once the transport header is found at `l4`.
 * A fragment after the first carries no ports: it is let through to the port
 * set, as user space needs every fragment of a datagram it may want. */
static __always_inline enum verdict match_transport(struct xdp_md *ctx, __u32 active, __u8 proto, __u32 l4,
						    int later_fragment)
{
	if ((active & TAPFLOW_XDP_FILTER_PROTOCOLS) && !in_set(&TAPFLOW_XDP_PROTOS_MAP, proto))
		return VERDICT_PASS;
	if (!(active & TAPFLOW_XDP_FILTER_PORTS))
		return VERDICT_MATCH;
	if (!has_ports(proto))
		return VERDICT_PASS;
	if (later_fragment)
		return VERDICT_MATCH;

	struct l4_ports ports;

	if (!load(ctx, l4, &ports, sizeof(ports)))
		return VERDICT_MALFORMED;
	tapflow_port_key sport = ports.source, dport = ports.dest;

	if (bpf_map_lookup_elem(&TAPFLOW_XDP_PORTS_MAP, &sport) || bpf_map_lookup_elem(&TAPFLOW_XDP_PORTS_MAP, &dport))
		return VERDICT_MATCH;
	return VERDICT_PASS;
}

static __always_inline enum verdict classify_ipv4(struct xdp_md *ctx, __u32 active, __u32 off, __u64 frame_len)
{
	struct iphdr ip;

	if (!load(ctx, off, &ip, sizeof(ip)))
		return VERDICT_MALFORMED;
	__u32 header_len = (__u32)ip.ihl * 4;

	if (header_len < sizeof(ip) || (__u64)off + header_len > frame_len)
		return VERDICT_MALFORMED;

	if (active & TAPFLOW_XDP_FILTER_CIDRS) {
		struct tapflow_lpm_v4_key key = { .prefixlen = 32 };

		__builtin_memcpy(key.addr, &ip.saddr, sizeof(key.addr));
		if (!bpf_map_lookup_elem(&TAPFLOW_XDP_CIDR4_MAP, &key)) {
			__builtin_memcpy(key.addr, &ip.daddr, sizeof(key.addr));
			if (!bpf_map_lookup_elem(&TAPFLOW_XDP_CIDR4_MAP, &key))
				return VERDICT_PASS;
		}
	}
	int later_fragment = (ip.frag_off & bpf_htons(0x1fff)) != 0;

	return match_transport(ctx, active, ip.protocol, off + header_len, later_fragment);
}

static __always_inline enum verdict classify_ipv6(struct xdp_md *ctx, __u32 active, __u32 off)
{
	struct ipv6hdr ip6;

	if (!load(ctx, off, &ip6, sizeof(ip6)))
		return VERDICT_MALFORMED;

	if (active & TAPFLOW_XDP_FILTER_CIDRS) {
		struct tapflow_lpm_v6_key key = { .prefixlen = 128 };

		__builtin_memcpy(key.addr, &ip6.saddr, sizeof(key.addr));
		if (!bpf_map_lookup_elem(&TAPFLOW_XDP_CIDR6_MAP, &key)) {
			__builtin_memcpy(key.addr, &ip6.daddr, sizeof(key.addr));
			if (!bpf_map_lookup_elem(&TAPFLOW_XDP_CIDR6_MAP, &key))
				return VERDICT_PASS;
		}
	}
	if (!(active & (TAPFLOW_XDP_FILTER_PORTS | TAPFLOW_XDP_FILTER_PROTOCOLS)))
		return VERDICT_MATCH;

	/* The transport protocol is the last next-header of the extension chain. */
	__u8 nexthdr = ip6.nexthdr;
	__u32 l4 = off + sizeof(ip6);
	int later_fragment = 0;

#pragma unroll
	for (int i = 0; i < TAPFLOW_XDP_MAX_IPV6_EXT_HEADERS; i++) {
		if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING || nexthdr == IPPROTO_DSTOPTS) {
			struct ipv6_ext_hdr ext;

			if (!load(ctx, l4, &ext, sizeof(ext)))
				return VERDICT_MALFORMED;
			nexthdr = ext.nexthdr;
			l4 += ((__u32)ext.hdrlen + 1) * 8;
		} else if (nexthdr == IPPROTO_AH) {
			struct ipv6_ext_hdr ext;

			if (!load(ctx, l4, &ext, sizeof(ext)))
				return VERDICT_MALFORMED;
			nexthdr = ext.nexthdr;
			l4 += ((__u32)ext.hdrlen + 2) * 4;
		} else if (nexthdr == IPPROTO_FRAGMENT) {
			struct ipv6_frag_hdr frag;

			if (!load(ctx, l4, &frag, sizeof(frag)))
				return VERDICT_MALFORMED;
			nexthdr = frag.nexthdr;
			later_fragment = (frag.frag_off & bpf_htons(0xfff8)) != 0;
			l4 += sizeof(frag);
		} else {
			return match_transport(ctx, active, nexthdr, l4, later_fragment);
		}
	}
	/* A chain longer than the program follows: the sets cannot decide. */
	return VERDICT_MALFORMED;
}

static __always_inline enum verdict classify(struct xdp_md *ctx, __u64 frame_len)
{
	struct ethhdr eth;

	if (!load(ctx, 0, &eth, sizeof(eth)))
		return VERDICT_MALFORMED;
	__be16 proto = eth.h_proto;
	__u32 off = sizeof(eth);

#pragma unroll
	for (int i = 0; i < TAPFLOW_XDP_MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr vlan;

		if (!load(ctx, off, &vlan, sizeof(vlan)))
			return VERDICT_MALFORMED;
		proto = vlan.encapsulated_proto;
		off += sizeof(vlan);
	}
	/* ARP, LLDP and the like keep the host (or the test peers) working. */
	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return VERDICT_PASS;

	__u32 zero = 0;
	struct tapflow_xdp_config *config = bpf_map_lookup_elem(&TAPFLOW_XDP_CONFIG_MAP, &zero);
	__u32 active = config ? config->active : 0;

	if (!active)
		return VERDICT_MATCH;
	if (active & TAPFLOW_XDP_FILTER_NOTHING)
		return VERDICT_PASS;
	if (proto == bpf_htons(ETH_P_IP))
		return classify_ipv4(ctx, active, off, frame_len);
	return classify_ipv6(ctx, active, off);
}

SEC("xdp")
int TAPFLOW_XDP_PROG(struct xdp_md *ctx)
{
	/* Not data_end - data: subtracting two packet pointers needs
	 * allow_ptr_leaks (CAP_PERFMON) too. */
	__u64 bytes = bpf_xdp_get_buff_len(ctx);
	enum verdict verdict = classify(ctx, bytes);

	if (verdict == VERDICT_MATCH) {
		/* With no socket on this queue the packet goes to the stack (XDP_PASS),
		 * counted: those are packets tapflow was meant to see and did not. */
		long action = bpf_redirect_map(&TAPFLOW_XDP_XSKS_MAP, ctx->rx_queue_index, XDP_PASS);

		count(action == XDP_REDIRECT ? TAPFLOW_XDP_REDIRECTED : TAPFLOW_XDP_REDIRECT_FAILED, bytes);
		return (int)action;
	}
	count(verdict == VERDICT_MALFORMED ? TAPFLOW_XDP_MALFORMED : TAPFLOW_XDP_PASSED, bytes);
	return XDP_PASS;
}
