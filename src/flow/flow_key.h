// The bidirectional flow key and the hashes built on it.
// Both directions of a conversation map to one canonical key, ordered the way
// the Community ID spec orders its tuple, so the key also feeds that hash.
#pragma once

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

// Builds the canonical key of a decoded IP packet. Returns true when the packet
// travels lo → hi. ICMP types without a counterpart (errors, one-way messages)
// keep their direction, as the Community ID spec does.
bool makeFlowKey(const DecodedPacket& pkt, bool vlan_in_key, FlowKey& key);

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
