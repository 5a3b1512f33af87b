// Test driver for the Kubernetes watch client: runs KubeWatch for the chosen
// resources into a ClusterState and prints, as JSON lines on stdout, every new
// snapshot (address -> pod/service/node), the targeted pods, and each watch's
// counters when they change. Stdin: "memory" prints RSS; "quit" or EOF stops
// (and reports how long stop() took). Used by test_k8s_watch.py.
//
//   k8s_watch_driver (--server URL --ca FILE [--token-file F] | --kubeconfig F [--context C]
//                     | --in-cluster [--token-file F] [--ca FILE])
//                    [--resources pods,services,endpointslices,nodes] [--node NAME]
//                    [--labels k1,k2] [--target 'ns1,ns2|selector|80,443']...
//                    [--idle-timeout-ms N] [--watch-timeout-s N] [--backoff-ms N]
//                    [--backoff-max-ms N] [--page-size N] [--list-timeout-ms N]
#include <poll.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "driver_text.h"
#include "k8s/api_client.h"
#include "k8s/cluster_state.h"

using namespace tapflow;

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void key(JsonWriter& w, const char* k) { w.Key(k); }
void str(JsonWriter& w, const std::string& s) { w.String(s.c_str(), rapidjson::SizeType(s.size())); }

std::string snapshotLine(const ClusterSnapshot& snap) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  key(w, "type");
  w.String("snapshot");
  key(w, "generation");
  w.Uint64(snap.generation());
  key(w, "addresses");
  w.StartArray();
  snap.forEachAddress([&](const KubeIp& ip, const IpIdentity& id) {
    w.StartObject();
    key(w, "ip");
    str(w, formatKubeIp(ip));
    key(w, "kind");
    switch (id.kind) {
      case IpIdentity::Kind::kPod:
        w.String("pod");
        key(w, "namespace");
        str(w, id.pod->ns);
        key(w, "name");
        str(w, id.pod->name);
        key(w, "node");
        str(w, id.pod->node);
        key(w, "workload_kind");
        str(w, id.pod->workload.kind);
        key(w, "workload_name");
        str(w, id.pod->workload.name);
        key(w, "labels");
        w.StartObject();
        for (const auto& [k, v] : id.pod->labels) {
          key(w, k.c_str());
          str(w, v);
        }
        w.EndObject();
        key(w, "services");
        w.StartArray();
        for (const auto& s : id.pod->services) str(w, s);
        w.EndArray();
        break;
      case IpIdentity::Kind::kService:
        w.String("service");
        key(w, "namespace");
        str(w, id.service->ns);
        key(w, "name");
        str(w, id.service->name);
        break;
      case IpIdentity::Kind::kNode:
        w.String("node");
        key(w, "name");
        str(w, id.node->name);
        break;
      case IpIdentity::Kind::kUnknown:
        w.String("unknown");
        break;
    }
    w.EndObject();
  });
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string targetsLine(const std::vector<TargetedPod>& pods) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  key(w, "type");
  w.String("targets");
  key(w, "pods");
  w.StartArray();
  for (const auto& p : pods) {
    w.StartObject();
    key(w, "namespace");
    str(w, p.ns);
    key(w, "name");
    str(w, p.name);
    key(w, "ips");
    w.StartArray();
    for (const auto& ip : p.ips) str(w, formatKubeIp(ip));
    w.EndArray();
    key(w, "all_ports");
    w.Bool(p.all_ports);
    key(w, "ports");
    w.StartArray();
    for (auto port : p.ports) w.Uint(port);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string statsLine(const KubeWatch& watch) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  key(w, "type");
  w.String("stats");
  key(w, "resource");
  w.String(resourceKindName(watch.options().kind));
  key(w, "resource_version");
  str(w, watch.resourceVersion());
  key(w, "connected");
  w.Bool(watch.connected());
  watch.stats().forEach([&](const char* name, const char*, const Counter& c) {
    // Bytes change with every bookmark: leave them to the memory line.
    if (std::strcmp(name, "bytes_received") == 0) return;
    key(w, name);
    w.Uint64(c.value());
  });
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

long statusField(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  }
  return -1;
}

std::string pathFor(ResourceKind kind, const std::string& node) {
  switch (kind) {
    case ResourceKind::kPod:
      return node.empty() ? "/api/v1/pods" : "/api/v1/pods?fieldSelector=spec.nodeName%3D" + node;
    case ResourceKind::kService:
      return "/api/v1/services";
    case ResourceKind::kEndpointSlice:
      return "/apis/discovery.k8s.io/v1/endpointslices";
    case ResourceKind::kNode:
      return "/api/v1/nodes";
  }
  return {};
}

