// Packet decoder: one forward pass over the captured bytes. Each layer checks
// the bytes it needs against the current bound before reading; tunnels move
// the cursor inward and loop, so hostile nesting costs a counter, not stack.
#include "packet/decoder.h"

#include <bit>
#include <cstring>
#include <type_traits>

namespace tapflow {
namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeQinQ = 0x88a8;
constexpr uint16_t kEtherTypeQinQLegacy = 0x9100;
constexpr uint16_t kEtherTypeTeb = 0x6558;  // transparent Ethernet bridging
constexpr uint16_t kEtherTypeErspan2 = 0x88be;
constexpr uint16_t kEtherTypeErspan3 = 0x22eb;

constexpr uint8_t kProtoHopByHop = 0;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoIpInIp = 4;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIp6InIp = 41;
constexpr uint8_t kProtoRouting = 43;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kProtoGre = 47;
constexpr uint8_t kProtoAh = 51;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoDstOpts = 60;
constexpr uint8_t kProtoSctp = 132;

constexpr uint16_t kPortVxlan = 4789;
constexpr uint16_t kPortVxlanLinux = 8472;  // Linux's pre-IANA default, still used by flannel
constexpr uint16_t kPortGeneve = 6081;

constexpr uint32_t kEthernetHeaderLen = 14;
constexpr uint32_t kSllHeaderLen = 16;
constexpr uint32_t kSll2HeaderLen = 20;
constexpr uint32_t kIpv4MinHeaderLen = 20;
constexpr uint32_t kIpv6HeaderLen = 40;
constexpr uint32_t kTcpMinHeaderLen = 20;
constexpr uint32_t kUdpHeaderLen = 8;
constexpr uint32_t kSctpCommonHeaderLen = 12;
constexpr uint32_t kIcmpHeaderLen = 4;  // type, code, checksum; the rest depends on the type
constexpr uint32_t kVxlanHeaderLen = 8;
constexpr uint32_t kGeneveHeaderLen = 8;
constexpr uint32_t kErspan2HeaderLen = 8;
constexpr uint32_t kErspan3HeaderLen = 12;
constexpr uint32_t kErspan3PlatformLen = 8;

// Two tags are what QinQ uses; a few more are tolerated, a long run of tags is
// an attack on the parser, not a network.
constexpr int kMaxVlanTags = 4;
constexpr int kMaxIpv6ExtHeaders = 16;
constexpr uint8_t kMaxTcpWindowScale = 14;  // RFC 7323 §2.3: larger values are read as 14

inline uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap16(v);
  return v;
}

inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
  return v;
}

// Copied from a constant with memcpy because GCC turns `out = DecodedPacket{}`
// into `rep stos`, whose start-up cost doubled the time per packet; this form
// compiles to ten 16-byte stores.
static_assert(std::is_trivially_copyable_v<DecodedPacket>);
constexpr DecodedPacket kCleanPacket{};
inline void resetPacket(DecodedPacket& out) { std::memcpy(static_cast<void*>(&out), &kCleanPacket, sizeof out); }

inline void setIpv4Address(IpAddress& a, const uint8_t* p) {
  std::memcpy(a.bytes, p, 4);
  std::memset(a.bytes + 4, 0, 12);  // an outer IPv6 layer may have filled them
}

// Internal outcome of a step. kDecapsulated tells the main loop to go one
// tunnel level deeper; the kMalformed* values index kMalformedCounter.
enum Verdict : uint8_t {
  kOk,
  kNotIp,
  kDecapsulated,
  kMalformedLinkLayer,
  kMalformedUnknownLinkType,
  kMalformedVlan,
  kMalformedIpv4Header,
  kMalformedIpv4Length,
  kMalformedIpv4Options,
  kMalformedIpv6Header,
  kMalformedIpv6ExtHeader,
  kMalformedTcpHeader,
  kMalformedTcpOptions,
  kMalformedUdpHeader,
  kMalformedSctpHeader,
  kMalformedIcmpHeader,
  kMalformedTunnel,
  kMalformedTunnelDepth,
  kVerdictCount,
};

