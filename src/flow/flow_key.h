// The bidirectional flow key and the hashes built on it.
// Both directions of a conversation map to one canonical key, ordered the way
// the Community ID spec orders its tuple, so the key also feeds that hash.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "packet/decoded_packet.h"

namespace tapflow {

struct FlowKey {
  IpAddress lo{};        // the smaller (address, port) endpoint
  IpAddress hi{};
  uint16_t port_lo = 0;  // ICMP: message type / counterpart type or code
  uint16_t port_hi = 0;
  uint16_t vlan = 0;     // outermost VLAN id when flows.vlan_in_key
  uint8_t proto = 0;
  uint8_t ip_version = 0;

  bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof(FlowKey)) == 0; }
};
static_assert(sizeof(FlowKey) == 40, "FlowKey is compared and hashed as raw bytes: keep it padding-free");

// Protocols whose tuple carries ports (or ICMP's port equivalents).
inline bool protoHasPorts(uint8_t proto) {
  return proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58;
}

// ICMP request/response pairs (Zeek's and the Community ID spec's mapping).
// Returns the counterpart type, or -1 for one-way messages.
int icmpCounterpart(uint8_t proto, uint16_t type);

inline uint64_t bigEndian64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  return v;
}

// Builds the canonical key of a decoded IP packet. Returns true when the packet
// travels lo → hi. ICMP types without a counterpart (errors, one-way messages)
// keep their direction, as the Community ID spec does. Inline: it runs once per
// packet, and the call and a memcmp call were a sixth of the flow path.
inline bool makeFlowKey(const DecodedPacket& pkt, bool vlan_in_key, FlowKey& key) {
  uint16_t sport = 0, dport = 0;
  bool one_way = false;
  if (protoHasPorts(pkt.ip_proto)) {
    sport = pkt.src_port;
    dport = pkt.dst_port;
    if (pkt.ip_proto == 1 || pkt.ip_proto == 58) {
      int counterpart = icmpCounterpart(pkt.ip_proto, sport);
      if (counterpart >= 0) {
        dport = uint16_t(counterpart);
      } else {
        one_way = true;  // dport stays the ICMP code
      }
    }
  }
  key.proto = pkt.ip_proto;
  key.ip_version = pkt.ip_version;
  key.vlan = vlan_in_key && pkt.vlan_count ? pkt.vlan_ids[0] : 0;

  // Byte order of the addresses, as memcmp would give it, in four loads
  // (a memcmp call here was a tenth of the flow path's instructions).
  const uint64_t s0 = bigEndian64(pkt.src.bytes), s1 = bigEndian64(pkt.src.bytes + 8);
  const uint64_t d0 = bigEndian64(pkt.dst.bytes), d1 = bigEndian64(pkt.dst.bytes + 8);
  const bool less = s0 < d0 || (s0 == d0 && s1 < d1);
  const bool equal = s0 == d0 && s1 == d1;
  bool forward = one_way || less || (equal && sport <= dport);
  if (forward) {
    key.lo = pkt.src;
    key.hi = pkt.dst;
    key.port_lo = sport;
    key.port_hi = dport;
  } else {
    key.lo = pkt.dst;
    key.hi = pkt.src;
    key.port_lo = dport;
    key.port_hi = sport;
  }
  return forward;
}

// Hash of the whole key, for the flow table.
inline uint64_t flowKeyHash(const FlowKey& key) {
  uint64_t w[5];
  std::memcpy(w, &key, sizeof(w));
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (uint64_t v : w) {
    h ^= v;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  return h;
}

// Symmetric hash of the IP pair and protocol that picks a packet's worker.
// Ports are left out on purpose: non-first IP fragments have none, and every
// fragment must reach the worker that owns its flow.
uint32_t workerHash(const DecodedPacket& pkt);

// Community ID v1 (seed 0), "1:" + base64(SHA-1), written NUL-terminated.
constexpr size_t kCommunityIdLength = 30;
void communityId(const FlowKey& key, char out[kCommunityIdLength + 1], uint16_t seed = 0);

}  // namespace tapflow
