// What a live capture needs from the host before any socket, ring or program
// is set up: capabilities, locked-memory room, the interfaces themselves.
// Checked once for every mode, so each fails the same way, naming what is missing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"

namespace tapflow {

// The capabilities capture modes need; values are the kernel's CAP_* numbers.
enum class Capability : uint8_t {
  kNetAdmin = 12,  // attach XDP/tc programs, create veth pairs and qdiscs
  kNetRaw = 13,    // AF_PACKET and AF_XDP sockets
  kIpcLock = 14,   // lock AF_XDP UMEM beyond RLIMIT_MEMLOCK
  kSysAdmin = 21,  // stands in for CAP_BPF and CAP_PERFMON (kernels before 5.8 have only it)
  kSysResource = 24,  // raise RLIMIT_MEMLOCK past its hard limit
  kPerfmon = 38,   // relaxed verifier checks, freplace programs: no mode needs it (tapflow's programs verify without)
  kBpf = 39,       // load BPF programs and create their maps
};

// "CAP_NET_ADMIN" and so on.
std::string_view capabilityName(Capability cap);

// An effective capability set.
class CapabilitySet {
 public:
  explicit CapabilitySet(uint64_t effective_mask) : mask_(effective_mask) {}
  // The calling thread's effective set, read with capget(2). Throws
  // CaptureSetupError when the kernel refuses.
  static CapabilitySet ofThisThread();

  // As the kernel decides: CAP_SYS_ADMIN also grants what CAP_BPF and
  // CAP_PERFMON grant (bpf_capable(), perfmon_capable()).
  bool has(Capability cap) const;
  uint64_t mask() const { return mask_; }

 private:
  uint64_t mask_;
};

// Everything one capture configuration asks of the process.
struct CaptureNeeds {
  std::string mode;                       // "afxdp", "mirror (afxdp)", "dpdk (net_af_xdp)", ...
  std::vector<Capability> capabilities;   // in the order they are named
  uint64_t locked_bytes = 0;              // charged to RLIMIT_MEMLOCK unless CAP_IPC_LOCK
  std::string locked_what;                // how locked_bytes adds up, for the message
  std::vector<std::string> interfaces;    // must exist in this network namespace
};

// What `config` needs. Reads /sys/class/net/IF/queues to count the AF_XDP
// sockets of capture.queues "all"; an interface it cannot read counts one.
CaptureNeeds captureNeeds(const CaptureConfig& config);

// The most RLIMIT_MEMLOCK this process may set for itself without
// privilege: its hard limit (`ulimit -H -l`), in bytes; UINT64_MAX when
// unlimited. The AF_XDP source raises the soft limit that far before it
// registers its UMEM.
uint64_t memlockLimit();

// "" when `caps` and `memlock_limit` (a hard limit, as memlockLimit()) cover
// `needs`, else one line naming everything missing. CAP_IPC_LOCK lifts the
// limit, and CAP_SYS_RESOURCE lets the process raise it.
std::string missingPrivileges(const CaptureNeeds& needs, const CapabilitySet& caps, uint64_t memlock_limit);

// The RX queues an interface has (what AF_XDP can bind to:
// max(rx, tx) queues), from sysfs; 0 when unknown.
uint32_t interfaceQueueCount(const std::string& interface);

// Throws CaptureSetupError when an interface of `needs` does not exist, a
// queue of capture.queues is beyond what an interface has, or this process
// lacks a capability or locked-memory room. Does nothing for pcap.
void checkCapturePreconditions(const CaptureConfig& config);

}  // namespace tapflow