constexpr Counter DecodeStats::*kMalformedCounter[kVerdictCount] = {
    nullptr,
    nullptr,
    nullptr,
    &DecodeStats::malformed_link_layer,
    &DecodeStats::malformed_unknown_link_type,
    &DecodeStats::malformed_vlan,
    &DecodeStats::malformed_ipv4_header,
    &DecodeStats::malformed_ipv4_length,
    &DecodeStats::malformed_ipv4_options,
    &DecodeStats::malformed_ipv6_header,
    &DecodeStats::malformed_ipv6_ext_header,
    &DecodeStats::malformed_tcp_header,
    &DecodeStats::malformed_tcp_options,
    &DecodeStats::malformed_udp_header,
    &DecodeStats::malformed_sctp_header,
    &DecodeStats::malformed_icmp_header,
    &DecodeStats::malformed_tunnel,
    &DecodeStats::malformed_tunnel_depth,
};

enum class Layer : uint8_t { kEthernet, kIpv4, kIpv6 };

// Where the next header starts and where the bytes that may belong to it end
// (the enclosing IP or UDP length, never past the capture).
struct Cursor {
  Layer layer;
  uint32_t off;
  uint32_t end;
};

// What an IP layer hands to the transport layer.
struct IpPayload {
  uint32_t off;  // first byte after the IP header and its extension headers
  uint32_t end;  // min(end of the IP datagram by its length field, bound of the enclosing layer)
  uint8_t proto;
  bool fragment;      // any fragment: never decapsulated
  bool no_transport;  // a later fragment, or a first one whose header chain it cuts
};

// Option kinds with a fixed length are ignored (not refused) when the length
// is wrong, as Linux's tcp_parse_options does; only a length that breaks the
// walk itself is malformed.
inline bool parseTcpOptions(const uint8_t* o, uint32_t n, TcpInfo& tcp) {
  uint32_t i = 0;
  // Almost every segment of a Linux or BSD peer carries exactly NOP, NOP,
  // timestamps (RFC 7323 appendix A layout): take it with one compare.
  if (n >= 12 && load32(o) == 0x0101080a) {
    tcp.has_timestamps = true;
    tcp.ts_val = load32(o + 4);
    tcp.ts_ecr = load32(o + 8);
    i = 12;
  }
  while (i < n) {
    const uint8_t kind = o[i];
    if (kind == 0) break;  // end of option list
    if (kind == 1) {       // no-operation
      ++i;
      continue;
    }
    if (n - i < 2) return false;
    const uint32_t len = o[i + 1];
    if (len < 2 || len > n - i) return false;
    const uint8_t* v = o + i + 2;
    switch (kind) {
      case 2:
        if (len == 4) tcp.mss = load16(v);
        break;
      case 3:
        if (len == 3) tcp.window_scale = v[0] < kMaxTcpWindowScale ? v[0] : kMaxTcpWindowScale;
        break;
      case 4:
        if (len == 2) tcp.sack_permitted = true;
        break;
      case 5:
        if (len > 2 && (len - 2) % 8 == 0) tcp.sack_blocks = static_cast<uint8_t>((len - 2) / 8);
        break;
      case 8:
        if (len == 10) {
          tcp.has_timestamps = true;
          tcp.ts_val = load32(v);
          tcp.ts_ecr = load32(v + 4);
        }
        break;
      default:
        break;
    }
    i += len;
  }
  return true;
}

// IPv4 options: EOL and NOP are one byte, every other option carries a length
// of at least 2 that must stay inside the header.
inline bool ipv4OptionsValid(const uint8_t* o, uint32_t n) {
  uint32_t i = 0;
  while (i < n) {
    const uint8_t type = o[i];
    if (type == 0) break;
    if (type == 1) {
      ++i;
      continue;
    }
    if (n - i < 2) return false;
    const uint32_t len = o[i + 1];
    if (len < 2 || len > n - i) return false;
    i += len;
  }
  return true;
}

class Walker {
 public:
  Walker(const uint8_t* data, uint32_t cap_len, DecodedPacket& out) : d_(data), cap_(cap_len), out_(out) {}

  Verdict run(LinkType link);

