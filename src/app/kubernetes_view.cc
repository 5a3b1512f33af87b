#include "app/kubernetes_view.h"

#include <chrono>
#include <stdexcept>
#include <string>

#include "ops/log.h"

namespace tapflow {
namespace {

struct Resource {
  ResourceKind kind;
  const char* path;
};
// Cluster-wide: a flow's other end may be a pod on any node, or a service.
constexpr Resource kResources[] = {
    {ResourceKind::kPod, "/api/v1/pods"},
    {ResourceKind::kService, "/api/v1/services"},
    {ResourceKind::kEndpointSlice, "/apis/discovery.k8s.io/v1/endpointslices"},
    {ResourceKind::kNode, "/api/v1/nodes"},
};

// How often a changed cluster becomes a new snapshot: events within it coalesce.
constexpr auto kPublishInterval = std::chrono::milliseconds(100);

KubeConnection connect(const KubernetesConfig& config) {
  std::string error;
  std::optional<KubeConnection> connection =
      config.kubeconfig.empty() ? loadInClusterConfig(error) : loadKubeconfig(config.kubeconfig, error);
  if (!connection) {
    throw std::runtime_error("kubernetes: " + error +
                             (config.kubeconfig.empty() ? " (in-cluster settings; set kubernetes.kubeconfig to run "
                                                          "outside a cluster)"
                                                        : ""));
  }
  return *connection;
}

SnapshotOptions snapshotOptions(const KubernetesConfig& config) {
  SnapshotOptions options;
  options.label_allow_list = config.labels;
  return options;
}

}  // namespace

KubernetesView::KubernetesView(const KubernetesConfig& config) : state_(snapshotOptions(config)) {
  const KubeConnection connection = connect(config);
  for (const Resource& r : kResources) {
    KubeWatchOptions options;
    options.kind = r.kind;
    options.path = r.path;
    watches_.push_back(std::make_unique<KubeWatch>(connection, options, state_));
  }
  logInfo("kubernetes: watching pods, services, endpointslices and nodes", {{"server", connection.server}});
}

KubernetesView::~KubernetesView() { stop(); }

void KubernetesView::start() {
  for (auto& w : watches_) w->start();
  publisher_ = std::thread([this] { run(); });
}

bool KubernetesView::allListed() const {
  for (const Resource& r : kResources) {
    if (!state_.listed(r.kind)) return false;
  }
  return true;
}

bool KubernetesView::waitForLists(Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout);
  while (!allListed()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      logWarn("kubernetes: the API server did not list everything in time; events go out without enrichment "
              "until it does (tapflow_kubernetes_events_unenriched_total)");
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  state_.publishIfChanged();
  complete_.store(true, std::memory_order_relaxed);
  return true;
}

void KubernetesView::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    state_.publishIfChanged();
    bool connected = allListed();
    for (const auto& w : watches_) connected = connected && w->connected();
    complete_.store(connected, std::memory_order_relaxed);
    wake_.wait_for(lock, kPublishInterval);
  }
}

void KubernetesView::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (publisher_.joinable()) publisher_.join();
  for (auto& w : watches_) w->stop();
}

void KubernetesView::collectMetrics(MetricsWriter& m) const {
  for (size_t i = 0; i < watches_.size(); ++i) {
    m.stats("kube_watch", watches_[i]->stats(), {{"resource", resourceKindName(kResources[i].kind)}});
    m.gauge("tapflow_kube_watch_connected", "1 while the watch's last request to the API server succeeded",
            {{"resource", resourceKindName(kResources[i].kind)}}, watches_[i]->connected() ? 1 : 0);
  }
  m.gauge("tapflow_kubernetes_view_complete", "1 while every resource is listed and every watch connected", {},
          complete_.load(std::memory_order_relaxed) ? 1 : 0);
}

}  // namespace tapflow
