#include "capture/afpacket_source.h"

#include <doctest/doctest.h>
#include <linux/if_ether.h>

#include <cstring>
#include <set>
#include <vector>

using namespace tapflow;

namespace {

// A TPACKET_V3 block as the kernel lays it out: descriptor, then packets,
// each a tpacket3_hdr, the sockaddr_ll, and the frame at tp_mac.
struct BlockBuilder {
  std::vector<uint8_t> block;
  std::vector<size_t> headers;
  size_t next = TPACKET_ALIGN(sizeof(tpacket_block_desc));

  explicit BlockBuilder(size_t size) : block(size, 0) {}

  void add(const std::vector<uint8_t>& frame, uint32_t sec, uint32_t nsec, uint8_t pkttype, uint32_t status = 0) {
    const uint16_t mac = uint16_t(TPACKET_ALIGN(TPACKET3_HDRLEN));
    tpacket3_hdr h{};
    h.tp_sec = sec;
    h.tp_nsec = nsec;
    h.tp_snaplen = uint32_t(frame.size());
    h.tp_len = uint32_t(frame.size()) + 100;  // as if cut by a snap length
    h.tp_status = status;
    h.tp_mac = mac;
    h.hv1.tp_vlan_tci = 42;
    h.hv1.tp_vlan_tpid = 0x88a8;
    sockaddr_ll sll{};
    sll.sll_pkttype = pkttype;
    if (!headers.empty()) {
      tpacket3_hdr prev;
      std::memcpy(&prev, block.data() + headers.back(), sizeof(prev));
      prev.tp_next_offset = uint32_t(next - headers.back());
      std::memcpy(block.data() + headers.back(), &prev, sizeof(prev));
    }
    std::memcpy(block.data() + next, &h, sizeof(h));
    std::memcpy(block.data() + next + TPACKET_ALIGN(sizeof(tpacket3_hdr)), &sll, sizeof(sll));
    std::memcpy(block.data() + next + mac, frame.data(), frame.size());
    headers.push_back(next);
    next = TPACKET_ALIGN(next + mac + frame.size());
    desc().hdr.bh1.num_pkts = uint32_t(headers.size());
    desc().hdr.bh1.offset_to_first_pkt = uint32_t(headers.front());
    desc().hdr.bh1.blk_len = uint32_t(next);
  }

  tpacket_block_desc& desc() { return *reinterpret_cast<tpacket_block_desc*>(block.data()); }
  tpacket3_hdr header(size_t i) {
    tpacket3_hdr h;
    std::memcpy(&h, block.data() + headers[i], sizeof(h));
    return h;
  }
  void setHeader(size_t i, const tpacket3_hdr& h) { std::memcpy(block.data() + headers[i], &h, sizeof(h)); }
};

std::vector<uint8_t> frame(size_t n, uint8_t first) {
  std::vector<uint8_t> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = uint8_t(first + i);
  return f;
}

}  // namespace

TEST_CASE("ring layout takes whole pages and counts the frames the kernel checks") {
  AfPacketConfig c;
  c.block_size = 64 * 1024;
  c.block_count = 4;
  c.block_timeout = 10 * 1'000'000;
  AfPacketRingLayout l = afPacketRingLayout(c, 4096);
  CHECK(l.block_size == 65536);
  CHECK(l.block_count == 4);
  CHECK(l.frame_size == 2048);
  CHECK(l.frame_count == 32 * 4);
  CHECK(l.retire_ms == 10);
}

TEST_CASE("ring layout refuses a block that is not a whole number of pages, naming the setting") {
  AfPacketConfig c;
  c.block_size = 6000;
  CHECK_THROWS_WITH_AS(afPacketRingLayout(c, 4096), doctest::Contains("capture.afpacket.block_size"),
                       CaptureSetupError);
  c.block_size = 2048;  // less than a page
  CHECK_THROWS_AS(afPacketRingLayout(c, 4096), CaptureSetupError);
  c.block_size = 8192;
  c.block_count = 0;
  CHECK_THROWS_WITH_AS(afPacketRingLayout(c, 4096), doctest::Contains("block_count"), CaptureSetupError);
}

TEST_CASE("a block timeout under a millisecond becomes the kernel's smallest, one millisecond") {
  AfPacketConfig c;
  c.block_size = 4096;
  c.block_timeout = 100'000;
  CHECK(afPacketRingLayout(c, 4096).retire_ms == 1);
  CHECK(afPacketRingLayout(c, 4096).frame_size == 2048);
}

TEST_CASE("fanout modes map to the kernel's and an unknown one is refused by name") {
  CHECK(afPacketFanoutType("hash") == PACKET_FANOUT_HASH);
  CHECK(afPacketFanoutType("cpu") == PACKET_FANOUT_CPU);
  CHECK(afPacketFanoutType("lb") == PACKET_FANOUT_LB);
  CHECK_THROWS_WITH_AS(afPacketFanoutType("rnd"), doctest::Contains("\"rnd\""), CaptureSetupError);
}

TEST_CASE("fallback fanout group ids differ between processes and interfaces and are never 0") {
  std::set<uint16_t> ids;
  for (pid_t pid : {100, 101, 4242, 65536 + 100}) {
    for (int ifindex : {1, 2, 3, 17}) {
      uint16_t id = afPacketFanoutGroupId(pid, ifindex);
      CHECK(id != 0);
      ids.insert(id);
    }
  }
  CHECK(ids.size() == 16);
  CHECK(afPacketFanoutGroupId(4242, 3) == afPacketFanoutGroupId(4242, 3));
}

