#include "app/target_keeper.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "capture/afxdp_source.h"
#include "export/json_writer.h"
#include "ops/log.h"

namespace tapflow {

std::atomic<bool> g_reload_requested{false};

namespace {

// How often the targets are re-resolved: capture follows a label change
// within this, plus the snapshot's own 100 ms.
constexpr auto kResolveInterval = std::chrono::milliseconds(200);

std::string addressText(const KubeIp& ip) {
  char text[46];
  formatIp(ip.addr, ip.version, text);
  return text;
}

bool sameFilter(const CaptureFilterConfig& a, const CaptureFilterConfig& b) {
  return a.cidrs == b.cidrs && a.ports == b.ports && a.protocols == b.protocols &&
         a.match_nothing == b.match_nothing;
}

}  // namespace

CaptureFilterConfig targetFilter(const std::vector<TargetedPod>& pods, const CaptureFilterConfig& base) {
  CaptureFilterConfig filter;
  filter.protocols = base.protocols;
  std::set<std::string> cidrs;
  std::set<uint32_t> ports;
  bool all_ports = false;
  for (const TargetedPod& pod : pods) {
    for (const KubeIp& ip : pod.ips) cidrs.insert(addressText(ip) + (ip.version == 4 ? "/32" : "/128"));
    all_ports = all_ports || pod.all_ports;
    ports.insert(pod.ports.begin(), pod.ports.end());
  }
  if (cidrs.empty()) {
    filter.match_nothing = true;  // empty lists would match everything
    return filter;
  }
  filter.cidrs.assign(cidrs.begin(), cidrs.end());
  if (!all_ports) filter.ports.assign(ports.begin(), ports.end());
  return filter;
}

MirrorTargets mirrorTargets(const std::vector<TargetedPod>& pods, bool active) {
  MirrorTargets targets;
  targets.active = active;
  std::set<KubeIp> ips;  // sorted and once each: an unchanged set compares equal
  for (const TargetedPod& pod : pods) ips.insert(pod.ips.begin(), pod.ips.end());
  for (const KubeIp& ip : ips) targets.addresses.push_back(MirrorTargetAddress{ip.addr, ip.version});
  return targets;
}

TargetKeeper::TargetKeeper(const Config& config, std::string node_name, ClusterState& state,
                           const std::vector<std::unique_ptr<PacketSource>>& sources)
    : config_path_(config.source_file),
      base_filter_(config.capture.filter),
      node_name_(std::move(node_name)),
      state_(state),
      sources_(sources),
      targets_(config.targets) {}

TargetKeeper::~TargetKeeper() { stop(); }

void TargetKeeper::start() {
  apply();
  thread_ = std::thread([this] { run(); });
}

void TargetKeeper::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TargetKeeper::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, kResolveInterval);
    if (stopping_) break;
    if (g_reload_requested.exchange(false)) reload();
    apply();
  }
}

void TargetKeeper::apply() {
  // No targets (none configured, or a reload removed them): capture.filter decides.
  std::vector<TargetedPod> pods;
  if (!targets_.empty()) pods = state_.targetedPods(targets_, node_name_);
  // A pod still without an address (starting) is not captured: not counted.
  const size_t with_address =
      std::count_if(pods.begin(), pods.end(), [](const TargetedPod& p) { return !p.ips.empty(); });
  pods_.store(with_address, std::memory_order_relaxed);
  // Mirror mode: the same addresses choose the pod interfaces to mirror. The
  // mirror ignores an unchanged set and re-resolves the routes itself.
  updateMirrorTargets(sources_, mirrorTargets(pods, !targets_.empty()));
  const CaptureFilterConfig filter = targets_.empty() ? base_filter_ : targetFilter(pods, base_filter_);
  if (updates_.value() > 0 && sameFilter(filter, applied_)) return;
  try {
    updateAfXdpTargets(sources_, filter);  // mirror mode too: its veth is captured with AF_XDP
  } catch (const std::exception& e) {
    logError(std::string("targets: cannot update the XDP target set: ") + e.what());
    return;
  }
  applied_ = filter;
  updates_.add();
  logInfo("targets updated", {{"pods", std::to_string(with_address)},
                              {"cidrs", std::to_string(filter.cidrs.size())},
                              {"ports", filter.ports.empty() ? "all" : std::to_string(filter.ports.size())},
                              {"targets", std::to_string(targets_.size())}});
}

// SIGHUP: the file's targets replace the running ones; anything else in it
// needs a restart. A file that no longer loads leaves everything as it was.
void TargetKeeper::reload() {
  reloads_.add();
  try {
    const Config reloaded = loadConfigFile(config_path_);
    targets_ = reloaded.targets;
    logInfo("targets reloaded from the config file; other changes need a restart",
            {{"file", config_path_}, {"targets", std::to_string(targets_.size())}});
  } catch (const std::exception& e) {
    reload_errors_.add();
    logError(std::string("targets: reload refused, keeping the running targets: ") + e.what());
  }
}

void TargetKeeper::collectMetrics(MetricsWriter& m) const {
  m.gauge("tapflow_targets_pods", "Pods on this node the targets select", {}, double(pods_.load()));
  m.counter("tapflow_targets_updates_total", "Changes of the XDP target set applied", {}, updates_.value());
  m.counter("tapflow_targets_reloads_total", "SIGHUP reloads of the targets", {}, reloads_.value());
  m.counter("tapflow_targets_reload_errors_total", "SIGHUP reloads refused (the file did not load)", {},
            reload_errors_.value());
}

}  // namespace tapflow
