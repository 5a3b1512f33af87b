// Tests of the packet decoder, on packets assembled byte by byte below.
// Each malformed case checks that exactly its own reason was counted.
#include "packet/decoder.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <cstring>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace tapflow {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void put8(Bytes& b, uint8_t v) { b.push_back(v); }
void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
void zeros(Bytes& b, size_t n) { b.resize(b.size() + n, 0); }

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

IpAddress addr(const char* s) {
  IpAddress a{};
  if (inet_pton(AF_INET, s, a.bytes) != 1) REQUIRE(inet_pton(AF_INET6, s, a.bytes) == 1);
  return a;
}

void putAddr(Bytes& b, const char* s, size_t len) {
  const IpAddress a = addr(s);
  b.insert(b.end(), a.bytes, a.bytes + len);
}

using Tag = std::pair<uint16_t, uint16_t>;  // TPID, VLAN id

Bytes eth(uint16_t type, std::initializer_list<Tag> tags = {}) {
  Bytes b = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
  for (const Tag& t : tags) {
    put16(b, t.first);
    put16(b, static_cast<uint16_t>(0x2000 | t.second));  // priority 1 must not leak into the id
  }
  put16(b, type);
  return b;
}

Bytes sll(uint16_t protocol) {
  Bytes b;
  put16(b, 0);  // packet type: to us
  put16(b, 1);  // ARPHRD_ETHER
  put16(b, 6);
  b.insert(b.end(), {0x02, 0, 0, 0, 0, 0x01, 0, 0});
  put16(b, protocol);
  return b;
}

Bytes sll2(uint16_t protocol) {
  Bytes b;
  put16(b, protocol);
  put16(b, 0);  // reserved
  put32(b, 3);  // interface index
  put16(b, 1);  // ARPHRD_ETHER
  put8(b, 4);   // packet type: outgoing
  put8(b, 6);
  b.insert(b.end(), {0x02, 0, 0, 0, 0, 0x01, 0, 0});
  return b;
}

struct V4 {
  const char* src = "10.0.0.1";
  const char* dst = "10.0.0.2";
  uint8_t ttl = 64;
  uint16_t id = 0x1234;
  bool mf = false;
  uint16_t frag_offset = 0;  // bytes, multiple of 8
  Bytes options;             // multiple of 4 bytes
  int total_len = -1;        // override
  int ihl = -1;              // override, 32-bit words
  uint8_t version = 4;
};

Bytes ipv4(uint8_t proto, const Bytes& payload, const V4& o = {}) {
  const size_t hlen = 20 + o.options.size();
  Bytes b;
  put8(b, static_cast<uint8_t>(o.version << 4 | (o.ihl >= 0 ? o.ihl : hlen / 4)));
  put8(b, 0);
  put16(b, static_cast<uint16_t>(o.total_len >= 0 ? o.total_len : hlen + payload.size()));
  put16(b, o.id);
  put16(b, static_cast<uint16_t>((o.mf ? 0x2000 : 0) | (o.frag_offset / 8)));
  put8(b, o.ttl);
  put8(b, proto);
  put16(b, 0);  // checksum: not verified by the decoder
  putAddr(b, o.src, 4);
  putAddr(b, o.dst, 4);
  return b + o.options + payload;
}

struct V6 {
  const char* src = "2001:db8::1";
  const char* dst = "2001:db8::2";
  uint8_t hop_limit = 64;
  int payload_len = -1;  // override
  uint8_t version = 6;
};

Bytes ipv6(uint8_t next, const Bytes& payload, const V6& o = {}) {
  Bytes b;
  put32(b, static_cast<uint32_t>(o.version) << 28);
  put16(b, static_cast<uint16_t>(o.payload_len >= 0 ? o.payload_len : payload.size()));
  put8(b, next);
  put8(b, o.hop_limit);
  putAddr(b, o.src, 16);
  putAddr(b, o.dst, 16);
  return b + payload;
}

// Hop-by-hop, routing or destination options header of `len` bytes (multiple of 8).
Bytes ext6(uint8_t next, size_t len) {
  Bytes b(len, 0);  // the zeros are Pad1 options
  b[0] = next;
  b[1] = static_cast<uint8_t>(len / 8 - 1);
  return b;
}

Bytes ah6(uint8_t next, size_t len) {  // len multiple of 4, >= 12
  Bytes b(len, 0);
  b[0] = next;
  b[1] = static_cast<uint8_t>(len / 4 - 2);
  return b;
}

Bytes frag6(uint8_t next, uint16_t offset, bool more, uint32_t id) {
  Bytes b;
  put8(b, next);
  put8(b, 0);
  put16(b, static_cast<uint16_t>(offset | (more ? 1 : 0)));
  put32(b, id);
  return b;
}

struct Tcp {
  uint16_t sport = 40000;
  uint16_t dport = 80;
  uint8_t flags = tcp_flags::kAck;
  uint32_t seq = 1000;
  uint32_t ack = 2000;
  uint16_t window = 512;
  Bytes options;  // padded to 4 bytes with EOL
  int data_offset = -1;
};

Bytes tcp(const Tcp& t = {}, const Bytes& payload = {}) {
  Bytes opts = t.options;
  while (opts.size() % 4 != 0) opts.push_back(0);
  Bytes b;
  put16(b, t.sport);
  put16(b, t.dport);
  put32(b, t.seq);
  put32(b, t.ack);
  put8(b, static_cast<uint8_t>((t.data_offset >= 0 ? t.data_offset : (20 + opts.size()) / 4) << 4));
  put8(b, t.flags);
  put16(b, t.window);
  put32(b, 0);  // checksum, urgent pointer
  return b + opts + payload;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload = {}, int len = -1) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(len >= 0 ? len : 8 + payload.size()));
  put16(b, 0);
  return b + payload;
}

Bytes sctp(uint16_t sport, uint16_t dport, const Bytes& payload = {}) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, 0xdeadbeef);  // verification tag
  put32(b, 0);
  return b + payload;
}

Bytes icmp(uint8_t type, uint8_t code, const Bytes& rest = {}) {
  Bytes b = {type, code, 0, 0};
  return b + rest;
}

Bytes vxlan(uint32_t vni, uint8_t flags = 0x08) {
  Bytes b = {flags, 0, 0, 0};
  put32(b, vni << 8);
  return b;
}

Bytes geneve(uint32_t vni, uint16_t protocol, uint8_t option_words = 0, uint8_t version = 0) {
  Bytes b;
  put8(b, static_cast<uint8_t>(version << 6 | option_words));
  put8(b, 0);
  put16(b, protocol);
  put32(b, vni << 8);
  zeros(b, option_words * 4u);
  return b;
}

struct Gre {
  bool checksum = false;
  std::optional<uint32_t> key;
  std::optional<uint32_t> seq;
  uint16_t version = 0;
};

Bytes gre(uint16_t protocol, const Gre& g = {}) {
  Bytes b;
  put16(b, static_cast<uint16_t>((g.checksum ? 0x8000 : 0) | (g.key ? 0x2000 : 0) | (g.seq ? 0x1000 : 0) | g.version));
  put16(b, protocol);
  if (g.checksum) put32(b, 0);
  if (g.key) put32(b, *g.key);
  if (g.seq) put32(b, *g.seq);
  return b;
}

Bytes erspan2(uint16_t session) {
  Bytes b;
  put16(b, 0x1000 | 7);                               // version 1, VLAN 7
  put16(b, static_cast<uint16_t>(0xfc00 | session));  // COS/En/T set: only 10 bits are the session
  put32(b, 42);                                       // index
  return b;
}

