// The parts every event shares: the envelope (schema, type, event times) and
// the network identity of its flow (community id, transport, both ends).
// Flow records and analyzer events write them through the same code.
#pragma once

#include <cstdint>
#include <string_view>

#include "export/json_writer.h"
#include "flow/flow.h"

namespace tapflow {
class ClusterSnapshot;
}

namespace tapflow {

// Version of the event schema; bumped on any incompatible change.
constexpr int kEventSchemaVersion = 1;

// The two ends of a flow, oriented: client (who opened it) and server.
struct FlowEnds {
  const IpAddress* client_ip;
  const IpAddress* server_ip;
  uint16_t client_port;
  uint16_t server_port;
};

FlowEnds flowEnds(const Flow& flow);

// ECS network.transport name of an IP protocol number, or "".
std::string_view transportName(uint8_t proto);

// Opens the event object: {"schema":1,"type":TYPE,"event":{start,end,duration}
// and leaves it open for the caller's fields.
void beginEvent(JsonWriter& w, const char* type, Timestamp start, Timestamp end);

// Writes community_id (the flow's, computed once per flow), transport,
// iana_number and type into the open "network" object.
void writeNetworkIdentity(JsonWriter& w, const Flow& flow);

// source/destination {ip, port} of an analyzer event; `from_client` says
// whether the event's source is the flow's client. With a cluster snapshot,
// each end also gets its Kubernetes identity (export/kube_fields.h).
void writeEndpoints(JsonWriter& w, const Flow& flow, bool from_client, const ClusterSnapshot* cluster = nullptr);

// "tunnel" and "network.vlan" attributes are written by writeNetworkIdentity's
// callers; these are the shared pieces.
void writeVlans(JsonWriter& w, const Flow& flow);
void writeTunnel(JsonWriter& w, const Flow& flow);

}  // namespace tapflow
