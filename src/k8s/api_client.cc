// List-then-watch over libcurl's multi interface (so stop() can wake a transfer
// at once with curl_multi_wakeup), RapidJSON's iterative parser (no recursion on
// hostile nesting), and caps on every size and list taken from the network.
#include "k8s/api_client.h"

#include <curl/curl.h>
#include <rapidjson/document.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "ops/log.h"

namespace tapflow {

namespace {

using Clock = std::chrono::steady_clock;
constexpr rapidjson::ParseFlag kJsonFlags = rapidjson::kParseIterativeFlag;

// Caps on what one object may make us keep (a pod's labels are at most 256 KiB
// in total on a real API server; these keep a hostile one from growing us).
constexpr size_t kMaxLabels = 128;
constexpr size_t kMaxIps = 8;
constexpr size_t kMaxOwners = 16;
constexpr size_t kMaxPorts = 256;
constexpr size_t kMaxEndpoints = 1000;  // the EndpointSlice API's own limit
constexpr size_t kMaxAddressesPerEndpoint = 100;
constexpr size_t kMaxNameBytes = 253;
constexpr size_t kMaxLabelKeyBytes = 317;  // 253 prefix + '/' + 63
constexpr size_t kMaxErrorBodyBytes = 4096;

bool readFile(const std::string& path, std::string& out, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.clear();
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, size_t(in.gcount()));
    if (out.size() > max_bytes) return false;
  }
  return true;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t start = s.find_first_not_of(" \t\r\n");
  return start == std::string::npos ? std::string() : s.substr(start);
}

bool base64Decode(std::string_view in, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=' || c == '\n' || c == '\r' || c == ' ')
      continue;
    else
      return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  return true;
}

// --- JSON field access, every step type-checked ---------------------------

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string_view stringAt(const rapidjson::Value& v, const char* name) {
  const rapidjson::Value* m = member(v, name);
  if (!m || !m->IsString()) return {};
  return {m->GetString(), m->GetStringLength()};
}

// A name-like string, refused when longer than any valid Kubernetes name.
std::string boundedString(std::string_view s) { return s.size() > kMaxNameBytes ? std::string() : std::string(s); }

bool boolAt(const rapidjson::Value& v, const char* name) {
  const rapidjson::Value* m = member(v, name);
  return m && m->IsBool() && m->GetBool();
}

const rapidjson::Value* arrayAt(const rapidjson::Value& v, const char* name) {
  const rapidjson::Value* m = member(v, name);
  return m && m->IsArray() ? m : nullptr;
}

struct ParseContext {
  bool truncated = false;
};

void addIp(std::vector<KubeIp>& ips, std::string_view text, ParseContext& ctx) {
  auto ip = parseKubeIp(text);
  if (!ip) return;
  for (const auto& have : ips) {
    if (have == *ip) return;
  }
  if (ips.size() >= kMaxIps) {
    ctx.truncated = true;
    return;
  }
  ips.push_back(*ip);
}

bool parseMeta(const rapidjson::Value& obj, std::string& ns, std::string& name, bool namespaced) {
  const rapidjson::Value* meta = member(obj, "metadata");
  if (!meta) return false;
  name = boundedString(stringAt(*meta, "name"));
  if (namespaced) ns = boundedString(stringAt(*meta, "namespace"));
  return !name.empty() && (!namespaced || !ns.empty());
}