Bytes erspan3(uint16_t session, bool platform, uint8_t frame_type = 0) {
  Bytes b;
  put16(b, 0x2000 | 7);  // version 2, VLAN 7
  put16(b, static_cast<uint16_t>(0xfc00 | session));
  put32(b, 0x01020304);  // timestamp
  put16(b, 0x0abc);      // SGT
  put16(b, static_cast<uint16_t>(frame_type << 10 | (platform ? 1 : 0)));
  if (platform) zeros(b, 8);
  return b;
}

constexpr uint8_t kTcp = 6, kUdp = 17, kGre = 47;

// An inner packet used by the tunnel tests.
Bytes innerTcp4() {
  return ipv4(kTcp, tcp({.sport = 5555, .dport = 443}, text("hi")),
              {.src = "192.168.1.1", .dst = "192.168.1.2", .ttl = 9});
}
Bytes innerUdp6() { return ipv6(kUdp, udp(5353, 53, text("q")), {.src = "fd00::1", .dst = "fd00::2", .hop_limit = 3}); }

struct Fixture {
  DecodeStats stats;
  DecodedPacket out;
  Bytes packet;  // a copy of the last packet decoded, so `out` may point into it

  DecodeResult decode(const Bytes& b, LinkType link = LinkType::kEthernet, uint32_t wire_len = 0) {
    packet = b;
    return decodePacket(packet.data(), static_cast<uint32_t>(packet.size()),
                        wire_len ? wire_len : static_cast<uint32_t>(packet.size()), 1234, link, out, stats);
  }

  uint64_t malformedTotal() const {
    uint64_t total = 0;
    stats.forEach([&](std::string_view name, const char*, const Counter& c) {
      if (name.starts_with("malformed_")) total += c.value();
    });
    return total;
  }

  uint64_t counter(std::string_view wanted) const {
    uint64_t value = 0;
    bool found = false;
    stats.forEach([&](std::string_view name, const char*, const Counter& c) {
      if (name == wanted) {
        value = c.value();
        found = true;
      }
    });
    REQUIRE(found);
    return value;
  }

  // Refused, and for exactly this reason, once.
  void expectMalformed(const Bytes& b, std::string_view reason, LinkType link = LinkType::kEthernet) {
    const uint64_t before = malformedTotal();
    const uint64_t reason_before = counter(reason);
    CHECK(decode(b, link) == DecodeResult::kMalformed);
    CHECK(counter(reason) == reason_before + 1);
    CHECK(malformedTotal() == before + 1);
  }
};

TEST_CASE("tunnel types have their metric names") {
  CHECK(std::string_view(tunnelTypeName(TunnelType::kNone)) == "none");
  CHECK(std::string_view(tunnelTypeName(TunnelType::kVxlan)) == "vxlan");
  CHECK(std::string_view(tunnelTypeName(TunnelType::kGeneve)) == "geneve");
  CHECK(std::string_view(tunnelTypeName(TunnelType::kGre)) == "gre");
  CHECK(std::string_view(tunnelTypeName(TunnelType::kErspan2)) == "erspan2");
  CHECK(std::string_view(tunnelTypeName(TunnelType::kErspan3)) == "erspan3");
  CHECK(std::string_view(tunnelTypeName(TunnelType::kIpInIp)) == "ipip");
  CHECK(std::string_view(tunnelTypeName(TunnelType::kIp6InIp)) == "ip6ip");
}

TEST_CASE("ethernet ipv4 tcp segment yields its five-tuple, header fields and payload") {
  Fixture f;
  const Bytes pkt =
      eth(0x0800) +
      ipv4(kTcp, tcp({.flags = tcp_flags::kPsh | tcp_flags::kAck, .window = 0x1f00}, text("hello")), {.ttl = 57});
  REQUIRE(f.decode(pkt) == DecodeResult::kOk);
  const DecodedPacket& p = f.out;
  CHECK(p.data == f.packet.data());
  CHECK(p.cap_len == pkt.size());
  CHECK(p.wire_len == pkt.size());
  CHECK(p.ts == 1234);
  CHECK(p.vlan_count == 0);
  CHECK(p.tunnel.type == TunnelType::kNone);
  CHECK(p.tunnel_depth == 0);
  CHECK(p.ip_version == 4);
  CHECK(p.ip_proto == kTcp);
  CHECK(p.ip_ttl == 57);
  CHECK(p.l3_offset == 14);
  CHECK(p.ip_total_len == 20 + 20 + 5);
  CHECK(p.src == addr("10.0.0.1"));
  CHECK(p.dst == addr("10.0.0.2"));
  CHECK_FALSE(p.is_fragment);
  CHECK(p.l4_offset == 34);
  CHECK(p.src_port == 40000);
  CHECK(p.dst_port == 80);
  CHECK(p.tcp.seq == 1000);
  CHECK(p.tcp.ack == 2000);
  CHECK(p.tcp.window == 0x1f00);
  CHECK(p.tcp.flags == (tcp_flags::kPsh | tcp_flags::kAck));
  CHECK(p.tcp.mss == 0);
  CHECK(p.tcp.window_scale == 0xff);
  CHECK_FALSE(p.tcp.has_timestamps);
  CHECK(p.payload_offset == 54);
  CHECK(p.payload_len == 5);
  CHECK(std::memcmp(p.data + p.payload_offset, "hello", 5) == 0);

  CHECK(f.counter("packets") == 1);
  CHECK(f.counter("bytes") == pkt.size());
  CHECK(f.counter("ipv4") == 1);
  CHECK(f.counter("ipv6") == 0);
  CHECK(f.counter("tcp") == 1);
  CHECK(f.counter("truncated") == 0);
  CHECK(f.malformedTotal() == 0);
}

TEST_CASE("ethernet padding after the ipv4 total length is not payload") {
  Fixture f;
  Bytes pkt = eth(0x0800) + ipv4(kUdp, udp(1000, 2000, text("ab")));  // 14 + 20 + 10 = 44 bytes
  pkt.resize(60, 0xee);                                               // padded to the Ethernet minimum
  REQUIRE(f.decode(pkt) == DecodeResult::kOk);
  CHECK(f.out.ip_total_len == 30);
  CHECK(f.out.payload_offset == 42);
  CHECK(f.out.payload_len == 2);
}

TEST_CASE("ethernet padding after the ipv6 payload length is not payload") {
  Fixture f;
  Bytes pkt = eth(0x86dd) + ipv6(kTcp, tcp({}, text("x")));
  pkt.resize(pkt.size() + 9, 0xee);
  REQUIRE(f.decode(pkt) == DecodeResult::kOk);
  CHECK(f.out.ip_total_len == 40 + 21);
  CHECK(f.out.payload_len == 1);
}

TEST_CASE("a udp length shorter than the ip payload bounds the payload") {
  Fixture f;
  const Bytes pkt = eth(0x0800) + ipv4(kUdp, udp(1000, 2000, text("abcdef"), 8 + 2));
  REQUIRE(f.decode(pkt) == DecodeResult::kOk);
  CHECK(f.out.payload_len == 2);
  CHECK(f.counter("udp") == 1);
}

TEST_CASE("a capture cut short by the snap length still decodes the headers and keeps the ip length") {
  Fixture f;
  const Bytes full = eth(0x0800) + ipv4(kTcp, tcp({}, Bytes(1000, 'a')));
  const Bytes cut(full.begin(), full.begin() + 64);
  REQUIRE(f.decode(cut, LinkType::kEthernet, static_cast<uint32_t>(full.size())) == DecodeResult::kOk);
  CHECK(f.out.cap_len == 64);
  CHECK(f.out.wire_len == full.size());
  CHECK(f.out.ip_total_len == 1040);
  CHECK(f.out.src_port == 40000);
  CHECK(f.out.payload_offset == 54);
  CHECK(f.out.payload_len == 10);
  CHECK(f.counter("truncated") == 1);
  CHECK(f.counter("bytes") == 64);
}

