#include "capture/capabilities.h"

#include <doctest/doctest.h>
#include <sys/resource.h>

#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "capture/packet_source.h"

namespace tapflow {
namespace {

uint64_t bits(std::initializer_list<int> caps) {
  uint64_t mask = 0;
  for (int c : caps) mask |= uint64_t(1) << c;
  return mask;
}

constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

CaptureConfig liveOn(const std::string& source, const std::string& interface) {
  CaptureConfig c;
  c.source = source;
  c.interfaces = {interface};
  return c;
}

// CapEff from /proc/self/status: the kernel's own account of the set capget reads.
uint64_t capEffFromProc() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  FAIL("no CapEff line in /proc/self/status");
  return 0;
}

}  // namespace

TEST_CASE("capabilities are named as the kernel and man pages name them") {
  CHECK(capabilityName(Capability::kNetAdmin) == "CAP_NET_ADMIN");
  CHECK(capabilityName(Capability::kNetRaw) == "CAP_NET_RAW");
  CHECK(capabilityName(Capability::kIpcLock) == "CAP_IPC_LOCK");
  CHECK(capabilityName(Capability::kBpf) == "CAP_BPF");
  CHECK(capabilityName(Capability::kPerfmon) == "CAP_PERFMON");
  CHECK(capabilityName(Capability::kSysAdmin) == "CAP_SYS_ADMIN");
  CHECK(capabilityName(Capability::kSysResource) == "CAP_SYS_RESOURCE");
}

TEST_CASE("the effective set read with capget is the one /proc/self/status shows") {
  const CapabilitySet mine = CapabilitySet::ofThisThread();
  CHECK(mine.mask() == capEffFromProc());
}

TEST_CASE("CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, as on kernels before 5.8, and for nothing else") {
  const CapabilitySet sys_admin(bits({21}));
  CHECK(sys_admin.has(Capability::kBpf));
  CHECK(sys_admin.has(Capability::kPerfmon));
  CHECK_FALSE(sys_admin.has(Capability::kNetAdmin));
  CHECK_FALSE(sys_admin.has(Capability::kNetRaw));
  const CapabilitySet bpf_only(bits({39}));
  CHECK(bpf_only.has(Capability::kBpf));
  CHECK_FALSE(bpf_only.has(Capability::kPerfmon));
  CHECK_FALSE(CapabilitySet(0).has(Capability::kBpf));
}

TEST_CASE("each mode asks for the capabilities its sockets and programs need") {
  const CaptureNeeds afxdp = captureNeeds(liveOn("afxdp", "lo"));
  CHECK(afxdp.mode == "afxdp");
  // Not CAP_PERFMON: the XDP program verifies and detaches with CAP_BPF and CAP_NET_ADMIN.
  CHECK(afxdp.capabilities == std::vector<Capability>{Capability::kNetAdmin, Capability::kNetRaw, Capability::kBpf});
  CHECK(afxdp.interfaces == std::vector<std::string>{"lo"});

  const CaptureNeeds afpacket = captureNeeds(liveOn("afpacket", "lo"));
  CHECK(afpacket.capabilities == std::vector<Capability>{Capability::kNetRaw});
  CHECK(afpacket.locked_bytes == 0);

  CaptureConfig mirror;
  mirror.source = "mirror";
  mirror.mirror.interfaces = {"cali*"};
  const CaptureNeeds mirror_afxdp = captureNeeds(mirror);
  CHECK(mirror_afxdp.mode == "mirror (afxdp)");
  CHECK(mirror_afxdp.capabilities ==
        std::vector<Capability>{Capability::kNetAdmin, Capability::kBpf, Capability::kNetRaw});
  // Patterns name interfaces that may appear later: nothing to look up now.
  CHECK(mirror_afxdp.interfaces.empty());
  mirror.mirror.capture = "afpacket";
  const CaptureNeeds mirror_afpacket = captureNeeds(mirror);
  CHECK(mirror_afpacket.mode == "mirror (afpacket)");
  CHECK(mirror_afpacket.capabilities ==
        std::vector<Capability>{Capability::kNetAdmin, Capability::kBpf, Capability::kNetRaw});
  CHECK(mirror_afpacket.locked_bytes == 0);

  CaptureConfig pcap;
  CHECK(captureNeeds(pcap).capabilities.empty());
}

