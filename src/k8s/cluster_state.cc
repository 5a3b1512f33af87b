// Snapshot building (owner resolution, label allow-list, EndpointSlice membership,
// the sorted address index), its lookups, target selection, and publication.
#include "k8s/cluster_state.h"

#include <algorithm>
#include <set>

namespace tapflow {

namespace {

// The alphabet of rand.SafeEncodeString, which encodes pod-template-hash.
bool isSafeEncoded(std::string_view s) {
  constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  if (s.empty() || s.size() > 10) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return kAlphabet.find(c) != std::string_view::npos; });
}

bool isFinished(const PodObject& pod) { return pod.phase == "Succeeded" || pod.phase == "Failed"; }

}  // namespace

Workload resolveWorkload(const std::vector<OwnerReference>& owners, const LabelMap& pod_labels) {
  const OwnerReference* owner = nullptr;
  for (const auto& o : owners) {
    if (o.controller) {
      owner = &o;
      break;
    }
  }
  if (!owner) return {};
  Workload w{owner->kind, owner->name};
  const size_t dash = owner->name.rfind('-');
  if (dash == std::string::npos || dash == 0) return w;
  const std::string_view suffix = std::string_view(owner->name).substr(dash + 1);
  if (owner->kind == "ReplicaSet") {
    auto hash = pod_labels.find(std::string_view("pod-template-hash"));
    const bool is_hash = hash != pod_labels.end() ? suffix == hash->second : isSafeEncoded(suffix);
    if (is_hash) w = {"Deployment", owner->name.substr(0, dash)};
  } else if (owner->kind == "Job") {
    const bool is_minute =
        suffix.size() >= 8 && std::all_of(suffix.begin(), suffix.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (is_minute) w = {"CronJob", owner->name.substr(0, dash)};
  }
  return w;
}

std::shared_ptr<const ClusterSnapshot> ClusterSnapshot::build(const KubeCaches& caches, const SnapshotOptions& options,
                                                              uint64_t generation) {
  auto snap = std::make_shared<ClusterSnapshot>();
  snap->generation_ = generation;

  // Service membership from EndpointSlices: by targetRef pod, and by address for
  // endpoints without a targetRef.
  std::map<std::string, std::set<std::string>, std::less<>> services_by_pod;
  std::map<KubeIp, std::set<std::string>> services_by_ip;  // value: "ns/service"
  for (const auto& [key, slice] : caches.endpoint_slices) {
    if (slice.service_name.empty()) continue;
    for (const auto& ep : slice.endpoints) {
      if (ep.target_kind == "Pod" && !ep.target_name.empty()) {
        const std::string& ns = ep.target_ns.empty() ? slice.ns : ep.target_ns;
        services_by_pod[ns + "/" + ep.target_name].insert(slice.service_name);
      } else {
        for (const auto& ip : ep.addresses) services_by_ip[ip].insert(slice.ns + "/" + slice.service_name);
      }
    }
  }

  std::vector<std::string> allow(options.label_allow_list);
  std::sort(allow.begin(), allow.end());
  allow.erase(std::unique(allow.begin(), allow.end()), allow.end());

  for (const auto& [key, pod] : caches.pods) {
    if (pod.host_network || isFinished(pod) || pod.ips.empty()) continue;
    PodEntry entry{pod.ns, pod.name, pod.node_name, resolveWorkload(pod.owners, pod.labels), {}, {}};
    for (const auto& k : allow) {
      auto it = pod.labels.find(std::string_view(k));
      if (it != pod.labels.end()) entry.labels.emplace_back(it->first, it->second);
    }
    std::set<std::string> services;
    if (auto it = services_by_pod.find(key); it != services_by_pod.end()) services = it->second;
    for (const auto& ip : pod.ips) {
      auto it = services_by_ip.find(ip);
      if (it == services_by_ip.end()) continue;
      const std::string prefix = pod.ns + "/";
      for (const auto& s : it->second) {
        if (s.compare(0, prefix.size(), prefix) == 0) services.insert(s.substr(prefix.size()));
      }
    }
    entry.services.assign(services.begin(), services.end());
    const auto position = uint32_t(snap->pods_.size());
    for (const auto& ip : pod.ips) snap->index_.push_back({ip, IpIdentity::Kind::kPod, position});
    snap->pods_.push_back(std::move(entry));
  }
  for (const auto& [key, svc] : caches.services) {
    if (svc.cluster_ips.empty()) continue;
    const auto position = uint32_t(snap->services_.size());
    snap->services_.push_back({svc.ns, svc.name});
    for (const auto& ip : svc.cluster_ips) snap->index_.push_back({ip, IpIdentity::Kind::kService, position});
  }
  for (const auto& [key, node] : caches.nodes) {
    const auto position = uint32_t(snap->nodes_.size());
    snap->nodes_.push_back({node.name});
    for (const auto& ip : node.internal_ips) snap->index_.push_back({ip, IpIdentity::Kind::kNode, position});
    for (const auto& ip : node.external_ips) snap->index_.push_back({ip, IpIdentity::Kind::kNode, position});
  }
  // kPod < kService < kNode in the enum, so after sorting the first entry of an
  // address is the one that wins; later duplicates are dropped.
  std::sort(snap->index_.begin(), snap->index_.end(), [](const IndexEntry& a, const IndexEntry& b) {
    if (!(a.ip == b.ip)) return a.ip < b.ip;
    return a.kind < b.kind;
  });
  snap->index_.erase(std::unique(snap->index_.begin(), snap->index_.end(),
                                 [](const IndexEntry& a, const IndexEntry& b) { return a.ip == b.ip; }),
                     snap->index_.end());
  snap->index_.shrink_to_fit();
  return snap;
}

IpIdentity ClusterSnapshot::identityOf(const IndexEntry& e) const noexcept {
  IpIdentity id;
  id.kind = e.kind;
  switch (e.kind) {
    case IpIdentity::Kind::kPod:
      id.pod = &pods_[e.position];
      break;
    case IpIdentity::Kind::kService:
      id.service = &services_[e.position];
      break;
    case IpIdentity::Kind::kNode:
      id.node = &nodes_[e.position];
      break;
    case IpIdentity::Kind::kUnknown:
      break;
  }
  return id;
}

IpIdentity ClusterSnapshot::lookup(const KubeIp& ip) const noexcept {
  auto it = std::lower_bound(index_.begin(), index_.end(), ip,
                             [](const IndexEntry& e, const KubeIp& key) { return e.ip < key; });
  if (it == index_.end() || !(it->ip == ip)) return {};
  return identityOf(*it);
}

std::vector<TargetedPod> selectTargetedPods(const KubeCaches& caches, const std::vector<PodTarget>& targets,
                                            std::string_view node) {
  std::vector<TargetedPod> out;
  for (const auto& [key, pod] : caches.pods) {
    if (isFinished(pod) || (!node.empty() && pod.node_name != node)) continue;
    TargetedPod hit;
    for (size_t i = 0; i < targets.size(); ++i) {
      const PodTarget& t = targets[i];
      if (!t.namespaces.empty() && std::find(t.namespaces.begin(), t.namespaces.end(), pod.ns) == t.namespaces.end())
        continue;
      if (!t.selector.matches(pod.labels)) continue;
      hit.targets.push_back(i);
      if (t.ports.empty()) hit.all_ports = true;
      hit.ports.insert(hit.ports.end(), t.ports.begin(), t.ports.end());
    }
    if (hit.targets.empty()) continue;
    hit.ns = pod.ns;
    hit.name = pod.name;
    hit.ips = pod.ips;
    hit.host_network = pod.host_network;
    if (hit.all_ports) {
      hit.ports.clear();
    } else {
      std::sort(hit.ports.begin(), hit.ports.end());
      hit.ports.erase(std::unique(hit.ports.begin(), hit.ports.end()), hit.ports.end());
    }
    out.push_back(std::move(hit));
  }
  return out;
}

ClusterState::ClusterState(SnapshotOptions options)
    : options_(std::move(options)), cell_(ClusterSnapshot::build(KubeCaches{}, options_, 0)) {}

namespace {

template <typename T>
void replaceKind(std::map<std::string, T, std::less<>>& cache, std::vector<KubeObject>& objects) {
  cache.clear();
  for (auto& o : objects) {
    if (auto* typed = std::get_if<T>(&o)) {
      std::string key = objectKey(o);
      cache.insert_or_assign(std::move(key), std::move(*typed));
    }
  }
}

template <typename T>
void applyKind(std::map<std::string, T, std::less<>>& cache, WatchEventType type, KubeObject& object) {
  auto* typed = std::get_if<T>(&object);
  if (!typed) return;
  std::string key = objectKey(object);
  if (type == WatchEventType::kDeleted) {
    cache.erase(key);
  } else {
    cache.insert_or_assign(std::move(key), std::move(*typed));
  }
}

}  // namespace

void ClusterState::onList(ResourceKind kind, std::vector<KubeObject>&& objects) {
  std::lock_guard lock(mutex_);
  switch (kind) {
    case ResourceKind::kPod:
      replaceKind(caches_.pods, objects);
      break;
    case ResourceKind::kService:
      replaceKind(caches_.services, objects);
      break;
    case ResourceKind::kEndpointSlice:
      replaceKind(caches_.endpoint_slices, objects);
      break;
    case ResourceKind::kNode:
      replaceKind(caches_.nodes, objects);
      break;
  }
  listed_[size_t(kind)] = true;
  dirty_ = true;
}

void ClusterState::onEvent(ResourceKind kind, WatchEventType type, KubeObject&& object) {
  std::lock_guard lock(mutex_);
  switch (kind) {
    case ResourceKind::kPod:
      applyKind(caches_.pods, type, object);
      break;
    case ResourceKind::kService:
      applyKind(caches_.services, type, object);
      break;
    case ResourceKind::kEndpointSlice:
      applyKind(caches_.endpoint_slices, type, object);
      break;
    case ResourceKind::kNode:
      applyKind(caches_.nodes, type, object);
      break;
  }
  dirty_ = true;
}

bool ClusterState::publishIfChanged() {
  // Built and published under the lock: the caches change under watch threads
  // otherwise, and two callers could publish out of order. A rebuild takes
  // milliseconds even for thousands of pods; watches wait for it, workers never do.
  std::lock_guard lock(mutex_);
  if (!dirty_) {
    cell_.reclaim();  // snapshots retired while workers still held them
    return false;
  }
  dirty_ = false;
  cell_.publish(ClusterSnapshot::build(caches_, options_, ++generation_));
  return true;
}

std::vector<TargetedPod> ClusterState::targetedPods(const std::vector<PodTarget>& targets,
                                                    std::string_view node) const {
  std::lock_guard lock(mutex_);
  return selectTargetedPods(caches_, targets, node);
}

bool ClusterState::listed(ResourceKind kind) const {
  std::lock_guard lock(mutex_);
  return listed_[size_t(kind)];
}

}  // namespace tapflow