TEST_CASE("raw ip link types decode ipv4 and ipv6 without a link header") {
  Fixture f;
  const Bytes v4 = ipv4(kUdp, udp(1, 2));
  const Bytes v6 = ipv6(kUdp, udp(3, 4));
  REQUIRE(f.decode(v4, LinkType::kRaw) == DecodeResult::kOk);
  CHECK(f.out.ip_version == 4);
  CHECK(f.out.l3_offset == 0);
  CHECK(f.out.l4_offset == 20);
  REQUIRE(f.decode(v6, LinkType::kRaw) == DecodeResult::kOk);
  CHECK(f.out.ip_version == 6);
  CHECK(f.out.l4_offset == 40);
  CHECK(f.out.dst_port == 4);
  REQUIRE(f.decode(v4, LinkType::kIpv4) == DecodeResult::kOk);
  CHECK(f.out.src_port == 1);
  REQUIRE(f.decode(v6, LinkType::kIpv6) == DecodeResult::kOk);
  CHECK(f.out.src_port == 3);
  f.expectMalformed(v6, "malformed_ipv4_header", LinkType::kIpv4);
  f.expectMalformed(v4, "malformed_ipv6_header", LinkType::kIpv6);
  f.expectMalformed(Bytes{}, "malformed_ipv4_header", LinkType::kRaw);
  CHECK(f.counter("ipv4") == 2);
  CHECK(f.counter("ipv6") == 2);
}

TEST_CASE("linux cooked captures v1 and v2 take the protocol from their own header") {
  Fixture f;
  REQUIRE(f.decode(sll(0x0800) + ipv4(kTcp, tcp()), LinkType::kLinuxSll) == DecodeResult::kOk);
  CHECK(f.out.l3_offset == 16);
  CHECK(f.out.l4_offset == 36);
  CHECK(f.out.dst_port == 80);
  REQUIRE(f.decode(sll2(0x86dd) + ipv6(kUdp, udp(7, 9)), LinkType::kLinuxSll2) == DecodeResult::kOk);
  CHECK(f.out.l3_offset == 20);
  CHECK(f.out.ip_version == 6);
  CHECK(f.out.dst_port == 9);
  REQUIRE(f.decode(sll(0x8100) + Bytes{0x00, 0x2a, 0x08, 0x00} + ipv4(kUdp, udp(7, 9)), LinkType::kLinuxSll) ==
          DecodeResult::kOk);
  CHECK(f.out.vlan_count == 1);
  CHECK(f.out.vlan_ids[0] == 42);
  CHECK(f.out.l3_offset == 20);
  CHECK(f.decode(sll2(0x0806) + Bytes(28, 0), LinkType::kLinuxSll2) == DecodeResult::kNotIp);
  f.expectMalformed(Bytes(15, 0), "malformed_link_layer", LinkType::kLinuxSll);
  f.expectMalformed(Bytes(19, 0), "malformed_link_layer", LinkType::kLinuxSll2);
}

TEST_CASE("an 802.1q tag is recorded and skipped") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800, {{0x8100, 100}}) + ipv4(kUdp, udp(1, 2))) == DecodeResult::kOk);
  CHECK(f.out.vlan_count == 1);
  CHECK(f.out.vlan_ids[0] == 100);
  CHECK(f.out.l3_offset == 18);
  CHECK(f.out.src_port == 1);
  CHECK(f.counter("vlan") == 1);
}

TEST_CASE("qinq tags are recorded outer first, with either service tpid") {
  Fixture f;
  REQUIRE(f.decode(eth(0x86dd, {{0x88a8, 10}, {0x8100, 20}}) + ipv6(kUdp, udp(1, 2))) == DecodeResult::kOk);
  CHECK(f.out.vlan_count == 2);
  CHECK(f.out.vlan_ids[0] == 10);
  CHECK(f.out.vlan_ids[1] == 20);
  CHECK(f.out.l3_offset == 22);
  REQUIRE(f.decode(eth(0x0800, {{0x9100, 30}, {0x8100, 40}}) + ipv4(kUdp, udp(1, 2))) == DecodeResult::kOk);
  CHECK(f.out.vlan_ids[0] == 30);
  CHECK(f.out.vlan_ids[1] == 40);
  CHECK(f.counter("vlan") == 2);
}

TEST_CASE("up to four tags are skipped, the first two recorded; a fifth is malformed") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800, {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}, {0x8100, 4}}) + ipv4(kUdp, udp(1, 2))) ==
          DecodeResult::kOk);
  CHECK(f.out.vlan_count == 2);
  CHECK(f.out.vlan_ids[0] == 1);
  CHECK(f.out.vlan_ids[1] == 2);
  CHECK(f.out.l3_offset == 30);
  f.expectMalformed(
      eth(0x0800, {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}, {0x8100, 4}, {0x8100, 5}}) + ipv4(kUdp, udp(1, 2)),
      "malformed_vlan");
}

TEST_CASE("a vlan tag cut short is malformed") {
  Fixture f;
  f.expectMalformed(eth(0x8100) + Bytes{0x00}, "malformed_vlan");
  f.expectMalformed(eth(0x8100) + Bytes{0x00, 0x64, 0x08}, "malformed_vlan");
}

TEST_CASE("arp and 802.3 frames are not ip and are passed over") {
  Fixture f;
  CHECK(f.decode(eth(0x0806) + Bytes(28, 0)) == DecodeResult::kNotIp);
  CHECK(f.decode(eth(0x0026) + Bytes(38, 0)) == DecodeResult::kNotIp);  // LLC, a length field
  CHECK(f.decode(eth(0x0806, {{0x8100, 5}}) + Bytes(28, 0)) == DecodeResult::kNotIp);
  CHECK(f.out.vlan_count == 1);
  CHECK(f.counter("non_ip") == 3);
  CHECK(f.counter("vlan") == 1);
  CHECK(f.counter("packets") == 3);
  CHECK(f.malformedTotal() == 0);
}

TEST_CASE("link layers shorter than their header and unknown link types are malformed") {
  Fixture f;
  f.expectMalformed(Bytes(13, 0), "malformed_link_layer");
  f.expectMalformed(Bytes{}, "malformed_link_layer");
  const Bytes pkt = eth(0x0800) + ipv4(kUdp, udp(1, 2));
  f.expectMalformed(pkt, "malformed_unknown_link_type", static_cast<LinkType>(127));
}

TEST_CASE("ipv4 options are skipped to find the transport header") {
  Fixture f;
  // Record route (7, length 7, pointer 4, one slot) then EOL: 8 bytes of options.
  const Bytes options = {7, 7, 4, 0, 0, 0, 0, 0};
  REQUIRE(f.decode(eth(0x0800) + ipv4(kTcp, tcp({.dport = 8080}), {.options = options})) == DecodeResult::kOk);
  CHECK(f.out.l4_offset == 14 + 28);
  CHECK(f.out.dst_port == 8080);
  CHECK(f.out.ip_total_len == 48);
  REQUIRE(f.decode(eth(0x0800) + ipv4(kUdp, udp(1, 2), {.options = {1, 1, 1, 1}})) == DecodeResult::kOk);
  CHECK(f.out.l4_offset == 14 + 24);
}

