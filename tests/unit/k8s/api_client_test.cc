// The API client's parts that need no server: reducing API objects to the kept
// fields (and surviving hostile JSON), kubeconfig and in-cluster settings, and
// stop() returning promptly while a connection hangs. The list/watch protocol
// itself is tested against tests/integration/fake_kube_api.py.
#include "k8s/api_client.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace tapflow;

namespace {

const char* kPodJson = R"({
  "kind": "Pod", "apiVersion": "v1",
  "metadata": {
    "name": "web-7d4b9c8f5-x2x9q", "generateName": "web-7d4b9c8f5-", "namespace": "shop",
    "uid": "6f1c1f7e-3b1a-4c55-9d0e-2f4f1f0b8a11", "resourceVersion": "123456",
    "creationTimestamp": "2026-11-27T08:00:00Z",
    "labels": {"app": "web", "pod-template-hash": "7d4b9c8f5"},
    "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-27T08:00:00Z"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c8f5",
                         "uid": "0d6c9a3e", "controller": true, "blockOwnerDeletion": true}],
    "managedFields": [{"manager": "kubelet", "operation": "Update", "fieldsV1": {"f:status": {}}}]
  },
  "spec": {
    "containers": [{"name": "main", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
    "nodeName": "node-a", "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"
  },
  "status": {
    "phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.244.1.5",
    "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::105"}],
    "conditions": [{"type": "Ready", "status": "True"}], "qosClass": "BestEffort"
  }
})";

template <typename T>
T parseAs(ResourceKind kind, std::string_view json) {
  std::string error;
  auto object = parseKubeObjectJson(kind, json, error);
  INFO(error);
  REQUIRE(object.has_value());
  REQUIRE(std::holds_alternative<T>(*object));
  return std::get<T>(*object);
}

std::string writeTemp(const std::string& name, const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / ("tapflow-k8s-unit-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("a pod keeps namespace, name, uid, node, network, IPs, labels and controller owner only") {
  auto pod = parseAs<PodObject>(ResourceKind::kPod, kPodJson);
  CHECK(pod.ns == "shop");
  CHECK(pod.name == "web-7d4b9c8f5-x2x9q");
  CHECK(pod.uid == "6f1c1f7e-3b1a-4c55-9d0e-2f4f1f0b8a11");
  CHECK(pod.node_name == "node-a");
  CHECK(pod.phase == "Running");
  CHECK_FALSE(pod.host_network);
  REQUIRE(pod.ips.size() == 2);
  CHECK(formatKubeIp(pod.ips[0]) == "10.244.1.5");
  CHECK(formatKubeIp(pod.ips[1]) == "fd00::105");
  CHECK(pod.labels.size() == 2);
  REQUIRE(pod.owners.size() == 1);
  CHECK(pod.owners[0].kind == "ReplicaSet");
  CHECK(pod.owners[0].controller);
  CHECK(objectKey(KubeObject(pod)) == "shop/web-7d4b9c8f5-x2x9q");
}

TEST_CASE("a pod without podIPs falls back to podIP; host-network is read") {
  auto pod = parseAs<PodObject>(ResourceKind::kPod, R"({"metadata":{"name":"p","namespace":"n"},
      "spec":{"hostNetwork":true},"status":{"podIP":"10.0.0.9"}})");
  CHECK(pod.host_network);
  REQUIRE(pod.ips.size() == 1);
  CHECK(formatKubeIp(pod.ips[0]) == "10.0.0.9");
  auto pending = parseAs<PodObject>(ResourceKind::kPod, R"({"metadata":{"name":"p","namespace":"n"}})");
  CHECK(pending.ips.empty());
}

TEST_CASE("a service keeps its ClusterIPs and ports; a headless service has no IP") {
  auto svc =
      parseAs<ServiceObject>(ResourceKind::kService, R"({"kind":"Service","metadata":{"name":"web","namespace":"shop"},
      "spec":{"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10","fd00:96::10"],"type":"ClusterIP",
              "ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080},{"port":70000},{"port":"x"}]}})");
  REQUIRE(svc.cluster_ips.size() == 2);
  CHECK(formatKubeIp(svc.cluster_ips[1]) == "fd00:96::10");
  REQUIRE(svc.ports.size() == 1);  // out-of-range and mistyped ports dropped
  CHECK(svc.ports[0].port == 80);
  CHECK(svc.ports[0].protocol == "TCP");
  auto headless = parseAs<ServiceObject>(ResourceKind::kService, R"({"metadata":{"name":"db","namespace":"shop"},
      "spec":{"clusterIP":"None","clusterIPs":["None"]}})");
  CHECK(headless.cluster_ips.empty());
}