 private:
  Verdict etherType(uint16_t type, Cursor& c);
  Verdict ipv4(const Cursor& c, IpPayload& ip);
  Verdict ipv6(const Cursor& c, IpPayload& ip);
  Verdict tunnel(const IpPayload& ip, Cursor& next);
  Verdict gre(const IpPayload& ip, Cursor& next);
  Verdict enter(TunnelType type, uint32_t id, Layer layer, uint32_t off, uint32_t end, Cursor& next);
  Verdict transport(const IpPayload& ip);
  void setPayload(uint32_t off, uint32_t end) {
    out_.payload_offset = off;
    out_.payload_len = end - off;
  }

  const uint8_t* d_;
  uint32_t cap_;
  DecodedPacket& out_;
};

// VLAN tags, then the network layer. c.off is the first byte after the
// ethertype field that produced `type`.
inline Verdict Walker::etherType(uint16_t type, Cursor& c) {
  int tags = 0;
  while (type == kEtherTypeVlan || type == kEtherTypeQinQ || type == kEtherTypeQinQLegacy) {
    if (tags == kMaxVlanTags || c.end - c.off < 4) return kMalformedVlan;
    ++tags;
    const uint8_t* t = d_ + c.off;
    if (out_.vlan_count < 2) out_.vlan_ids[out_.vlan_count++] = load16(t) & 0x0fff;
    type = load16(t + 2);
    c.off += 4;
  }
  if (type == kEtherTypeIpv4) {
    c.layer = Layer::kIpv4;
    return kOk;
  }
  if (type == kEtherTypeIpv6) {
    c.layer = Layer::kIpv6;
    return kOk;
  }
  return kNotIp;
}

inline Verdict Walker::ipv4(const Cursor& c, IpPayload& ip) {
  if (c.end - c.off < kIpv4MinHeaderLen) return kMalformedIpv4Header;
  const uint8_t* h = d_ + c.off;
  if ((h[0] >> 4) != 4) return kMalformedIpv4Header;
  const uint32_t hlen = (h[0] & 0x0fu) * 4;
  if (hlen < kIpv4MinHeaderLen) return kMalformedIpv4Header;
  const uint32_t total = load16(h + 2);
  if (total < hlen) return kMalformedIpv4Length;
  if (hlen > kIpv4MinHeaderLen) [[unlikely]] {
    if (c.end - c.off < hlen || !ipv4OptionsValid(h + kIpv4MinHeaderLen, hlen - kIpv4MinHeaderLen)) {
      return kMalformedIpv4Options;
    }
  }
  out_.ip_version = 4;
  out_.ip_proto = h[9];
  out_.ip_ttl = h[8];
  out_.l3_offset = c.off;
  out_.ip_total_len = total;
  setIpv4Address(out_.src, h + 12);
  setIpv4Address(out_.dst, h + 16);

  ip.off = c.off + hlen;
  ip.end = c.end - c.off > total ? c.off + total : c.end;  // Ethernet padding lies past `total`
  ip.proto = h[9];
  const uint16_t frag = load16(h + 6);
  const bool more = (frag & 0x2000) != 0;
  const uint32_t frag_offset = (frag & 0x1fffu) * 8;
  ip.fragment = more || frag_offset != 0;
  ip.no_transport = frag_offset != 0;
  if (ip.fragment) [[unlikely]] {
    out_.is_fragment = true;
    out_.more_fragments = more;
    out_.frag_id = load16(h + 4);
    out_.frag_offset = frag_offset;
    out_.frag_payload_offset = ip.off;
    out_.frag_payload_len = ip.end - ip.off;
  }
  return kOk;
}