TEST_CASE("ipv4 options with a bad length or cut short by the capture are malformed") {
  Fixture f;
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 2), {.options = {7, 1, 0, 0}}), "malformed_ipv4_options");
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 2), {.options = {7, 9, 4, 0, 0, 0, 0, 0}}),
                    "malformed_ipv4_options");
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 2), {.options = {1, 1, 1, 7}}), "malformed_ipv4_options");
  // IHL 15 (60 bytes) but only 20 header bytes and no payload captured.
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, {}, {.total_len = 60, .ihl = 15}), "malformed_ipv4_options");
}

TEST_CASE("a bad ipv4 version, ihl or short header is malformed") {
  Fixture f;
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 2), {.version = 5}), "malformed_ipv4_header");
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 2), {.ihl = 4}), "malformed_ipv4_header");
  const Bytes pkt = eth(0x0800) + ipv4(kUdp, udp(1, 2));
  f.expectMalformed(Bytes(pkt.begin(), pkt.begin() + 14 + 19), "malformed_ipv4_header");
}

TEST_CASE("an ipv4 total length shorter than its header is malformed") {
  Fixture f;
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 2), {.total_len = 19}), "malformed_ipv4_length");
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 2), {.options = {1, 1, 1, 1}, .total_len = 20}),
                    "malformed_ipv4_length");
}

TEST_CASE("an ipv4 total length larger than the capture is trusted for accounting only") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(kUdp, udp(1, 2, text("abc")), {.total_len = 1500})) == DecodeResult::kOk);
  CHECK(f.out.ip_total_len == 1500);
  CHECK(f.out.payload_len == 3);
}

TEST_CASE("a first ipv4 fragment is a fragment that still yields its ports") {
  Fixture f;
  const Bytes pkt = eth(0x0800) + ipv4(kTcp, tcp({.dport = 22}, Bytes(16, 'x')), {.id = 0xbeef, .mf = true});
  REQUIRE(f.decode(pkt) == DecodeResult::kOk);
  CHECK(f.out.is_fragment);
  CHECK(f.out.more_fragments);
  CHECK(f.out.frag_id == 0xbeef);
  CHECK(f.out.frag_offset == 0);
  CHECK(f.out.frag_payload_offset == 34);
  CHECK(f.out.frag_payload_len == 36);
  CHECK(f.out.ip_proto == kTcp);
  CHECK(f.out.l4_offset == 34);
  CHECK(f.out.dst_port == 22);
  CHECK(f.counter("fragments") == 1);
  CHECK(f.counter("ipv4") == 1);
  CHECK(f.counter("tcp") == 0);  // counted when the reassembled datagram is decoded
}

TEST_CASE("a later ipv4 fragment has no transport header") {
  Fixture f;
  const Bytes pkt = eth(0x0800) + ipv4(kUdp, Bytes(24, 'y'), {.id = 7, .frag_offset = 1480});
  REQUIRE(f.decode(pkt) == DecodeResult::kOk);
  CHECK(f.out.is_fragment);
  CHECK_FALSE(f.out.more_fragments);
  CHECK(f.out.frag_offset == 1480);
  CHECK(f.out.frag_id == 7);
  CHECK(f.out.frag_payload_offset == 34);
  CHECK(f.out.frag_payload_len == 24);
  CHECK(f.out.ip_proto == kUdp);
  CHECK(f.out.l4_offset == 0);
  CHECK(f.out.src_port == 0);
  CHECK(f.out.dst_port == 0);
  CHECK(f.out.payload_len == 0);
  CHECK(f.counter("fragments") == 1);
  CHECK(f.counter("udp") == 0);
}

TEST_CASE("a first fragment too short for its transport header is a fragment without ports, not malformed") {
  Fixture f;
  const Bytes pkt = eth(0x0800) + ipv4(kTcp, Bytes(8, 0x11), {.mf = true});
  REQUIRE(f.decode(pkt) == DecodeResult::kOk);
  CHECK(f.out.is_fragment);
  CHECK(f.out.l4_offset == 0);
  CHECK(f.out.src_port == 0);
  CHECK(f.out.payload_len == 0);
  CHECK(f.malformedTotal() == 0);
}

TEST_CASE("the ipv6 extension header chain is walked to the transport header") {
  Fixture f;
  const Bytes chain = ext6(43, 8) + ext6(51, 16) + ah6(60, 16) + ext6(kTcp, 8) + tcp({.dport = 993}, text("z"));
  REQUIRE(f.decode(eth(0x86dd) + ipv6(0, chain, {.hop_limit = 7})) == DecodeResult::kOk);
  CHECK(f.out.ip_version == 6);
  CHECK(f.out.ip_proto == kTcp);
  CHECK(f.out.ip_ttl == 7);
  CHECK(f.out.ip_total_len == 40 + chain.size());
  CHECK(f.out.l4_offset == 14 + 40 + 48);
  CHECK(f.out.dst_port == 993);
  CHECK(f.out.payload_len == 1);
  CHECK(f.out.src == addr("2001:db8::1"));
  CHECK(f.out.dst == addr("2001:db8::2"));
  CHECK_FALSE(f.out.is_fragment);
}

TEST_CASE("an ipv6 first fragment records its fragment header and still yields its ports") {
  Fixture f;
  const Bytes chain = ext6(44, 8) + frag6(kUdp, 0, true, 0xa1b2c3d4) + udp(4000, 53, Bytes(32, 'q'));
  REQUIRE(f.decode(eth(0x86dd) + ipv6(0, chain)) == DecodeResult::kOk);
  CHECK(f.out.is_fragment);
  CHECK(f.out.more_fragments);
  CHECK(f.out.frag_id == 0xa1b2c3d4);
  CHECK(f.out.frag_offset == 0);
  CHECK(f.out.frag_header_offset == 14 + 40 + 8);
  CHECK(f.out.frag_payload_offset == 14 + 40 + 16);
  CHECK(f.out.frag_payload_len == 40);
  CHECK(f.out.ip_proto == kUdp);
  CHECK(f.out.l4_offset == 14 + 40 + 16);
  CHECK(f.out.dst_port == 53);
  CHECK(f.counter("fragments") == 1);
  CHECK(f.counter("ipv6") == 1);
}

TEST_CASE("an ipv6 later fragment has no transport header and takes its protocol from the fragment header") {
  Fixture f;
  const Bytes chain = frag6(kTcp, 1232, false, 99) + Bytes(100, 'p');
  REQUIRE(f.decode(eth(0x86dd) + ipv6(44, chain)) == DecodeResult::kOk);
  CHECK(f.out.is_fragment);
  CHECK_FALSE(f.out.more_fragments);
  CHECK(f.out.frag_offset == 1232);
  CHECK(f.out.frag_id == 99);
  CHECK(f.out.frag_header_offset == 54);
  CHECK(f.out.frag_payload_offset == 62);
  CHECK(f.out.frag_payload_len == 100);
  CHECK(f.out.ip_proto == kTcp);
  CHECK(f.out.l4_offset == 0);
  CHECK(f.out.dst_port == 0);
}

TEST_CASE("an ipv6 first fragment that cuts its own header chain is a fragment without transport, not malformed") {
  Fixture f;
  // Fragment header, then destination options announcing 24 bytes of which 8 are in this fragment.
  Bytes dst_opts = ext6(kTcp, 24);
  dst_opts.resize(8);
  REQUIRE(f.decode(eth(0x86dd) + ipv6(44, frag6(60, 0, true, 3) + dst_opts)) == DecodeResult::kOk);
  CHECK(f.out.is_fragment);
  CHECK(f.out.frag_header_offset == 54);
  CHECK(f.out.frag_payload_len == 8);
  CHECK(f.out.l4_offset == 0);
  CHECK(f.malformedTotal() == 0);
  CHECK(f.counter("fragments") == 1);
  // The same cut without a fragment header is malformed.
  f.expectMalformed(eth(0x86dd) + ipv6(60, dst_opts), "malformed_ipv6_ext_header");
}