TEST_CASE("dpdk needs what its virtual devices over kernel interfaces need, and nothing for other ports") {
  CaptureConfig c;
  c.source = "dpdk";
  c.dpdk.eal_args = {"--no-huge", "-m", "256", "--vdev", "net_pcap0,rx_pcap=/tmp/x.pcap"};
  CHECK(captureNeeds(c).capabilities.empty());
  CHECK(captureNeeds(c).mode == "dpdk");
  c.dpdk.eal_args = {"--vdev", "net_af_packet0,iface=eth1", "--vdev=net_af_packet1,iface=eth2"};
  CHECK(captureNeeds(c).capabilities == std::vector<Capability>{Capability::kNetRaw});
  CHECK(captureNeeds(c).mode == "dpdk (net_af_packet)");
  c.dpdk.eal_args = {"--vdev", "net_pcap0,iface=eth1", "--vdev", "net_af_xdp0,iface=eth1"};
  CHECK(captureNeeds(c).capabilities ==
        std::vector<Capability>{Capability::kNetRaw, Capability::kNetAdmin, Capability::kBpf});
  CHECK(captureNeeds(c).mode == "dpdk (net_pcap, net_af_xdp)");
  c.dpdk.eal_args = {"-a", "0000:3b:00.0"};
  CHECK(captureNeeds(c).capabilities.empty());
}

TEST_CASE("the UMEM to lock counts every AF_XDP socket: listed queues, or every queue of the interface") {
  CaptureConfig c = liveOn("afxdp", "lo");
  c.afxdp.frames = 8192;
  c.afxdp.frame_size = 4096;
  c.queues = {0};
  CHECK(captureNeeds(c).locked_bytes == 8192ull * 4096);
  CHECK(captureNeeds(c).locked_what == "AF_XDP UMEM (1 socket x 8192 frames x 4096 bytes)");
  c.interfaces = {"lo", "lo2"};
  c.queues = {0, 1, 2};
  CHECK(captureNeeds(c).locked_bytes == 6ull * 8192 * 4096);
  // "all": what sysfs lists for lo, and one socket for an interface it cannot read.
  c.queues.clear();
  const uint32_t lo_queues = interfaceQueueCount("lo");
  CHECK(lo_queues >= 1);
  c.interfaces = {"lo", "tapflow-none0"};
  CHECK(interfaceQueueCount("tapflow-none0") == 0);
  CHECK(captureNeeds(c).locked_bytes == (uint64_t(lo_queues) + 1) * 8192 * 4096);
}

TEST_CASE("a missing capability is named with the mode and how to grant it") {
  const CaptureNeeds afxdp = captureNeeds(liveOn("afxdp", "lo"));
  CHECK(missingPrivileges(afxdp, CapabilitySet(0), kUnlimited) ==
        "afxdp capture needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF, which this process does not "
        "have: run as root, or grant them (setcap, systemd AmbientCapabilities=, or the pod's "
        "securityContext.capabilities.add)");
  // Only what is missing is named; CAP_SYS_ADMIN covers CAP_BPF.
  CHECK(missingPrivileges(afxdp, CapabilitySet(bits({12, 21})), kUnlimited) ==
        "afxdp capture needs CAP_NET_RAW, which this process does not have: run as root, or grant it (setcap, "
        "systemd AmbientCapabilities=, or the pod's securityContext.capabilities.add)");
  // The documented minimal set: CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF (CAP_PERFMON is not asked for).
  CHECK(missingPrivileges(afxdp, CapabilitySet(bits({12, 13, 39})), kUnlimited) == "");
  CHECK(missingPrivileges(afxdp, CapabilitySet(bits({12, 13, 38})), kUnlimited) ==
        "afxdp capture needs CAP_BPF, which this process does not have: run as root, or grant it (setcap, "
        "systemd AmbientCapabilities=, or the pod's securityContext.capabilities.add)");
  const CaptureNeeds afpacket = captureNeeds(liveOn("afpacket", "lo"));
  CHECK(missingPrivileges(afpacket, CapabilitySet(0), 0) ==
        "afpacket capture needs CAP_NET_RAW, which this process does not have: run as root, or grant it (setcap, "
        "systemd AmbientCapabilities=, or the pod's securityContext.capabilities.add)");
  CHECK(missingPrivileges(afpacket, CapabilitySet(bits({13})), 0) == "");
}

