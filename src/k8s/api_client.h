// The Kubernetes API client: connection settings (in-cluster service account or a
// kubeconfig file) and one list-then-watch loop per resource over HTTPS (libcurl),
// parsing responses with RapidJSON into the reduced objects of kube_objects.h.
// Runs on its own thread, off the data path; everything it reads is untrusted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "k8s/kube_objects.h"
#include "ops/counter.h"

namespace tapflow {

// How to reach and authenticate to the API server.
struct KubeConnection {
  std::string server;  // https://host:port
  std::string ca_file;
  std::string ca_data;  // PEM
  bool insecure_skip_tls_verify = false;
  std::string token;                               // static bearer token
  std::string token_file;                          // re-read when it changes (service-account token rotation)
  std::string client_cert_file, client_cert_data;  // PEM
  std::string client_key_file, client_key_data;    // PEM
};

// The service account's files; tests point them elsewhere.
struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
};

// From KUBERNETES_SERVICE_HOST/PORT and the service-account files. nullopt with
// `error` naming what is missing.
std::optional<KubeConnection> loadInClusterConfig(std::string& error, const InClusterPaths& paths = {});
// From a kubeconfig file: the named context, else current-context. Relative file
// paths are relative to the kubeconfig's directory, as kubectl takes them.
std::optional<KubeConnection> loadKubeconfig(const std::string& path, std::string& error,
                                             std::string_view context = {});

#define TF_KUBE_WATCH_STATS(C)                                                                       \
  C(lists, "Complete LISTs (every page) handed over")                                                \
  C(list_pages, "LIST pages received")                                                               \
  C(watches_started, "WATCH requests started")                                                       \
  C(events_added, "ADDED watch events")                                                              \
  C(events_modified, "MODIFIED watch events")                                                        \
  C(events_deleted, "DELETED watch events")                                                          \
  C(events_bookmark, "BOOKMARK watch events")                                                        \
  C(events_error, "ERROR watch events (a Status object)")                                            \
  C(relists_after_gone, "Relists because the resourceVersion had expired (410 Gone)")                \
  C(reconnects, "Requests retried after an error or a dropped connection, after a backoff")          \
  C(errors_connect, "Connections that failed (DNS, TCP, TLS)")                                       \
  C(errors_auth, "Responses 401 or 403")                                                             \
  C(errors_http, "Responses with another unexpected HTTP status")                                    \
  C(errors_timeout, "Requests that timed out, and watch streams silent for too long")                \
  C(errors_dropped, "Streams cut before their end")                                                  \
  C(errors_parse, "Responses and events that were not the JSON expected")                            \
  C(errors_too_large, "Responses or event lines over their size cap")                                \
  C(objects_skipped, "Objects without the fields that identify them, skipped")                       \
  C(fields_truncated, "Objects whose lists (labels, addresses, ports, endpoints) were cut at a cap") \
  C(token_reloads, "Reads of the token file after it changed")                                       \
  C(bytes_received, "Response body bytes received")

struct KubeWatchStats {
  TF_KUBE_WATCH_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_KUBE_WATCH_STATS(TF_VISIT_COUNTER)
  }
};

struct KubeWatchOptions {
  ResourceKind kind = ResourceKind::kPod;
  // Path and query, e.g. /api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1
  std::string path;
  uint32_t page_size = 500;
  uint32_t connect_timeout_ms = 10000;
  uint32_t list_timeout_ms = 120000;
  // Asked of the server (it ends the watch cleanly then, and we rewatch).
  uint32_t watch_timeout_seconds = 300;
  // A watch that delivers nothing (not even a bookmark) for this long is dropped.
  uint32_t stream_idle_timeout_ms = 330000;
  uint32_t backoff_initial_ms = 500;
  uint32_t backoff_max_ms = 30000;
  size_t max_event_bytes = 8u << 20;        // one watch event line
  size_t max_list_page_bytes = 256u << 20;  // one LIST page body
  uint32_t max_list_pages = 100000;
  uint32_t token_reread_ms = 60000;  // also re-read on a changed file and on 401
};

// Parses one object of `kind` from JSON text, keeping only the fields tapflow
// uses. For tests and tools; the watch uses the same code.
std::optional<KubeObject> parseKubeObjectJson(ResourceKind kind, std::string_view json, std::string& error);

// One resource's list-then-watch loop on its own thread.
class KubeWatch {
 public:
  KubeWatch(KubeConnection connection, KubeWatchOptions options, KubeWatchHandler& handler);
  ~KubeWatch();  // stops
  KubeWatch(const KubeWatch&) = delete;
  KubeWatch& operator=(const KubeWatch&) = delete;

  void start();
  // Returns within about 100 ms: wakes the transfer in progress and any backoff sleep.
  void stop();

  const KubeWatchStats& stats() const { return stats_; }
  const KubeWatchOptions& options() const { return options_; }
  // The resourceVersion the next watch starts from.
  std::string resourceVersion() const;
  // Whether the last list or watch connection succeeded (false while the API
  // server is unreachable).
  bool connected() const { return connected_.load(std::memory_order_relaxed); }

  struct Impl;

 private:
  void run();

  KubeConnection connection_;
  KubeWatchOptions options_;
  KubeWatchHandler& handler_;
  KubeWatchStats stats_;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::mutex mutex_;  // sleep_cv_ and resource_version_
  std::condition_variable sleep_cv_;
  mutable std::mutex rv_mutex_;
  std::string resource_version_;
  std::thread thread_;
};

}  // namespace tapflow
