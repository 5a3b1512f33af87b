/* What tapflow's XDP program (tapflow_xdp.bpf.c) and the C++ side that loads it
 * (src/capture/xdp_program.cc) must agree on: names, map layouts, limits.
 * One header for both, so the two cannot drift (xdp-tools' *_kern_user.h habit).
 * Plain C with kernel UAPI types only: it is compiled by clang -target bpf and by g++. */
#ifndef TAPFLOW_XDP_SHARED_H
#define TAPFLOW_XDP_SHARED_H

#include <linux/types.h>

/* Identifiers of the program and its maps. The BPF side uses them as C names,
 * the C++ side as strings (TAPFLOW_XDP_STR): kernel object names are at most 15
 * characters. */
#define TAPFLOW_XDP_PROG tapflow_xdp
#define TAPFLOW_XDP_XSKS_MAP tapflow_xsks
#define TAPFLOW_XDP_CIDR4_MAP tapflow_cidr4
#define TAPFLOW_XDP_CIDR6_MAP tapflow_cidr6
#define TAPFLOW_XDP_PORTS_MAP tapflow_ports
#define TAPFLOW_XDP_PROTOS_MAP tapflow_protos
#define TAPFLOW_XDP_CONFIG_MAP tapflow_config
#define TAPFLOW_XDP_STATS_MAP tapflow_stats
#define TAPFLOW_XDP_STR_(x) #x
#define TAPFLOW_XDP_STR(x) TAPFLOW_XDP_STR_(x)

/* Map sizes. RX queues index the XSK map; the target sets are bounded so a
 * runaway pod list cannot take the kernel's memory. */
#define TAPFLOW_XDP_MAX_QUEUES 1024
#define TAPFLOW_XDP_MAX_CIDRS 16384 /* per address family */
#define TAPFLOW_XDP_MAX_PORTS 4096
#define TAPFLOW_XDP_MAX_VLAN_TAGS 2
#define TAPFLOW_XDP_MAX_IPV6_EXT_HEADERS 8

/* tapflow_config.active: which target sets are in force. A set that is not
 * active matches every packet; an active set matches a packet when either end
 * (address or port) or its protocol is in it. All active sets must match. */
#define TAPFLOW_XDP_FILTER_CIDRS (1U << 0)
#define TAPFLOW_XDP_FILTER_PORTS (1U << 1)
#define TAPFLOW_XDP_FILTER_PROTOCOLS (1U << 2)
/* No IP packet matches, whatever the sets hold: targets that select no pod. */
#define TAPFLOW_XDP_FILTER_NOTHING (1U << 3)

/* Value of the single entry (key 0) of the config array. */
struct tapflow_xdp_config {
	__u32 active; /* TAPFLOW_XDP_FILTER_* bits */
};

/* LPM trie keys: prefix length in bits, then the address in network order. */
struct tapflow_lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct tapflow_lpm_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Port set key: the port in network byte order (as it is on the wire). The
 * value is one byte, 1. Protocol set: an array indexed by the IP protocol
 * number (IPv6: the last next-header), value 1 when in the set. */
typedef __u16 tapflow_port_key;
typedef __u8 tapflow_set_value;
#define TAPFLOW_XDP_PROTOCOLS 256

/* What the program did with a packet, one per-CPU counter each (index into
 * the stats map); the C++ side sums the CPUs. X(ENUM_SUFFIX, metric_name). */
#define TAPFLOW_XDP_ACTIONS(X)                                                         \
	X(PASSED, passed)                   /* outside the target set, or not IP: to the stack */ \
	X(REDIRECTED, redirected)           /* matched: redirected to the queue's AF_XDP socket */ \
	X(REDIRECT_FAILED, redirect_failed) /* matched, but no socket on that queue: to the stack */ \
	X(MALFORMED, malformed)             /* headers cut short, a set could not decide: to the stack */

#define TAPFLOW_XDP_ACTION_ENUM(suffix, name) TAPFLOW_XDP_##suffix,
enum tapflow_xdp_action {
	TAPFLOW_XDP_ACTIONS(TAPFLOW_XDP_ACTION_ENUM)
	TAPFLOW_XDP_ACTION_COUNT
};
#undef TAPFLOW_XDP_ACTION_ENUM

/* Per-CPU value of the stats map; bytes are the frame's length as XDP saw it. */
struct tapflow_xdp_count {
	__u64 packets;
	__u64 bytes;
};

#endif /* TAPFLOW_XDP_SHARED_H */