bool parsePod(const rapidjson::Value& obj, PodObject& pod, ParseContext& ctx) {
  if (!parseMeta(obj, pod.ns, pod.name, true)) return false;
  const rapidjson::Value& meta = *member(obj, "metadata");
  pod.uid = boundedString(stringAt(meta, "uid"));
  if (const rapidjson::Value* labels = member(meta, "labels"); labels && labels->IsObject()) {
    for (auto it = labels->MemberBegin(); it != labels->MemberEnd(); ++it) {
      if (!it->name.IsString() || !it->value.IsString()) continue;
      if (it->name.GetStringLength() > kMaxLabelKeyBytes || it->value.GetStringLength() > 63) continue;
      if (pod.labels.size() >= kMaxLabels) {
        ctx.truncated = true;
        break;
      }
      pod.labels.emplace(std::string(it->name.GetString(), it->name.GetStringLength()),
                         std::string(it->value.GetString(), it->value.GetStringLength()));
    }
  }
  if (const rapidjson::Value* owners = arrayAt(meta, "ownerReferences")) {
    for (const auto& o : owners->GetArray()) {
      if (pod.owners.size() >= kMaxOwners) {
        ctx.truncated = true;
        break;
      }
      OwnerReference ref{boundedString(stringAt(o, "kind")), boundedString(stringAt(o, "name")),
                         boolAt(o, "controller")};
      if (!ref.kind.empty() && !ref.name.empty()) pod.owners.push_back(std::move(ref));
    }
  }
  if (const rapidjson::Value* spec = member(obj, "spec")) {
    pod.node_name = boundedString(stringAt(*spec, "nodeName"));
    pod.host_network = boolAt(*spec, "hostNetwork");
  }
  if (const rapidjson::Value* status = member(obj, "status")) {
    pod.phase = boundedString(stringAt(*status, "phase"));
    if (const rapidjson::Value* ips = arrayAt(*status, "podIPs")) {
      for (const auto& entry : ips->GetArray()) addIp(pod.ips, stringAt(entry, "ip"), ctx);
    }
    if (pod.ips.empty()) addIp(pod.ips, stringAt(*status, "podIP"), ctx);
  }
  return true;
}

bool parseService(const rapidjson::Value& obj, ServiceObject& svc, ParseContext& ctx) {
  if (!parseMeta(obj, svc.ns, svc.name, true)) return false;
  const rapidjson::Value* spec = member(obj, "spec");
  if (!spec) return true;
  if (const rapidjson::Value* ips = arrayAt(*spec, "clusterIPs")) {
    for (const auto& ip : ips->GetArray()) {
      if (ip.IsString()) addIp(svc.cluster_ips, {ip.GetString(), ip.GetStringLength()}, ctx);
    }
  }
  if (svc.cluster_ips.empty()) addIp(svc.cluster_ips, stringAt(*spec, "clusterIP"), ctx);  // "None": not an IP
  if (const rapidjson::Value* ports = arrayAt(*spec, "ports")) {
    for (const auto& p : ports->GetArray()) {
      if (svc.ports.size() >= kMaxPorts) {
        ctx.truncated = true;
        break;
      }
      const rapidjson::Value* number = member(p, "port");
      if (!number || !number->IsUint() || number->GetUint() == 0 || number->GetUint() > 65535) continue;
      svc.ports.push_back(
          {boundedString(stringAt(p, "name")), boundedString(stringAt(p, "protocol")), uint16_t(number->GetUint())});
    }
  }
  return true;
}

bool parseEndpointSlice(const rapidjson::Value& obj, EndpointSliceObject& slice, ParseContext& ctx) {
  if (!parseMeta(obj, slice.ns, slice.name, true)) return false;
  if (const rapidjson::Value* labels = member(*member(obj, "metadata"), "labels")) {
    slice.service_name = boundedString(stringAt(*labels, "kubernetes.io/service-name"));
  }
  const rapidjson::Value* endpoints = arrayAt(obj, "endpoints");
  if (!endpoints) return true;
  for (const auto& ep : endpoints->GetArray()) {
    if (slice.endpoints.size() >= kMaxEndpoints) {
      ctx.truncated = true;
      break;
    }
    EndpointObject out;
    if (const rapidjson::Value* addresses = arrayAt(ep, "addresses")) {
      for (const auto& a : addresses->GetArray()) {
        if (out.addresses.size() >= kMaxAddressesPerEndpoint) {
          ctx.truncated = true;
          break;
        }
        if (a.IsString()) {
          if (auto ip = parseKubeIp({a.GetString(), a.GetStringLength()})) out.addresses.push_back(*ip);
        }
      }
    }
    if (const rapidjson::Value* ref = member(ep, "targetRef")) {
      out.target_kind = boundedString(stringAt(*ref, "kind"));
      out.target_ns = boundedString(stringAt(*ref, "namespace"));
      out.target_name = boundedString(stringAt(*ref, "name"));
    }
    if (!out.addresses.empty()) slice.endpoints.push_back(std::move(out));
  }
  return true;
}

