/* What tapflow's tc mirror programs (tapflow_mirror.bpf.c) and the C++ side that
 * attaches them (src/capture/mirror.cc) must agree on: names, map layouts.
 * Plain C with kernel UAPI types only: compiled by clang -target bpf and by g++. */
#ifndef TAPFLOW_MIRROR_SHARED_H
#define TAPFLOW_MIRROR_SHARED_H

#include <linux/types.h>

/* Program and map names (kernel object names: at most 15 characters). The BPF
 * side uses them as C identifiers, the C++ side as strings (TAPFLOW_MIRROR_STR). */
#define TAPFLOW_MIRROR_PROG tapflow_mirror  /* on mirrored interfaces: clone to the veth */
#define TAPFLOW_MIRROR_SINK_PROG tapflow_sink /* on the captured veth end: keep clones out of the stack */
#define TAPFLOW_MIRROR_CONFIG_MAP tapflow_mcfg
#define TAPFLOW_MIRROR_STATS_MAP tapflow_mstats
#define TAPFLOW_MIRROR_STR_(x) #x
#define TAPFLOW_MIRROR_STR(x) TAPFLOW_MIRROR_STR_(x)

/* Value of the single entry (key 0) of the config array, written once after
 * loading and before the first attach. */
struct tapflow_mirror_config {
	__u32 target_ifindex; /* tapflow's veth end the clones are sent out of */
};

/* What the mirror program did, one per-CPU counter each (index into the stats
 * map); the C++ side sums the CPUs. X(ENUM_SUFFIX, metric_name). */
#define TAPFLOW_MIRROR_ACTIONS(X)                                                   \
	X(CLONED, cloned)             /* a copy went to the veth */                      \
	X(CLONE_FAILED, clone_failed) /* bpf_clone_redirect failed: veth down or dropping, no memory */ \
	X(UNCONFIGURED, unconfigured) /* no target ifindex yet: nothing cloned */

#define TAPFLOW_MIRROR_ACTION_ENUM(suffix, name) TAPFLOW_MIRROR_##suffix,
enum tapflow_mirror_action {
	TAPFLOW_MIRROR_ACTIONS(TAPFLOW_MIRROR_ACTION_ENUM)
	TAPFLOW_MIRROR_ACTION_COUNT
};
#undef TAPFLOW_MIRROR_ACTION_ENUM

/* Per-CPU value of the stats map; bytes are skb->len as tc saw it. */
struct tapflow_mirror_count {
	__u64 packets;
	__u64 bytes;
};

#endif /* TAPFLOW_MIRROR_SHARED_H */
