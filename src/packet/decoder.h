// Packet decoder: link layer → VLANs → IP (+options/extension headers) →
// tunnels (decapsulated) → transport. Every read is bounds-checked against the
// captured length; anything malformed is counted by reason, never thrown.
#pragma once

#include <cstdint>

#include "packet/decode_stats.h"
#include "packet/decoded_packet.h"

namespace tapflow {

enum class DecodeResult : uint8_t {
  kOk,         // an IP packet; `out` describes its innermost IP layer
  kNotIp,      // well-formed but carries no IP (ARP, LLDP, ...)
  kMalformed,  // refused; the reason was counted in stats
};

// Tunnels nested deeper than this are refused (no recursion on packet data).
constexpr int kMaxTunnelDepth = 4;

// How far ahead capture loops prefetch packets (DPDK l3fwd's habit). The
// decoder needs ~40 ns a packet once its headers are in cache and a packet
// from DRAM takes longer than that to arrive: in perf/bench_engine, 1 or 2
// packets ahead hid little of it, 4 to 16 all of what prefetching can.
constexpr uint32_t kPrefetchPackets = 8;

// Starts loading the first two cache lines of a packet: the Ethernet, VLAN,
// IP and TCP headers with their options (66 bytes for a typical TCP segment
// with timestamps) and most tunnel headers. Never faults, whatever `data` is.
inline void prefetchPacket(const uint8_t* data) {
  __builtin_prefetch(data);
  __builtin_prefetch(data + 64);
}

DecodeResult decodePacket(const uint8_t* data, uint32_t cap_len, uint32_t wire_len, Timestamp ts, LinkType link,
                          DecodedPacket& out, DecodeStats& stats);

}  // namespace tapflow