TEST_CASE("a restored VLAN tag sits between the MAC addresses and the EtherType") {
  std::vector<uint8_t> f = frame(20, 0);
  std::vector<uint8_t> out(24);
  REQUIRE(restoreVlanTag(f.data(), 20, ETH_P_8021Q, 0x2064, out.data()) == 24);
  CHECK(std::memcmp(out.data(), f.data(), 12) == 0);
  CHECK(out[12] == 0x81);
  CHECK(out[13] == 0x00);
  CHECK(out[14] == 0x20);
  CHECK(out[15] == 0x64);
  CHECK(std::memcmp(out.data() + 16, f.data() + 12, 8) == 0);
  CHECK(restoreVlanTag(f.data(), 11, ETH_P_8021Q, 1, out.data()) == 0);
}

TEST_CASE("the block walker hands over each packet with its bytes, lengths, time and direction") {
  BlockBuilder b(4096);
  b.add(frame(60, 1), 1700000000, 123, PACKET_HOST);
  b.add(frame(90, 7), 1700000001, 999999999, PACKET_OUTGOING, TP_STATUS_VLAN_VALID);
  std::vector<AfPacketFrame> got;
  uint32_t unread = forEachAfPacketFrame(b.block.data(), b.block.size(), [&](const AfPacketFrame& f) {
    got.push_back(f);
  });
  CHECK(unread == 0);
  REQUIRE(got.size() == 2);
  CHECK(got[0].cap_len == 60);
  CHECK(got[0].wire_len == 160);
  CHECK(got[0].data[0] == 1);
  CHECK(got[0].data[59] == 60);
  CHECK(got[0].sec == 1700000000);
  CHECK(got[0].nsec == 123);
  CHECK(got[0].pkttype == PACKET_HOST);
  CHECK(got[1].cap_len == 90);
  CHECK(got[1].data[0] == 7);
  CHECK(got[1].nsec == 999999999);
  CHECK(got[1].pkttype == PACKET_OUTGOING);
  CHECK((got[1].status & TP_STATUS_VLAN_VALID) != 0);
  CHECK(got[1].vlan_tci == 42);
  CHECK(got[1].vlan_tpid == 0x88a8);
}

TEST_CASE("a frame that would end past its block stops the walk and counts what was left unread") {
  BlockBuilder b(4096);
  b.add(frame(60, 1), 1, 0, PACKET_HOST);
  b.add(frame(60, 2), 2, 0, PACKET_HOST);
  b.add(frame(60, 3), 3, 0, PACKET_HOST);
  tpacket3_hdr h = b.header(1);
  h.tp_snaplen = 5000;
  b.setHeader(1, h);
  std::vector<uint32_t> seen;
  uint32_t unread = forEachAfPacketFrame(b.block.data(), b.block.size(),
                                         [&](const AfPacketFrame& f) { seen.push_back(f.sec); });
  CHECK(seen == std::vector<uint32_t>{1});
  CHECK(unread == 2);
}

TEST_CASE("a next offset leading outside the block, or missing, stops the walk") {
  BlockBuilder b(4096);
  b.add(frame(60, 1), 1, 0, PACKET_HOST);
  b.add(frame(60, 2), 2, 0, PACKET_HOST);
  tpacket3_hdr h = b.header(0);
  h.tp_next_offset = 1'000'000;
  b.setHeader(0, h);
  uint32_t count = 0;
  CHECK(forEachAfPacketFrame(b.block.data(), b.block.size(), [&](const AfPacketFrame&) { ++count; }) == 1);
  CHECK(count == 1);

  h.tp_next_offset = 0;
  b.setHeader(0, h);
  count = 0;
  CHECK(forEachAfPacketFrame(b.block.data(), b.block.size(), [&](const AfPacketFrame&) { ++count; }) == 1);
  CHECK(count == 1);
}

TEST_CASE("a block whose first packet offset or mac offset is out of bounds delivers nothing") {
  BlockBuilder b(4096);
  b.add(frame(60, 1), 1, 0, PACKET_HOST);
  b.desc().hdr.bh1.offset_to_first_pkt = 4090;
  uint32_t count = 0;
  CHECK(forEachAfPacketFrame(b.block.data(), b.block.size(), [&](const AfPacketFrame&) { ++count; }) == 1);
  b.desc().hdr.bh1.offset_to_first_pkt = 2;  // inside the descriptor itself
  CHECK(forEachAfPacketFrame(b.block.data(), b.block.size(), [&](const AfPacketFrame&) { ++count; }) == 1);
  b.desc().hdr.bh1.offset_to_first_pkt = uint32_t(b.headers[0]);
  tpacket3_hdr h = b.header(0);
  h.tp_mac = 65535;
  b.setHeader(0, h);
  CHECK(forEachAfPacketFrame(b.block.data(), b.block.size(), [&](const AfPacketFrame&) { ++count; }) == 1);
  CHECK(count == 0);
  CHECK(forEachAfPacketFrame(b.block.data(), 16, [&](const AfPacketFrame&) { ++count; }) == 0);
}

TEST_CASE("AF_PACKET sources refuse a missing interface or zero threads, naming them") {
  CaptureConfig c;
  c.source = "afpacket";
  c.afpacket.block_size = 4096;
  c.afpacket.block_count = 1;
  CHECK_THROWS_WITH_AS(makeAfPacketSources(c), doctest::Contains("capture.interfaces"), CaptureSetupError);
  c.interfaces = {"tfnosuch0"};
  CHECK_THROWS_WITH_AS(makeAfPacketSources(c), doctest::Contains("interface tfnosuch0 does not exist"),
                       CaptureSetupError);
  c.afpacket.threads = 0;
  CHECK_THROWS_WITH_AS(makeAfPacketSources(c), doctest::Contains("capture.afpacket.threads"), CaptureSetupError);
}
