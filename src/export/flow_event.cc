#include "export/flow_event.h"

#include <charconv>

#include "export/event_common.h"
#include "export/json_writer.h"
#include "export/kube_fields.h"

namespace tapflow {
namespace {

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
                   const FlowDirection& sent, const IpIdentity& kube) {
  w.beginObject(name);
  w.ipField("ip", ip, flow.key.ip_version);
  if (flow.key.proto == 6 || flow.key.proto == 17 || flow.key.proto == 132) w.field("port", unsigned(port));
  w.field("packets", sent.packets).field("bytes", sent.bytes);
  writeKubeEnd(w, kube);
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

void encodeFlowEvent(const Flow& flow, FlowEndReason reason, bool final, std::string& out,
                     const ClusterSnapshot* cluster) {
  const FlowKey& key = flow.key;
  const FlowEnds ends = flowEnds(flow);
  const FlowDirection& c = flow.clientDir();
  const FlowDirection& s = flow.serverDir();

  JsonWriter w(out);
  beginEvent(w, "flow", flow.record_start, flow.last_ts);
  w.field("reason", flowEndReasonName(reason)).endObject();

  w.beginObject("network");
  writeNetworkIdentity(w, flow);
  w.field("packets", c.packets + s.packets).field("bytes", c.bytes + s.bytes);
  writeVlans(w, flow);
  w.endObject();

  const IpIdentity client = lookupEnd(cluster, *ends.client_ip, key.ip_version);
  const IpIdentity server = lookupEnd(cluster, *ends.server_ip, key.ip_version);
  writeEndpoint(w, "source", *ends.client_ip, ends.client_port, flow, c, client);
  writeEndpoint(w, "destination", *ends.server_ip, ends.server_port, flow, s, server);
  writeKubeDirection(w, client, server);

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

  writeTunnel(w, flow);
  w.endObject();
}

}  // namespace tapflow