inline Verdict Walker::ipv6(const Cursor& c, IpPayload& ip) {
  if (c.end - c.off < kIpv6HeaderLen) return kMalformedIpv6Header;
  const uint8_t* h = d_ + c.off;
  if ((h[0] >> 4) != 6) return kMalformedIpv6Header;
  const uint32_t payload_len = load16(h + 4);
  out_.ip_version = 6;
  out_.ip_ttl = h[7];
  out_.l3_offset = c.off;
  out_.ip_total_len = kIpv6HeaderLen + payload_len;
  std::memcpy(out_.src.bytes, h + 8, 16);
  std::memcpy(out_.dst.bytes, h + 24, 16);

  const uint32_t end = c.end - c.off - kIpv6HeaderLen > payload_len ? c.off + kIpv6HeaderLen + payload_len : c.end;
  uint32_t off = c.off + kIpv6HeaderLen;
  uint8_t next = h[6];
  ip.fragment = false;
  ip.no_transport = false;
  for (int count = 0;; ++count) {
    uint32_t len = 8;
    const bool extension = next == kProtoHopByHop || next == kProtoRouting || next == kProtoDstOpts ||
                           next == kProtoAh || next == kProtoFragment;
    if (!extension) break;
    bool fits = count < kMaxIpv6ExtHeaders && end - off >= 8;  // 8: every extension header's minimum
    if (fits && next != kProtoFragment) {
      len = next == kProtoAh ? (d_[off + 1] + 2u) * 4 : (d_[off + 1] + 1u) * 8;
      fits = end - off >= len;
    }
    if (!fits) {
      // Past a fragment header the chain may be cut at the fragment's end:
      // that is a fragment whose transport is unknown until reassembly.
      if (ip.fragment) {
        ip.no_transport = true;
        break;
      }
      return kMalformedIpv6ExtHeader;
    }
    if (next == kProtoFragment) {
      const uint8_t* f = d_ + off;
      const uint16_t word = load16(f + 2);
      const uint32_t frag_offset = word & 0xfff8u;  // 13-bit offset in 8-byte units, already shifted
      const bool more = (word & 1) != 0;
      // An atomic fragment (offset 0, M clear) is a whole datagram (RFC 6946).
      if (frag_offset != 0 || more) {
        ip.fragment = true;
        out_.is_fragment = true;
        out_.more_fragments = more;
        out_.frag_id = load32(f + 4);
        out_.frag_offset = frag_offset;
        out_.frag_header_offset = off;
        out_.frag_payload_offset = off + 8;
        out_.frag_payload_len = end - (off + 8);
      }
      if (frag_offset != 0) {
        // The rest of the chain lives in the first fragment.
        ip.no_transport = true;
        next = f[0];
        off += len;
        break;
      }
    }
    next = d_[off];
    off += len;
  }
  out_.ip_proto = next;
  ip.off = off;
  ip.end = end;
  ip.proto = next;
  return kOk;
}

inline Verdict Walker::enter(TunnelType type, uint32_t id, Layer layer, uint32_t off, uint32_t end, Cursor& next) {
  if (out_.tunnel_depth >= kMaxTunnelDepth) return kMalformedTunnelDepth;
  if (out_.tunnel_depth == 0) {
    out_.tunnel.type = type;
    out_.tunnel.id = id;
    out_.tunnel.outer_ip_version = out_.ip_version;
    out_.tunnel.outer_src = out_.src;
    out_.tunnel.outer_dst = out_.dst;
  }
  ++out_.tunnel_depth;
  next = Cursor{layer, off, end};
  return kDecapsulated;
}

// Geneve's and GRE's protocol type is an ethertype; these three are followed.
inline bool innerLayerOf(uint16_t protocol, Layer& layer) {
  switch (protocol) {
    case kEtherTypeTeb:
      layer = Layer::kEthernet;
      return true;
    case kEtherTypeIpv4:
      layer = Layer::kIpv4;
      return true;
    case kEtherTypeIpv6:
      layer = Layer::kIpv6;
      return true;
    default:
      return false;
  }
}

