// Keeps the XDP program's target set in step with the cluster: the configured
// targets resolved to the pods on this node (their addresses, and the ports
// the matching targets name), re-resolved as pods start, change labels and
// stop, and replaced on SIGHUP from the reloaded config file, without
// restarting capture. In mirror mode the same addresses also choose which
// pod interfaces are mirrored.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/config.h"
#include "capture/mirror.h"
#include "capture/packet_source.h"
#include "k8s/cluster_state.h"
#include "ops/counter.h"
#include "ops/metrics.h"

namespace tapflow {

// Set by SIGHUP (installed by main); the keeper reloads the targets.
extern std::atomic<bool> g_reload_requested;

// The capture filter that selects `pods` (CIDRs and ports), keeping
// `base.protocols`. With no pod, the filter says it matches nothing
// (match_nothing), which the XDP program honours: nothing is captured.
CaptureFilterConfig targetFilter(const std::vector<TargetedPod>& pods, const CaptureFilterConfig& base);

// What the mirror is told: `active` when targets are configured, and the
// addresses of `pods` (a pod without one yet adds none).
MirrorTargets mirrorTargets(const std::vector<TargetedPod>& pods, bool active);

class TargetKeeper {
 public:
  TargetKeeper(const Config& config, std::string node_name, ClusterState& state,
               const std::vector<std::unique_ptr<PacketSource>>& sources);
  ~TargetKeeper();

  // Applies the current resolution at once (before capture starts), then keeps it up to date.
  void start();
  void stop();
  void collectMetrics(MetricsWriter& m) const;

 private:
  void run();
  void apply();
  void reload();

  std::string config_path_;
  CaptureFilterConfig base_filter_;
  std::string node_name_;
  ClusterState& state_;
  const std::vector<std::unique_ptr<PacketSource>>& sources_;
  std::vector<PodTarget> targets_;  // keeper thread only; empty: capture.filter applies
  CaptureFilterConfig applied_;
  std::atomic<size_t> pods_{0};
  Counter updates_;
  Counter reloads_;
  Counter reload_errors_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tapflow
