// Kubernetes metadata in events: each end as pod, service or node, the
// direction from client to server, and nothing at all without a snapshot.
#include <doctest/doctest.h>

#include <string>

#include "export/flow_event.h"
#include "export/kube_fields.h"
#include "k8s/cluster_state.h"

using namespace tapflow;

namespace {

KubeIp ip(const char* text) {
  auto parsed = parseKubeIp(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

std::shared_ptr<const ClusterSnapshot> cluster() {
  KubeCaches c;
  PodObject web;
  web.ns = "shop", web.name = "web-7d4b9c8f5-x2x9q", web.uid = "u1", web.node_name = "node-a", web.phase = "Running";
  web.ips = {ip("10.0.0.1")};
  web.labels = {{"app", "web"}, {"pod-template-hash", "7d4b9c8f5"}};
  web.owners = {{"ReplicaSet", "web-7d4b9c8f5", true}};
  c.pods["shop/" + web.name] = web;
  PodObject client = web;
  client.name = "checkout-0", client.uid = "u2", client.ips = {ip("10.0.0.2")};
  client.labels = {{"app", "checkout"}};
  client.owners = {{"StatefulSet", "checkout", true}};
  c.pods["shop/checkout-0"] = client;
  c.services["shop/web"] = ServiceObject{"shop", "web", {ip("10.96.0.10")}, {{"http", "TCP", 80}}};
  EndpointSliceObject slice{"shop", "web-abc12", "web", {}};
  slice.endpoints.push_back({{ip("10.0.0.1")}, "Pod", "shop", web.name});
  c.endpoint_slices["shop/web-abc12"] = slice;
  c.nodes["node-a"] = {"node-a", {ip("10.0.0.9")}, {}};
  SnapshotOptions options;
  options.label_allow_list = {"app"};
  return ClusterSnapshot::build(c, options, 1);
}

// A TCP flow 10.0.0.2:40000 (client) -> SERVER:80.
Flow flowTo(uint8_t server_last, uint8_t server_first = 10, uint8_t server_second = 0) {
  Flow f;
  f.key.ip_version = 4;
  f.key.proto = 6;
  f.key.lo.bytes[0] = 10, f.key.lo.bytes[3] = 2;  // 10.0.0.2 (when lower)
  f.key.hi.bytes[0] = server_first, f.key.hi.bytes[1] = server_second, f.key.hi.bytes[3] = server_last;
  f.key.port_lo = 40000;
  f.key.port_hi = 80;
  f.client = 0;
  f.record_start = f.first_ts = 1'700'000'000LL * kNanosPerSecond;
  f.last_ts = f.first_ts + 1000;
  return f;
}

}  // namespace

TEST_CASE("a flow between two pods names both, with workload, services and allow-listed labels") {
  const auto snapshot = cluster();
  Flow f = flowTo(1);
  // 10.0.0.1 < 10.0.0.2: the key orders them the other way round.
  std::swap(f.key.lo, f.key.hi);
  std::swap(f.key.port_lo, f.key.port_hi);
  f.client = 1;
  std::string out;
  encodeFlowEvent(f, FlowEndReason::kFin, true, out, snapshot.get());
  CHECK(out.find("\"source\":{\"ip\":\"10.0.0.2\",\"port\":40000,\"packets\":0,\"bytes\":0,\"kubernetes\":{"
                 "\"namespace\":\"shop\",\"pod\":\"checkout-0\",\"node\":\"node-a\",\"workload\":{\"kind\":"
                 "\"StatefulSet\",\"name\":\"checkout\"},\"labels\":{\"app\":\"checkout\"}}}") != std::string::npos);
  CHECK(out.find("\"destination\":{\"ip\":\"10.0.0.1\",\"port\":80,\"packets\":0,\"bytes\":0,\"kubernetes\":{"
                 "\"namespace\":\"shop\",\"pod\":\"web-7d4b9c8f5-x2x9q\",\"node\":\"node-a\",\"workload\":{\"kind\":"
                 "\"Deployment\",\"name\":\"web\"},\"services\":[\"web\"],\"labels\":{\"app\":\"web\"}}}") !=
        std::string::npos);
  CHECK(out.find("\"kubernetes\":{\"direction\":\"pod-to-pod\"}") != std::string::npos);
  CHECK(out.find("pod-template-hash") == std::string::npos);  // not on the allow-list
}

TEST_CASE("directions: pod to service, pod to the outside, the outside to a pod, node to node") {
  const auto snapshot = cluster();
  auto id = [&](const char* text) { return snapshot->lookup(ip(text)); };
  CHECK(std::string(kubeDirection(id("10.0.0.2"), id("10.96.0.10"))) == "pod-to-service");
  CHECK(std::string(kubeDirection(id("10.0.0.2"), id("192.0.2.7"))) == "egress");
  CHECK(std::string(kubeDirection(id("10.0.0.2"), id("10.0.0.9"))) == "egress");  // a node is outside the pods
  CHECK(std::string(kubeDirection(id("192.0.2.7"), id("10.0.0.1"))) == "ingress");
  CHECK(std::string(kubeDirection(id("10.0.0.9"), id("10.96.0.10"))) == "ingress");
  CHECK(kubeDirection(id("10.0.0.9"), id("192.0.2.7")) == nullptr);

  Flow to_service = flowTo(10, 10, 96);
  std::string out;
  encodeFlowEvent(to_service, FlowEndReason::kFin, true, out, snapshot.get());
  CHECK(out.find("\"kubernetes\":{\"namespace\":\"shop\",\"service\":\"web\"}") != std::string::npos);
  CHECK(out.find("\"direction\":\"pod-to-service\"") != std::string::npos);
  Flow to_node = flowTo(9);
  out.clear();
  encodeFlowEvent(to_node, FlowEndReason::kFin, true, out, snapshot.get());
  CHECK(out.find("\"kubernetes\":{\"node\":\"node-a\"}") != std::string::npos);
}

TEST_CASE("without a snapshot, or for addresses it does not know, events carry no kubernetes fields") {
  std::string out;
  encodeFlowEvent(flowTo(1), FlowEndReason::kFin, true, out);
  CHECK(out.find("kubernetes") == std::string::npos);
  const auto snapshot = cluster();
  Flow unknown = flowTo(7, 192, 0);
  unknown.key.lo.bytes[0] = 198, unknown.key.lo.bytes[3] = 5;  // 198.0.0.5 -> 192.0.0.7: neither known
  out.clear();
  encodeFlowEvent(unknown, FlowEndReason::kFin, true, out, snapshot.get());
  CHECK(out.find("kubernetes") == std::string::npos);
}

TEST_CASE("a pod is referred to as namespace/pod; a service, a node or an unknown address as nothing") {
  const auto snapshot = cluster();
  CHECK(podReference(snapshot->lookup(ip("10.0.0.2"))) == "shop/checkout-0");
  CHECK(podReference(snapshot->lookup(ip("10.0.0.1"))) == "shop/web-7d4b9c8f5-x2x9q");
  CHECK(podReference(snapshot->lookup(ip("10.96.0.10"))).empty());  // the service
  CHECK(podReference(snapshot->lookup(ip("10.0.0.9"))).empty());    // the node
  CHECK(podReference(snapshot->lookup(ip("10.0.0.77"))).empty());   // unknown
  CHECK(podReference(IpIdentity{}).empty());
}