TEST_CASE("an ipv6 atomic fragment is a whole datagram") {
  Fixture f;
  REQUIRE(f.decode(eth(0x86dd) + ipv6(44, frag6(kUdp, 0, false, 5) + udp(1, 2))) == DecodeResult::kOk);
  CHECK_FALSE(f.out.is_fragment);
  CHECK(f.out.dst_port == 2);
  CHECK(f.counter("udp") == 1);
  CHECK(f.counter("fragments") == 0);
}

TEST_CASE("ipv6 no-next-header ends the packet without a transport") {
  Fixture f;
  REQUIRE(f.decode(eth(0x86dd) + ipv6(60, ext6(59, 8))) == DecodeResult::kOk);
  CHECK(f.out.ip_proto == 59);
  CHECK(f.out.l4_offset == 0);
  CHECK(f.counter("other_transport") == 1);
  CHECK(f.malformedTotal() == 0);
}

TEST_CASE("an ipv6 extension chain cut short or longer than sixteen headers is malformed") {
  Fixture f;
  auto chainOf = [](int headers) {
    Bytes chain;
    for (int i = 1; i < headers; ++i) chain = chain + ext6(60, 8);
    return chain + ext6(kUdp, 8) + udp(1, 2);
  };
  REQUIRE(f.decode(eth(0x86dd) + ipv6(60, chainOf(16))) == DecodeResult::kOk);
  CHECK(f.out.l4_offset == 14 + 40 + 16 * 8);
  f.expectMalformed(eth(0x86dd) + ipv6(60, chainOf(17)), "malformed_ipv6_ext_header");
  // Header length runs past the payload length.
  f.expectMalformed(eth(0x86dd) + ipv6(0, ext6(kUdp, 32), {.payload_len = 16}), "malformed_ipv6_ext_header");
  // Fewer than 8 bytes left for a fragment header.
  f.expectMalformed(eth(0x86dd) + ipv6(44, Bytes{kUdp, 0, 0, 1}), "malformed_ipv6_ext_header");
  // AH length counts 4-byte units plus 2.
  f.expectMalformed(eth(0x86dd) + ipv6(51, Bytes{kUdp, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), "malformed_ipv6_ext_header");
}

TEST_CASE("an ipv6 header cut short or with a bad version is malformed") {
  Fixture f;
  const Bytes pkt = eth(0x86dd) + ipv6(kUdp, udp(1, 2));
  f.expectMalformed(Bytes(pkt.begin(), pkt.begin() + 14 + 39), "malformed_ipv6_header");
  f.expectMalformed(eth(0x86dd) + ipv6(kUdp, udp(1, 2), {.version = 4}), "malformed_ipv6_header");
}

TEST_CASE("tcp options fill mss, window scale, sack and timestamps") {
  Fixture f;
  const Bytes syn_options = {2, 4,  0x05, 0xb4,                    // MSS 1460
                             1, 3,  3,    7,                       // NOP, window scale 7
                             4, 2,                                 // SACK permitted
                             8, 10, 0,    0,    0, 1, 0, 0, 0, 2,  // timestamps 1, 2
                             0};                                   // EOL
  REQUIRE(f.decode(eth(0x0800) + ipv4(kTcp, tcp({.flags = tcp_flags::kSyn, .options = syn_options}))) ==
          DecodeResult::kOk);
  CHECK(f.out.tcp.flags == tcp_flags::kSyn);
  CHECK(f.out.tcp.mss == 1460);
  CHECK(f.out.tcp.window_scale == 7);
  CHECK(f.out.tcp.sack_permitted);
  CHECK(f.out.tcp.has_timestamps);
  CHECK(f.out.tcp.ts_val == 1);
  CHECK(f.out.tcp.ts_ecr == 2);
  CHECK(f.out.tcp.sack_blocks == 0);
  CHECK(f.out.payload_offset == 14 + 20 + 20 + 24);
  CHECK(f.out.payload_len == 0);

  Bytes sack = {1, 1, 5, 26};
  zeros(sack, 24);  // three blocks
  REQUIRE(f.decode(eth(0x0800) + ipv4(kTcp, tcp({.options = sack}, text("d")))) == DecodeResult::kOk);
  CHECK(f.out.tcp.sack_blocks == 3);
  CHECK(f.out.tcp.mss == 0);
  CHECK(f.out.tcp.window_scale == 0xff);
  CHECK_FALSE(f.out.tcp.has_timestamps);
  CHECK(f.out.payload_len == 1);
}

TEST_CASE("the usual nop, nop, timestamps layout is read, and options after it too") {
  Fixture f;
  const Bytes ts_only = {1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0};
  REQUIRE(f.decode(eth(0x0800) + ipv4(kTcp, tcp({.options = ts_only}, text("abc")))) == DecodeResult::kOk);
  CHECK(f.out.tcp.has_timestamps);
  CHECK(f.out.tcp.ts_val == 0x1000);
  CHECK(f.out.tcp.ts_ecr == 0x2000);
  CHECK(f.out.payload_len == 3);

  Bytes ts_sack = ts_only + Bytes{1, 1, 5, 10};
  zeros(ts_sack, 8);
  REQUIRE(f.decode(eth(0x0800) + ipv4(kTcp, tcp({.options = ts_sack}))) == DecodeResult::kOk);
  CHECK(f.out.tcp.has_timestamps);
  CHECK(f.out.tcp.sack_blocks == 1);

  f.expectMalformed(eth(0x0800) + ipv4(kTcp, tcp({.options = ts_only + Bytes{5, 12, 0, 0}})), "malformed_tcp_options");
}

TEST_CASE("tcp options with the wrong fixed length are ignored and a window scale above 14 reads as 14") {
  Fixture f;
  const Bytes options = {2, 3, 0x05, 3, 3, 20, 1, 1};  // MSS of length 3, then window scale 20
  REQUIRE(f.decode(eth(0x0800) + ipv4(kTcp, tcp({.options = options}))) == DecodeResult::kOk);
  CHECK(f.out.tcp.mss == 0);
  CHECK(f.out.tcp.window_scale == 14);
  CHECK(f.malformedTotal() == 0);
}

TEST_CASE("a tcp option with a length below two or past the header is malformed") {
  Fixture f;
  f.expectMalformed(eth(0x0800) + ipv4(kTcp, tcp({.options = {2, 1, 0, 0}})), "malformed_tcp_options");
  f.expectMalformed(eth(0x0800) + ipv4(kTcp, tcp({.options = {1, 8, 10, 0}})), "malformed_tcp_options");
  f.expectMalformed(eth(0x0800) + ipv4(kTcp, tcp({.options = {1, 1, 1, 2}})), "malformed_tcp_options");
}

TEST_CASE("a tcp data offset below five, past the capture or a cut tcp header is malformed") {
  Fixture f;
  f.expectMalformed(eth(0x0800) + ipv4(kTcp, tcp({.data_offset = 4})), "malformed_tcp_header");
  f.expectMalformed(eth(0x0800) + ipv4(kTcp, tcp({.data_offset = 8})), "malformed_tcp_header");
  f.expectMalformed(eth(0x0800) + ipv4(kTcp, Bytes(19, 0)), "malformed_tcp_header");
  // The IP length, not the capture, ends the segment: 12 bytes of options do not fit in 28.
  f.expectMalformed(eth(0x0800) + ipv4(kTcp, tcp({.options = Bytes(12, 1)}), {.total_len = 48}),
                    "malformed_tcp_header");
}

TEST_CASE("a udp header cut short or with a length below eight is malformed") {
  Fixture f;
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, Bytes(7, 0)), "malformed_udp_header");
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 2, {}, 7)), "malformed_udp_header");
  f.expectMalformed(eth(0x86dd) + ipv6(kUdp, udp(1, 2, {}, 0)), "malformed_udp_header");
}

