// The decoder's view of one captured packet: offsets into its bytes and the
// header fields later stages need. Filled by the capture thread (it needs the
// innermost IP pair to pick the worker) and travels with the bytes to the worker.
#pragma once

#include <cstdint>
#include <cstring>

#include "packet/timestamp.h"

namespace tapflow {

// pcap LINKTYPE_* values of the link layers tapflow decodes.
enum class LinkType : uint16_t {
  kEthernet = 1,
  kRaw = 101,        // raw IPv4 or IPv6, version from the first nibble
  kLinuxSll = 113,   // Linux cooked capture v1 (tcpdump -i any)
  kIpv4 = 228,
  kIpv6 = 229,
  kLinuxSll2 = 276,  // Linux cooked capture v2
};

enum class TunnelType : uint8_t {
  kNone = 0,
  kVxlan,
  kGeneve,
  kGre,
  kErspan2,
  kErspan3,
  kIpInIp,    // IPv4 payload inside an IP header (protocol 4)
  kIp6InIp,   // IPv6 payload inside an IP header (protocol 41)
};

const char* tunnelTypeName(TunnelType type);

// An IPv4 address occupies the first 4 bytes; the rest are zero.
struct IpAddress {
  uint8_t bytes[16];

  bool operator==(const IpAddress& o) const { return std::memcmp(bytes, o.bytes, 16) == 0; }
};

struct TunnelInfo {
  TunnelType type = TunnelType::kNone;
  uint8_t outer_ip_version = 0;
  uint32_t id = 0;  // VXLAN/Geneve VNI, GRE key, ERSPAN session id; 0 when absent
  IpAddress outer_src{};
  IpAddress outer_dst{};
};

namespace tcp_flags {
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20, kEce = 0x40,
                  kCwr = 0x80;
}

struct TcpInfo {
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint16_t window = 0;   // raw header value, not scaled
  uint16_t mss = 0;      // 0: option absent
  uint8_t flags = 0;
  uint8_t window_scale = 0xff;  // 0xff: option absent
  bool sack_permitted = false;
  uint8_t sack_blocks = 0;
  bool has_timestamps = false;
  uint32_t ts_val = 0;
  uint32_t ts_ecr = 0;
};

struct DecodedPacket {
  const uint8_t* data = nullptr;  // first captured byte (link layer)
  uint32_t cap_len = 0;           // bytes captured
  uint32_t wire_len = 0;          // bytes on the wire
  Timestamp ts = 0;

  uint16_t vlan_ids[2] = {0, 0};  // outer first; 802.1Q / 802.1ad
  uint8_t vlan_count = 0;

  TunnelInfo tunnel;      // outermost tunnel, when the packet was encapsulated
  uint8_t tunnel_depth = 0;

  // Innermost IP header (the one flows see).
  uint8_t ip_version = 0;     // 4 or 6
  uint8_t ip_proto = 0;       // transport protocol after IPv6 extension headers
  uint8_t ip_ttl = 0;
  uint32_t l3_offset = 0;     // from data
  uint32_t ip_total_len = 0;  // from the header: IPv4 total length, IPv6 40 + payload length
  IpAddress src{};
  IpAddress dst{};

  // Fragmentation of the innermost IP header (or of an outer header when the
  // fragment could not be decoded further).
  bool is_fragment = false;
  bool more_fragments = false;
  uint32_t frag_id = 0;          // IPv4 identification or IPv6 fragment header id
  uint32_t frag_offset = 0;      // bytes
  uint32_t frag_payload_offset = 0;  // from data: first byte of the fragmentable part
  uint32_t frag_payload_len = 0;
  uint32_t frag_header_offset = 0;   // IPv6: offset of the fragment extension header

  // Transport.
  uint32_t l4_offset = 0;  // from data; 0 when there is no transport header
  uint16_t src_port = 0;   // ICMP: type in src_port, code in dst_port
  uint16_t dst_port = 0;
  TcpInfo tcp;
  uint32_t payload_offset = 0;  // from data
  uint32_t payload_len = 0;     // bounded by both the IP length and the capture
};

}  // namespace tapflow