bool parseNode(const rapidjson::Value& obj, NodeObject& node, ParseContext& ctx) {
  std::string unused_ns;
  if (!parseMeta(obj, unused_ns, node.name, false)) return false;
  const rapidjson::Value* status = member(obj, "status");
  const rapidjson::Value* addresses = status ? arrayAt(*status, "addresses") : nullptr;
  if (!addresses) return true;
  for (const auto& a : addresses->GetArray()) {
    std::string_view type = stringAt(a, "type");
    if (type == "InternalIP")
      addIp(node.internal_ips, stringAt(a, "address"), ctx);
    else if (type == "ExternalIP")
      addIp(node.external_ips, stringAt(a, "address"), ctx);
  }
  return true;
}

// false: the object lacks what identifies it.
bool parseObject(ResourceKind kind, const rapidjson::Value& obj, KubeObject& out, ParseContext& ctx) {
  switch (kind) {
    case ResourceKind::kPod:
      return parsePod(obj, out.emplace<PodObject>(), ctx);
    case ResourceKind::kService:
      return parseService(obj, out.emplace<ServiceObject>(), ctx);
    case ResourceKind::kEndpointSlice:
      return parseEndpointSlice(obj, out.emplace<EndpointSliceObject>(), ctx);
    case ResourceKind::kNode:
      return parseNode(obj, out.emplace<NodeObject>(), ctx);
  }
  return false;
}

std::string resourceVersionOf(const rapidjson::Value& obj) {
  const rapidjson::Value* meta = member(obj, "metadata");
  return meta ? boundedString(stringAt(*meta, "resourceVersion")) : std::string();
}

// --- the service-account token, re-read when the file changes --------------

class TokenSource {
 public:
  TokenSource(const KubeConnection& c, uint32_t reread_ms, KubeWatchStats& stats)
      : file_(c.token_file), token_(c.token), reread_ms_(reread_ms), stats_(stats) {}

  // The token for the next request. `force`: after a 401.
  const std::string& token(bool force) {
    if (file_.empty()) return token_;
    struct stat st {};
    const bool have_stat = ::stat(file_.c_str(), &st) == 0;
    const auto now = Clock::now();
    const bool changed = have_stat && (st.st_mtim.tv_sec != mtime_.tv_sec || st.st_mtim.tv_nsec != mtime_.tv_nsec ||
                                       st.st_ino != inode_ || st.st_size != size_);
    if (force || changed || !loaded_ || now - read_at_ > std::chrono::milliseconds(reread_ms_)) {
      std::string text;
      if (readFile(file_, text, 64 * 1024)) {
        text = trim(text);
        if (loaded_ && text != token_) stats_.token_reloads.add();
        token_ = std::move(text);
        loaded_ = true;
        if (have_stat) {
          mtime_ = st.st_mtim;
          inode_ = st.st_ino;
          size_ = st.st_size;
        }
      } else {
        logWarn("kubernetes: cannot read the token file", {{"path", file_}});
      }
      read_at_ = now;
    }
    return token_;
  }

 private:
  std::string file_;
  std::string token_;
  uint32_t reread_ms_;
  KubeWatchStats& stats_;
  bool loaded_ = false;
  timespec mtime_{};
  ino_t inode_ = 0;
  off_t size_ = 0;
  Clock::time_point read_at_{};
};

// Full jitter in [d/2, d], d doubling up to the cap.
class Backoff {
 public:
  Backoff(uint32_t initial_ms, uint32_t max_ms) : initial_(initial_ms), max_(max_ms), next_(initial_ms) {}
  uint32_t nextDelayMs() {
    const uint32_t d = next_;
    next_ = std::min<uint64_t>(uint64_t(next_) * 2, max_);
    std::uniform_int_distribution<uint32_t> jitter(d / 2, d);
    return jitter(rng_);
  }
  void reset() { next_ = initial_; }