int usage(const char* message) {
  std::fprintf(stderr, "k8s_watch_driver: %s\n", message);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server, ca, token_file, kubeconfig, context, node;
  bool in_cluster = false;
  std::vector<std::string> resources{"pods", "services", "endpointslices", "nodes"};
  std::vector<std::string> labels;
  std::vector<PodTarget> targets;
  KubeWatchOptions base;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "k8s_watch_driver: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--server")
      server = value();
    else if (arg == "--ca")
      ca = value();
    else if (arg == "--token-file")
      token_file = value();
    else if (arg == "--kubeconfig")
      kubeconfig = value();
    else if (arg == "--context")
      context = value();
    else if (arg == "--in-cluster")
      in_cluster = true;
    else if (arg == "--node")
      node = value();
    else if (arg == "--resources")
      resources = splitList(value(), ',');
    else if (arg == "--labels")
      labels = splitList(value(), ',');
    else if (arg == "--idle-timeout-ms")
      base.stream_idle_timeout_ms = uint32_t(std::stoul(value()));
    else if (arg == "--watch-timeout-s")
      base.watch_timeout_seconds = uint32_t(std::stoul(value()));
    else if (arg == "--backoff-ms")
      base.backoff_initial_ms = uint32_t(std::stoul(value()));
    else if (arg == "--backoff-max-ms")
      base.backoff_max_ms = uint32_t(std::stoul(value()));
    else if (arg == "--page-size")
      base.page_size = uint32_t(std::stoul(value()));
    else if (arg == "--list-timeout-ms")
      base.list_timeout_ms = uint32_t(std::stoul(value()));
    else if (arg == "--target") {
      // namespaces|selector|ports
      std::string spec = value();
      std::vector<std::string> parts;
      size_t start = 0;
      for (;;) {
        size_t bar = spec.find('|', start);
        parts.push_back(spec.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
        if (bar == std::string::npos) break;
        start = bar + 1;
      }
      if (parts.size() != 3) return usage("--target is 'namespaces|selector|ports'");
      std::string error;
      auto selector = LabelSelector::parse(parts[1], error);
      if (!selector) return usage(("--target selector: " + error).c_str());
      PodTarget t{splitList(parts[0], ','), *selector, {}};
      for (const auto& p : splitList(parts[2], ',')) t.ports.push_back(uint16_t(std::stoul(p)));
      targets.push_back(std::move(t));
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
  }

  std::string error;
  std::optional<KubeConnection> connection;
  if (in_cluster) {
    InClusterPaths paths;
    if (!token_file.empty()) paths.token_file = token_file;
    if (!ca.empty()) paths.ca_file = ca;
    connection = loadInClusterConfig(error, paths);
  } else if (!kubeconfig.empty()) {
    connection = loadKubeconfig(kubeconfig, error, context);
  } else if (!server.empty()) {
    connection = KubeConnection{};
    connection->server = server;
    connection->ca_file = ca;
    connection->token_file = token_file;
  } else {
    return usage("give --server, --kubeconfig or --in-cluster");
  }
  if (!connection) {
    std::fprintf(stderr, "k8s_watch_driver: %s\n", error.c_str());
    return 1;
  }

  ClusterState state(SnapshotOptions{labels});
  std::vector<std::unique_ptr<KubeWatch>> watches;
  for (const auto& r : resources) {
    KubeWatchOptions options = base;
    if (r == "pods")
      options.kind = ResourceKind::kPod;
    else if (r == "services")
      options.kind = ResourceKind::kService;
    else if (r == "endpointslices")
      options.kind = ResourceKind::kEndpointSlice;
    else if (r == "nodes")
      options.kind = ResourceKind::kNode;
    else
      return usage(("unknown resource " + r).c_str());
    options.path = pathFor(options.kind, node);
    watches.push_back(std::make_unique<KubeWatch>(*connection, options, state));
  }
  for (auto& w : watches) w->start();

  std::vector<std::string> last_stats(watches.size());
  std::string last_targets;
  std::string stdin_buffer;
  bool quit = false;
  while (!quit) {
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    if (poll(&pfd, 1, 50) > 0) {
      char buf[256];
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        quit = true;
      } else {
        stdin_buffer.append(buf, size_t(n));
      }
    }
    for (size_t nl; (nl = stdin_buffer.find('\n')) != std::string::npos;) {
      std::string command = stdin_buffer.substr(0, nl);
      stdin_buffer.erase(0, nl + 1);
      if (command == "quit") quit = true;
      if (command == "memory") {
        uint64_t bytes = 0;
        for (auto& w : watches) bytes += w->stats().bytes_received.value();
        std::printf("{\"type\":\"memory\",\"rss_kb\":%ld,\"hwm_kb\":%ld,\"bytes_received\":%llu}\n",
                    statusField("VmRSS:"), statusField("VmHWM:"), (unsigned long long)bytes);
        std::fflush(stdout);
      }
    }
    if (state.publishIfChanged()) {
      std::string line = snapshotLine(*state.current());
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
      if (!targets.empty()) {
        std::string t = targetsLine(state.targetedPods(targets, node));
        if (t != last_targets) {
          std::fwrite(t.data(), 1, t.size(), stdout);
          std::fputc('\n', stdout);
          last_targets = t;
        }
      }
      std::fflush(stdout);
    }
    for (size_t i = 0; i < watches.size(); ++i) {
      std::string s = statsLine(*watches[i]);
      if (s != last_stats[i]) {
        std::fwrite(s.data(), 1, s.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
        last_stats[i] = s;
      }
    }
  }
  const auto stop_start = std::chrono::steady_clock::now();
  for (auto& w : watches) w->stop();
  const auto stop_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stop_start).count();
  std::printf("{\"type\":\"stopped\",\"stop_ms\":%lld}\n", (long long)stop_ms);
  return 0;
}