inline Verdict Walker::gre(const IpPayload& ip, Cursor& next) {
  const uint32_t p = ip.off;
  if (ip.end - p < 4) return kMalformedTunnel;
  const uint16_t flags = load16(d_ + p);
  const uint16_t protocol = load16(d_ + p + 2);
  // Version 1 is PPTP's enhanced GRE and the routing bit (RFC 1701) brings
  // source routes: real traffic, but not a tunnel followed here.
  if ((flags & 0x0007) != 0 || (flags & 0x4000) != 0) return kOk;
  const bool has_checksum = (flags & 0x8000) != 0;
  const bool has_key = (flags & 0x2000) != 0;
  const bool has_seq = (flags & 0x1000) != 0;
  const uint32_t hlen = 4 + (has_checksum ? 4 : 0) + (has_key ? 4 : 0) + (has_seq ? 4 : 0);

  Layer layer;
  if (innerLayerOf(protocol, layer)) {
    if (ip.end - p < hlen) return kMalformedTunnel;
    const uint32_t key = has_key ? load32(d_ + p + 4 + (has_checksum ? 4 : 0)) : 0;
    return enter(TunnelType::kGre, key, layer, p + hlen, ip.end, next);
  }
  if (protocol == kEtherTypeErspan2) {
    if (ip.end - p < hlen) return kMalformedTunnel;
    const uint32_t e = p + hlen;
    // Without a sequence number this is ERSPAN type I: no ERSPAN header at all.
    if (!has_seq) return enter(TunnelType::kErspan2, 0, Layer::kEthernet, e, ip.end, next);
    if (ip.end - e < kErspan2HeaderLen || (d_[e] >> 4) != 1) return kMalformedTunnel;
    const uint32_t session = load16(d_ + e + 2) & 0x03ff;
    return enter(TunnelType::kErspan2, session, Layer::kEthernet, e + kErspan2HeaderLen, ip.end, next);
  }
  if (protocol == kEtherTypeErspan3) {
    if (ip.end - p < hlen) return kMalformedTunnel;
    const uint32_t e = p + hlen;
    if (ip.end - e < kErspan3HeaderLen || (d_[e] >> 4) != 2) return kMalformedTunnel;
    const uint32_t session = load16(d_ + e + 2) & 0x03ff;
    const uint16_t last = load16(d_ + e + 10);  // SGT(16) | P FT(5) HwID(6) D Gra(2) O
    const uint32_t elen = kErspan3HeaderLen + ((last & 0x0001) ? kErspan3PlatformLen : 0);
    if (ip.end - e < elen) return kMalformedTunnel;
    const uint32_t frame_type = (last >> 10) & 0x1f;
    if (frame_type == 0) return enter(TunnelType::kErspan3, session, Layer::kEthernet, e + elen, ip.end, next);
    if (frame_type == 2) {  // a bare IP frame; the version nibble says which
      if (ip.end - (e + elen) < 1) return kMalformedTunnel;
      const Layer inner = (d_[e + elen] >> 4) == 6 ? Layer::kIpv6 : Layer::kIpv4;
      return enter(TunnelType::kErspan3, session, inner, e + elen, ip.end, next);
    }
    return kOk;  // frame types this decoder does not follow (e.g. 802.11)
  }
  return kOk;
}

// kOk: not a tunnel this decoder follows, decode `ip` as it is.
inline Verdict Walker::tunnel(const IpPayload& ip, Cursor& next) {
  const uint32_t p = ip.off;
  switch (ip.proto) {
    case kProtoUdp: {
      // A bad UDP header is left to transport() to report.
      if (ip.end - p < kUdpHeaderLen) return kOk;
      const uint16_t dport = load16(d_ + p + 2);
      const bool vxlan = dport == kPortVxlan || dport == kPortVxlanLinux;
      if (!vxlan && dport != kPortGeneve) [[likely]]
        return kOk;
      const uint32_t udp_len = load16(d_ + p + 4);
      if (udp_len < kUdpHeaderLen) return kOk;
      const uint32_t end = ip.end - p > udp_len ? p + udp_len : ip.end;
      const uint32_t t = p + kUdpHeaderLen;
      const uint8_t* h = d_ + t;
      if (vxlan) {
        if (end - t < kVxlanHeaderLen) return kMalformedTunnel;
        // Without the I flag this is not VXLAN but some other use of the port.
        if ((h[0] & 0x08) == 0) return kOk;
        return enter(TunnelType::kVxlan, load32(h + 4) >> 8, Layer::kEthernet, t + kVxlanHeaderLen, end, next);
      }
      if (end - t < kGeneveHeaderLen || (h[0] >> 6) != 0) return kMalformedTunnel;
      Layer layer;
      if (!innerLayerOf(load16(h + 2), layer)) return kOk;
      const uint32_t hlen = kGeneveHeaderLen + (h[0] & 0x3fu) * 4;
      if (end - t < hlen) return kMalformedTunnel;
      return enter(TunnelType::kGeneve, load32(h + 4) >> 8, layer, t + hlen, end, next);
    }
    case kProtoGre:
      return gre(ip, next);
    case kProtoIpInIp:
      return enter(TunnelType::kIpInIp, 0, Layer::kIpv4, p, ip.end, next);
    case kProtoIp6InIp:
      return enter(TunnelType::kIp6InIp, 0, Layer::kIpv6, p, ip.end, next);
    default:
      return kOk;
  }
}