 private:
  uint32_t initial_, max_, next_;
  std::mt19937 rng_{std::random_device{}()};
};

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

enum class Outcome {
  kOk,         // the transfer ended normally with HTTP 200
  kStopped,    // stop() was called
  kGone,       // 410, as status or as an ERROR event
  kHttpError,  // another status; counted
  kFailed,     // connection, timeout, cut, parse, size: counted
};

}  // namespace

// One transfer's state, shared with curl's write callback.
struct KubeWatch::Impl {
  CURLM* multi = nullptr;
  TokenSource tokens;
  Backoff backoff;
  bool force_token = false;

  // Per transfer.
  bool streaming = false;
  long status = 0;
  std::string body;  // LIST page, or an error response (capped)
  std::string line;  // watch: the event being received
  bool too_large = false;
  bool gone = false;       // an ERROR event with code 410
  bool bad_event = false;  // an ERROR event with another code, or an unparsable line
  bool got_event = false;
  Clock::time_point last_data;

  Impl(const KubeConnection& c, const KubeWatchOptions& o, KubeWatchStats& stats)
      : tokens(c, o.token_reread_ms, stats), backoff(o.backoff_initial_ms, o.backoff_max_ms) {}
};

namespace {

// Handles one watch event line; false stops the stream (relist or rewatch).
bool handleWatchLine(KubeWatch::Impl& impl, KubeWatchStats& stats, const KubeWatchOptions& options,
                     KubeWatchHandler& handler, std::string_view line, std::string& resource_version,
                     std::mutex& rv_mutex) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return true;
  rapidjson::Document doc;
  doc.Parse<kJsonFlags>(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    stats.errors_parse.add();
    impl.bad_event = true;
    return false;
  }
  std::string_view type = stringAt(doc, "type");
  const rapidjson::Value* object = member(doc, "object");
  if (!object || !object->IsObject()) {
    stats.errors_parse.add();
    impl.bad_event = true;
    return false;
  }
  impl.got_event = true;
  if (type == "ERROR") {
    stats.events_error.add();
    const rapidjson::Value* code = member(*object, "code");
    if (code && code->IsInt() && code->GetInt() == 410) {
      impl.gone = true;
    } else {
      logWarn("kubernetes: watch error event",
              {{"resource", resourceKindName(options.kind)}, {"message", boundedString(stringAt(*object, "message"))}});
      impl.bad_event = true;
    }
    return false;
  }
  WatchEventType event_type;
  if (type == "ADDED") {
    event_type = WatchEventType::kAdded;
    stats.events_added.add();
  } else if (type == "MODIFIED") {
    event_type = WatchEventType::kModified;
    stats.events_modified.add();
  } else if (type == "DELETED") {
    event_type = WatchEventType::kDeleted;
    stats.events_deleted.add();
  } else if (type == "BOOKMARK") {
    stats.events_bookmark.add();
    std::string rv = resourceVersionOf(*object);
    if (!rv.empty()) {
      std::lock_guard lock(rv_mutex);
      resource_version = std::move(rv);
    }
    return true;
  } else {
    stats.errors_parse.add();
    return true;  // an unknown type: skip it, keep the stream
  }
  std::string rv = resourceVersionOf(*object);
  ParseContext ctx;
  KubeObject parsed;
  if (!parseObject(options.kind, *object, parsed, ctx)) {
    stats.objects_skipped.add();
  } else {
    if (ctx.truncated) stats.fields_truncated.add();
    handler.onEvent(options.kind, event_type, std::move(parsed));
  }
  if (!rv.empty()) {
    std::lock_guard lock(rv_mutex);
    resource_version = std::move(rv);
  }
  return true;
}

}  // namespace

std::optional<KubeObject> parseKubeObjectJson(ResourceKind kind, std::string_view json, std::string& error) {
  rapidjson::Document doc;
  doc.Parse<kJsonFlags>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  ParseContext ctx;
  KubeObject out;
  if (!parseObject(kind, doc, out, ctx)) {
    error = "object without metadata.name (and metadata.namespace)";
    return std::nullopt;
  }
  return out;
}

