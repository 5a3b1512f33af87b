// The Kubernetes objects tapflow keeps, reduced to the fields it uses (pods,
// services, EndpointSlices, nodes), so memory stays bounded on large clusters;
// and the IP address form the snapshot indexes them by.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "k8s/label_selector.h"
#include "packet/decoded_packet.h"

namespace tapflow {

// An address as the packet decoder gives it (IPv4 in the first 4 bytes) plus its
// version, so 1.2.3.4 and 102:304:: are different keys.
struct KubeIp {
  IpAddress addr{};
  uint8_t version = 0;  // 4 or 6

  bool operator==(const KubeIp& o) const { return version == o.version && addr == o.addr; }
};
bool operator<(const KubeIp& a, const KubeIp& b);

// Parses dotted IPv4 or IPv6 text (inet_pton); nullopt for anything else.
std::optional<KubeIp> parseKubeIp(std::string_view text);
std::string formatKubeIp(const KubeIp& ip);

struct OwnerReference {
  std::string kind;
  std::string name;
  bool controller = false;
};

struct PodObject {
  std::string ns;
  std::string name;
  std::string uid;
  std::string node_name;
  std::string phase;  // Succeeded/Failed pods give their IP back: not indexed
  bool host_network = false;
  std::vector<KubeIp> ips;  // status.podIPs (status.podIP when podIPs is absent)
  LabelMap labels;
  std::vector<OwnerReference> owners;
};

struct ServicePort {
  std::string name;
  std::string protocol;  // TCP, UDP, SCTP
  uint16_t port = 0;
};

struct ServiceObject {
  std::string ns;
  std::string name;
  std::vector<KubeIp> cluster_ips;  // "None" (headless) is not an IP and is dropped
  std::vector<ServicePort> ports;
};

struct EndpointObject {
  std::vector<KubeIp> addresses;
  std::string target_kind;  // targetRef: usually Pod
  std::string target_ns;
  std::string target_name;
};

struct EndpointSliceObject {
  std::string ns;
  std::string name;
  std::string service_name;  // label kubernetes.io/service-name
  std::vector<EndpointObject> endpoints;
};

struct NodeObject {
  std::string name;
  std::vector<KubeIp> internal_ips;
  std::vector<KubeIp> external_ips;
};

enum class ResourceKind : uint8_t { kPod, kService, kEndpointSlice, kNode };
const char* resourceKindName(ResourceKind kind);

using KubeObject = std::variant<PodObject, ServiceObject, EndpointSliceObject, NodeObject>;

// "namespace/name" (or "name" for cluster-scoped nodes): the cache key.
std::string objectKey(const KubeObject& object);

enum class WatchEventType : uint8_t { kAdded, kModified, kDeleted };

// Where a watch delivers what it learns. Called from the watch's own thread.
class KubeWatchHandler {
 public:
  virtual ~KubeWatchHandler() = default;
  // A complete list (all pages): replaces everything known of that kind.
  virtual void onList(ResourceKind kind, std::vector<KubeObject>&& objects) = 0;
  virtual void onEvent(ResourceKind kind, WatchEventType type, KubeObject&& object) = 0;
};

}  // namespace tapflow
