// The agent's view of the cluster: four list-then-watch streams (pods,
// services, EndpointSlices, nodes, cluster-wide, since either end of a flow
// may be anywhere) feeding the ClusterState the workers enrich events from,
// and a thread that publishes a new snapshot when something changed and says
// whether the view is complete.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "app/config.h"
#include "k8s/api_client.h"
#include "k8s/cluster_state.h"
#include "ops/metrics.h"

namespace tapflow {

class KubernetesView {
 public:
  // Reads the kubeconfig or the in-cluster settings; throws std::runtime_error
  // saying what is missing.
  explicit KubernetesView(const KubernetesConfig& config);
  ~KubernetesView();

  void start();
  // Waits until every resource has been listed once, or `timeout` has passed
  // (the API server may be away: capture goes on without enrichment).
  bool waitForLists(Duration timeout);
  void stop();

  ClusterState& state() { return state_; }
  // Every resource listed and every watch connected: events are fully enriched.
  const std::atomic<bool>& complete() const { return complete_; }
  void collectMetrics(MetricsWriter& m) const;

 private:
  void run();
  bool allListed() const;

  ClusterState state_;
  std::vector<std::unique_ptr<KubeWatch>> watches_;
  std::atomic<bool> complete_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread publisher_;
};

}  // namespace tapflow