// --- connection settings ------------------------------------------------------

std::optional<KubeConnection> loadInClusterConfig(std::string& error, const InClusterPaths& paths) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    error = "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set";
    return std::nullopt;
  }
  KubeConnection c;
  const std::string h(host);
  c.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  std::string token;
  if (!readFile(paths.token_file, token, 64 * 1024)) {
    error = "cannot read the service-account token " + paths.token_file;
    return std::nullopt;
  }
  struct stat st {};
  if (::stat(paths.ca_file.c_str(), &st) != 0) {
    error = "cannot read the cluster CA " + paths.ca_file;
    return std::nullopt;
  }
  c.token_file = paths.token_file;
  c.ca_file = paths.ca_file;
  return c;
}

std::optional<KubeConnection> loadKubeconfig(const std::string& path, std::string& error, std::string_view context) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const std::exception& e) {
    error = "kubeconfig " + path + ": " + e.what();
    return std::nullopt;
  }
  const std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  auto resolve = [&](const std::string& p) { return p.empty() || p[0] == '/' ? p : dir + "/" + p; };
  auto fail = [&](const std::string& what) {
    error = "kubeconfig " + path + ": " + what;
    return std::nullopt;
  };
  try {
    std::string ctx_name(context);
    if (ctx_name.empty() && root["current-context"]) ctx_name = root["current-context"].as<std::string>();
    if (ctx_name.empty()) return fail("no context given and no current-context");
    auto findNamed = [&](const char* list, const std::string& name, const char* field) -> YAML::Node {
      if (root[list] && root[list].IsSequence()) {
        for (const auto& entry : root[list]) {
          if (entry["name"] && entry["name"].as<std::string>() == name) return entry[field];
        }
      }
      return YAML::Node(YAML::NodeType::Undefined);
    };
    YAML::Node ctx = findNamed("contexts", ctx_name, "context");
    if (!ctx || !ctx.IsMap()) return fail("context '" + ctx_name + "' not found");
    const std::string cluster_name = ctx["cluster"] ? ctx["cluster"].as<std::string>() : "";
    const std::string user_name = ctx["user"] ? ctx["user"].as<std::string>() : "";
    YAML::Node cluster = findNamed("clusters", cluster_name, "cluster");
    if (!cluster || !cluster.IsMap())
      return fail("cluster '" + cluster_name + "' of context '" + ctx_name + "' not found");
    KubeConnection c;
    c.server = cluster["server"] ? cluster["server"].as<std::string>() : "";
    if (c.server.rfind("https://", 0) != 0)
      return fail("cluster '" + cluster_name + "': server must be an https:// URL");
    while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
    if (cluster["certificate-authority"]) c.ca_file = resolve(cluster["certificate-authority"].as<std::string>());
    if (cluster["certificate-authority-data"] &&
        !base64Decode(cluster["certificate-authority-data"].as<std::string>(), c.ca_data))
      return fail("cluster '" + cluster_name + "': certificate-authority-data is not base64");
    c.insecure_skip_tls_verify = cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>();
    if (!user_name.empty()) {
      YAML::Node user = findNamed("users", user_name, "user");
      if (!user || !user.IsMap()) return fail("user '" + user_name + "' of context '" + ctx_name + "' not found");
      if (user["exec"] || user["auth-provider"])
        return fail("user '" + user_name +
                    "': exec and auth-provider plugins are not supported (use a token or a client certificate)");
      if (user["token"]) c.token = user["token"].as<std::string>();
      if (user["tokenFile"]) c.token_file = resolve(user["tokenFile"].as<std::string>());
      if (user["client-certificate"]) c.client_cert_file = resolve(user["client-certificate"].as<std::string>());
      if (user["client-key"]) c.client_key_file = resolve(user["client-key"].as<std::string>());
      if (user["client-certificate-data"] &&
          !base64Decode(user["client-certificate-data"].as<std::string>(), c.client_cert_data))
        return fail("user '" + user_name + "': client-certificate-data is not base64");
      if (user["client-key-data"] && !base64Decode(user["client-key-data"].as<std::string>(), c.client_key_data))
        return fail("user '" + user_name + "': client-key-data is not base64");
    }
    return c;
  } catch (const YAML::Exception& e) {
    return fail(e.what());
  }
}

