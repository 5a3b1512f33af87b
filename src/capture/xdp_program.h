// tapflow's XDP program (xdp/tapflow_xdp.bpf.c) on one interface: loaded and
// attached with libxdp, its target-set maps kept current, its counters read.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "app/config.h"
#include "ops/metrics.h"
#include "tapflow_xdp_shared.h"

struct xdp_program;  // libxdp

namespace tapflow {

enum class XdpAttachMode : uint8_t { kNative, kGeneric };
const char* xdpAttachModeName(XdpAttachMode mode);  // "native", "generic"

// capture.filter in the form the program's maps hold it: addresses masked to
// their prefix, ports and protocol numbers.
struct XdpTargets {
  std::set<std::pair<uint32_t, std::array<uint8_t, 4>>> cidrs4;   // (prefix length, network)
  std::set<std::pair<uint32_t, std::array<uint8_t, 16>>> cidrs6;
  std::set<uint16_t> ports;
  std::set<uint8_t> protocols;
  bool match_nothing = false;  // CaptureFilterConfig::match_nothing

  uint32_t activeSets() const;  // TAPFLOW_XDP_FILTER_* bits of the non-empty sets
  bool operator==(const XdpTargets&) const = default;
};

// Throws std::invalid_argument naming the bad entry (capture.filter.cidrs[2]: ...).
XdpTargets parseXdpTargets(const CaptureFilterConfig& filter);

// Where the XDP object is: `configured` when given (it must exist), else the
// one built with tapflow, else the installed one. Throws CaptureSetupError.
std::string resolveXdpObjectPath(const std::string& configured);

class XdpProgram {
 public:
  // One packet-action counter of the program, summed over CPUs.
  struct ActionCount {
    uint64_t packets = 0;
    uint64_t bytes = 0;
  };
  using ActionCounts = std::array<ActionCount, TAPFLOW_XDP_ACTION_COUNT>;

  // Opens the object and creates its maps with the target sets of `filter`,
  // without touching the interface yet: sockets register in the XSK map
  // first, then attach() puts the program in the packets' way. Throws
  // CaptureSetupError naming what failed.
  XdpProgram(const std::string& interface, const std::string& object_path, const CaptureFilterConfig& filter);
  // Detaches the program from the interface if it was attached.
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  // Replaces a tapflow program a previous run left on the interface, then
  // attaches: `xdp_mode` "native", "generic", or "auto" (native, else generic,
  // logged). Throws CaptureSetupError.
  void attach(const std::string& xdp_mode);
  bool attached() const { return attached_; }

  const std::string& interface() const { return interface_; }
  int ifindex() const { return ifindex_; }
  XdpAttachMode mode() const { return mode_; }
  uint32_t programId() const;
  // The XSK map: each AF_XDP socket registers at its queue index.
  int xsksMapFd() const { return xsks_fd_; }

  // Rewrites the target sets in the running program, without reattaching:
  // new entries first, then stale ones removed, then the active flags, so a
  // change never narrows the set below old ∩ new. Safe from any thread.
  // Throws std::invalid_argument for a bad entry (nothing is changed then) and
  // std::runtime_error when the kernel refuses an update.
  void updateTargets(const CaptureFilterConfig& filter);
  XdpTargets targets() const;

  ActionCounts counters() const;

  // Runs the program once on `frame` as if it had arrived on RX queue 0,
  // without any interface (BPF_PROG_TEST_RUN); loads it first when it is not
  // attached. Counters and maps are the live ones. For tests and diagnostics:
  // returns the XDP action (XDP_PASS, XDP_REDIRECT, ...) or a negative errno.
  int testRun(const uint8_t* frame, uint32_t len);
  static const char* actionName(size_t action);  // "passed", "redirected", ...

  // tapflow_xdp_packets_total / _bytes_total{action} and the attach mode, with
  // `labels` plus interface.
  void collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const;

 private:
  void applyTargets(const XdpTargets& next);  // caller holds mutex_
  void replaceLeftover();
  int detach();  // 0, or a negative errno
  void closeAll();

  std::string interface_;
  int ifindex_ = 0;
  XdpAttachMode mode_ = XdpAttachMode::kNative;
  struct xdp_program* prog_ = nullptr;
  bool attached_ = false;
  int xsks_fd_ = -1;
  int cidr4_fd_ = -1;
  int cidr6_fd_ = -1;
  int ports_fd_ = -1;
  int protos_fd_ = -1;
  int config_fd_ = -1;
  int stats_fd_ = -1;
  int cpus_ = 1;  // possible CPUs: the length of a per-CPU map value
  mutable std::mutex mutex_;
  XdpTargets targets_;  // what the maps hold; guarded by mutex_
};

}  // namespace tapflow