TEST_CASE("sctp yields its ports") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(132, sctp(2905, 2906, Bytes(16, 1)))) == DecodeResult::kOk);
  CHECK(f.out.ip_proto == 132);
  CHECK(f.out.src_port == 2905);
  CHECK(f.out.dst_port == 2906);
  CHECK(f.out.payload_offset == 14 + 20 + 12);
  CHECK(f.out.payload_len == 16);
  CHECK(f.counter("sctp") == 1);
  f.expectMalformed(eth(0x0800) + ipv4(132, Bytes(11, 0)), "malformed_sctp_header");
}

TEST_CASE("icmp and icmpv6 put type and code in the port fields") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(1, icmp(8, 0, Bytes(12, 0)))) == DecodeResult::kOk);
  CHECK(f.out.src_port == 8);
  CHECK(f.out.dst_port == 0);
  CHECK(f.out.l4_offset == 34);
  CHECK(f.out.payload_len == 12);
  REQUIRE(f.decode(eth(0x86dd) + ipv6(58, icmp(1, 4, Bytes(4, 0)))) == DecodeResult::kOk);
  CHECK(f.out.ip_proto == 58);
  CHECK(f.out.src_port == 1);
  CHECK(f.out.dst_port == 4);
  CHECK(f.counter("icmp") == 2);
  f.expectMalformed(eth(0x0800) + ipv4(1, Bytes{3, 3, 0}), "malformed_icmp_header");
  f.expectMalformed(eth(0x86dd) + ipv6(58, Bytes{128}), "malformed_icmp_header");
}

TEST_CASE("other ip protocols are decoded without a transport header") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(89, Bytes(40, 0))) == DecodeResult::kOk);  // OSPF
  CHECK(f.out.ip_proto == 89);
  CHECK(f.out.l4_offset == 0);
  CHECK(f.out.payload_len == 0);
  CHECK(f.counter("other_transport") == 1);
}

void checkInnerTcp4(const DecodedPacket& p) {
  CHECK(p.ip_version == 4);
  CHECK(p.ip_proto == kTcp);
  CHECK(p.ip_ttl == 9);
  CHECK(p.src == addr("192.168.1.1"));
  CHECK(p.dst == addr("192.168.1.2"));
  CHECK(p.src_port == 5555);
  CHECK(p.dst_port == 443);
  CHECK(p.ip_total_len == 42);
  CHECK(p.payload_len == 2);
  CHECK(p.payload_offset + 2 == p.cap_len);
  CHECK(std::memcmp(p.data + p.payload_offset, "hi", 2) == 0);
}

void checkInnerUdp6(const DecodedPacket& p) {
  CHECK(p.ip_version == 6);
  CHECK(p.ip_proto == kUdp);
  CHECK(p.ip_ttl == 3);
  CHECK(p.src == addr("fd00::1"));
  CHECK(p.dst == addr("fd00::2"));
  CHECK(p.src_port == 5353);
  CHECK(p.dst_port == 53);
  CHECK(p.ip_total_len == 49);
  CHECK(p.payload_len == 1);
}

void checkOuter4(const TunnelInfo& t, TunnelType type, uint32_t id) {
  CHECK(t.type == type);
  CHECK(t.id == id);
  CHECK(t.outer_ip_version == 4);
  CHECK(t.outer_src == addr("10.0.0.1"));
  CHECK(t.outer_dst == addr("10.0.0.2"));
}

TEST_CASE("vxlan is decapsulated to its inner ethernet frame") {
  Fixture f;
  const Bytes inner = eth(0x0800, {{0x8100, 300}}) + innerTcp4();
  for (uint16_t port : {4789, 8472}) {
    CAPTURE(port);
    const Bytes pkt = eth(0x0800) + ipv4(kUdp, udp(49152, port, vxlan(0x123456) + inner));
    REQUIRE(f.decode(pkt) == DecodeResult::kOk);
    checkInnerTcp4(f.out);
    checkOuter4(f.out.tunnel, TunnelType::kVxlan, 0x123456);
    CHECK(f.out.tunnel_depth == 1);
    CHECK(f.out.l3_offset == 14 + 20 + 8 + 8 + 18);
    CHECK(f.out.vlan_count == 1);
    CHECK(f.out.vlan_ids[0] == 300);
  }
  CHECK(f.counter("tunnelled") == 2);
  CHECK(f.counter("ipv4") == 2);
  CHECK(f.counter("tcp") == 2);
  CHECK(f.counter("udp") == 0);
}

TEST_CASE("geneve is decapsulated past its options to ethernet or ip") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(kUdp, udp(1000, 6081, geneve(77, 0x6558, 3) + eth(0x86dd) + innerUdp6()))) ==
          DecodeResult::kOk);
  checkInnerUdp6(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kGeneve, 77);
  CHECK(f.out.l3_offset == 14 + 20 + 8 + 8 + 12 + 14);
  CHECK(f.counter("ipv6") == 1);

  REQUIRE(f.decode(eth(0x86dd) + ipv6(kUdp, udp(1000, 6081, geneve(0xffffff, 0x0800) + innerTcp4()))) ==
          DecodeResult::kOk);
  checkInnerTcp4(f.out);
  CHECK(f.out.tunnel.type == TunnelType::kGeneve);
  CHECK(f.out.tunnel.id == 0xffffff);
  CHECK(f.out.tunnel.outer_ip_version == 6);
  CHECK(f.out.tunnel.outer_src == addr("2001:db8::1"));
  CHECK(f.out.tunnel.outer_dst == addr("2001:db8::2"));
  CHECK(f.counter("tunnelled") == 2);
}

TEST_CASE("gre is decapsulated with its optional fields sizing the header and the key as id") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(kGre, gre(0x6558, {.key = 0xabcdef01}) + eth(0x0800) + innerTcp4())) ==
          DecodeResult::kOk);
  checkInnerTcp4(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kGre, 0xabcdef01);
  CHECK(f.out.l3_offset == 14 + 20 + 8 + 14);

  REQUIRE(f.decode(eth(0x0800) + ipv4(kGre, gre(0x0800, {.checksum = true, .key = 5, .seq = 9}) + innerTcp4())) ==
          DecodeResult::kOk);
  checkInnerTcp4(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kGre, 5);
  CHECK(f.out.l3_offset == 14 + 20 + 16);

  REQUIRE(f.decode(eth(0x0800) + ipv4(kGre, gre(0x86dd, {.checksum = true}) + innerUdp6())) == DecodeResult::kOk);
  checkInnerUdp6(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kGre, 0);
  CHECK(f.counter("tunnelled") == 3);
}

TEST_CASE("erspan type ii is decapsulated with its session id") {
  Fixture f;
  const Bytes pkt = eth(0x0800) + ipv4(kGre, gre(0x88be, {.seq = 1}) + erspan2(0x2a5) + eth(0x0800) + innerTcp4());
  REQUIRE(f.decode(pkt) == DecodeResult::kOk);
  checkInnerTcp4(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kErspan2, 0x2a5);
  CHECK(f.out.l3_offset == 14 + 20 + 8 + 8 + 14);
}

TEST_CASE("erspan type i, without a sequence number, carries the frame right after gre") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(kGre, gre(0x88be) + eth(0x0800) + innerTcp4())) == DecodeResult::kOk);
  checkInnerTcp4(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kErspan2, 0);
  CHECK(f.out.l3_offset == 14 + 20 + 4 + 14);
}

