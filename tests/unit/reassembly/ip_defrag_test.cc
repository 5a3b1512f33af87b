// Tests of IPv4/IPv6 defragmentation: fragments are built as bytes here and
// their DecodedPacket filled by hand, so these tests do not depend on the decoder.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "reassembly/ip_defrag.h"

namespace tapflow {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint32_t kEthLen = 14;  // fragments travel behind an Ethernet header so l3_offset != 0

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

uint16_t ipv4Checksum(const uint8_t* h, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += be16(h + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

Bytes payloadPattern(size_t len, uint8_t seed) {
  Bytes b(len);
  for (size_t i = 0; i < len; ++i) b[i] = static_cast<uint8_t>(i * 7 + seed + (i >> 8));
  return b;
}

// A whole IPv4 datagram: header (20 bytes + options) then payload.
Bytes ipv4Datagram(uint16_t id, uint8_t proto, const Bytes& payload, const Bytes& options = {},
                   uint8_t src_last = 1) {
  const size_t hl = 20 + options.size();
  Bytes d(hl + payload.size());
  d[0] = static_cast<uint8_t>(0x40 | (hl / 4));
  d[1] = 0;
  put16(&d[2], static_cast<uint32_t>(d.size()));
  put16(&d[4], id);
  d[6] = 0;  // no DF: it is fragmented
  d[7] = 0;
  d[8] = 64;
  d[9] = proto;
  const uint8_t src[4] = {10, 0, 0, src_last}, dst[4] = {10, 0, 0, 200};
  std::memcpy(&d[12], src, 4);
  std::memcpy(&d[16], dst, 4);
  std::copy(options.begin(), options.end(), d.begin() + 20);
  put16(&d[10], ipv4Checksum(d.data(), hl));
  std::copy(payload.begin(), payload.end(), d.begin() + static_cast<long>(hl));
  return d;
}

// A whole IPv6 datagram: 40-byte header, `ext` (already chained: ext[0] is
// the next header after ext, the IPv6 header names first_nh), then payload.
Bytes ipv6Datagram(uint8_t first_nh, const Bytes& ext, const Bytes& payload, uint8_t src_last = 1) {
  Bytes d(40 + ext.size() + payload.size());
  d[0] = 0x60;
  put16(&d[4], static_cast<uint32_t>(ext.size() + payload.size()));
  d[6] = first_nh;
  d[7] = 64;
  d[8] = 0x20;
  d[9] = 0x01;
  d[23] = src_last;
  d[24] = 0x20;
  d[25] = 0x01;
  d[39] = 200;
  std::copy(ext.begin(), ext.end(), d.begin() + 40);
  std::copy(payload.begin(), payload.end(), d.begin() + 40 + static_cast<long>(ext.size()));
  return d;
}

// A hop-by-hop options header of 8 bytes (PadN) whose next header is nh.
Bytes hopByHop(uint8_t nh) { return Bytes{nh, 0, 1, 4, 0, 0, 0, 0}; }

struct Frag {
  Bytes bytes;
  DecodedPacket pkt;
};

// Fills a DecodedPacket the way the decoder does for a fragment at kEthLen.
void fillDecoded(Frag& f, Timestamp ts) {
  DecodedPacket& p = f.pkt;
  p = DecodedPacket{};
  p.data = f.bytes.data();
  p.cap_len = static_cast<uint32_t>(f.bytes.size());
  p.wire_len = p.cap_len;
  p.ts = ts;
  p.l3_offset = kEthLen;
  p.is_fragment = true;
  const uint8_t* ip = f.bytes.data() + kEthLen;
  if ((ip[0] >> 4) == 4) {
    p.ip_version = 4;
    const uint32_t ihl = (ip[0] & 0xf) * 4u;
    p.ip_total_len = be16(ip + 2);
    p.ip_proto = ip[9];
    std::memcpy(p.src.bytes, ip + 12, 4);
    std::memcpy(p.dst.bytes, ip + 16, 4);
    p.frag_id = be16(ip + 4);
    p.more_fragments = (ip[6] & 0x20) != 0;
    p.frag_offset = (be16(ip + 6) & 0x1fffu) * 8;
    p.frag_payload_offset = kEthLen + ihl;
    p.frag_payload_len = std::min<uint32_t>(p.ip_total_len, p.cap_len - kEthLen) - ihl;
  } else {
    p.ip_version = 6;
    p.ip_total_len = 40u + be16(ip + 4);
    std::memcpy(p.src.bytes, ip + 8, 16);
    std::memcpy(p.dst.bytes, ip + 24, 16);
    uint8_t nh = ip[6];
    uint32_t pos = kEthLen + 40;
    while (nh != 44) {  // test packets chain only 8-byte-unit extension headers
      nh = f.bytes[pos];
      pos += (f.bytes[pos + 1] + 1u) * 8u;
    }
    const uint8_t* fh = f.bytes.data() + pos;
    p.frag_header_offset = pos;
    p.ip_proto = fh[0];
    p.frag_offset = be16(fh + 2) & 0xfff8u;
    p.more_fragments = (fh[3] & 1) != 0;
    p.frag_id = static_cast<uint32_t>(fh[4]) << 24 | fh[5] << 16 | fh[6] << 8 | fh[7];
    p.frag_payload_offset = pos + 8;
    p.frag_payload_len = std::min<uint32_t>(kEthLen + p.ip_total_len, p.cap_len) - p.frag_payload_offset;
  }
}

// One fragment of an IPv4 datagram: its header (options only when
// `with_options`), MF/offset set, checksum fixed, behind an Ethernet header.
Frag ipv4Fragment(const Bytes& d, uint32_t offset, uint32_t len, bool more, Timestamp ts = 0,
                  bool with_options = true) {
  const uint32_t hl = (d[0] & 0xf) * 4u;
  const uint32_t out_hl = with_options ? hl : 20;
  Frag f;
  f.bytes.assign(kEthLen, 0);
  f.bytes[12] = 0x08;
  f.bytes.insert(f.bytes.end(), d.begin(), d.begin() + out_hl);
  uint8_t* h = f.bytes.data() + kEthLen;
  h[0] = static_cast<uint8_t>(0x40 | (out_hl / 4));
  put16(h + 2, out_hl + len);
  put16(h + 6, (be16(d.data() + 6) & 0xc000u) | (more ? 0x2000u : 0u) | (offset / 8));
  put16(h + 10, 0);
  put16(h + 10, ipv4Checksum(h, out_hl));
  f.bytes.insert(f.bytes.end(), d.begin() + hl + offset, d.begin() + hl + offset + len);
  fillDecoded(f, ts);
  return f;
}

// Cuts an IPv4 datagram into fragments of `size` payload bytes (a multiple of 8).
std::vector<Frag> fragmentIpv4(const Bytes& d, uint32_t size) {
  const uint32_t hl = (d[0] & 0xf) * 4u;
  const uint32_t plen = static_cast<uint32_t>(d.size()) - hl;
  std::vector<Frag> out;
  for (uint32_t off = 0; off < plen; off += size) {
    const uint32_t len = std::min(size, plen - off);
    out.push_back(ipv4Fragment(d, off, len, off + len < plen, 0, off == 0));
  }
  return out;
}

// One fragment of an IPv6 datagram whose first `unfrag_ext` bytes of
// extension headers form the unfragmentable part.
Frag ipv6Fragment(const Bytes& d, uint32_t unfrag_ext, uint32_t offset, uint32_t len, bool more, uint32_t id,
                  Timestamp ts = 0) {
  Frag f;
  f.bytes.assign(kEthLen, 0);
  f.bytes[12] = 0x86;
  f.bytes[13] = 0xdd;
  const uint32_t unfrag = 40 + unfrag_ext;
  f.bytes.insert(f.bytes.end(), d.begin(), d.begin() + unfrag);
  // Find the header that names the first fragmentable header and make it name 44.
  uint32_t nh_pos = 6;
  uint32_t pos = 40;
  while (pos < unfrag) {
    nh_pos = pos;
    pos += (d[pos + 1] + 1u) * 8u;
  }
  uint8_t* ip = f.bytes.data() + kEthLen;
  const uint8_t fragmentable_nh = ip[nh_pos];
  ip[nh_pos] = 44;
  put16(ip + 4, unfrag_ext + 8 + len);
  const uint8_t fh[8] = {fragmentable_nh,
                         0,
                         static_cast<uint8_t>(offset >> 8),
                         static_cast<uint8_t>((offset & 0xf8) | (more ? 1 : 0)),
                         static_cast<uint8_t>(id >> 24),
                         static_cast<uint8_t>(id >> 16),
                         static_cast<uint8_t>(id >> 8),
                         static_cast<uint8_t>(id)};
  f.bytes.insert(f.bytes.end(), fh, fh + 8);
  f.bytes.insert(f.bytes.end(), d.begin() + unfrag + offset, d.begin() + unfrag + offset + len);
  fillDecoded(f, ts);
  return f;
}

std::vector<Frag> fragmentIpv6(const Bytes& d, uint32_t unfrag_ext, uint32_t size, uint32_t id) {
  const uint32_t plen = static_cast<uint32_t>(d.size()) - 40 - unfrag_ext;
  std::vector<Frag> out;
  for (uint32_t off = 0; off < plen; off += size) {
    const uint32_t len = std::min(size, plen - off);
    out.push_back(ipv6Fragment(d, unfrag_ext, off, len, off + len < plen, id));
  }
  return out;
}

Bytes resultBytes(const ReassembledDatagram& r) { return Bytes(r.bytes, r.bytes + r.len); }

// Feeds fragments in the given order; all but the last must be held.
Bytes feed(IpDefragmenter& defrag, std::vector<Frag>& frags, const std::vector<size_t>& order) {
  ReassembledDatagram out;
  for (size_t i = 0; i + 1 < order.size(); ++i) {
    REQUIRE(defrag.add(frags[order[i]].pkt, out) == DefragResult::kHeld);
  }
  REQUIRE(defrag.add(frags[order.back()].pkt, out) == DefragResult::kComplete);
  return resultBytes(out);
}

std::vector<size_t> inOrder(size_t n) {
  std::vector<size_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

DefragConfig smallConfig() {
  DefragConfig c;
  c.max_datagrams = 64;
  c.max_bytes = 1 << 20;
  c.max_fragments_per_datagram = 64;
  c.timeout = 30 * kNanosPerSecond;
  return c;
}

}  // namespace

TEST_CASE("IPv4 fragments in order rebuild the original datagram byte for byte") {
  IpDefragmenter defrag(smallConfig());
  const Bytes d = ipv4Datagram(0x1234, 17, payloadPattern(3000, 1));
  auto frags = fragmentIpv4(d, 1480);
  REQUIRE(frags.size() == 3);
  CHECK(feed(defrag, frags, inOrder(frags.size())) == d);
  CHECK(defrag.stats().datagrams_reassembled.value() == 1);
  CHECK(defrag.stats().fragments.value() == 3);
  CHECK(defrag.datagramsInProgress() == 0);
  CHECK(defrag.bytesHeld() == 0);
}

TEST_CASE("IPv4 fragments in reverse order rebuild the original datagram") {
  IpDefragmenter defrag(smallConfig());
  const Bytes d = ipv4Datagram(7, 6, payloadPattern(5000, 2));
  auto frags = fragmentIpv4(d, 1000);
  auto order = inOrder(frags.size());
  std::reverse(order.begin(), order.end());
  CHECK(feed(defrag, frags, order) == d);
  CHECK(defrag.bytesHeld() == 0);
}

TEST_CASE("shuffled fragments of IPv4 and IPv6 datagrams rebuild the originals") {
  IpDefragmenter defrag(smallConfig());
  std::mt19937 rng(42);
  for (int round = 0; round < 30; ++round) {
    const uint32_t plen = 1 + rng() % 20000;
    // Fragments of 8..2400 bytes, at most 60 of them (the limit is 64).
    const uint32_t size = std::max<uint32_t>(8 * (1 + rng() % 300), (plen / 60 + 8) & ~7u);
    if (round % 2 == 0) {
      const Bytes d = ipv4Datagram(static_cast<uint16_t>(round), 17, payloadPattern(plen, static_cast<uint8_t>(round)));
      auto frags = fragmentIpv4(d, size);
      if (frags.size() < 2) continue;
      auto order = inOrder(frags.size());
      std::shuffle(order.begin(), order.end(), rng);
      CHECK(feed(defrag, frags, order) == d);
    } else {
      const Bytes d = ipv6Datagram(17, {}, payloadPattern(plen, static_cast<uint8_t>(round)));
      auto frags = fragmentIpv6(d, 0, size, 0x10000u + static_cast<uint32_t>(round));
      if (frags.size() < 2) continue;
      auto order = inOrder(frags.size());
      std::shuffle(order.begin(), order.end(), rng);
      CHECK(feed(defrag, frags, order) == d);
    }
    CHECK(defrag.bytesHeld() == 0);
  }
  CHECK(defrag.datagramsInProgress() == 0);
}

TEST_CASE("IPv6 with a hop-by-hop header before the fragment header rebuilds with next header patched") {
  IpDefragmenter defrag(smallConfig());
  // Unfragmentable: hop-by-hop (next: destination options). Fragmentable:
  // destination options (next: UDP) and the payload.
  Bytes ext = hopByHop(60);
  const Bytes dest_opts = {17, 0, 1, 4, 0, 0, 0, 0};
  ext.insert(ext.end(), dest_opts.begin(), dest_opts.end());
  const Bytes d = ipv6Datagram(0, ext, payloadPattern(2500, 9));
  auto frags = fragmentIpv6(d, 8, 1232, 0xdeadbeef);
  REQUIRE(frags.size() == 3);
  // The fragment header sits after the hop-by-hop header, which now names it.
  CHECK(frags[0].pkt.frag_header_offset == kEthLen + 48);
  CHECK(frags[0].bytes[kEthLen + 40] == 44);
  auto order = std::vector<size_t>{2, 0, 1};
  const Bytes rebuilt = feed(defrag, frags, order);
  CHECK(rebuilt == d);
  CHECK(rebuilt[40] == 60);  // hop-by-hop names the destination options again
}

TEST_CASE("IPv6 fragment header right after the IPv6 header is removed and the IPv6 next header patched") {
  IpDefragmenter defrag(smallConfig());
  const Bytes d = ipv6Datagram(58, {}, payloadPattern(1800, 4));
  auto frags = fragmentIpv6(d, 0, 1000, 5);
  CHECK(frags[1].bytes[kEthLen + 6] == 44);
  const Bytes rebuilt = feed(defrag, frags, {1, 0});
  CHECK(rebuilt == d);
  CHECK(rebuilt[6] == 58);
  CHECK(be16(rebuilt.data() + 4) == 1800);
}

TEST_CASE("the IPv4 header of the first fragment, options included, heads the datagram with a valid checksum") {
  IpDefragmenter defrag(smallConfig());
  const Bytes options = {0x94, 0x04, 0x00, 0x00};  // router alert (copied flag set; kept only in the first here)
  const Bytes d = ipv4Datagram(99, 17, payloadPattern(2000, 3), options);
  auto frags = fragmentIpv4(d, 800);
  REQUIRE(frags.size() == 3);
  CHECK(frags[1].pkt.frag_payload_offset == kEthLen + 20);
  const Bytes rebuilt = feed(defrag, frags, {2, 1, 0});
  CHECK(rebuilt == d);
  CHECK(ipv4Checksum(rebuilt.data(), 24) == 0);
  CHECK((be16(rebuilt.data() + 6) & 0x3fff) == 0);
}

TEST_CASE("the DF bit of the first fragment is kept while MF and the offset are cleared") {
  IpDefragmenter defrag(smallConfig());
  Bytes d = ipv4Datagram(3, 17, payloadPattern(100, 3));
  d[6] = 0x40;  // odd but seen: DF on a fragmented datagram
  put16(&d[10], 0);
  put16(&d[10], ipv4Checksum(d.data(), 20));
  auto frags = fragmentIpv4(d, 48);
  CHECK(feed(defrag, frags, inOrder(frags.size())) == d);
}

TEST_CASE("a reassembled datagram reports its fragment count, their IP bytes and the earliest time") {
  IpDefragmenter defrag(smallConfig());
  const Bytes d = ipv4Datagram(1, 17, payloadPattern(2000, 5));
  auto frags = fragmentIpv4(d, 1000);
  REQUIRE(frags.size() == 2);
  frags[0].pkt.ts = 2000;
  frags[1].pkt.ts = 1000;  // arrives first but was stamped later by another queue? either way the minimum wins
  ReassembledDatagram out;
  REQUIRE(defrag.add(frags[0].pkt, out) == DefragResult::kHeld);
  REQUIRE(defrag.add(frags[1].pkt, out) == DefragResult::kComplete);
  CHECK(out.fragment_count == 2);
  CHECK(out.fragment_ip_bytes == (20 + 1000) + (20 + 1000));
  CHECK(out.first_ts == 1000);
  CHECK(out.len == d.size());
}

TEST_CASE("an IPv6 atomic fragment is returned whole without touching other datagrams") {
  IpDefragmenter defrag(smallConfig());
  const Bytes d = ipv6Datagram(17, {}, payloadPattern(300, 6));
  auto big = fragmentIpv6(ipv6Datagram(17, {}, payloadPattern(3000, 6)), 0, 1000, 77);
  ReassembledDatagram out;
  REQUIRE(defrag.add(big[0].pkt, out) == DefragResult::kHeld);
  Frag atomic = ipv6Fragment(d, 0, 0, 300, false, 77);
  REQUIRE(defrag.add(atomic.pkt, out) == DefragResult::kComplete);
  CHECK(resultBytes(out) == d);
  CHECK(out.fragment_count == 1);
  // The datagram in progress with the same id still completes.
  REQUIRE(defrag.add(big[1].pkt, out) == DefragResult::kHeld);
  REQUIRE(defrag.add(big[2].pkt, out) == DefragResult::kComplete);
  CHECK(defrag.stats().dropped_overlap.value() == 0);
}

TEST_CASE("an overlapping fragment drops the datagram and its later fragments until the timeout") {
  IpDefragmenter defrag(smallConfig());
  const Bytes d = ipv4Datagram(55, 17, payloadPattern(3000, 7));
  ReassembledDatagram out;
  REQUIRE(defrag.add(ipv4Fragment(d, 0, 1000, true, 100).pkt, out) == DefragResult::kHeld);
  CHECK(defrag.bytesHeld() > 0);
  // Bytes 992..1999 overlap the first fragment by 8 bytes.
  CHECK(defrag.add(ipv4Fragment(d, 992, 1008, true, 200, false).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_overlap.value() == 1);
  CHECK(defrag.bytesHeld() == 0);
  CHECK(defrag.datagramsInProgress() == 1);  // remembered, poisoned
  // The rest would complete a datagram if it were not poisoned.
  CHECK(defrag.add(ipv4Fragment(d, 1000, 1000, true, 300, false).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.add(ipv4Fragment(d, 2000, 1000, false, 400, false).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_overlap.value() == 1);
  CHECK(defrag.stats().dropped_dead_datagram.value() == 2);
  CHECK(defrag.stats().datagrams_reassembled.value() == 0);
  // After the timeout the memory of the drop goes, without a timeout count.
  defrag.expire(100 + 30 * kNanosPerSecond + 1);
  CHECK(defrag.datagramsInProgress() == 0);
  CHECK(defrag.stats().dropped_timeout.value() == 0);
  // And the same identity can be reassembled again.
  auto frags = fragmentIpv4(d, 1000);
  CHECK(feed(defrag, frags, inOrder(frags.size())) == d);
}

TEST_CASE("a fragment overlapping across two held fragments is caught") {
  IpDefragmenter defrag(smallConfig());
  const Bytes d = ipv6Datagram(17, {}, payloadPattern(4000, 7));
  ReassembledDatagram out;
  REQUIRE(defrag.add(ipv6Fragment(d, 0, 0, 800, true, 1).pkt, out) == DefragResult::kHeld);
  REQUIRE(defrag.add(ipv6Fragment(d, 0, 2400, 800, true, 1).pkt, out) == DefragResult::kHeld);
  // Fills the hole 800..2400 and spills 8 bytes into the second one.
  CHECK(defrag.add(ipv6Fragment(d, 0, 800, 1608, true, 1).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_overlap.value() == 1);
  CHECK(defrag.bytesHeld() == 0);
}

TEST_CASE("an exact duplicate fragment counts as an overlap for IPv4 and IPv6") {
  IpDefragmenter defrag(smallConfig());
  ReassembledDatagram out;
  const Bytes d4 = ipv4Datagram(8, 17, payloadPattern(3000, 8));
  auto f4 = fragmentIpv4(d4, 1000);
  REQUIRE(defrag.add(f4[1].pkt, out) == DefragResult::kHeld);
  CHECK(defrag.add(f4[1].pkt, out) == DefragResult::kDropped);
  CHECK(defrag.add(f4[0].pkt, out) == DefragResult::kDropped);
  CHECK(defrag.add(f4[2].pkt, out) == DefragResult::kDropped);

  const Bytes d6 = ipv6Datagram(17, {}, payloadPattern(3000, 8));
  auto f6 = fragmentIpv6(d6, 0, 1000, 8);
  REQUIRE(defrag.add(f6[2].pkt, out) == DefragResult::kHeld);
  CHECK(defrag.add(f6[2].pkt, out) == DefragResult::kDropped);
  CHECK(defrag.add(f6[0].pkt, out) == DefragResult::kDropped);
  CHECK(defrag.add(f6[1].pkt, out) == DefragResult::kDropped);

  CHECK(defrag.stats().dropped_overlap.value() == 2);
  CHECK(defrag.stats().dropped_dead_datagram.value() == 4);
  CHECK(defrag.stats().datagrams_reassembled.value() == 0);
  CHECK(defrag.bytesHeld() == 0);
}

TEST_CASE("an incomplete datagram expires after the timeout, counted once, and releases its bytes") {
  DefragConfig c = smallConfig();
  c.timeout = 5 * kNanosPerSecond;
  IpDefragmenter defrag(c);
  ReassembledDatagram out;
  const Bytes a = ipv4Datagram(1, 17, payloadPattern(3000, 1));
  const Bytes b = ipv4Datagram(2, 17, payloadPattern(3000, 2));
  REQUIRE(defrag.add(ipv4Fragment(a, 0, 1000, true, 1 * kNanosPerSecond).pkt, out) == DefragResult::kHeld);
  REQUIRE(defrag.add(ipv4Fragment(b, 0, 1000, true, 3 * kNanosPerSecond).pkt, out) == DefragResult::kHeld);
  // A later fragment does not renew the datagram: its first fragment's time counts.
  REQUIRE(defrag.add(ipv4Fragment(a, 1000, 1000, true, 5 * kNanosPerSecond, false).pkt, out) ==
          DefragResult::kHeld);
  const uint64_t held = defrag.bytesHeld();
  defrag.expire(6 * kNanosPerSecond);  // exactly the timeout: not older yet
  CHECK(defrag.datagramsInProgress() == 2);
  defrag.expire(6 * kNanosPerSecond + 1);
  CHECK(defrag.datagramsInProgress() == 1);
  CHECK(defrag.stats().dropped_timeout.value() == 1);
  CHECK(defrag.bytesHeld() < held);
  defrag.expire(100 * kNanosPerSecond);
  CHECK(defrag.datagramsInProgress() == 0);
  CHECK(defrag.stats().dropped_timeout.value() == 2);
  CHECK(defrag.bytesHeld() == 0);
}

TEST_CASE("a fragment of a datagram past its timeout starts a new datagram even before expire runs") {
  DefragConfig c = smallConfig();
  c.timeout = 5 * kNanosPerSecond;
  IpDefragmenter defrag(c);
  ReassembledDatagram out;
  const Bytes d = ipv4Datagram(1, 17, payloadPattern(2000, 1));
  REQUIRE(defrag.add(ipv4Fragment(d, 0, 1000, true, 0).pkt, out) == DefragResult::kHeld);
  const Timestamp later = 10 * kNanosPerSecond;
  REQUIRE(defrag.add(ipv4Fragment(d, 1000, 1000, false, later, false).pkt, out) == DefragResult::kHeld);
  CHECK(defrag.stats().dropped_timeout.value() == 1);
  REQUIRE(defrag.add(ipv4Fragment(d, 0, 1000, true, later + 1).pkt, out) == DefragResult::kComplete);
  CHECK(resultBytes(out) == d);
  CHECK(out.first_ts == later);
}

TEST_CASE("with every tracker taken a new datagram's fragment is dropped and counted, others are kept") {
  DefragConfig c = smallConfig();
  c.max_datagrams = 2;
  IpDefragmenter defrag(c);
  ReassembledDatagram out;
  const Bytes a = ipv4Datagram(1, 17, payloadPattern(2000, 1));
  const Bytes b = ipv4Datagram(2, 17, payloadPattern(2000, 2));
  const Bytes x = ipv4Datagram(3, 17, payloadPattern(2000, 3));
  auto fa = fragmentIpv4(a, 1000);
  auto fb = fragmentIpv4(b, 1000);
  auto fx = fragmentIpv4(x, 1000);
  REQUIRE(defrag.add(fa[0].pkt, out) == DefragResult::kHeld);
  REQUIRE(defrag.add(fb[0].pkt, out) == DefragResult::kHeld);
  CHECK(defrag.add(fx[0].pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_tracker_limit.value() == 1);
  CHECK(defrag.datagramsInProgress() == 2);
  REQUIRE(defrag.add(fa[1].pkt, out) == DefragResult::kComplete);
  CHECK(resultBytes(out) == a);
  // A tracker is free again.
  CHECK(defrag.add(fx[0].pkt, out) == DefragResult::kHeld);
  CHECK(defrag.add(fx[1].pkt, out) == DefragResult::kComplete);
  CHECK(defrag.stats().dropped_tracker_limit.value() == 1);
}

TEST_CASE("a full tracker pool first expires stale datagrams before refusing") {
  DefragConfig c = smallConfig();
  c.max_datagrams = 1;
  c.timeout = kNanosPerSecond;
  IpDefragmenter defrag(c);
  ReassembledDatagram out;
  const Bytes a = ipv4Datagram(1, 17, payloadPattern(2000, 1));
  const Bytes b = ipv4Datagram(2, 17, payloadPattern(2000, 2));
  REQUIRE(defrag.add(ipv4Fragment(a, 0, 1000, true, 0).pkt, out) == DefragResult::kHeld);
  CHECK(defrag.add(ipv4Fragment(b, 0, 1000, true, 3 * kNanosPerSecond).pkt, out) == DefragResult::kHeld);
  CHECK(defrag.stats().dropped_timeout.value() == 1);
  CHECK(defrag.stats().dropped_tracker_limit.value() == 0);
}

TEST_CASE("fragments over the byte budget are dropped and counted, and the datagram frees its bytes") {
  DefragConfig c = smallConfig();
  c.max_bytes = 4096;  // four 1 KiB chunks
  IpDefragmenter defrag(c);
  ReassembledDatagram out;
  const Bytes a = ipv4Datagram(1, 17, payloadPattern(6000, 1));
  const Bytes b = ipv4Datagram(2, 17, payloadPattern(900, 2));
  // Header chunk + pages 0 and 1 of datagram a.
  REQUIRE(defrag.add(ipv4Fragment(a, 0, 2000, true).pkt, out) == DefragResult::kHeld);
  CHECK(defrag.bytesHeld() <= c.max_bytes);
  // Needs pages 1 (held), 2 and 3: one chunk short.
  CHECK(defrag.add(ipv4Fragment(a, 2000, 2000, true, 0, false).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_memory_limit.value() == 1);
  CHECK(defrag.bytesHeld() == 0);
  // The budget serves another datagram now; a's last fragment is refused as dead.
  auto fb = fragmentIpv4(b, 456);
  CHECK(feed(defrag, fb, {1, 0}) == b);
  CHECK(defrag.add(ipv4Fragment(a, 4000, 2000, false, 0, false).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_dead_datagram.value() == 1);
  CHECK(defrag.stats().dropped_memory_limit.value() == 1);
}

TEST_CASE("a new datagram whose first fragment does not fit the budget leaves no tracker") {
  DefragConfig c = smallConfig();
  c.max_bytes = 2048;
  IpDefragmenter defrag(c);
  ReassembledDatagram out;
  const Bytes a = ipv6Datagram(17, {}, payloadPattern(6000, 1));
  CHECK(defrag.add(ipv6Fragment(a, 0, 0, 2048, true, 1).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_memory_limit.value() == 1);
  CHECK(defrag.datagramsInProgress() == 0);
  CHECK(defrag.bytesHeld() == 0);
}

TEST_CASE("more fragments than the per-datagram limit drop the datagram") {
  DefragConfig c = smallConfig();
  c.max_fragments_per_datagram = 4;
  IpDefragmenter defrag(c);
  ReassembledDatagram out;
  const Bytes ok = ipv4Datagram(1, 17, payloadPattern(32, 1));
  auto fok = fragmentIpv4(ok, 8);
  REQUIRE(fok.size() == 4);
  CHECK(feed(defrag, fok, {3, 1, 2, 0}) == ok);  // exactly the limit completes

  const Bytes d = ipv4Datagram(2, 17, payloadPattern(40, 1));
  auto frags = fragmentIpv4(d, 8);
  REQUIRE(frags.size() == 5);
  for (size_t i = 0; i < 4; ++i) REQUIRE(defrag.add(frags[i].pkt, out) == DefragResult::kHeld);
  CHECK(defrag.add(frags[4].pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_fragment_limit.value() == 1);
  CHECK(defrag.bytesHeld() == 0);
  CHECK(defrag.add(frags[4].pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_fragment_limit.value() == 1);
  CHECK(defrag.stats().dropped_dead_datagram.value() == 1);
}

TEST_CASE("a datagram that would exceed 65535 bytes is dropped as too large") {
  IpDefragmenter defrag(smallConfig());
  ReassembledDatagram out;
  // IPv4: offset 65512 + 16 bytes + a 20-byte header = 65548 total length.
  const Bytes big = ipv4Datagram(1, 17, payloadPattern(65536, 1));
  CHECK(defrag.add(ipv4Fragment(big, 65512, 16, false, 0, false).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_too_large.value() == 1);
  CHECK(defrag.add(ipv4Fragment(big, 0, 1000, true).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_dead_datagram.value() == 1);

  // IPv4, 65515 bytes of payload after a 20-byte header is the largest allowed.
  const Bytes max4 = ipv4Datagram(2, 17, payloadPattern(65535 - 20, 2));
  auto fmax = fragmentIpv4(max4, 8000);
  CHECK(feed(defrag, fmax, inOrder(fmax.size())) == max4);

  // IPv4: the same end fits a 20-byte header but not the first fragment's 24 bytes.
  const Bytes opt = ipv4Datagram(3, 17, payloadPattern(65535 - 20, 3), {0x94, 0x04, 0, 0});
  REQUIRE(defrag.add(ipv4Fragment(opt, 65512, 3, false, 0, false).pkt, out) == DefragResult::kHeld);
  CHECK(defrag.add(ipv4Fragment(opt, 0, 1000, true).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_too_large.value() == 2);

  // IPv6: an unfragmentable hop-by-hop header counts in the payload length.
  const Bytes big6 = ipv6Datagram(0, hopByHop(17), payloadPattern(65535, 4));
  REQUIRE(defrag.add(ipv6Fragment(big6, 8, 65520, 15, false, 9).pkt, out) == DefragResult::kHeld);
  CHECK(defrag.add(ipv6Fragment(big6, 8, 0, 1000, true, 9).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_too_large.value() == 3);
  CHECK(defrag.bytesHeld() == 0);
}

TEST_CASE("a fragment reaching far past 65535 bytes is refused as too large without reading past the datagram") {
  DefragConfig c = smallConfig();
  c.max_datagrams = 1;  // the only page table ends where the allocation ends
  IpDefragmenter defrag(c);
  ReassembledDatagram out;
  const Bytes d = ipv6Datagram(17, {}, payloadPattern(65528 + 4000, 1));
  REQUIRE(defrag.add(ipv6Fragment(d, 0, 0, 1000, true, 4).pkt, out) == DefragResult::kHeld);
  CHECK(defrag.add(ipv6Fragment(d, 0, 65528, 4000, true, 4).pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_too_large.value() == 1);
  CHECK(defrag.bytesHeld() == 0);
}

TEST_CASE("malformed fragments are dropped one by one and counted") {
  IpDefragmenter defrag(smallConfig());
  ReassembledDatagram out;
  const Bytes d = ipv4Datagram(1, 17, payloadPattern(3000, 1));

  SUBCASE("zero-length fragment with more to come") {
    CHECK(defrag.add(ipv4Fragment(d, 1000, 0, true, 0, false).pkt, out) == DefragResult::kDropped);
  }
  SUBCASE("non-last fragment whose length is not a multiple of 8") {
    CHECK(defrag.add(ipv4Fragment(d, 0, 1001, true).pkt, out) == DefragResult::kDropped);
  }
  SUBCASE("offset not a multiple of 8") {
    Frag f = ipv4Fragment(d, 1000, 1000, true, 0, false);
    f.pkt.frag_offset = 1004;
    CHECK(defrag.add(f.pkt, out) == DefragResult::kDropped);
  }
  SUBCASE("a second last fragment with a different end") {
    REQUIRE(defrag.add(ipv4Fragment(d, 2000, 1000, false, 0, false).pkt, out) == DefragResult::kHeld);
    CHECK(defrag.add(ipv4Fragment(d, 1000, 800, false, 0, false).pkt, out) == DefragResult::kDropped);
    CHECK(defrag.datagramsInProgress() == 1);
  }
  SUBCASE("a fragment extending past the known end") {
    REQUIRE(defrag.add(ipv4Fragment(d, 1000, 1000, false, 0, false).pkt, out) == DefragResult::kHeld);
    CHECK(defrag.add(ipv4Fragment(d, 2000, 1000, true, 0, false).pkt, out) == DefragResult::kDropped);
  }
  SUBCASE("a last fragment ending before bytes already held") {
    REQUIRE(defrag.add(ipv4Fragment(d, 2000, 1000, true, 0, false).pkt, out) == DefragResult::kHeld);
    CHECK(defrag.add(ipv4Fragment(d, 1000, 800, false, 0, false).pkt, out) == DefragResult::kDropped);
  }
  SUBCASE("a payload length that disagrees with the IP length") {
    Frag f = ipv4Fragment(d, 0, 1000, true);
    f.pkt.frag_payload_len = 1008;
    f.bytes.resize(f.bytes.size() + 8);
    f.pkt.data = f.bytes.data();
    f.pkt.cap_len = static_cast<uint32_t>(f.bytes.size());
    CHECK(defrag.add(f.pkt, out) == DefragResult::kDropped);
  }
  SUBCASE("bounds reaching past the capture") {
    Frag f = ipv4Fragment(d, 0, 1000, true);
    f.pkt.cap_len -= 1;
    CHECK(defrag.add(f.pkt, out) == DefragResult::kDropped);
  }
  SUBCASE("an IPv6 fragment header offset that the header chain does not lead to") {
    const Bytes d6 = ipv6Datagram(0, hopByHop(17), payloadPattern(3000, 1));
    Frag f = ipv6Fragment(d6, 8, 0, 1000, true, 1);
    f.bytes[kEthLen + 40] = 17;  // hop-by-hop no longer names the fragment header
    CHECK(defrag.add(f.pkt, out) == DefragResult::kDropped);
  }
  CHECK(defrag.stats().dropped_malformed.value() == 1);
  CHECK(defrag.stats().dropped_overlap.value() == 0);
}

TEST_CASE("an IP length larger than its 16-bit header field can say is malformed") {
  IpDefragmenter defrag(smallConfig());
  ReassembledDatagram out;
  // 60-byte header and 65535 bytes after it: a decoder bug or a forged packet.
  const Bytes options(40, 1);
  const Bytes d = ipv4Datagram(1, 17, payloadPattern(65535, 1), options);
  Frag f = ipv4Fragment(d, 0, 65535, false);
  f.pkt.is_fragment = true;
  f.pkt.ip_total_len = 60 + 65535;
  f.pkt.frag_payload_len = 65535;
  CHECK(defrag.add(f.pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_malformed.value() == 1);
}

TEST_CASE("a fragment cut short by the snap length is dropped as truncated") {
  IpDefragmenter defrag(smallConfig());
  ReassembledDatagram out;
  const Bytes d = ipv4Datagram(1, 17, payloadPattern(3000, 1));
  Frag f = ipv4Fragment(d, 0, 1480, true);
  f.bytes.resize(f.bytes.size() - 100);
  fillDecoded(f, 0);
  CHECK(f.pkt.frag_payload_len == 1380);
  CHECK(defrag.add(f.pkt, out) == DefragResult::kDropped);
  CHECK(defrag.stats().dropped_truncated.value() == 1);
  CHECK(defrag.datagramsInProgress() == 0);
}

TEST_CASE("datagrams differing only in protocol, address or family are kept apart") {
  IpDefragmenter defrag(smallConfig());
  ReassembledDatagram out;
  const Bytes udp = ipv4Datagram(5, 17, payloadPattern(2000, 1));
  const Bytes tcp = ipv4Datagram(5, 6, payloadPattern(2000, 2));
  const Bytes other_src = ipv4Datagram(5, 17, payloadPattern(2000, 3), {}, 2);
  auto fu = fragmentIpv4(udp, 1000);
  auto ft = fragmentIpv4(tcp, 1000);
  auto fo = fragmentIpv4(other_src, 1000);
  REQUIRE(defrag.add(fu[0].pkt, out) == DefragResult::kHeld);
  REQUIRE(defrag.add(ft[0].pkt, out) == DefragResult::kHeld);
  REQUIRE(defrag.add(fo[0].pkt, out) == DefragResult::kHeld);
  CHECK(defrag.datagramsInProgress() == 3);
  REQUIRE(defrag.add(ft[1].pkt, out) == DefragResult::kComplete);
  CHECK(resultBytes(out) == tcp);
  REQUIRE(defrag.add(fo[1].pkt, out) == DefragResult::kComplete);
  CHECK(resultBytes(out) == other_src);
  REQUIRE(defrag.add(fu[1].pkt, out) == DefragResult::kComplete);
  CHECK(resultBytes(out) == udp);
}

TEST_CASE("many concurrent datagrams interleaved all rebuild and leave nothing held") {
  DefragConfig c;
  c.max_datagrams = 1024;
  c.max_bytes = 8 << 20;
  IpDefragmenter defrag(c);
  std::vector<Bytes> originals;
  std::vector<std::vector<Frag>> frags;
  for (uint32_t i = 0; i < 1000; ++i) {
    const uint8_t seed = static_cast<uint8_t>(i);
    if (i % 2 == 0) {
      originals.push_back(ipv4Datagram(static_cast<uint16_t>(i), 17, payloadPattern(2100 + i % 900, seed), {},
                                       static_cast<uint8_t>(i % 7)));
      frags.push_back(fragmentIpv4(originals.back(), 1024));
    } else {
      originals.push_back(ipv6Datagram(17, {}, payloadPattern(2100 + i % 900, seed), static_cast<uint8_t>(i % 7)));
      frags.push_back(fragmentIpv6(originals.back(), 0, 1024, i));
    }
  }
  ReassembledDatagram out;
  size_t complete = 0;
  // Three fragments each; round-robin over datagrams, last fragment first so
  // nothing completes before the third round.
  for (size_t round = 0; round < 3; ++round) {
    for (size_t i = 0; i < frags.size(); ++i) {
      const size_t idx = frags[i].size() - 1 - round;
      const DefragResult r = defrag.add(frags[i][idx].pkt, out);
      if (round < 2) {
        REQUIRE(r == DefragResult::kHeld);
      } else {
        REQUIRE(r == DefragResult::kComplete);
        CHECK(resultBytes(out) == originals[i]);
        ++complete;
      }
    }
    if (round == 0) CHECK(defrag.datagramsInProgress() == 1000);
  }
  CHECK(complete == 1000);
  CHECK(defrag.datagramsInProgress() == 0);
  CHECK(defrag.bytesHeld() == 0);
  CHECK(defrag.stats().datagrams_reassembled.value() == 1000);
}

TEST_CASE("every defrag counter has a help text and visits once") {
  IpDefragmenter defrag(smallConfig());
  int n = 0;
  defrag.stats().forEach([&](const char* name, const char* help, const Counter& c) {
    CHECK(std::strlen(name) > 0);
    CHECK(std::strlen(help) > 0);
    CHECK(c.value() == 0);
    ++n;
  });
  CHECK(n == 11);
}

}  // namespace tapflow
