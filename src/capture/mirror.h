// Mirror mode: both directions of the node's own interfaces are cloned by a tc
// BPF program into a tapflow-owned veth pair, whose far end is captured; the
// node's traffic itself goes on untouched.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "capture/packet_source.h"
#include "ops/counter.h"
#include "ops/metrics.h"

namespace tapflow {

// Written by the mirror's control thread (and its constructor and destructor).
#define TF_MIRROR_STATS(C)                                                                              \
  C(attached, "Interfaces the mirror filters were attached to (ingress and egress)")                  \
  C(attach_failures, "Interfaces the mirror filters could not be attached to (see the log for why)")   \
  C(reattached, "Interfaces whose tapflow filters had been removed by someone else and were put back") \
  C(vanished, "Mirrored interfaces that disappeared (deleted, or renamed out of the selection)")       \
  C(detach_failures, "tapflow filters or qdiscs that could not be removed at exit")

struct MirrorStats {
  TF_MIRROR_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_MIRROR_STATS(TF_VISIT_COUNTER)
  }
};

// tc filter priority ("pref") of tapflow's filters: 1 runs before the filters
// a CNI adds later, so the clone shows the packet as it was on the wire.
constexpr uint32_t kMirrorFilterPriority = 1;
// tc filter handle of tapflow's filters, derived from the veth name: the same
// tapflow finds its leftovers after a crash, two tapflows with different veth
// pairs do not replace each other's filters.
uint32_t mirrorFilterHandle(const std::string& veth_name);

// Whether interface `name` is mirrored: it equals one of `patterns` or matches
// it as a shell pattern (fnmatch), and is not tapflow's own pair.
bool mirrorSelects(const std::vector<std::string>& patterns, const std::string& name, const std::string& veth_name);

class Mirror {
 public:
  // Replaces a leftover pair and filters of a crashed run, creates the veth
  // pair (MTU `mtu`, 0: the kernel default), attaches to every selected
  // interface and starts the rescan thread. Throws CaptureSetupError naming
  // what is missing (CAP_NET_ADMIN, CAP_BPF, veth support, an interface).
  Mirror(const MirrorConfig& config, uint32_t mtu);
  // Stops the rescan thread, detaches exactly tapflow's filters, removes the
  // clsact qdiscs tapflow created where nothing else remains, deletes the pair.
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // The veth end the clones arrive at: capture this one ("<veth_name>c").
  const std::string& captureInterface() const;
  // Interfaces currently mirrored.
  size_t mirroredInterfaces() const;
  const MirrorStats& stats() const;
  // Gauge of mirrored interfaces, the stats above and the tc program's own
  // per-CPU counters. Called from the metrics thread.
  void collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Builds the mirror and the sources that capture its veth's far end:
// config.mirror.capture "afpacket" (AF_PACKET, config.afpacket settings) or
// "afxdp" (AF_XDP, config.afxdp settings). Each source keeps the mirror alive.
std::vector<std::unique_ptr<PacketSource>> makeMirrorSources(const CaptureConfig& config);

}  // namespace tapflow