TEST_CASE("a hard memlock limit below the UMEM is refused unless CAP_IPC_LOCK or CAP_SYS_RESOURCE lifts it") {
  CaptureConfig c = liveOn("afxdp", "lo");
  c.queues = {0, 1};
  c.afxdp.frames = 4096;
  c.afxdp.frame_size = 4096;
  const CaptureNeeds needs = captureNeeds(c);
  REQUIRE(needs.locked_bytes == 32ull << 20);
  const CapabilitySet enough(bits({12, 13, 39}));
  CHECK(missingPrivileges(needs, enough, 8ull << 20) ==
        "RLIMIT_MEMLOCK (hard limit 8MiB) is too low for 32MiB of AF_XDP UMEM (2 sockets x 4096 frames x 4096 bytes): raise "
        "it (ulimit -l, systemd LimitMEMLOCK=) or grant CAP_IPC_LOCK");
  CHECK(missingPrivileges(needs, enough, 32ull << 20) == "");
  CHECK(missingPrivileges(needs, CapabilitySet(bits({12, 13, 14, 39})), 64 * 1024) == "");
  CHECK(missingPrivileges(needs, CapabilitySet(bits({12, 13, 24, 39})), 64 * 1024) == "");
  CHECK(missingPrivileges(needs, CapabilitySet(bits({12, 39})), 64 * 1024) ==
        "afxdp capture needs CAP_NET_RAW, which this process does not have: run as root, or grant it (setcap, "
        "systemd AmbientCapabilities=, or the pod's securityContext.capabilities.add); also, RLIMIT_MEMLOCK "
        "(hard limit 64KiB) is too low for 32MiB of AF_XDP UMEM (2 sockets x 4096 frames x 4096 bytes): raise it (ulimit "
        "-l, systemd LimitMEMLOCK=) or grant CAP_IPC_LOCK");
}

TEST_CASE("a missing interface or queue is named before any privilege is looked at") {
  CHECK_THROWS_WITH_AS(checkCapturePreconditions(liveOn("afpacket", "tapflow-none0")),
                       "interface tapflow-none0 does not exist (in this network namespace)", CaptureSetupError);
  CaptureConfig c = liveOn("afxdp", "lo");
  const uint32_t queues = interfaceQueueCount("lo");
  REQUIRE(queues >= 1);
  c.queues = {queues};
  const std::string plural = queues == 1 ? "" : "s";
  CHECK_THROWS_WITH_AS(checkCapturePreconditions(c),
                       ("interface lo has " + std::to_string(queues) + " RX queue" + plural + " (0.." +
                        std::to_string(queues - 1) + "), capture.queues lists queue " + std::to_string(queues))
                           .c_str(),
                       CaptureSetupError);
  // A pcap run needs nothing of the host.
  CHECK_NOTHROW(checkCapturePreconditions(CaptureConfig{}));
}

TEST_CASE("the memlock limit is the hard one, which the process may raise its soft limit to") {
  rlimit limit{};
  REQUIRE(getrlimit(RLIMIT_MEMLOCK, &limit) == 0);
  CHECK(memlockLimit() == (limit.rlim_max == RLIM_INFINITY ? kUnlimited : uint64_t(limit.rlim_max)));
}

TEST_CASE("the preconditions pass or fail as this process's own capabilities say") {
  const CaptureConfig c = liveOn("afpacket", "lo");
  const bool has_raw = CapabilitySet::ofThisThread().has(Capability::kNetRaw);
  if (has_raw) {
    CHECK_NOTHROW(checkCapturePreconditions(c));
  } else {
    CHECK_THROWS_AS(checkCapturePreconditions(c), CaptureSetupError);
  }
}

}  // namespace tapflow