// --- the watch loop -------------------------------------------------------------

KubeWatch::KubeWatch(KubeConnection connection, KubeWatchOptions options, KubeWatchHandler& handler)
    : connection_(std::move(connection)), options_(std::move(options)), handler_(handler) {
  static CurlGlobal curl_global;
  impl_ = std::make_unique<Impl>(connection_, options_, stats_);
  impl_->multi = curl_multi_init();
}

KubeWatch::~KubeWatch() {
  stop();
  if (impl_->multi) curl_multi_cleanup(impl_->multi);
}

void KubeWatch::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void KubeWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  sleep_cv_.notify_all();
  if (impl_->multi) curl_multi_wakeup(impl_->multi);
  if (thread_.joinable()) thread_.join();
}

std::string KubeWatch::resourceVersion() const {
  std::lock_guard lock(rv_mutex_);
  return resource_version_;
}

namespace {

struct WriteContext {
  KubeWatch::Impl* impl;
  KubeWatchStats* stats;
  const KubeWatchOptions* options;
  KubeWatchHandler* handler;
  std::string* resource_version;
  std::mutex* rv_mutex;
  CURL* easy;
};

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto& w = *static_cast<WriteContext*>(user);
  auto& impl = *w.impl;
  const size_t n = size * count;
  w.stats->bytes_received.add(n);
  impl.last_data = Clock::now();
  if (impl.status == 0) curl_easy_getinfo(w.easy, CURLINFO_RESPONSE_CODE, &impl.status);
  if (!impl.streaming || impl.status != 200) {
    const size_t cap = impl.status == 200 ? w.options->max_list_page_bytes : kMaxErrorBodyBytes;
    if (impl.body.size() + n > cap) {
      if (impl.status == 200) {
        impl.too_large = true;
        return 0;
      }
      // An error body: its start is enough to log, and an endless one must
      // not keep us here. The status already says what happened.
      impl.body.append(data, cap - impl.body.size());
      return 0;
    }
    impl.body.append(data, n);
    return n;
  }
  // Watch stream: newline-delimited events.
  std::string_view chunk(data, n);
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    std::string_view part = chunk.substr(0, nl);
    if (impl.line.size() + part.size() > w.options->max_event_bytes) {
      impl.too_large = true;
      return 0;
    }
    if (nl == std::string_view::npos) {
      impl.line.append(part);
      break;
    }
    bool keep_going;
    if (impl.line.empty()) {
      keep_going = handleWatchLine(impl, *w.stats, *w.options, *w.handler, part, *w.resource_version, *w.rv_mutex);
    } else {
      impl.line.append(part);
      keep_going = handleWatchLine(impl, *w.stats, *w.options, *w.handler, impl.line, *w.resource_version, *w.rv_mutex);
      impl.line.clear();
    }
    if (!keep_going) return 0;
    chunk.remove_prefix(nl + 1);
  }
  return n;
}

}  // namespace

