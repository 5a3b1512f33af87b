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

DecodeResult decodePacket(const uint8_t* data, uint32_t cap_len, uint32_t wire_len, Timestamp ts, LinkType link,
                          DecodedPacket& out, DecodeStats& stats);

}  // namespace tapflow