TEST_CASE("erspan type iii is decapsulated with and without its platform subheader") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(kGre, gre(0x22eb, {.seq = 1}) + erspan3(17, false) + eth(0x0800) +
                                                innerTcp4())) == DecodeResult::kOk);
  checkInnerTcp4(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kErspan3, 17);
  CHECK(f.out.l3_offset == 14 + 20 + 8 + 12 + 14);

  REQUIRE(f.decode(eth(0x0800) + ipv4(kGre, gre(0x22eb, {.seq = 1}) + erspan3(1023, true) + eth(0x86dd) +
                                                innerUdp6())) == DecodeResult::kOk);
  checkInnerUdp6(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kErspan3, 1023);
  CHECK(f.out.l3_offset == 14 + 20 + 8 + 20 + 14);

  // Frame type 2: the mirrored frame is a bare IP packet.
  REQUIRE(f.decode(eth(0x0800) + ipv4(kGre, gre(0x22eb, {.seq = 1}) + erspan3(3, false, 2) + innerTcp4())) ==
          DecodeResult::kOk);
  checkInnerTcp4(f.out);
  CHECK(f.out.tunnel.type == TunnelType::kErspan3);
}

TEST_CASE("ip-in-ip and ipv6-in-ip are decapsulated from either outer ip version") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(4, innerTcp4())) == DecodeResult::kOk);
  checkInnerTcp4(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kIpInIp, 0);
  CHECK(f.out.l3_offset == 34);

  REQUIRE(f.decode(eth(0x0800) + ipv4(41, innerUdp6())) == DecodeResult::kOk);
  checkInnerUdp6(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kIp6InIp, 0);

  REQUIRE(f.decode(eth(0x86dd) + ipv6(4, innerTcp4())) == DecodeResult::kOk);
  checkInnerTcp4(f.out);
  CHECK(f.out.tunnel.type == TunnelType::kIpInIp);
  CHECK(f.out.tunnel.outer_ip_version == 6);
  CHECK(f.out.tunnel.outer_src == addr("2001:db8::1"));

  REQUIRE(f.decode(eth(0x86dd) + ipv6(0, ext6(41, 8) + innerUdp6())) == DecodeResult::kOk);
  checkInnerUdp6(f.out);
  CHECK(f.out.tunnel.type == TunnelType::kIp6InIp);
  CHECK(f.counter("tunnelled") == 4);
  CHECK(f.counter("ipv4") == 2);
  CHECK(f.counter("ipv6") == 2);
}

TEST_CASE("nested tunnels keep the outermost tunnel and count the packet as tunnelled once") {
  Fixture f;
  const Bytes vx =
      ipv4(kUdp, udp(1, 4789, vxlan(1000) + eth(0x0800) + innerTcp4()), {.src = "172.16.0.1", .dst = "172.16.0.2"});
  REQUIRE(f.decode(eth(0x0800) + ipv4(kGre, gre(0x0800, {.key = 3}) + vx)) == DecodeResult::kOk);
  checkInnerTcp4(f.out);
  checkOuter4(f.out.tunnel, TunnelType::kGre, 3);
  CHECK(f.out.tunnel_depth == 2);
  CHECK(f.counter("tunnelled") == 1);
}

TEST_CASE("tunnels nested up to the limit are followed, one deeper is malformed") {
  Fixture f;
  Bytes pkt = innerTcp4();
  for (int i = 0; i < kMaxTunnelDepth; ++i) pkt = ipv4(4, pkt);
  REQUIRE(f.decode(eth(0x0800) + pkt) == DecodeResult::kOk);
  checkInnerTcp4(f.out);
  CHECK(f.out.tunnel_depth == kMaxTunnelDepth);
  f.expectMalformed(eth(0x0800) + ipv4(4, pkt), "malformed_tunnel_depth");
}

TEST_CASE("an unknown gre protocol or version leaves the outer packet as the result") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(kGre, gre(0x880b, {.key = 1}) + Bytes(20, 0))) == DecodeResult::kOk);
  CHECK(f.out.ip_proto == kGre);
  CHECK(f.out.src == addr("10.0.0.1"));
  CHECK(f.out.l4_offset == 0);
  CHECK(f.out.tunnel.type == TunnelType::kNone);
  CHECK(f.out.tunnel_depth == 0);
  // PPTP's enhanced GRE (version 1) is not a tunnel followed here either.
  REQUIRE(f.decode(eth(0x0800) + ipv4(kGre, gre(0x0800, {.key = 1, .version = 1}) + innerTcp4())) == DecodeResult::kOk);
  CHECK(f.out.ip_proto == kGre);
  CHECK(f.out.tunnel_depth == 0);
  CHECK(f.counter("other_transport") == 2);
  CHECK(f.counter("tunnelled") == 0);
  CHECK(f.malformedTotal() == 0);
}

TEST_CASE("udp on a tunnel port without a tunnel header is plain udp") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(kUdp, udp(1, 4789, vxlan(5, 0x00) + Bytes(40, 0)))) == DecodeResult::kOk);
  CHECK(f.out.tunnel_depth == 0);
  CHECK(f.out.ip_proto == kUdp);
  CHECK(f.out.dst_port == 4789);
  CHECK(f.out.payload_len == 48);
  // Geneve carrying a protocol it does not follow.
  REQUIRE(f.decode(eth(0x0800) + ipv4(kUdp, udp(1, 6081, geneve(5, 0x8847) + Bytes(40, 0)))) == DecodeResult::kOk);
  CHECK(f.out.tunnel_depth == 0);
  CHECK(f.out.dst_port == 6081);
  CHECK(f.counter("udp") == 2);
}

TEST_CASE("tunnel headers cut short or of an unsupported version are malformed") {
  Fixture f;
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 4789, Bytes{0x08, 0, 0, 0, 0, 0, 1})), "malformed_tunnel");
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 6081, geneve(5, 0x6558, 0, 1) + eth(0x0800) + innerTcp4())),
                    "malformed_tunnel");
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 6081, Bytes{0x04, 0, 0x65, 0x58, 0, 0, 5, 0, 0, 0})),
                    "malformed_tunnel");  // 4 option words announced, 2 bytes present
  f.expectMalformed(eth(0x0800) + ipv4(kGre, Bytes{0x00, 0x00, 0x08}), "malformed_tunnel");
  f.expectMalformed(eth(0x0800) + ipv4(kGre, Bytes{0x20, 0x00, 0x08, 0x00, 0, 0}), "malformed_tunnel");  // key cut
  f.expectMalformed(eth(0x0800) + ipv4(kGre, gre(0x88be, {.seq = 1}) + Bytes{0x10, 0, 0, 1}), "malformed_tunnel");
  f.expectMalformed(
      eth(0x0800) + ipv4(kGre, gre(0x88be, {.seq = 1}) + Bytes{0x20, 0, 0, 1, 0, 0, 0, 0} + eth(0x0800) + innerTcp4()),
      "malformed_tunnel");  // version 2 header announced as type II
  Bytes platform_cut = erspan3(1, true);
  platform_cut.resize(16);  // O bit set, subheader cut
  f.expectMalformed(eth(0x0800) + ipv4(kGre, gre(0x22eb, {.seq = 1}) + platform_cut), "malformed_tunnel");
  f.expectMalformed(eth(0x0800) + ipv4(kGre, gre(0x22eb, {.seq = 1}) + Bytes{0x20, 0, 0, 1, 0, 0}), "malformed_tunnel");
}

