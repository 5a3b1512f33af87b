// What the cluster looks like to the workers: an immutable snapshot resolving an IP
// to its pod, service or node, rebuilt by the control thread from the watch caches
// and swapped atomically, so workers read it without locks; and the pods on this
// node that the configured targets select.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "k8s/kube_objects.h"
#include "k8s/label_selector.h"
#include "k8s/snapshot_cell.h"

namespace tapflow {

// Latest known objects of each kind, keyed by objectKey(). Owned by ClusterState.
struct KubeCaches {
  std::map<std::string, PodObject, std::less<>> pods;
  std::map<std::string, ServiceObject, std::less<>> services;
  std::map<std::string, EndpointSliceObject, std::less<>> endpoint_slices;
  std::map<std::string, NodeObject, std::less<>> nodes;
};

struct SnapshotOptions {
  // Label keys copied into the snapshot (events carry only these).
  std::vector<std::string> label_allow_list;
};

struct Workload {
  std::string kind;  // Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ...; empty: none
  std::string name;
};

// The owning workload from the pod's controller owner reference: a ReplicaSet
// named <deployment>-<pod-template-hash> is its Deployment (the hash taken from
// the pod's pod-template-hash label when present, else recognised by the
// alphabet Kubernetes encodes it with); a Job named <cronjob>-<8+ digits> (the
// scheduled minute the CronJob controller appends) is its CronJob.
Workload resolveWorkload(const std::vector<OwnerReference>& owners, const LabelMap& pod_labels);

struct PodEntry {
  std::string ns;
  std::string name;
  std::string node;
  Workload workload;
  std::vector<std::pair<std::string, std::string>> labels;  // allow-listed only, sorted by key
  std::vector<std::string> services;                        // names, in the pod's namespace
};

struct ServiceEntry {
  std::string ns;
  std::string name;
};

struct NodeEntry {
  std::string name;
};

// What one address is. Pointers into the snapshot: valid while it is held.
struct IpIdentity {
  enum class Kind : uint8_t { kUnknown, kPod, kService, kNode };
  Kind kind = Kind::kUnknown;
  const PodEntry* pod = nullptr;
  const ServiceEntry* service = nullptr;
  const NodeEntry* node = nullptr;
};

class ClusterSnapshot {
 public:
  // Pod IPs win over service IPs, which win over node IPs. Host-network pods and
  // Succeeded/Failed pods are not indexed: a host-network pod's address is its
  // node's, and a finished pod's address may already belong to another pod.
  static std::shared_ptr<const ClusterSnapshot> build(const KubeCaches& caches, const SnapshotOptions& options,
                                                      uint64_t generation);

  // No allocation, no lock: a binary search in one sorted array.
  IpIdentity lookup(const KubeIp& ip) const noexcept;
  IpIdentity lookup(const IpAddress& addr, uint8_t ip_version) const noexcept {
    return lookup(KubeIp{addr, ip_version});
  }

  uint64_t generation() const { return generation_; }
  const std::vector<PodEntry>& pods() const { return pods_; }
  const std::vector<ServiceEntry>& services() const { return services_; }
  const std::vector<NodeEntry>& nodes() const { return nodes_; }
  // Every indexed address with what it resolves to, in address order (for dumps and tests).
  template <typename Fn>
  void forEachAddress(Fn&& fn) const {
    for (const auto& e : index_) fn(e.ip, identityOf(e));
  }

 private:
  struct IndexEntry {
    KubeIp ip;
    IpIdentity::Kind kind;
    uint32_t position;  // into pods_, services_ or nodes_
  };
  IpIdentity identityOf(const IndexEntry& e) const noexcept;

  uint64_t generation_ = 0;
  std::vector<PodEntry> pods_;
  std::vector<ServiceEntry> services_;
  std::vector<NodeEntry> nodes_;
  std::vector<IndexEntry> index_;  // sorted by (ip, kind): the first match of an ip wins
};

// A `targets:` entry: pods in these namespaces (none listed: all) whose labels
// the selector matches, optionally only these ports (none: all ports).
struct PodTarget {
  std::vector<std::string> namespaces;
  LabelSelector selector;
  std::vector<uint16_t> ports;
};

struct TargetedPod {
  std::string ns;
  std::string name;
  std::vector<KubeIp> ips;  // may be empty while the pod starts
  bool host_network = false;
  bool all_ports = false;       // some matching target lists no ports
  std::vector<uint16_t> ports;  // union of the matching targets' ports, sorted; empty if all_ports
  std::vector<size_t> targets;  // indexes of the matching targets
};

// The pods on `node` (empty: every node) selected by any target, sorted by
// namespace/name; Succeeded and Failed pods are left out.
std::vector<TargetedPod> selectTargetedPods(const KubeCaches& caches, const std::vector<PodTarget>& targets,
                                            std::string_view node);

// The watch caches and the published snapshot. Watch threads feed it through
// KubeWatchHandler; the control thread calls publishIfChanged() now and then
// (coalescing a burst of events into one rebuild; it also frees old snapshots);
// each worker makes one reader at start-up and pins the snapshot once per burst:
//
//   auto reader = state.makeReader();                  // start-up
//   ClusterState::Guard snap(*reader);                 // per burst
//   IpIdentity src = snap->lookup(pkt.src, pkt.ip_version);
//
// See snapshot_cell.h for why not std::atomic<std::shared_ptr>.
class ClusterState : public KubeWatchHandler {
 public:
  explicit ClusterState(SnapshotOptions options);

  void onList(ResourceKind kind, std::vector<KubeObject>&& objects) override;
  void onEvent(ResourceKind kind, WatchEventType type, KubeObject&& object) override;

  // Rebuilds and swaps in a new snapshot if anything changed since the last;
  // returns whether it did.
  bool publishIfChanged();

  using Reader = SnapshotCell<ClusterSnapshot>::Reader;
  using Guard = SnapshotCell<ClusterSnapshot>::Guard;
  // Throws std::runtime_error past SnapshotCell::kMaxReaders readers.
  std::unique_ptr<Reader> makeReader() { return cell_.makeReader(); }
  // The latest snapshot for the control thread and tests (takes a mutex).
  std::shared_ptr<const ClusterSnapshot> current() const { return cell_.latest(); }
  size_t retiredSnapshots() const { return cell_.retiredCount(); }

  std::vector<TargetedPod> targetedPods(const std::vector<PodTarget>& targets, std::string_view node) const;
  // Which kinds have had a complete list (enrichment is partial before).
  bool listed(ResourceKind kind) const;

 private:
  SnapshotOptions options_;
  mutable std::mutex mutex_;  // caches_, dirty_, listed_: watch threads and the control thread
  KubeCaches caches_;
  bool dirty_ = true;
  bool listed_[4] = {};
  uint64_t generation_ = 0;
  SnapshotCell<ClusterSnapshot> cell_;
};

}  // namespace tapflow
