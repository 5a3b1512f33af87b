// One tracked conversation: its key, orientation, per-direction counters and
// TCP observations. Lives in the flow table's preallocated pool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "flow/flow_key.h"
#include "packet/decoded_packet.h"

namespace tapflow {

enum class FlowEndReason : uint8_t {
  kFin,            // both sides sent FIN
  kRst,            // a side reset the connection
  kIdleTimeout,    // no packet for flows.idle_timeout
  kActiveTimeout,  // interim record of a long flow (the flow goes on)
  kEvicted,        // the table was full and this was the least recently seen flow
  kEndOfInput,     // the pcap ended with the flow still open
  kShutdown,       // tapflow was stopped with the flow still open
};

const char* flowEndReasonName(FlowEndReason reason);

// Counters of one direction since the flow's last record.
struct FlowDirection {
  uint64_t packets = 0;
  uint64_t bytes = 0;  // sum of IP total lengths
  uint8_t tcp_flags = 0;
  uint32_t retransmissions = 0;
  uint32_t out_of_order = 0;
  uint32_t zero_windows = 0;

  // Sequence tracking (not reported): the next expected sequence number and
  // one outstanding hole, enough to tell a late out-of-order segment from a
  // retransmission without storing segments.
  bool seq_known = false;
  bool fin_seen = false;
  uint32_t next_seq = 0;
  uint32_t hole_start = 0;
  uint32_t hole_end = 0;
};

enum class FlowState : uint8_t { kActive, kClosing };

struct Flow {
  FlowKey key;
  uint64_t hash = 0;

  // Table links (indices into the pool; kNoFlow terminates).
  uint32_t hash_next = 0;
  uint32_t list_prev = 0;
  uint32_t list_next = 0;

  FlowState state = FlowState::kActive;
  FlowEndReason close_reason = FlowEndReason::kFin;  // meaningful when closing
  uint8_t client = 0;  // index into dir[] of the client's direction: 0 = lo→hi
  bool client_from_syn = false;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint32_t sequence = 0;  // records emitted so far for this flow

  FlowDirection dir[2];  // [0] lo→hi, [1] hi→lo

  Timestamp first_ts = 0;     // first packet ever
  Timestamp record_start = 0; // first packet since the last record
  Timestamp last_ts = 0;

  // Handshake, as seen by the observer: server RTT = SYN→SYN/ACK, client RTT = SYN/ACK→ACK.
  Timestamp syn_ts = 0;
  Timestamp synack_ts = 0;
  Timestamp handshake_ack_ts = 0;

  uint16_t vlan_ids[2] = {0, 0};
  uint8_t vlan_count = 0;
  TunnelInfo tunnel;

  // The analyzer session of this flow (the worker's AppLayer owns it).
  uint8_t app_state = 0;           // AppLayer's: undecided, analyzed, parked (UDP between messages), or nothing to analyze
  uint32_t app_session = 0xFFFFFFFF;

  // The Community ID, a cache of the key's SHA-1 filled on first need (the
  // flow's first event or its record) and shared by all its events. Last in
  // the struct: the per-packet path never touches these lines.
  mutable uint8_t community_id_len = 0;
  mutable char community_id[kCommunityIdLength + 1];

  const FlowDirection& clientDir() const { return dir[client]; }
  const FlowDirection& serverDir() const { return dir[client ^ 1]; }
};

// The flow's Community ID (v1, seed 0), computed once per flow.
inline std::string_view communityIdOf(const Flow& flow) {
  if (flow.community_id_len == 0) {
    communityId(flow.key, flow.community_id);
    flow.community_id_len = uint8_t(std::char_traits<char>::length(flow.community_id));
  }
  return std::string_view(flow.community_id, flow.community_id_len);
}

}  // namespace tapflow
