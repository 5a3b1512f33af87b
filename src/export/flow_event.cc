#include "export/flow_event.h"

#include <charconv>

#include "export/json_writer.h"

namespace tapflow {
namespace {

const char* transportName(uint8_t proto) {
  switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 58: return "ipv6-icmp";
    case 132: return "sctp";
    default: return nullptr;
  }
}

// TCP flags in the order tcpdump prints them, one letter each.
void tcpFlagsText(uint8_t flags, char out[9]) {
  static constexpr struct {
    uint8_t bit;
    char letter;
  } kFlags[] = {{tcp_flags::kSyn, 'S'}, {tcp_flags::kAck, 'A'}, {tcp_flags::kFin, 'F'}, {tcp_flags::kRst, 'R'},
                {tcp_flags::kPsh, 'P'}, {tcp_flags::kUrg, 'U'}, {tcp_flags::kEce, 'E'}, {tcp_flags::kCwr, 'C'}};
  int n = 0;
  for (const auto& f : kFlags) {
    if (flags & f.bit) out[n++] = f.letter;
  }
  out[n] = '\0';
}

void writeEndpoint(JsonWriter& w, const char* name, const IpAddress& ip, uint16_t port, const Flow& flow,
                   const FlowDirection& sent) {
  w.beginObject(name);
  w.ipField("ip", ip, flow.key.ip_version);
  if (flow.key.proto == 6 || flow.key.proto == 17 || flow.key.proto == 132) w.field("port", unsigned(port));
  w.field("packets", sent.packets).field("bytes", sent.bytes);
  w.endObject();
}

void writeTcpDirection(JsonWriter& w, const char* name, const FlowDirection& d) {
  char flags[9];
  tcpFlagsText(d.tcp_flags, flags);
  w.beginObject(name)
      .field("flags", std::string_view(flags))
      .field("retransmissions", unsigned(d.retransmissions))
      .field("out_of_order", unsigned(d.out_of_order))
      .field("zero_windows", unsigned(d.zero_windows))
      .endObject();
}

}  // namespace

void encodeFlowEvent(const Flow& flow, FlowEndReason reason, bool final, std::string& out) {
  const FlowKey& key = flow.key;
  // The client's direction is dir[flow.client]; dir[0] runs lo → hi.
  const bool client_is_lo = flow.client == 0;
  const IpAddress& client_ip = client_is_lo ? key.lo : key.hi;
  const IpAddress& server_ip = client_is_lo ? key.hi : key.lo;
  const uint16_t client_port = client_is_lo ? key.port_lo : key.port_hi;
  const uint16_t server_port = client_is_lo ? key.port_hi : key.port_lo;
  const FlowDirection& c = flow.clientDir();
  const FlowDirection& s = flow.serverDir();

  char community_id[kCommunityIdLength + 1];
  communityId(key, community_id);

  JsonWriter w(out);
  w.beginObject();
  w.field("schema", kEventSchemaVersion);
  w.field("type", "flow");

  w.beginObject("event")
      .timeField("start", flow.record_start)
      .timeField("end", flow.last_ts)
      .field("duration", int64_t(flow.last_ts - flow.record_start))
      .field("reason", flowEndReasonName(reason))
      .endObject();

  w.beginObject("network");
  w.field("community_id", std::string_view(community_id));
  char proto_number[4];
  *std::to_chars(proto_number, proto_number + 3, unsigned(key.proto)).ptr = '\0';
  const char* transport = transportName(key.proto);
  w.field("transport", transport ? std::string_view(transport) : std::string_view(proto_number));
  w.field("iana_number", std::string_view(proto_number));
  w.field("type", key.ip_version == 4 ? "ipv4" : "ipv6");
  w.field("packets", c.packets + s.packets).field("bytes", c.bytes + s.bytes);
  if (flow.vlan_count > 0) {
    w.beginObject("vlan").field("id", unsigned(flow.vlan_ids[0])).endObject();
    if (flow.vlan_count > 1) {
      w.beginObject("inner").beginObject("vlan").field("id", unsigned(flow.vlan_ids[1])).endObject().endObject();
    }
  }
  w.endObject();

  writeEndpoint(w, "source", client_ip, client_port, flow, c);
  writeEndpoint(w, "destination", server_ip, server_port, flow, s);

  if (key.proto == 1 || key.proto == 58) {
    w.beginObject("icmp").field("type", unsigned(flow.icmp_type)).field("code", unsigned(flow.icmp_code)).endObject();
  }

  w.beginObject("flow").field("final", final).field("sequence", unsigned(flow.sequence)).endObject();

  if (key.proto == 6) {
    w.beginObject("tcp");
    writeTcpDirection(w, "client", c);
    writeTcpDirection(w, "server", s);
    if (flow.synack_ts != 0) {
      w.beginObject("rtt");
      w.field("server_us", int64_t((flow.synack_ts - flow.syn_ts) / 1000));
      if (flow.handshake_ack_ts != 0) w.field("client_us", int64_t((flow.handshake_ack_ts - flow.synack_ts) / 1000));
      w.endObject();
    }
    w.endObject();
  }

  if (flow.tunnel.type != TunnelType::kNone) {
    w.beginObject("tunnel").field("type", tunnelTypeName(flow.tunnel.type)).field("id", unsigned(flow.tunnel.id));
    w.beginObject("source").ipField("ip", flow.tunnel.outer_src, flow.tunnel.outer_ip_version).endObject();
    w.beginObject("destination").ipField("ip", flow.tunnel.outer_dst, flow.tunnel.outer_ip_version).endObject();
    w.endObject();
  }
  w.endObject();
}

}  // namespace tapflow