inline Verdict Walker::transport(const IpPayload& ip) {
  const uint32_t p = ip.off;
  const uint32_t avail = ip.end - p;
  const uint8_t* h = d_ + p;
  switch (ip.proto) {
    case kProtoTcp: {
      if (avail < kTcpMinHeaderLen) return kMalformedTcpHeader;
      const uint32_t hlen = (h[12] >> 4) * 4u;
      if (hlen < kTcpMinHeaderLen || hlen > avail) return kMalformedTcpHeader;
      out_.l4_offset = p;
      out_.src_port = load16(h);
      out_.dst_port = load16(h + 2);
      out_.tcp.seq = load32(h + 4);
      out_.tcp.ack = load32(h + 8);
      out_.tcp.flags = h[13];
      out_.tcp.window = load16(h + 14);
      if (hlen > kTcpMinHeaderLen && !parseTcpOptions(h + kTcpMinHeaderLen, hlen - kTcpMinHeaderLen, out_.tcp)) {
        return kMalformedTcpOptions;
      }
      setPayload(p + hlen, ip.end);
      return kOk;
    }
    case kProtoUdp: {
      if (avail < kUdpHeaderLen) return kMalformedUdpHeader;
      const uint32_t udp_len = load16(h + 4);
      if (udp_len < kUdpHeaderLen) return kMalformedUdpHeader;
      out_.l4_offset = p;
      out_.src_port = load16(h);
      out_.dst_port = load16(h + 2);
      setPayload(p + kUdpHeaderLen, avail > udp_len ? p + udp_len : ip.end);
      return kOk;
    }
    case kProtoSctp:
      if (avail < kSctpCommonHeaderLen) return kMalformedSctpHeader;
      out_.l4_offset = p;
      out_.src_port = load16(h);
      out_.dst_port = load16(h + 2);
      setPayload(p + kSctpCommonHeaderLen, ip.end);
      return kOk;
    case kProtoIcmp:
    case kProtoIcmpv6:
      if (avail < kIcmpHeaderLen) return kMalformedIcmpHeader;
      out_.l4_offset = p;
      out_.src_port = h[0];
      out_.dst_port = h[1];
      setPayload(p + kIcmpHeaderLen, ip.end);
      return kOk;
    default:
      return kOk;  // no transport header this decoder reads
  }
}

Verdict Walker::run(LinkType link) {
  Cursor c{Layer::kEthernet, 0, cap_};
  Verdict v;
  switch (link) {
    case LinkType::kEthernet:
      break;
    case LinkType::kRaw:
      // An empty or non-IPv6 first byte goes to the IPv4 parser, which refuses it.
      c.layer = cap_ != 0 && (d_[0] >> 4) == 6 ? Layer::kIpv6 : Layer::kIpv4;
      break;
    case LinkType::kIpv4:
      c.layer = Layer::kIpv4;
      break;
    case LinkType::kIpv6:
      c.layer = Layer::kIpv6;
      break;
    case LinkType::kLinuxSll:
      if (cap_ < kSllHeaderLen) return kMalformedLinkLayer;
      c.off = kSllHeaderLen;
      if ((v = etherType(load16(d_ + 14), c)) != kOk) return v;
      break;
    case LinkType::kLinuxSll2:
      if (cap_ < kSll2HeaderLen) return kMalformedLinkLayer;
      c.off = kSll2HeaderLen;
      if ((v = etherType(load16(d_), c)) != kOk) return v;
      break;
    default:
      return kMalformedUnknownLinkType;
  }

  // Each pass decodes one level: Ethernet when the level has one, IP, then a
  // tunnel or the transport. A tunnel starts the next pass on its inner
  // packet; enter() bounds the number of passes.
  for (;;) {
    if (c.layer == Layer::kEthernet) {
      if (c.end - c.off < kEthernetHeaderLen) return kMalformedLinkLayer;
      const uint16_t type = load16(d_ + c.off + 12);
      c.off += kEthernetHeaderLen;
      if ((v = etherType(type, c)) != kOk) return v;
    }
    IpPayload ip;
    v = c.layer == Layer::kIpv4 ? ipv4(c, ip) : ipv6(c, ip);
    if (v != kOk) return v;
    if (ip.no_transport) return kOk;
    if (ip.fragment) [[unlikely]] {
      // A first fragment: ports if the header is all there, never a tunnel
      // (the reassembled datagram is decoded again). A transport header split
      // across fragments is not malformed, only unknown for now.
      if (transport(ip) != kOk) {
        out_.l4_offset = 0;
        out_.src_port = 0;
        out_.dst_port = 0;
        out_.tcp = TcpInfo{};
        out_.payload_offset = 0;
        out_.payload_len = 0;
      }
      return kOk;
    }
    v = tunnel(ip, c);
    if (v == kDecapsulated) continue;
    if (v != kOk) return v;
    return transport(ip);
  }
}

}  // namespace

