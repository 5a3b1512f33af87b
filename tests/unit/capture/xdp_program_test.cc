// tapflow's XDP program: the filter config as the maps hold it, and the
// program's verdicts on crafted frames, run in the kernel with
// BPF_PROG_TEST_RUN (needs root; skipped without CAP_BPF/CAP_SYS_ADMIN).
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "capture/afxdp_source.h"
#include "capture/capabilities.h"
#include "capture/packet_source.h"
#include "capture/xdp_program.h"

using namespace tapflow;

namespace {

std::string errorOf(const CaptureFilterConfig& filter) {
  try {
    parseXdpTargets(filter);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

// Builds frames byte by byte, big-endian like the wire.
struct Frame {
  std::vector<uint8_t> b;
  Frame& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Frame& u16(uint16_t v) { return u8(uint8_t(v >> 8)).u8(uint8_t(v)); }
  Frame& u32(uint32_t v) { return u16(uint16_t(v >> 16)).u16(uint16_t(v)); }
  Frame& addr(const char* text) {
    uint8_t buf[16];
    if (inet_pton(AF_INET, text, buf) == 1) {
      b.insert(b.end(), buf, buf + 4);
    } else {
      REQUIRE(inet_pton(AF_INET6, text, buf) == 1);
      b.insert(b.end(), buf, buf + 16);
    }
    return *this;
  }
  Frame& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
  Frame& ethernet(uint16_t type, std::vector<uint16_t> vlan_tpids = {}) {
    zeros(5).u8(2).zeros(5).u8(1);  // destination, source
    for (uint16_t tpid : vlan_tpids) u16(tpid).u16(100);
    return u16(type);
  }
  Frame& ipv4(const char* src, const char* dst, uint8_t proto, uint16_t frag = 0) {
    return u8(0x45).u8(0).u16(20 + 8).u16(1).u16(frag).u8(64).u8(proto).u16(0).addr(src).addr(dst);
  }
  Frame& ipv6(const char* src, const char* dst, uint8_t next) {
    return u32(0x60000000).u16(8).u8(next).u8(64).addr(src).addr(dst);
  }
  Frame& ports(uint16_t sport, uint16_t dport) { return u16(sport).u16(dport).u16(8).u16(0); }
};

constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1;

Frame udp4(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  Frame f;
  f.ethernet(0x0800).ipv4(src, dst, kUdp).ports(sport, dport);
  return f;
}

bool canLoadBpf() {
  return CapabilitySet::ofThisThread().has(Capability::kBpf) &&
         CapabilitySet::ofThisThread().has(Capability::kNetAdmin);
}

// What the program did with one frame, read from its counters. A match has
// no socket on queue 0 here, so it shows as redirect_failed.
const char* verdict(XdpProgram& program, const Frame& frame) {
  XdpProgram::ActionCounts before = program.counters();
  int action = program.testRun(frame.b.data(), uint32_t(frame.b.size()));
  REQUIRE(action == XDP_PASS);
  XdpProgram::ActionCounts after = program.counters();
  const char* which = "none";
  int changed = 0;
  for (size_t a = 0; a < after.size(); ++a) {
    if (after[a].packets != before[a].packets) {
      which = XdpProgram::actionName(a);
      ++changed;
      CHECK(after[a].packets == before[a].packets + 1);
      CHECK(after[a].bytes == before[a].bytes + frame.b.size());
    }
  }
  CHECK(changed == 1);
  return changed == 1 && std::strcmp(which, "redirect_failed") == 0 ? "match" : which;
}

}  // namespace

TEST_CASE("capture filter entries become masked prefixes, ports and protocol numbers") {
  CaptureFilterConfig f;
  f.cidrs = {"10.1.2.3/8", "192.168.1.7", "fd00:77::1/64", "::1", "10.200.0.0/8"};
  f.ports = {80, 5060, 80};
  f.protocols = {"tcp", "udp", "icmp", "ipv6-icmp", "47"};
  XdpTargets t = parseXdpTargets(f);
  CHECK(t.cidrs4.size() == 2);  // 10.200.0.0/8 is 10.0.0.0/8 again
  CHECK(t.cidrs4.count({8, {10, 0, 0, 0}}) == 1);
  CHECK(t.cidrs4.count({32, {192, 168, 1, 7}}) == 1);
  CHECK(t.cidrs6.count({64, {0xfd, 0x00, 0x00, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}) == 1);
  CHECK(t.cidrs6.count({128, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}) == 1);
  CHECK(t.ports == std::set<uint16_t>{80, 5060});
  CHECK(t.protocols == std::set<uint8_t>{1, 6, 17, 47, 58});
  CHECK(t.activeSets() == (TAPFLOW_XDP_FILTER_CIDRS | TAPFLOW_XDP_FILTER_PORTS | TAPFLOW_XDP_FILTER_PROTOCOLS));
}

TEST_CASE("an empty capture filter activates no set, so everything IP matches") {
  CHECK(parseXdpTargets(CaptureFilterConfig{}).activeSets() == 0);
  CaptureFilterConfig ports_only;
  ports_only.ports = {53};
  CHECK(parseXdpTargets(ports_only).activeSets() == TAPFLOW_XDP_FILTER_PORTS);
}

TEST_CASE("a filter that matches nothing says so to the program, whatever else it holds") {
  CaptureFilterConfig none;
  none.match_nothing = true;
  none.protocols = {"tcp"};
  const XdpTargets t = parseXdpTargets(none);
  CHECK(t.match_nothing);
  CHECK(t.activeSets() == (TAPFLOW_XDP_FILTER_NOTHING | TAPFLOW_XDP_FILTER_PROTOCOLS));
  CHECK_FALSE(t == parseXdpTargets(CaptureFilterConfig{}));
}

TEST_CASE("a bad filter entry is refused naming its key, index and value") {
  CaptureFilterConfig f;
  f.cidrs = {"10.0.0.0/33"};
  CHECK(errorOf(f) == "capture.filter.cidrs[0]: '10.0.0.0/33' has a prefix length outside 0-32");
  f.cidrs = {"10.0.0.1", "fd00::/129"};
  CHECK(errorOf(f) == "capture.filter.cidrs[1]: 'fd00::/129' has a prefix length outside 0-128");
  f.cidrs = {"pod-a"};
  CHECK(errorOf(f) == "capture.filter.cidrs[0]: 'pod-a' is not an IPv4 or IPv6 address or CIDR");
  f.cidrs = {"10.0.0.0/x"};
  CHECK(errorOf(f) == "capture.filter.cidrs[0]: '10.0.0.0/x' has a bad prefix length");
  f.cidrs = {};
  f.ports = {443, 70000};
  CHECK(errorOf(f) == "capture.filter.ports[1]: 70000 is not a port (1-65535)");
  f.ports = {};
  f.protocols = {"tcp", "gre-ish"};
  CHECK(errorOf(f).find("capture.filter.protocols[1]: unknown protocol 'gre-ish'") == 0);
  f.protocols = {"256"};
  CHECK(errorOf(f).find("capture.filter.protocols[0]") == 0);
}

TEST_CASE("capture.afxdp values the kernel would refuse are named before any socket exists") {
  AfXdpConfig c;
  CHECK_NOTHROW(checkAfXdpConfig(c));
  auto message = [](AfXdpConfig bad) {
    try {
      checkAfXdpConfig(bad);
    } catch (const CaptureSetupError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  c.frame_size = 3000;
  CHECK(message(c) == "capture.afxdp.frame_size must be 2048 or 4096");
  c = AfXdpConfig{};
  c.frames = 1000;
  CHECK(message(c) == "capture.afxdp.frames must be a power of two");
  c = AfXdpConfig{};
  c.batch = c.rx_ring + 1;
  CHECK(message(c) == "capture.afxdp.batch must be between 1 and rx_ring");
  c = AfXdpConfig{};
  c.xdp_mode = "offload";
  CHECK(message(c) == "capture.afxdp.xdp_mode must be auto, native or generic");
}

TEST_CASE("RX queues are counted for a present interface and 0 for a missing one") {
  CHECK(rxQueueCount("lo") >= 1);
  CHECK(rxQueueCount("tapflow-none0") == 0);
  CHECK(rxQueueCount("../etc") == 0);
}

TEST_CASE("the XDP object built with tapflow is found; a configured path must exist") {
  CHECK(access(resolveXdpObjectPath("").c_str(), R_OK) == 0);
  CHECK_THROWS_WITH_AS(resolveXdpObjectPath("/nonexistent/x.o"),
                       "XDP program /nonexistent/x.o (capture.afxdp.program) does not exist", CaptureSetupError);
}

TEST_CASE("AF_XDP sources for a missing interface fail naming it") {
  CaptureConfig c;
  c.source = "afxdp";
  c.interfaces = {"tapflow-none0"};
  CHECK_THROWS_WITH_AS(makeAfXdpSources(c), "interface tapflow-none0 does not exist (in this network namespace)",
                       CaptureSetupError);
}

TEST_CASE("the XDP program passes non-IP and redirects all IP when no set is active") {
  if (!canLoadBpf()) {
    MESSAGE("skipped: loading BPF programs needs CAP_BPF and CAP_NET_ADMIN");
    return;
  }
  XdpProgram program("lo", resolveXdpObjectPath(""), CaptureFilterConfig{});
  Frame arp;
  arp.ethernet(0x0806).zeros(28);
  CHECK(std::string(verdict(program, arp)) == "passed");
  CHECK(std::string(verdict(program, udp4("10.0.0.1", "10.0.0.2", 1000, 2000))) == "match");
  Frame v6;
  v6.ethernet(0x86dd).ipv6("fd00::1", "fd00::2", kUdp).ports(1, 2);
  CHECK(std::string(verdict(program, v6)) == "match");
  // With no set active the headers need not be read: user space counts what is wrong.
  Frame cut;
  cut.ethernet(0x0800).u8(0x45).zeros(5);
  CHECK(std::string(verdict(program, cut)) == "match");
}

TEST_CASE("the XDP program matches the CIDR set on either address, IPv4 and IPv6") {
  if (!canLoadBpf()) {
    MESSAGE("skipped: loading BPF programs needs CAP_BPF and CAP_NET_ADMIN");
    return;
  }
  CaptureFilterConfig f;
  f.cidrs = {"10.1.0.0/16", "fd00:77::/64"};
  XdpProgram program("lo", resolveXdpObjectPath(""), f);
  CHECK(std::string(verdict(program, udp4("10.1.2.3", "192.0.2.1", 1, 2))) == "match");
  CHECK(std::string(verdict(program, udp4("192.0.2.1", "10.1.255.255", 1, 2))) == "match");
  CHECK(std::string(verdict(program, udp4("10.2.0.1", "192.0.2.1", 1, 2))) == "passed");
  Frame in6, out6;
  in6.ethernet(0x86dd).ipv6("2001:db8::1", "fd00:77::9", kTcp).ports(1, 2);
  out6.ethernet(0x86dd).ipv6("2001:db8::1", "fd00:78::9", kTcp).ports(1, 2);
  CHECK(std::string(verdict(program, in6)) == "match");
  CHECK(std::string(verdict(program, out6)) == "passed");
  // A frame cut inside the IPv4 header cannot be judged: passed, counted.
  Frame cut;
  cut.ethernet(0x0800).u8(0x45).zeros(5);
  CHECK(std::string(verdict(program, cut)) == "malformed");
}

TEST_CASE("the XDP program matches ports on either end and follows VLAN tags and IPv6 extension headers") {
  if (!canLoadBpf()) {
    MESSAGE("skipped: loading BPF programs needs CAP_BPF and CAP_NET_ADMIN");
    return;
  }
  CaptureFilterConfig f;
  f.ports = {5060};
  XdpProgram program("lo", resolveXdpObjectPath(""), f);
  CHECK(std::string(verdict(program, udp4("10.0.0.1", "10.0.0.2", 40000, 5060))) == "match");
  CHECK(std::string(verdict(program, udp4("10.0.0.2", "10.0.0.1", 5060, 40000))) == "match");
  CHECK(std::string(verdict(program, udp4("10.0.0.2", "10.0.0.1", 5061, 40000))) == "passed");
  Frame qinq;
  qinq.ethernet(0x0800, {0x88a8, 0x8100}).ipv4("10.0.0.1", "10.0.0.2", kTcp).ports(1234, 5060);
  CHECK(std::string(verdict(program, qinq)) == "match");
  Frame three_tags;  // deeper than the program follows: not IP to it
  three_tags.ethernet(0x0800, {0x88a8, 0x8100, 0x8100}).ipv4("10.0.0.1", "10.0.0.2", kTcp).ports(1234, 5060);
  CHECK(std::string(verdict(program, three_tags)) == "passed");
  Frame icmp;
  icmp.ethernet(0x0800).ipv4("10.0.0.1", "10.0.0.2", kIcmp).zeros(8);
  CHECK(std::string(verdict(program, icmp)) == "passed");
  // Hop-by-hop (8 bytes) then a first fragment (offset 0) then UDP.
  Frame v6;
  v6.ethernet(0x86dd).ipv6("fd00::1", "fd00::2", 0).u8(44).u8(0).zeros(6);
  v6.u8(kUdp).u8(0).u16(0x0001).u32(7).ports(5060, 9);
  CHECK(std::string(verdict(program, v6)) == "match");
  // A later IPv4 fragment has no ports: let through for reassembly.
  Frame later;
  later.ethernet(0x0800).ipv4("10.0.0.1", "10.0.0.2", kUdp, 0x00b9).zeros(16);
  CHECK(std::string(verdict(program, later)) == "match");
  Frame cut_ports;  // UDP header cut short
  cut_ports.ethernet(0x0800).ipv4("10.0.0.1", "10.0.0.2", kUdp).u16(5060);
  CHECK(std::string(verdict(program, cut_ports)) == "malformed");
}

TEST_CASE("target set updates change the running program's verdicts in place") {
  if (!canLoadBpf()) {
    MESSAGE("skipped: loading BPF programs needs CAP_BPF and CAP_NET_ADMIN");
    return;
  }
  CaptureFilterConfig f;
  f.cidrs = {"10.1.0.0/16"};
  XdpProgram program("lo", resolveXdpObjectPath(""), f);
  Frame a = udp4("10.1.0.5", "10.9.0.1", 1, 53);
  Frame b = udp4("10.2.0.5", "10.9.0.1", 1, 53);
  CHECK(std::string(verdict(program, a)) == "match");
  CHECK(std::string(verdict(program, b)) == "passed");

  f.cidrs = {"10.2.0.0/16"};
  program.updateTargets(f);
  CHECK(std::string(verdict(program, a)) == "passed");
  CHECK(std::string(verdict(program, b)) == "match");

  f.protocols = {"tcp"};  // both sets must match now
  program.updateTargets(f);
  CHECK(std::string(verdict(program, b)) == "passed");
  f.protocols = {"udp"};
  program.updateTargets(f);
  CHECK(std::string(verdict(program, b)) == "match");

  CaptureFilterConfig nothing;  // targets that select no pod
  nothing.match_nothing = true;
  program.updateTargets(nothing);
  CHECK(std::string(verdict(program, a)) == "passed");
  CHECK(std::string(verdict(program, b)) == "passed");

  program.updateTargets(CaptureFilterConfig{});  // nothing active: everything IP
  CHECK(std::string(verdict(program, a)) == "match");
  CHECK(program.targets().activeSets() == 0);

  CaptureFilterConfig bad;
  bad.cidrs = {"10.3.0.0/16", "nonsense"};
  CHECK_THROWS_AS(program.updateTargets(bad), std::invalid_argument);
  CHECK(program.targets() == XdpTargets{});  // unchanged
}
