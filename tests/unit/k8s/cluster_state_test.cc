// The cluster snapshot: workload resolution from owner references, IP lookups of
// pods, services and nodes (host-network pods as their node), label allow-list,
// service membership from EndpointSlices, target selection and publication.
#include "k8s/cluster_state.h"

#include <doctest/doctest.h>

#include <thread>

using namespace tapflow;

namespace {

KubeIp ip(const char* text) {
  auto parsed = parseKubeIp(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

PodObject pod(std::string ns, std::string name, std::string node, std::vector<const char*> ips, LabelMap labels = {},
              std::vector<OwnerReference> owners = {}) {
  PodObject p;
  p.ns = std::move(ns);
  p.name = std::move(name);
  p.uid = "uid-" + p.name;
  p.node_name = std::move(node);
  p.phase = "Running";
  for (const char* a : ips) p.ips.push_back(ip(a));
  p.labels = std::move(labels);
  p.owners = std::move(owners);
  return p;
}

KubeCaches sampleCluster() {
  KubeCaches c;
  auto add = [&](PodObject p) { c.pods[p.ns + "/" + p.name] = std::move(p); };
  add(pod("shop", "web-7d4b9c8f5-x2x9q", "node-a", {"10.244.1.5", "fd00::105"},
          {{"app", "web"}, {"pod-template-hash", "7d4b9c8f5"}, {"secret", "s"}},
          {{"ReplicaSet", "web-7d4b9c8f5", true}}));
  add(pod("shop", "db-0", "node-a", {"10.244.1.6"}, {{"app", "db"}}, {{"StatefulSet", "db", true}}));
  add(pod("kube-system", "cilium-abcde", "node-b", {"10.0.0.2"}, {{"k8s-app", "cilium"}},
          {{"DaemonSet", "cilium", true}}));
  c.pods["kube-system/cilium-abcde"].host_network = true;
  auto done = pod("shop", "report-28391520-abcde", "node-a", {"10.244.1.9"}, {{"app", "report"}},
                  {{"Job", "report-28391520", true}});
  done.phase = "Succeeded";
  add(done);

  ServiceObject web{"shop", "web", {ip("10.96.0.10"), ip("fd00:96::10")}, {{"http", "TCP", 80}}};
  c.services["shop/web"] = web;
  ServiceObject headless{"shop", "db", {}, {}};
  c.services["shop/db"] = headless;

  EndpointSliceObject slice{"shop", "web-abc12", "web", {}};
  slice.endpoints.push_back({{ip("10.244.1.5")}, "Pod", "shop", "web-7d4b9c8f5-x2x9q"});
  slice.endpoints.push_back({{ip("10.244.1.6")}, "", "", ""});  // no targetRef: matched by address
  c.endpoint_slices["shop/web-abc12"] = slice;

  c.nodes["node-a"] = {"node-a", {ip("10.0.0.1")}, {ip("203.0.113.1")}};
  c.nodes["node-b"] = {"node-b", {ip("10.0.0.2")}, {}};
  return c;
}

}  // namespace

TEST_CASE("a ReplicaSet owner resolves to its Deployment by stripping the pod-template-hash") {
  Workload w = resolveWorkload({{"ReplicaSet", "web-7d4b9c8f5", true}}, {{"pod-template-hash", "7d4b9c8f5"}});
  CHECK(w.kind == "Deployment");
  CHECK(w.name == "web");
  // Without the label, the hash is recognised by Kubernetes' encoding alphabet.
  w = resolveWorkload({{"ReplicaSet", "my-api-5c9f8b7d6d", true}}, {});
  CHECK(w.kind == "Deployment");
  CHECK(w.name == "my-api");
  // A suffix that is not a hash (vowels, wrong label) leaves the ReplicaSet.
  w = resolveWorkload({{"ReplicaSet", "standalone-replicas", true}}, {});
  CHECK(w.kind == "ReplicaSet");
  CHECK(w.name == "standalone-replicas");
  w = resolveWorkload({{"ReplicaSet", "web-7d4b9c8f5", true}}, {{"pod-template-hash", "other"}});
  CHECK(w.kind == "ReplicaSet");
}

TEST_CASE("StatefulSet, DaemonSet and Job owners are the workload; a CronJob's Job resolves to the CronJob") {
  CHECK(resolveWorkload({{"StatefulSet", "db", true}}, {}).kind == "StatefulSet");
  CHECK(resolveWorkload({{"DaemonSet", "cilium", true}}, {}).name == "cilium");
  Workload job = resolveWorkload({{"Job", "migrate-2", true}}, {});
  CHECK(job.kind == "Job");
  CHECK(job.name == "migrate-2");
  Workload cron = resolveWorkload({{"Job", "nightly-report-28391520", true}}, {});
  CHECK(cron.kind == "CronJob");
  CHECK(cron.name == "nightly-report");
}

TEST_CASE("only the controller owner counts; a pod without one has no workload") {
  CHECK(resolveWorkload({{"ConfigMap", "x", false}, {"StatefulSet", "db", true}}, {}).name == "db");
  CHECK(resolveWorkload({{"ReplicaSet", "web-7d4b9c8f5", false}}, {}).kind.empty());
  CHECK(resolveWorkload({}, {}).kind.empty());
}

TEST_CASE("a pod IP resolves to pod, namespace, node, workload, allow-listed labels and services") {
  auto snap = ClusterSnapshot::build(sampleCluster(), {{"app", "missing"}}, 7);
  CHECK(snap->generation() == 7);
  for (const char* addr : {"10.244.1.5", "fd00::105"}) {
    IpIdentity id = snap->lookup(ip(addr));
    REQUIRE(id.kind == IpIdentity::Kind::kPod);
    CHECK(id.pod->ns == "shop");
    CHECK(id.pod->name == "web-7d4b9c8f5-x2x9q");
    CHECK(id.pod->node == "node-a");
    CHECK(id.pod->workload.kind == "Deployment");
    CHECK(id.pod->workload.name == "web");
    REQUIRE(id.pod->labels.size() == 1);  // "secret" and pod-template-hash are not allow-listed
    CHECK(id.pod->labels[0] == std::pair<std::string, std::string>{"app", "web"});
    CHECK(id.pod->services == std::vector<std::string>{"web"});
  }
  IpIdentity db = snap->lookup(ip("10.244.1.6"));
  REQUIRE(db.kind == IpIdentity::Kind::kPod);
  CHECK(db.pod->workload.kind == "StatefulSet");
  CHECK(db.pod->services == std::vector<std::string>{"web"});  // endpoint matched by address
}

TEST_CASE("service ClusterIPs and node addresses resolve; host-network pods resolve to their node") {
  auto snap = ClusterSnapshot::build(sampleCluster(), {}, 1);
  IpIdentity svc = snap->lookup(ip("10.96.0.10"));
  REQUIRE(svc.kind == IpIdentity::Kind::kService);
  CHECK(svc.service->name == "web");
  CHECK(snap->lookup(ip("fd00:96::10")).kind == IpIdentity::Kind::kService);
  IpIdentity node = snap->lookup(ip("203.0.113.1"));
  REQUIRE(node.kind == IpIdentity::Kind::kNode);
  CHECK(node.node->name == "node-a");
  IpIdentity host_net = snap->lookup(ip("10.0.0.2"));
  REQUIRE(host_net.kind == IpIdentity::Kind::kNode);
  CHECK(host_net.node->name == "node-b");
  CHECK(snap->services().size() == 1);  // the headless service has no ClusterIP to index
}

TEST_CASE("finished pods and unknown addresses do not resolve; v4 and v6 keys do not collide") {
  auto snap = ClusterSnapshot::build(sampleCluster(), {}, 1);
  CHECK(snap->lookup(ip("10.244.1.9")).kind == IpIdentity::Kind::kUnknown);  // Succeeded Job pod
  CHECK(snap->lookup(ip("192.0.2.1")).kind == IpIdentity::Kind::kUnknown);
  IpAddress v4_bytes_as_v6 = ip("10.244.1.5").addr;
  CHECK(snap->lookup(v4_bytes_as_v6, 6).kind == IpIdentity::Kind::kUnknown);
  CHECK(snap->lookup(v4_bytes_as_v6, 4).kind == IpIdentity::Kind::kPod);
}

TEST_CASE("a pod IP wins over a node or service with the same address") {
  KubeCaches c = sampleCluster();
  c.nodes["node-c"] = {"node-c", {ip("10.244.1.5")}, {}};
  c.services["shop/clash"] = {"shop", "clash", {ip("10.244.1.6")}, {}};
  auto snap = ClusterSnapshot::build(c, {}, 1);
  CHECK(snap->lookup(ip("10.244.1.5")).kind == IpIdentity::Kind::kPod);
  CHECK(snap->lookup(ip("10.244.1.6")).kind == IpIdentity::Kind::kPod);
}

TEST_CASE("targets select this node's pods by namespace, selector and ports") {
  KubeCaches c = sampleCluster();
  std::string error;
  std::vector<PodTarget> targets;
  targets.push_back({{"shop"}, *LabelSelector::parse("app in (web,db)", error), {5060, 80}});
  targets.push_back({{}, *LabelSelector::parse("app=web", error), {443, 80}});
  targets.push_back({{"kube-system"}, *LabelSelector::parse("", error), {}});
  auto on_a = selectTargetedPods(c, targets, "node-a");
  REQUIRE(on_a.size() == 2);  // the Succeeded pod and node-b's pod are left out
  CHECK(on_a[0].name == "db-0");
  CHECK(on_a[0].targets == std::vector<size_t>{0});
  CHECK(on_a[0].ports == std::vector<uint16_t>{80, 5060});
  CHECK(on_a[1].name == "web-7d4b9c8f5-x2x9q");
  CHECK(on_a[1].targets == std::vector<size_t>{0, 1});
  CHECK(on_a[1].ports == std::vector<uint16_t>{80, 443, 5060});
  CHECK(on_a[1].ips.size() == 2);
  auto on_b = selectTargetedPods(c, targets, "node-b");
  REQUIRE(on_b.size() == 1);
  CHECK(on_b[0].host_network);
  CHECK(on_b[0].all_ports);
  CHECK(on_b[0].ports.empty());
  CHECK(selectTargetedPods(c, {}, "node-a").empty());
  CHECK(selectTargetedPods(c, targets, "").size() == 3);
}

TEST_CASE("cluster state applies lists and events and publishes a new snapshot only on change") {
  ClusterState state({{"app"}});
  CHECK(state.current()->lookup(ip("10.244.1.5")).kind == IpIdentity::Kind::kUnknown);
  CHECK_FALSE(state.listed(ResourceKind::kPod));
  KubeCaches c = sampleCluster();
  std::vector<KubeObject> pods;
  for (auto& [k, p] : c.pods) pods.emplace_back(p);
  state.onList(ResourceKind::kPod, std::move(pods));
  CHECK(state.listed(ResourceKind::kPod));
  CHECK(state.publishIfChanged());
  CHECK_FALSE(state.publishIfChanged());
  auto held = state.current();
  CHECK(held->lookup(ip("10.244.1.5")).pod->name == "web-7d4b9c8f5-x2x9q");

  PodObject moved = c.pods["shop/web-7d4b9c8f5-x2x9q"];
  moved.ips = {ip("10.244.1.77")};
  state.onEvent(ResourceKind::kPod, WatchEventType::kModified, moved);
  state.onEvent(ResourceKind::kPod, WatchEventType::kDeleted, KubeObject(c.pods["shop/db-0"]));
  CHECK(state.publishIfChanged());
  auto now = state.current();
  CHECK(now->generation() > held->generation());
  CHECK(now->lookup(ip("10.244.1.77")).kind == IpIdentity::Kind::kPod);
  CHECK(now->lookup(ip("10.244.1.5")).kind == IpIdentity::Kind::kUnknown);
  CHECK(now->lookup(ip("10.244.1.6")).kind == IpIdentity::Kind::kUnknown);
  // The snapshot a worker still holds is unchanged and valid.
  CHECK(held->lookup(ip("10.244.1.5")).pod->name == "web-7d4b9c8f5-x2x9q");
  // A relist replaces everything of that kind.
  state.onList(ResourceKind::kPod, {});
  state.publishIfChanged();
  CHECK(state.current()->pods().empty());
}

TEST_CASE("workers keep resolving through their readers while the control thread publishes") {
  ClusterState state({});
  KubeCaches c = sampleCluster();
  std::atomic<bool> done{false};
  std::atomic<uint64_t> bursts{0};
  auto worker = [&] {
    auto reader = state.makeReader();
    while (!done.load()) {
      ClusterState::Guard snap(*reader);  // once per burst
      for (int i = 0; i < 100; ++i) {
        IpIdentity id = snap->lookup(ip("10.244.1.5"));
        if (id.kind == IpIdentity::Kind::kPod && id.pod->name != "web-7d4b9c8f5-x2x9q") FAIL("torn snapshot");
      }
      bursts.fetch_add(1);
    }
  };
  std::thread w1(worker), w2(worker);
  // At least 300 swaps, and on until the workers have read through some of
  // them: on a loaded machine their threads may start late.
  for (int round = 0; round < 300 || (bursts.load() < 20 && round < 10'000'000); ++round) {
    std::vector<KubeObject> pods;
    for (auto& [k, p] : c.pods) pods.emplace_back(p);
    if (round % 2) pods.clear();
    state.onList(ResourceKind::kPod, std::move(pods));
    state.publishIfChanged();
  }
  done = true;
  w1.join();
  w2.join();
  CHECK(bursts.load() > 0);
  state.publishIfChanged();  // nothing changed: reclaims what the workers held
  CHECK(state.retiredSnapshots() == 0);
}
