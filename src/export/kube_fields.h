// Kubernetes metadata in events: what each end of a flow is (pod, service or
// node, from the cluster snapshot) and the direction between them. Written by
// every encoder that writes the ends, so all event types carry the same.
#pragma once

#include <string>

#include "export/json_writer.h"
#include "flow/flow.h"
#include "k8s/cluster_state.h"

namespace tapflow {

// What `ip` is in `cluster` (kUnknown without a snapshot).
inline IpIdentity lookupEnd(const ClusterSnapshot* cluster, const IpAddress& ip, uint8_t ip_version) {
  return cluster ? cluster->lookup(ip, ip_version) : IpIdentity{};
}

// "kubernetes": {...} inside the open source/destination object: namespace,
// pod, node, workload, services and allow-listed labels for a pod; namespace
// and service for a ClusterIP; node for a node. Nothing for an unknown address.
void writeKubeEnd(JsonWriter& w, const IpIdentity& id);

// "namespace/pod" when `id` is a pod, else "": how HEP messages name their
// ends (tapflow's vendor chunks, hep_encoder.h). A host-network pod's address
// resolves to its node, so it names no pod. One allocation at most.
std::string podReference(const IpIdentity& id);

// Client to server: "pod-to-pod", "pod-to-service", "egress" (pod to neither),
// "ingress" (neither to pod or service); nullptr otherwise.
const char* kubeDirection(const IpIdentity& client, const IpIdentity& server);

// The top-level "kubernetes": {"direction": ...} of an event, when its client
// and server ends (as lookupEnd found them for the endpoints) give one.
void writeKubeDirection(JsonWriter& w, const IpIdentity& client, const IpIdentity& server);

}  // namespace tapflow
