// The events the SIP analyzer reports: each parsed message (with its SDP media)
// and a summary of each call when it ends. Fields are views into the analyzer's
// or the session's buffers, valid only during the sink callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "packet/timestamp.h"
#include "proto/stream.h"

namespace tapflow {

// One SDP m= line, with the connection address in effect for it.
struct SipMedia {
  static constexpr size_t kMaxCodecs = 8;
  std::string_view type;      // "audio", "video", ...
  std::string_view address;   // c= of the media section, else of the session ("" if none); no /ttl
  std::string_view protocol;  // "RTP/AVP", "RTP/SAVP", ...
  uint16_t port = 0;
  // In m= line order: the a=rtpmap encoding ("PCMU/8000", "opus/48000/2"), else the static
  // payload name of RFC 3551 ("PCMA/8000"), else the format as written ("101", "t38").
  std::string_view codecs[kMaxCodecs];
  size_t codec_count = 0;
};

struct SipMessage {
  static constexpr size_t kMaxMedia = 4;
  bool is_request = false;
  std::string_view method, request_uri;  // requests (request_uri after privacy)
  uint16_t status_code = 0;              // responses
  std::string_view reason;
  std::string_view call_id, cseq_method;
  uint32_t cseq_number = 0;
  // URIs without display name or header parameters; From, To, P-Asserted-Identity and the
  // Request-URI are after SipConfig::user_privacy. Via: the topmost one.
  std::string_view from_uri, from_tag, to_uri, to_tag, via_branch, user_agent, pai_uri;
  SipMedia media[kMaxMedia];
  size_t media_count = 0;
  // The whole message as received (start line .. end of body); empty unless user_privacy is
  // kKeep, since it names the users.
  std::string_view raw;
  StreamDir dir = StreamDir::kToServer;
  Timestamp ts = 0;  // datagram time; on TCP, time of the segment that completed the message
};

// Summary of one call (INVITE dialog), emitted once when it ends.
struct SipCall {
  std::string_view call_id, from_uri, to_uri;  // from the initial INVITE, after privacy, maybe truncated
  Timestamp invite_ts = 0;
  Timestamp ringing_ts = 0;  // first 18x to the INVITE (180 Ringing, 183 Session Progress...), 0 if none
  Timestamp answer_ts = 0;   // first 2xx to the INVITE, 0 if none
  // kBye: the BYE; kFailure/kCancel: the final response; kTimeout/kFlush: the call's last message.
  Timestamp end_ts = 0;
  uint16_t final_status = 0;  // final response to the INVITE (200, 486, 487...), 0 if none
  enum class EndReason : uint8_t {
    kBye,      // BYE seen (summary emitted on the BYE itself, not its 200 OK)
    kCancel,   // 487 to the INVITE after a CANCEL
    kFailure,  // 3xx-6xx final response to the INVITE
    kTimeout,  // SipConfig::setup_timeout or call_timeout passed
    kFlush,    // still open at finish()
  } end_reason = EndReason::kFlush;
  // Who sent the BYE: its From tag equals the INVITE's From tag (caller) or not (callee).
  enum class Hangup : uint8_t { kNone, kCaller, kCallee } hangup = Hangup::kNone;
};

const char* sipEndReasonName(SipCall::EndReason reason);  // "bye", "cancel", "failure", "timeout", "flush"
const char* sipHangupName(SipCall::Hangup hangup);        // "none", "caller", "callee"

class SipEventSink {
 public:
  virtual ~SipEventSink() = default;
  virtual void onSipMessage(const SipMessage& m) = 0;
  virtual void onSipCall(const SipCall& c) = 0;
};

}  // namespace tapflow