TEST_CASE("an EndpointSlice keeps its service name, addresses and target pods") {
  auto slice = parseAs<EndpointSliceObject>(ResourceKind::kEndpointSlice, R"({"kind":"EndpointSlice",
      "apiVersion":"discovery.k8s.io/v1","addressType":"IPv4",
      "metadata":{"name":"web-abc12","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},
      "endpoints":[{"addresses":["10.244.1.5"],"conditions":{"ready":true},
                    "targetRef":{"kind":"Pod","namespace":"shop","name":"web-1"},"nodeName":"node-a"},
                   {"addresses":["not-an-ip"]},
                   {"addresses":["10.244.1.6"]}],
      "ports":[{"name":"http","protocol":"TCP","port":8080}]})");
  CHECK(slice.service_name == "web");
  REQUIRE(slice.endpoints.size() == 2);  // the endpoint without a valid address is dropped
  CHECK(slice.endpoints[0].target_kind == "Pod");
  CHECK(slice.endpoints[0].target_name == "web-1");
  CHECK(slice.endpoints[1].target_name.empty());
}

TEST_CASE("a node keeps its name and InternalIP/ExternalIP addresses") {
  auto node = parseAs<NodeObject>(ResourceKind::kNode, R"({"kind":"Node","metadata":{"name":"node-a"},
      "status":{"addresses":[{"type":"InternalIP","address":"10.0.0.1"},{"type":"Hostname","address":"node-a"},
                             {"type":"ExternalIP","address":"203.0.113.1"},{"type":"InternalDNS","address":"x"}]}})");
  CHECK(node.name == "node-a");
  REQUIRE(node.internal_ips.size() == 1);
  REQUIRE(node.external_ips.size() == 1);
  CHECK(formatKubeIp(node.external_ips[0]) == "203.0.113.1");
  CHECK(objectKey(KubeObject(node)) == "node-a");
}

TEST_CASE("hostile JSON is refused without recursion or crash") {
  std::string error;
  std::string deep(200000, '[');
  CHECK_FALSE(parseKubeObjectJson(ResourceKind::kPod, deep, error));
  std::string deep_object = R"({"metadata":{"name":"p","namespace":"n","labels":)" + std::string(100000, '[') + "}}";
  CHECK_FALSE(parseKubeObjectJson(ResourceKind::kPod, deep_object, error));
  CHECK_FALSE(parseKubeObjectJson(ResourceKind::kPod, R"({"metadata":{"name":5,"namespace":"n"}})", error));
  CHECK_FALSE(parseKubeObjectJson(ResourceKind::kPod, R"({"metadata":{"name":"p"}})", error));  // no namespace
  CHECK_FALSE(parseKubeObjectJson(ResourceKind::kPod, "[]", error));
  CHECK_FALSE(parseKubeObjectJson(ResourceKind::kNode, R"({"metadata":{"name":")" + std::string(300, 'n') + "\"}}",
                                  error));  // longer than any valid name
  // Wrong types in optional places are ignored, not trusted.
  auto pod = parseAs<PodObject>(ResourceKind::kPod, R"({"metadata":{"name":"p","namespace":"n","labels":[1],
      "ownerReferences":{"kind":"x"}},"spec":{"hostNetwork":"yes","nodeName":7},"status":{"podIPs":[1,{"ip":9}]}})");
  CHECK(pod.labels.empty());
  CHECK(pod.owners.empty());
  CHECK_FALSE(pod.host_network);
  CHECK(pod.ips.empty());
  // Caps: labels and IPs.
  std::string labels = R"({"metadata":{"name":"p","namespace":"n","labels":{)";
  // Appended piece by piece: g++ 12 warns (-Wrestrict, a false positive) on
  // a const char* + std::string temporary chain here.
  for (int i = 0; i < 500; ++i) {
    if (i) labels += ',';
    labels += "\"k";
    labels += std::to_string(i);
    labels += "\":\"v\"";
  }
  labels += R"(}},"status":{"podIPs":[)";
  for (int i = 0; i < 50; ++i) {
    if (i) labels += ',';
    labels += "{\"ip\":\"10.0.0.";
    labels += std::to_string(i);
    labels += "\"}";
  }
  labels += "]}}";
  auto crowded = parseAs<PodObject>(ResourceKind::kPod, labels);
  CHECK(crowded.labels.size() == 128);
  CHECK(crowded.ips.size() == 8);
}

