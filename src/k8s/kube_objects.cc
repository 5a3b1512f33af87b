// Address parsing and keys for the reduced Kubernetes objects.
#include "k8s/kube_objects.h"

#include <arpa/inet.h>

#include <cstring>

namespace tapflow {

bool operator<(const KubeIp& a, const KubeIp& b) {
  if (a.version != b.version) return a.version < b.version;
  return std::memcmp(a.addr.bytes, b.addr.bytes, 16) < 0;
}

std::optional<KubeIp> parseKubeIp(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN + 1];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  KubeIp ip;
  if (inet_pton(AF_INET, buf, ip.addr.bytes) == 1) {
    ip.version = 4;
    return ip;
  }
  if (inet_pton(AF_INET6, buf, ip.addr.bytes) == 1) {
    ip.version = 6;
    return ip;
  }
  return std::nullopt;
}

std::string formatKubeIp(const KubeIp& ip) {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(ip.version == 4 ? AF_INET : AF_INET6, ip.addr.bytes, buf, sizeof buf);
  return buf;
}

const char* resourceKindName(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kPod:
      return "pods";
    case ResourceKind::kService:
      return "services";
    case ResourceKind::kEndpointSlice:
      return "endpointslices";
    case ResourceKind::kNode:
      return "nodes";
  }
  return "?";
}

std::string objectKey(const KubeObject& object) {
  return std::visit(
      [](const auto& o) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(o)>, NodeObject>) {
          return o.name;
        } else {
          return o.ns + "/" + o.name;
        }
      },
      object);
}

}  // namespace tapflow
