#include "export/kube_fields.h"

#include "export/event_common.h"
#include "k8s/label_selector.h"

namespace tapflow {

void writeKubeEnd(JsonWriter& w, const IpIdentity& id) {
  switch (id.kind) {
    case IpIdentity::Kind::kUnknown:
      return;
    case IpIdentity::Kind::kService:
      w.beginObject("kubernetes").textField("namespace", id.service->ns).textField("service", id.service->name);
      w.endObject();
      return;
    case IpIdentity::Kind::kNode:
      w.beginObject("kubernetes").textField("node", id.node->name).endObject();
      return;
    case IpIdentity::Kind::kPod:
      break;
  }
  const PodEntry& pod = *id.pod;
  w.beginObject("kubernetes").textField("namespace", pod.ns).textField("pod", pod.name);
  if (!pod.node.empty()) w.textField("node", pod.node);
  if (!pod.workload.kind.empty()) {
    w.beginObject("workload").textField("kind", pod.workload.kind).textField("name", pod.workload.name).endObject();
  }
  if (!pod.services.empty()) {
    w.beginArray("services");
    for (const std::string& service : pod.services) w.textElement(service);
    w.endArray();
  }
  // Label keys become JSON keys, which the writer does not escape: only keys
  // Kubernetes itself would accept are written (an API server is input too).
  bool labels_open = false;
  for (const auto& [key, value] : pod.labels) {
    if (!validateLabelKey(key).empty()) continue;
    if (!labels_open) w.beginObject("labels");
    labels_open = true;
    w.textField(key, value);
  }
  if (labels_open) w.endObject();
  w.endObject();
}

std::string podReference(const IpIdentity& id) {
  std::string out;
  if (id.kind != IpIdentity::Kind::kPod) return out;
  out.reserve(id.pod->ns.size() + 1 + id.pod->name.size());
  out.append(id.pod->ns).append(1, '/').append(id.pod->name);
  return out;
}

const char* kubeDirection(const IpIdentity& client, const IpIdentity& server) {
  using Kind = IpIdentity::Kind;
  const bool client_pod = client.kind == Kind::kPod;
  if (client_pod && server.kind == Kind::kPod) return "pod-to-pod";
  if (client_pod && server.kind == Kind::kService) return "pod-to-service";
  if (client_pod) return "egress";
  if (server.kind == Kind::kPod || server.kind == Kind::kService) return "ingress";
  return nullptr;
}

void writeKubeDirection(JsonWriter& w, const IpIdentity& client, const IpIdentity& server) {
  if (const char* direction = kubeDirection(client, server)) {
    w.beginObject("kubernetes").field("direction", direction).endObject();
  }
}

}  // namespace tapflow