TEST_CASE("a packet malformed inside a tunnel is refused for the inner reason") {
  Fixture f;
  f.expectMalformed(eth(0x0800) + ipv4(kUdp, udp(1, 4789, vxlan(1) + Bytes(10, 0))), "malformed_link_layer");
  f.expectMalformed(eth(0x0800) + ipv4(4, ipv6(kUdp, udp(1, 2))), "malformed_ipv4_header");
  f.expectMalformed(eth(0x0800) + ipv4(kGre, gre(0x6558) + eth(0x0800) + ipv4(kTcp, tcp({.data_offset = 3}))),
                    "malformed_tcp_header");
  CHECK(f.counter("tunnelled") == 0);
}

TEST_CASE("the outer ip length bounds the inner packet") {
  Fixture f;
  // The inner IPv4 header claims more than the outer datagram holds: the
  // inner TCP header lies past the outer end and is refused, not read.
  const Bytes inner = ipv4(kTcp, tcp(), {.src = "192.168.1.1", .dst = "192.168.1.2"});
  Bytes pkt = eth(0x0800) + ipv4(4, Bytes(inner.begin(), inner.begin() + 20), {.total_len = 40});
  pkt = pkt + Bytes(inner.begin() + 20, inner.end());  // the TCP bytes sit in Ethernet padding
  f.expectMalformed(pkt, "malformed_tcp_header");
}

TEST_CASE("a fragmented outer packet is reported as the fragment, not decapsulated") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(4, innerTcp4(), {.id = 3, .mf = true})) == DecodeResult::kOk);
  CHECK(f.out.is_fragment);
  CHECK(f.out.ip_proto == 4);
  CHECK(f.out.src == addr("10.0.0.1"));
  CHECK(f.out.tunnel.type == TunnelType::kNone);
  CHECK(f.out.tunnel_depth == 0);
  CHECK(f.out.l4_offset == 0);

  // A first fragment of VXLAN traffic: the outer UDP ports, no decapsulation.
  const Bytes vx = udp(49152, 4789, vxlan(9) + eth(0x0800) + innerTcp4());
  REQUIRE(f.decode(eth(0x0800) + ipv4(kUdp, vx, {.mf = true})) == DecodeResult::kOk);
  CHECK(f.out.is_fragment);
  CHECK(f.out.tunnel_depth == 0);
  CHECK(f.out.dst_port == 4789);
  CHECK(f.out.src == addr("10.0.0.1"));

  REQUIRE(f.decode(eth(0x86dd) + ipv6(44, frag6(kGre, 0, true, 8) + gre(0x0800) + innerTcp4())) == DecodeResult::kOk);
  CHECK(f.out.is_fragment);
  CHECK(f.out.ip_version == 6);
  CHECK(f.out.ip_proto == kGre);
  CHECK(f.out.tunnel_depth == 0);
  CHECK(f.counter("tunnelled") == 0);
  CHECK(f.counter("fragments") == 3);
}

TEST_CASE("a fragment inside a tunnel is reported with the tunnel") {
  Fixture f;
  const Bytes inner =
      ipv4(kUdp, Bytes(16, 0), {.src = "192.168.1.1", .dst = "192.168.1.2", .id = 77, .frag_offset = 8});
  REQUIRE(f.decode(eth(0x0800) + ipv4(kUdp, udp(1, 4789, vxlan(4) + eth(0x0800) + inner))) == DecodeResult::kOk);
  CHECK(f.out.is_fragment);
  CHECK(f.out.frag_offset == 8);
  CHECK(f.out.frag_id == 77);
  CHECK(f.out.src == addr("192.168.1.1"));
  CHECK(f.out.tunnel.type == TunnelType::kVxlan);
  CHECK(f.out.frag_payload_offset == 14 + 20 + 8 + 8 + 14 + 20);
  CHECK(f.out.frag_payload_len == 16);
  CHECK(f.counter("tunnelled") == 1);
}

TEST_CASE("non-ip inside a tunnel keeps the tunnel but no outer ip fields") {
  Fixture f;
  REQUIRE(f.decode(eth(0x0800) + ipv4(kUdp, udp(1, 4789, vxlan(12) + eth(0x0806) + Bytes(28, 0)))) ==
          DecodeResult::kNotIp);
  CHECK(f.out.tunnel.type == TunnelType::kVxlan);
  CHECK(f.out.tunnel.id == 12);
  CHECK(f.out.tunnel_depth == 1);
  CHECK(f.out.tunnel.outer_src == addr("10.0.0.1"));
  CHECK(f.out.ip_version == 0);
  CHECK(f.out.l3_offset == 0);
  CHECK(f.out.src == IpAddress{});
  CHECK(f.counter("non_ip") == 1);
  CHECK(f.counter("tunnelled") == 1);
}

TEST_CASE("a reused decoded packet keeps nothing from the previous packet") {
  Fixture f;
  const Bytes rich =
      eth(0x0800, {{0x8100, 9}}) +
      ipv4(kUdp, udp(1, 4789,
                     vxlan(5) + eth(0x86dd) +
                         ipv6(44, frag6(kTcp, 0, true, 1) + tcp({.options = {2, 4,  1, 0, 3, 3, 2, 4, 2, 1,
                                                                             8, 10, 0, 0, 0, 1, 0, 0, 0, 2}}))));
  REQUIRE(f.decode(rich) == DecodeResult::kOk);
  REQUIRE(f.out.is_fragment);
  REQUIRE(f.out.tcp.has_timestamps);
  const Bytes plain = eth(0x0800) + ipv4(kUdp, udp(1, 2));
  REQUIRE(f.decode(plain) == DecodeResult::kOk);
  DecodeStats fresh_stats;
  DecodedPacket fresh;
  REQUIRE(decodePacket(plain.data(), static_cast<uint32_t>(plain.size()), static_cast<uint32_t>(plain.size()), 1234,
                       LinkType::kEthernet, fresh, fresh_stats) == DecodeResult::kOk);
  CHECK(f.out.vlan_count == 0);
  CHECK(f.out.vlan_ids[0] == 0);
  CHECK(f.out.tunnel.type == TunnelType::kNone);
  CHECK(f.out.tunnel.outer_src == IpAddress{});
  CHECK_FALSE(f.out.is_fragment);
  CHECK(f.out.frag_header_offset == 0);
  CHECK(f.out.frag_id == 0);
  CHECK(f.out.tcp.window_scale == 0xff);
  CHECK_FALSE(f.out.tcp.has_timestamps);
  CHECK(f.out.tcp.mss == 0);
  CHECK(f.out.src == fresh.src);
  CHECK(f.out.payload_offset == fresh.payload_offset);
  CHECK(f.out.l4_offset == fresh.l4_offset);
  // IPv4 after IPv6 in the same struct: the address tail is zero.
  CHECK(std::memcmp(f.out.src.bytes + 4, IpAddress{}.bytes, 12) == 0);
}

TEST_CASE("packets and bytes are counted whatever the outcome") {
  Fixture f;
  const Bytes ok = eth(0x0800) + ipv4(kUdp, udp(1, 2));
  const Bytes arp = eth(0x0806) + Bytes(28, 0);
  const Bytes bad = Bytes(5, 0);
  f.decode(ok);
  f.decode(arp);
  f.decode(bad, LinkType::kEthernet, 100);
  CHECK(f.counter("packets") == 3);
  CHECK(f.counter("bytes") == ok.size() + arp.size() + bad.size());
  CHECK(f.counter("truncated") == 1);
  CHECK(f.counter("udp") == 1);
  CHECK(f.counter("non_ip") == 1);
  CHECK(f.malformedTotal() == 1);
}
}  // namespace
}  // namespace tapflow
