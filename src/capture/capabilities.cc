#include "capture/capabilities.h"

#include <linux/capability.h>
#include <net/if.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>

#include "capture/packet_source.h"

namespace tapflow {
namespace {

void addNeed(CaptureNeeds& needs, Capability cap) {
  for (Capability c : needs.capabilities) {
    if (c == cap) return;
  }
  needs.capabilities.push_back(cap);
}

// AF_XDP: the socket (CAP_NET_RAW), the XDP program and its maps (CAP_BPF,
// CAP_NET_ADMIN for a networking program and for attaching it). Not
// CAP_PERFMON: tapflow_xdp.bpf.c does no pointer arithmetic the verifier
// keeps for it, and the program is detached by the fd tapflow holds, not
// looked up by id (which would take CAP_SYS_ADMIN).
void addAfXdpNeeds(CaptureNeeds& needs) {
  addNeed(needs, Capability::kNetAdmin);
  addNeed(needs, Capability::kNetRaw);
  addNeed(needs, Capability::kBpf);
}

std::string sizeText(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024;
  if (bytes >= kKiB * kKiB && bytes % (kKiB * kKiB) == 0) return std::to_string(bytes / (kKiB * kKiB)) + "MiB";
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "KiB";
  return std::to_string(bytes) + " bytes";
}

// The UMEM of `sockets` AF_XDP sockets, which the kernel charges to
// RLIMIT_MEMLOCK (xdp_umem_account_pages) unless the process has CAP_IPC_LOCK.
void addUmem(CaptureNeeds& needs, uint64_t sockets, const AfXdpConfig& afxdp) {
  needs.locked_bytes = sockets * afxdp.frames * afxdp.frame_size;
  needs.locked_what = "AF_XDP UMEM (" + std::to_string(sockets) + " socket" + (sockets == 1 ? "" : "s") + " x " +
                      std::to_string(afxdp.frames) + " frames x " + std::to_string(afxdp.frame_size) + " bytes)";
}

// The value of a DPDK device argument: "net_af_xdp0,iface=eth1" -> "net_af_xdp".
std::string vdevDriver(const std::string& spec) {
  std::string driver = spec.substr(0, spec.find(','));
  while (!driver.empty() && driver.back() >= '0' && driver.back() <= '9') driver.pop_back();
  return driver;
}

// DPDK's virtual devices over kernel interfaces need what the kernel asks of
// their socket type; physical NICs need what vfio and hugepages ask, which
// the EAL reports itself.
void addDpdkNeeds(CaptureNeeds& needs, const DpdkConfig& dpdk) {
  std::vector<std::string> drivers;
  for (size_t i = 0; i < dpdk.eal_args.size(); ++i) {
    const std::string& arg = dpdk.eal_args[i];
    std::string spec;
    if (arg == "--vdev" && i + 1 < dpdk.eal_args.size()) {
      spec = dpdk.eal_args[++i];
    } else if (arg.rfind("--vdev=", 0) == 0) {
      spec = arg.substr(7);
    } else {
      continue;
    }
    const std::string driver = vdevDriver(spec);
    if (driver == "net_af_xdp") {
      // Its UMEM comes from the mbuf pool, whose locking the EAL reports itself.
      addAfXdpNeeds(needs);
    } else if (driver == "net_af_packet" || (driver == "net_pcap" && spec.find("iface=") != std::string::npos)) {
      addNeed(needs, Capability::kNetRaw);
    } else {
      continue;
    }
    bool listed = false;
    for (const auto& d : drivers) listed = listed || d == driver;
    if (!listed) drivers.push_back(driver);
  }
  for (size_t i = 0; i < drivers.size(); ++i) needs.mode += (i == 0 ? " (" : ", ") + drivers[i];
  if (!drivers.empty()) needs.mode += ")";
}

std::string joinNames(const std::vector<Capability>& caps) {
  std::string out;
  for (size_t i = 0; i < caps.size(); ++i) {
    if (i > 0) out += i + 1 == caps.size() ? " and " : ", ";
    out += capabilityName(caps[i]);
  }
  return out;
}

uint32_t countEntries(const std::filesystem::path& dir, std::string_view prefix) {
  std::error_code ec;
  uint32_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) ++n;
  }
  return ec ? 0 : n;
}

}  // namespace

std::string_view capabilityName(Capability cap) {
  switch (cap) {
    case Capability::kNetAdmin: return "CAP_NET_ADMIN";
    case Capability::kNetRaw: return "CAP_NET_RAW";
    case Capability::kIpcLock: return "CAP_IPC_LOCK";
    case Capability::kSysAdmin: return "CAP_SYS_ADMIN";
    case Capability::kSysResource: return "CAP_SYS_RESOURCE";
    case Capability::kPerfmon: return "CAP_PERFMON";
    case Capability::kBpf: return "CAP_BPF";
  }
  return "CAP_?";
}