const char* tunnelTypeName(TunnelType type) {
  switch (type) {
    case TunnelType::kNone:
      return "none";
    case TunnelType::kVxlan:
      return "vxlan";
    case TunnelType::kGeneve:
      return "geneve";
    case TunnelType::kGre:
      return "gre";
    case TunnelType::kErspan2:
      return "erspan2";
    case TunnelType::kErspan3:
      return "erspan3";
    case TunnelType::kIpInIp:
      return "ipip";
    case TunnelType::kIp6InIp:
      return "ip6ip";
  }
  return "unknown";
}

DecodeResult decodePacket(const uint8_t* data, uint32_t cap_len, uint32_t wire_len, Timestamp ts, LinkType link,
                          DecodedPacket& out, DecodeStats& stats) {
  // The caller reuses `out`: start from a clean slate so nothing of the
  // previous packet survives.
  resetPacket(out);
  out.data = data;
  out.cap_len = cap_len;
  out.wire_len = wire_len;
  out.ts = ts;
  stats.packets.add();
  stats.bytes.add(cap_len);
  if (cap_len < wire_len) stats.truncated.add();

  const Verdict v = Walker(data, cap_len, out).run(link);
  if (v == kOk) [[likely]] {
    (out.ip_version == 4 ? stats.ipv4 : stats.ipv6).add();
    if (out.vlan_count != 0) stats.vlan.add();
    if (out.tunnel_depth != 0) stats.tunnelled.add();
    if (out.is_fragment) {
      // Counted by transport once reassembled and decoded again.
      stats.fragments.add();
    } else {
      switch (out.ip_proto) {
        case kProtoTcp:
          stats.tcp.add();
          break;
        case kProtoUdp:
          stats.udp.add();
          break;
        case kProtoSctp:
          stats.sctp.add();
          break;
        case kProtoIcmp:
        case kProtoIcmpv6:
          stats.icmp.add();
          break;
        default:
          stats.other_transport.add();
          break;
      }
    }
    return DecodeResult::kOk;
  }
  if (v == kNotIp) {
    stats.non_ip.add();
    if (out.vlan_count != 0) stats.vlan.add();
    if (out.tunnel_depth != 0) {
      stats.tunnelled.add();
      // Non-IP inside a tunnel: keep the tunnel and tags, drop the outer IP
      // fields the walk left behind so no one mistakes them for this packet's.
      const DecodedPacket kept = out;
      resetPacket(out);
      out.data = kept.data;
      out.cap_len = kept.cap_len;
      out.wire_len = kept.wire_len;
      out.ts = kept.ts;
      std::memcpy(out.vlan_ids, kept.vlan_ids, sizeof out.vlan_ids);
      out.vlan_count = kept.vlan_count;
      out.tunnel = kept.tunnel;
      out.tunnel_depth = kept.tunnel_depth;
    }
    return DecodeResult::kNotIp;
  }
  (stats.*kMalformedCounter[v]).add();
  return DecodeResult::kMalformed;
}

}  // namespace tapflow
