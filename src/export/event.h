// One event on its way to the outputs: its JSON text, what routes it (type,
// Kafka key), and for the messages HEP forwards, the raw message with its
// addressing. Workers build it once and every output shares it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "packet/decoded_packet.h"
#include "packet/timestamp.h"

namespace tapflow {

enum class EventType : uint8_t { kFlow, kHttp, kSip, kSipCall, kDns, kTls, kStats };
inline constexpr size_t kEventTypeCount = 7;

// The event's `type` field: "flow", "http", "sip", "sip_call", "dns", "tls", "stats".
constexpr std::string_view eventTypeName(EventType type) {
  constexpr std::string_view kNames[kEventTypeCount] = {"flow", "http", "sip", "sip_call", "dns", "tls", "stats"};
  return kNames[size_t(type)];
}

// A captured message as HEP v3 carries it (protocol type, addressing, payload).
struct HepMessage {
  uint8_t proto_type = 1;  // HEP protocol type: 1 SIP, 53 DNS, 100 log
  uint8_t ip_version = 4;  // 4 or 6
  uint8_t ip_proto = 17;   // 6 TCP, 17 UDP, 132 SCTP
  IpAddress src_ip{}, dst_ip{};
  uint16_t src_port = 0, dst_port = 0;
  uint16_t vlan = 0;       // outermost VLAN id, 0: none
  Timestamp ts = 0;
  std::string correlation_id;  // SIP: the Call-ID
  // "namespace/pod" of the sender and of the receiver when the address is a
  // pod's (Kubernetes enrichment); "": not a pod, or no cluster. Owned text:
  // the message outlives the cluster snapshot it was resolved in.
  std::string src_pod, dst_pod;
  std::string payload;         // SIP: one whole message, start line to end of body
};

struct Event {
  EventType type = EventType::kFlow;
  std::string json;          // one JSON object, no trailing newline
  std::string key;           // the flow's Community ID; "" for events without a flow
  std::unique_ptr<HepMessage> hep;  // set on the events HEP forwards (SIP messages)
};

// Outputs share one event; the last one to write it frees it.
using EventPtr = std::shared_ptr<const Event>;

}  // namespace tapflow