TEST_CASE("kubeconfig: current-context, CA file relative to the file, token, client certificate data") {
  std::string path = writeTemp("kubeconfig", R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: certs/ca.crt
- name: prod-cluster
  cluster:
    server: https://prod.example.com
    certificate-authority-data: LS0tLS1CRUdJTg==
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
users:
- name: dev-user
  user:
    token: abc.def
- name: prod-user
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: exec-user
  user:
    exec: {command: aws}
)");
  std::string error;
  auto dev = loadKubeconfig(path, error);
  REQUIRE_MESSAGE(dev.has_value(), error);
  CHECK(dev->server == "https://127.0.0.1:6443");
  CHECK(dev->ca_file == std::filesystem::path(path).parent_path().string() + "/certs/ca.crt");
  CHECK(dev->token == "abc.def");
  auto prod = loadKubeconfig(path, error, "prod");
  REQUIRE_MESSAGE(prod.has_value(), error);
  CHECK(prod->ca_data == "-----BEGIN");
  CHECK(prod->client_cert_data == "cert");
  CHECK(prod->client_key_data == "key");
  CHECK_FALSE(loadKubeconfig(path, error, "missing"));
  CHECK(error.find("context 'missing' not found") != std::string::npos);
  CHECK_FALSE(loadKubeconfig(path + ".absent", error));
  CHECK(error.find(path + ".absent") != std::string::npos);

  std::string exec = writeTemp("kubeconfig-exec", R"(current-context: e
clusters: [{name: c, cluster: {server: "https://x"}}]
contexts: [{name: e, context: {cluster: c, user: u}}]
users: [{name: u, user: {exec: {command: aws}}}]
)");
  CHECK_FALSE(loadKubeconfig(exec, error));
  CHECK(error.find("exec and auth-provider plugins are not supported") != std::string::npos);
  std::string http = writeTemp("kubeconfig-http", R"(current-context: e
clusters: [{name: c, cluster: {server: "http://x"}}]
contexts: [{name: e, context: {cluster: c}}]
)");
  CHECK_FALSE(loadKubeconfig(http, error));
  CHECK(error.find("https://") != std::string::npos);
}

TEST_CASE("in-cluster settings come from the service environment and the service-account files") {
  InClusterPaths paths{writeTemp("token", "tok\n"), writeTemp("ca.crt", "pem")};
  std::string error;
  unsetenv("KUBERNETES_SERVICE_HOST");
  CHECK_FALSE(loadInClusterConfig(error, paths));
  CHECK(error.find("KUBERNETES_SERVICE_HOST") != std::string::npos);
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto c = loadInClusterConfig(error, paths);
  REQUIRE_MESSAGE(c.has_value(), error);
  CHECK(c->server == "https://[fd00::1]:443");
  CHECK(c->token_file == paths.token_file);
  CHECK(c->ca_file == paths.ca_file);
  CHECK_FALSE(loadInClusterConfig(error, InClusterPaths{"/nonexistent/token", paths.ca_file}));
  CHECK(error.find("/nonexistent/token") != std::string::npos);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
}

namespace {
struct NullHandler : KubeWatchHandler {
  void onList(ResourceKind, std::vector<KubeObject>&&) override {}
  void onEvent(ResourceKind, WatchEventType, KubeObject&&) override {}
};
}  // namespace

TEST_CASE("stop() returns promptly while the server accepts but never answers") {
  // A listening socket nobody accepts on: the TCP connect succeeds, the TLS
  // handshake waits forever.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 4) == 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  KubeConnection c;
  c.server = "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  c.token = "t";
  KubeWatchOptions options;
  options.path = "/api/v1/pods";
  NullHandler handler;
  KubeWatch watch(c, options, handler);
  watch.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  watch.stop();
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < std::chrono::milliseconds(500));
  CHECK_FALSE(watch.connected());
  CHECK(watch.stats().lists.value() == 0);
  close(fd);
}