void KubeWatch::run() {
  Impl& impl = *impl_;
  bool need_list = true;
  uint32_t gone_in_a_row = 0;

  // Sleeps for the backoff; false when stop() was called meanwhile.
  auto sleepBackoff = [&] {
    stats_.reconnects.add();
    std::unique_lock lock(mutex_);
    return !sleep_cv_.wait_for(lock, std::chrono::milliseconds(impl.backoff.nextDelayMs()),
                               [&] { return stopping_.load(); });
  };

  // One request: sets impl's per-transfer state, returns how it ended.
  auto perform = [&](const std::string& url, bool streaming) -> Outcome {
    impl.streaming = streaming;
    impl.status = 0;
    impl.body.clear();
    impl.line.clear();
    impl.too_large = impl.gone = impl.bad_event = impl.got_event = false;
    impl.last_data = Clock::now();

    CURL* easy = curl_easy_init();
    if (!easy) return Outcome::kFailed;
    WriteContext ctx{&impl, &stats_, &options_, &handler_, &resource_version_, &rv_mutex_, easy};
    const std::string& token = impl.tokens.token(impl.force_token);
    impl.force_token = false;
    curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
    std::string auth;
    if (!token.empty()) {
      auth = "Authorization: Bearer " + token;
      headers = curl_slist_append(headers, auth.c_str());
    }
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, long(options_.connect_timeout_ms));
    if (!streaming) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, long(options_.list_timeout_ms));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, onBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &ctx);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "tapflow");
    if (!connection_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, connection_.ca_file.c_str());
    curl_blob ca_blob{connection_.ca_data.data(), connection_.ca_data.size(), CURL_BLOB_NOCOPY};
    if (!connection_.ca_data.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &ca_blob);
    if (connection_.insecure_skip_tls_verify) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_blob cert_blob{connection_.client_cert_data.data(), connection_.client_cert_data.size(), CURL_BLOB_NOCOPY};
    curl_blob key_blob{connection_.client_key_data.data(), connection_.client_key_data.size(), CURL_BLOB_NOCOPY};
    if (!connection_.client_cert_file.empty())
      curl_easy_setopt(easy, CURLOPT_SSLCERT, connection_.client_cert_file.c_str());
    if (!connection_.client_cert_data.empty()) curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert_blob);
    if (!connection_.client_key_file.empty())
      curl_easy_setopt(easy, CURLOPT_SSLKEY, connection_.client_key_file.c_str());
    if (!connection_.client_key_data.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key_blob);

    curl_multi_add_handle(impl.multi, easy);
    CURLcode result = CURLE_OK;
    bool done = false, stopped = false, idle = false;
    while (!done) {
      int running = 0;
      curl_multi_perform(impl.multi, &running);
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(impl.multi, &queued)) {
        if (msg->msg == CURLMSG_DONE) {
          result = msg->data.result;
          done = true;
        }
      }
      if (done) break;
      if (stopping_) {
        stopped = true;
        break;
      }
      if (streaming && Clock::now() - impl.last_data > std::chrono::milliseconds(options_.stream_idle_timeout_ms)) {
        idle = true;
        break;
      }
      curl_multi_poll(impl.multi, nullptr, 0, 100, nullptr);
    }
    if (impl.status == 0) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &impl.status);
    curl_multi_remove_handle(impl.multi, easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);

    if (stopped) return Outcome::kStopped;
    const bool connected = impl.status != 0;
    connected_.store(connected && impl.status < 400, std::memory_order_relaxed);
    if (idle) {
      stats_.errors_timeout.add();
      logWarn("kubernetes: watch stream silent, reconnecting", {{"resource", resourceKindName(options_.kind)}});
      return Outcome::kFailed;
    }
    if (impl.gone || impl.status == 410) return Outcome::kGone;
    if (impl.too_large) {
      stats_.errors_too_large.add();
      logWarn("kubernetes: response over its size cap", {{"resource", resourceKindName(options_.kind)}});
      return Outcome::kFailed;
    }
    if (impl.bad_event) return Outcome::kFailed;  // counted where seen
    if (impl.status != 0 && impl.status != 200) {
      if (impl.status == 401 || impl.status == 403) {
        stats_.errors_auth.add();
        impl.force_token = true;
      } else {
        stats_.errors_http.add();
      }
      logWarn("kubernetes: API request refused", {{"resource", resourceKindName(options_.kind)},
                                                  {"status", std::to_string(impl.status)},
                                                  {"body", impl.body.substr(0, 200)}});
      return Outcome::kHttpError;
    }
    if (result != CURLE_OK) {
      if (result == CURLE_OPERATION_TIMEDOUT) {
        stats_.errors_timeout.add();
      } else if (!connected) {
        stats_.errors_connect.add();
      } else {
        stats_.errors_dropped.add();
      }
      logWarn("kubernetes: API request failed",
              {{"resource", resourceKindName(options_.kind)}, {"error", curl_easy_strerror(result)}});
      return Outcome::kFailed;
    }
    return Outcome::kOk;
  };

  const char* sep = options_.path.find('?') == std::string::npos ? "?" : "&";

  // Every page, then one onList. kGone: the continue token expired.
  auto list = [&]() -> Outcome {
    std::vector<KubeObject> objects;
    std::string cont, list_rv;
    for (uint32_t page = 0; page < options_.max_list_pages; ++page) {
      std::string url = connection_.server + options_.path + sep + "limit=" + std::to_string(options_.page_size);
      if (!cont.empty()) {
        char* escaped = curl_easy_escape(nullptr, cont.c_str(), int(cont.size()));
        url += "&continue=";
        url += escaped ? escaped : "";
        curl_free(escaped);
      }
      Outcome outcome = perform(url, false);
      if (outcome != Outcome::kOk) return outcome;
      stats_.list_pages.add();
      rapidjson::Document doc;
      doc.Parse<kJsonFlags>(impl.body.data(), impl.body.size());
      const rapidjson::Value* items = doc.HasParseError() ? nullptr : arrayAt(doc, "items");
      const rapidjson::Value* meta = doc.HasParseError() ? nullptr : member(doc, "metadata");
      if (!items || !meta) {
        stats_.errors_parse.add();
        logWarn("kubernetes: LIST response is not a list", {{"resource", resourceKindName(options_.kind)}});
        return Outcome::kFailed;
      }
      for (const auto& item : items->GetArray()) {
        ParseContext pctx;
        KubeObject parsed;
        if (!parseObject(options_.kind, item, parsed, pctx)) {
          stats_.objects_skipped.add();
          continue;
        }
        if (pctx.truncated) stats_.fields_truncated.add();
        objects.push_back(std::move(parsed));
      }
      list_rv = boundedString(stringAt(*meta, "resourceVersion"));
      cont = std::string(stringAt(*meta, "continue")).substr(0, 64 * 1024);
      impl.body.clear();
      impl.body.shrink_to_fit();  // a page can be large: do not hold it while watching
      if (cont.empty()) break;
    }
    if (list_rv.empty()) {
      stats_.errors_parse.add();
      return Outcome::kFailed;
    }
    handler_.onList(options_.kind, std::move(objects));
    stats_.lists.add();
    {
      std::lock_guard lock(rv_mutex_);
      resource_version_ = list_rv;
    }
    logInfo("kubernetes: listed", {{"resource", resourceKindName(options_.kind)}, {"resourceVersion", list_rv}});
    return Outcome::kOk;
  };

  while (!stopping_) {
    if (need_list) {
      Outcome outcome = list();
      if (outcome == Outcome::kStopped) break;
      if (outcome == Outcome::kGone) {
        // The continue token expired between pages: list again from the start,
        // at once the first time, after a backoff if it keeps happening.
        stats_.relists_after_gone.add();
        if (++gone_in_a_row > 1 && !sleepBackoff()) break;
        continue;
      }
      gone_in_a_row = 0;
      if (outcome != Outcome::kOk) {
        if (!sleepBackoff()) break;
        continue;
      }
      need_list = false;
      impl.backoff.reset();
    }
    std::string url = connection_.server + options_.path + sep + "watch=1&allowWatchBookmarks=true&timeoutSeconds=" +
                      std::to_string(options_.watch_timeout_seconds) + "&resourceVersion=" + resourceVersion();
    stats_.watches_started.add();
    Outcome outcome = perform(url, true);
    if (impl.got_event) impl.backoff.reset();
    switch (outcome) {
      case Outcome::kStopped:
        return;
      case Outcome::kOk:
        // The server ended the watch at timeoutSeconds: rewatch at once. One that
        // ended without a single event (not even a bookmark) waits first, so a
        // misbehaving server cannot make this loop spin.
        if (!impl.got_event && !sleepBackoff()) return;
        break;
      case Outcome::kGone:
        stats_.relists_after_gone.add();
        logInfo("kubernetes: resourceVersion expired, relisting", {{"resource", resourceKindName(options_.kind)}});
        need_list = true;
        break;
      case Outcome::kHttpError:
      case Outcome::kFailed:
        if (!sleepBackoff()) return;
        break;
    }
  }
}

}  // namespace tapflow