CapabilitySet CapabilitySet::ofThisThread() {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;  // this thread
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    throw CaptureSetupError(std::string("cannot read this process's capabilities (capget): ") + std::strerror(errno));
  }
  return CapabilitySet(uint64_t(data[0].effective) | uint64_t(data[1].effective) << 32);
}

bool CapabilitySet::has(Capability cap) const {
  const auto bit = [this](Capability c) { return (mask_ >> static_cast<unsigned>(c)) & 1u; };
  if (bit(cap)) return true;
  return (cap == Capability::kBpf || cap == Capability::kPerfmon) && bit(Capability::kSysAdmin);
}

uint32_t interfaceQueueCount(const std::string& interface) {
  if (interface.empty() || interface.find('/') != std::string::npos || interface == "." || interface == "..") {
    return 0;
  }
  const std::filesystem::path queues = std::filesystem::path("/sys/class/net") / interface / "queues";
  return std::max(countEntries(queues, "rx-"), countEntries(queues, "tx-"));
}

CaptureNeeds captureNeeds(const CaptureConfig& config) {
  CaptureNeeds needs;
  needs.mode = config.source;
  if (config.source == "afxdp") {
    addAfXdpNeeds(needs);
    uint64_t sockets = 0;
    for (const std::string& interface : config.interfaces) {
      const uint32_t queues = interfaceQueueCount(interface);
      sockets += config.queues.empty() ? std::max<uint32_t>(queues, 1) : config.queues.size();
    }
    addUmem(needs, std::max<uint64_t>(sockets, 1), config.afxdp);
    needs.interfaces = config.interfaces;
  } else if (config.source == "afpacket") {
    addNeed(needs, Capability::kNetRaw);
    needs.interfaces = config.interfaces;
  } else if (config.source == "mirror") {
    needs.mode = "mirror (" + config.mirror.capture + ")";
    // Its veth pair, clsact qdiscs and tc filters, and the tc program that clones.
    addNeed(needs, Capability::kNetAdmin);
    addNeed(needs, Capability::kBpf);
    if (config.mirror.capture == "afxdp") {
      addAfXdpNeeds(needs);
      addUmem(needs, 1, config.afxdp);
    } else {
      addNeed(needs, Capability::kNetRaw);
    }
  } else if (config.source == "dpdk") {
    addDpdkNeeds(needs, config.dpdk);
  }
  return needs;
}

uint64_t memlockLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0 || limit.rlim_max == RLIM_INFINITY) {
    return std::numeric_limits<uint64_t>::max();
  }
  return limit.rlim_max;
}

std::string missingPrivileges(const CaptureNeeds& needs, const CapabilitySet& caps, uint64_t memlock_limit) {
  std::vector<Capability> missing;
  for (Capability c : needs.capabilities) {
    if (!caps.has(c)) missing.push_back(c);
  }
  const bool memlock_short = needs.locked_bytes > memlock_limit && !caps.has(Capability::kIpcLock) &&
                             !caps.has(Capability::kSysResource);
  std::string problem;
  if (!missing.empty()) {
    problem = needs.mode + " capture needs " + joinNames(missing) +
              ", which this process does not have: run as root, or grant " +
              (missing.size() == 1 ? "it" : "them") +
              " (setcap, systemd AmbientCapabilities=, or the pod's securityContext.capabilities.add)";
  }
  if (memlock_short) {
    if (!problem.empty()) problem += "; also, ";
    problem += "RLIMIT_MEMLOCK (hard limit " + sizeText(memlock_limit) + ") is too low for " + sizeText(needs.locked_bytes) +
               " of " + needs.locked_what + ": raise it (ulimit -l, systemd LimitMEMLOCK=) or grant CAP_IPC_LOCK";
  }
  return problem;
}

void checkCapturePreconditions(const CaptureConfig& config) {
  if (config.source == "pcap") return;
  const CaptureNeeds needs = captureNeeds(config);
  // Missing interfaces first: that needs no privilege to find out, and no
  // capability would make the capture work.
  for (const std::string& interface : needs.interfaces) {
    if (if_nametoindex(interface.c_str()) == 0) {
      throw CaptureSetupError("interface " + interface + " does not exist (in this network namespace)");
    }
    const uint32_t queues = interfaceQueueCount(interface);
    if (config.source != "afxdp" || queues == 0) continue;
    for (uint32_t q : config.queues) {
      if (q >= queues) {
        throw CaptureSetupError("interface " + interface + " has " + std::to_string(queues) + " RX queue" +
                                (queues == 1 ? "" : "s") + " (0.." + std::to_string(queues - 1) +
                                "), capture.queues lists queue " + std::to_string(q));
      }
    }
  }
  const std::string problem = missingPrivileges(needs, CapabilitySet::ofThisThread(), memlockLimit());
  if (!problem.empty()) throw CaptureSetupError(problem);
}

}  // namespace tapflow
