// libFuzzer target for the packet decoder: any bytes, any supported link type.
// Beyond the sanitizers it traps when an offset or length leaves the capture,
// when counters disagree with the result, or when a reused DecodedPacket
// differs from a fresh one (a stale field leaking from the previous packet).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "packet/decoder.h"

using namespace tapflow;

namespace {

// First input byte: low 3 bits pick the link type, bit 7 marks the capture as
// cut short by the snap length (wire_len > cap_len).
constexpr LinkType kLinks[8] = {
    LinkType::kEthernet, LinkType::kRaw,  LinkType::kLinuxSll, LinkType::kLinuxSll2,
    LinkType::kIpv4,     LinkType::kIpv6, LinkType::kEthernet, static_cast<LinkType>(147),  // unsupported
};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

uint64_t malformedTotal(const DecodeStats& stats) {
  uint64_t total = 0;
  stats.forEach([&](const char* name, const char*, const Counter& c) {
    if (std::strncmp(name, "malformed_", 10) == 0) total += c.value();
  });
  return total;
}

bool sameTunnel(const TunnelInfo& a, const TunnelInfo& b) {
  return a.type == b.type && a.outer_ip_version == b.outer_ip_version && a.id == b.id && a.outer_src == b.outer_src &&
         a.outer_dst == b.outer_dst;
}

bool sameTcp(const TcpInfo& a, const TcpInfo& b) {
  return a.seq == b.seq && a.ack == b.ack && a.window == b.window && a.mss == b.mss && a.flags == b.flags &&
         a.window_scale == b.window_scale && a.sack_permitted == b.sack_permitted && a.sack_blocks == b.sack_blocks &&
         a.has_timestamps == b.has_timestamps && a.ts_val == b.ts_val && a.ts_ecr == b.ts_ecr;
}

bool samePacket(const DecodedPacket& a, const DecodedPacket& b) {
  return a.data == b.data && a.cap_len == b.cap_len && a.wire_len == b.wire_len && a.ts == b.ts &&
         a.vlan_ids[0] == b.vlan_ids[0] && a.vlan_ids[1] == b.vlan_ids[1] && a.vlan_count == b.vlan_count &&
         sameTunnel(a.tunnel, b.tunnel) && a.tunnel_depth == b.tunnel_depth && a.ip_version == b.ip_version &&
         a.ip_proto == b.ip_proto && a.ip_ttl == b.ip_ttl && a.l3_offset == b.l3_offset &&
         a.ip_total_len == b.ip_total_len && a.src == b.src && a.dst == b.dst && a.is_fragment == b.is_fragment &&
         a.more_fragments == b.more_fragments && a.frag_id == b.frag_id && a.frag_offset == b.frag_offset &&
         a.frag_payload_offset == b.frag_payload_offset && a.frag_payload_len == b.frag_payload_len &&
         a.frag_header_offset == b.frag_header_offset && a.l4_offset == b.l4_offset && a.src_port == b.src_port &&
         a.dst_port == b.dst_port && sameTcp(a.tcp, b.tcp) && a.payload_offset == b.payload_offset &&
         a.payload_len == b.payload_len;
}

void checkDecoded(const DecodedPacket& p, uint32_t cap) {
  const uint64_t cap64 = cap;
  check(p.ip_version == 4 || p.ip_version == 6);
  const uint32_t min_ip = p.ip_version == 4 ? 20 : 40;
  check(uint64_t{p.l3_offset} + min_ip <= cap64);
  check(p.ip_total_len >= min_ip);
  if (p.ip_version == 4) {
    static constexpr uint8_t kZero[12] = {};
    check(std::memcmp(p.src.bytes + 4, kZero, 12) == 0 && std::memcmp(p.dst.bytes + 4, kZero, 12) == 0);
  }
  check(p.vlan_count <= 2);
  check(p.tunnel_depth <= kMaxTunnelDepth);
  check((p.tunnel_depth == 0) == (p.tunnel.type == TunnelType::kNone));
  if (p.tunnel_depth != 0) check(p.tunnel.outer_ip_version == 4 || p.tunnel.outer_ip_version == 6);
  check(std::strcmp(tunnelTypeName(p.tunnel.type), "unknown") != 0);

  if (p.is_fragment) {
    check(p.more_fragments || p.frag_offset != 0);
    check(p.frag_payload_offset >= p.l3_offset + min_ip);
    check(uint64_t{p.frag_payload_offset} + p.frag_payload_len <= cap64);
    if (p.ip_version == 6) {
      check(p.frag_header_offset >= p.l3_offset + 40);
      check(p.frag_header_offset + 8 == p.frag_payload_offset);
    } else {
      check(p.frag_header_offset == 0);
    }
    if (p.frag_offset != 0) check(p.l4_offset == 0 && p.src_port == 0 && p.dst_port == 0 && p.payload_len == 0);
  } else {
    check(!p.more_fragments && p.frag_id == 0 && p.frag_offset == 0 && p.frag_payload_offset == 0 &&
          p.frag_payload_len == 0 && p.frag_header_offset == 0);
  }

  if (p.l4_offset != 0) {
    check(p.l4_offset >= p.l3_offset + min_ip);
    check(uint64_t{p.l4_offset} + 4 <= cap64);  // ICMP's 4 bytes are the smallest transport header
    check(p.payload_offset >= p.l4_offset);
    check(uint64_t{p.payload_offset} + p.payload_len <= cap64);
  } else {
    check(p.src_port == 0 && p.dst_port == 0 && p.payload_offset == 0 && p.payload_len == 0);
  }
  if (p.ip_proto != 6) check(p.tcp.seq == 0 && p.tcp.mss == 0 && p.tcp.window_scale == 0xff);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* input, size_t size) {
  if (size == 0) return 0;
  const LinkType link = kLinks[input[0] & 7];
  const uint8_t* data = input + 1;
  const uint32_t cap = static_cast<uint32_t>(size - 1);
  const uint32_t wire = (input[0] & 0x80) ? cap + 1000 : cap;

  // Reused across inputs, as the capture thread reuses its slots.
  static DecodedPacket reused;
  static DecodeStats stats;
  const uint64_t packets = stats.packets.value();
  const uint64_t malformed = malformedTotal(stats);
  const uint64_t non_ip = stats.non_ip.value();

  const DecodeResult result = decodePacket(data, cap, wire, 42, link, reused, stats);

  check(stats.packets.value() == packets + 1);
  check(malformedTotal(stats) == malformed + (result == DecodeResult::kMalformed ? 1 : 0));
  check(stats.non_ip.value() == non_ip + (result == DecodeResult::kNotIp ? 1 : 0));
  check(reused.data == data && reused.cap_len == cap && reused.wire_len == wire && reused.ts == 42);

  if (result == DecodeResult::kOk) checkDecoded(reused, cap);
  if (result == DecodeResult::kNotIp) check(reused.ip_version == 0 && reused.l3_offset == 0 && reused.l4_offset == 0);

  if (result != DecodeResult::kMalformed) {
    DecodeStats fresh_stats;
    DecodedPacket fresh;
    check(decodePacket(data, cap, wire, 42, link, fresh, fresh_stats) == result);
    check(samePacket(reused, fresh));
  }
  return 0;
}
