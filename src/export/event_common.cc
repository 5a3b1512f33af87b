#include "export/event_common.h"

#include <charconv>

#include "export/kube_fields.h"

namespace tapflow {

FlowEnds flowEnds(const Flow& flow) {
  // The client's direction is dir[flow.client]; dir[0] runs lo → hi.
  const FlowKey& key = flow.key;
  const bool client_is_lo = flow.client == 0;
  return FlowEnds{client_is_lo ? &key.lo : &key.hi, client_is_lo ? &key.hi : &key.lo,
                  client_is_lo ? key.port_lo : key.port_hi, client_is_lo ? key.port_hi : key.port_lo};
}

std::string_view transportName(uint8_t proto) {
  switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 58: return "ipv6-icmp";
    case 132: return "sctp";
    default: return {};
  }
}

void beginEvent(JsonWriter& w, const char* type, Timestamp start, Timestamp end) {
  w.beginObject();
  w.field("schema", kEventSchemaVersion);
  w.field("type", type);
  w.beginObject("event").timeField("start", start).timeField("end", end).field("duration", int64_t(end - start));
}

void writeNetworkIdentity(JsonWriter& w, const Flow& flow) {
  const FlowKey& key = flow.key;
  w.field("community_id", communityIdOf(flow));
  char proto_buffer[3];
  const std::string_view proto_number(proto_buffer,
                                      std::to_chars(proto_buffer, proto_buffer + 3, unsigned(key.proto)).ptr - proto_buffer);
  const std::string_view transport = transportName(key.proto);
  w.field("transport", transport.empty() ? proto_number : transport);
  w.field("iana_number", proto_number);
  w.field("type", key.ip_version == 4 ? "ipv4" : "ipv6");
}

void writeEndpoints(JsonWriter& w, const Flow& flow, bool from_client, const ClusterSnapshot* cluster) {
  const FlowEnds ends = flowEnds(flow);
  const uint8_t version = flow.key.ip_version;
  const IpAddress& src = from_client ? *ends.client_ip : *ends.server_ip;
  const IpAddress& dst = from_client ? *ends.server_ip : *ends.client_ip;
  const IpIdentity src_id = lookupEnd(cluster, src, version);
  const IpIdentity dst_id = lookupEnd(cluster, dst, version);
  w.beginObject("source").ipField("ip", src, version).field("port", unsigned(from_client ? ends.client_port : ends.server_port));
  writeKubeEnd(w, src_id);
  w.endObject();
  w.beginObject("destination").ipField("ip", dst, version).field("port", unsigned(from_client ? ends.server_port : ends.client_port));
  writeKubeEnd(w, dst_id);
  w.endObject();
  // Direction is client to server, whichever end sent this message.
  writeKubeDirection(w, from_client ? src_id : dst_id, from_client ? dst_id : src_id);
}

void writeVlans(JsonWriter& w, const Flow& flow) {
  if (flow.vlan_count == 0) return;
  w.beginObject("vlan").field("id", unsigned(flow.vlan_ids[0])).endObject();
  if (flow.vlan_count > 1) {
    w.beginObject("inner").beginObject("vlan").field("id", unsigned(flow.vlan_ids[1])).endObject().endObject();
  }
}

void writeTunnel(JsonWriter& w, const Flow& flow) {
  if (flow.tunnel.type == TunnelType::kNone) return;
  w.beginObject("tunnel").field("type", tunnelTypeName(flow.tunnel.type)).field("id", unsigned(flow.tunnel.id));
  w.beginObject("source").ipField("ip", flow.tunnel.outer_src, flow.tunnel.outer_ip_version).endObject();
  w.beginObject("destination").ipField("ip", flow.tunnel.outer_dst, flow.tunnel.outer_ip_version).endObject();
  w.endObject();
}

}  // namespace tapflow
