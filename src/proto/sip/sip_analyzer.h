// The SIP analyzer: parses SIP over UDP (one datagram, one message) and TCP
// (Content-Length framing, resync after gaps), reports every message with its SDP
// media, and follows INVITE dialogs by Call-ID to report one summary per call.
//
// Call rules (per worker, keyed by Call-ID):
//  - an INVITE without a To tag for an untracked Call-ID starts a call; a later INVITE with
//    the same Call-ID is a retransmission or re-INVITE (ignored), except that a higher CSeq
//    after a 401/407 continues the same call, and after the call ended starts a new one;
//  - 18x to the INVITE sets ringing_ts, 2xx sets answer_ts and final_status;
//  - 3xx-6xx to the INVITE ends the call (kFailure; 487 after a CANCEL: kCancel), except 401
//    and 407, which wait up to `linger` for the INVITE with credentials before ending it;
//  - a BYE ends the call (kBye): the summary goes out on the BYE, not on its 200 OK, so a
//    lost 200 OK cannot keep a call open for call_timeout;
//  - ended calls stay in the table for `linger`, silently absorbing retransmissions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "packet/timestamp.h"
#include "proto/sip/sip_call_table.h"
#include "proto/sip/sip_message.h"
#include "proto/sip/sip_stats.h"
#include "proto/stream.h"

namespace tapflow {

struct SipConfig {
  // Hashes or drops the user part of the From, To, P-Asserted-Identity and Request URIs
  // (sip:USER@host, tel:NUMBER) before any event leaves: kHash replaces USER by the first
  // 16 hex digits of SHA-1(hash_salt + USER), kDrop by an empty user. Not kKeep: raw is empty.
  enum class UserPrivacy : uint8_t { kKeep, kHash, kDrop } user_privacy = UserPrivacy::kKeep;
  // Secret mixed into kHash digests. Without one, a phone number is found again by hashing
  // every candidate; keep it fixed for digests that stay stable across restarts.
  std::string hash_salt;
  uint32_t max_message_bytes = 65535;  // longest SIP message kept (TCP framing buffer per direction)
  uint32_t max_calls = 65536;          // calls tracked per worker (~450 bytes each once used)
  Duration call_timeout = 3600 * kNanosPerSecond;  // no message in an established call for this long
  Duration setup_timeout = 180 * kNanosPerSecond;  // INVITE without final response for this long
  // How long an ended call is remembered (64*T1 of RFC 3261), and how long a 401/407 waits
  // for the INVITE with credentials.
  Duration linger = 32 * kNanosPerSecond;
};

class SipAnalyzer {  // one per worker: parser, call table (bounded by max_calls), counters
 public:
  explicit SipAnalyzer(const SipConfig& config);
  SipAnalyzer(const SipAnalyzer&) = delete;
  SipAnalyzer& operator=(const SipAnalyzer&) = delete;

  // One UDP payload: one SIP message, or a keep-alive (CRLFs only).
  void onDatagram(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, SipEventSink& sink);
  // Calls past their timeouts -> SipCall kTimeout; forgets ended calls past `linger`.
  void expire(Timestamp now, SipEventSink& sink);
  // End of input/shutdown: open calls -> kFlush (challenged ones -> kFailure); empties the table.
  void finish(Timestamp now, SipEventSink& sink);

  const SipStats& stats() const { return stats_; }
  const SipConfig& config() const { return config_; }
  uint32_t callsTracked() const { return calls_.size(); }  // open and lingering, <= max_calls

  // A SIP request line or "SIP/2.0 " status line starts the data (after keep-alive CRLFs).
  static bool looksLikeSip(const uint8_t* data, size_t len);

 private:
  friend class SipStreamSession;

  // One whole message (TCP: framed by the session; datagram: the rest of the datagram).
  void onMessage(StreamDir dir, std::string_view bytes, bool datagram, Timestamp ts, SipEventSink& sink);
  std::string_view applyPrivacy(std::string_view uri);
  void trackCall(const SipMessage& m, SipEventSink& sink);
  void startCall(SipCallRecord& call, const SipMessage& m);
  void endCall(SipCallRecord& call, SipCall::EndReason reason, SipCall::Hangup hangup, Timestamp end_ts,
               SipEventSink& sink);
  void emitCall(const SipCallRecord& call, SipCall::EndReason reason, SipCall::Hangup hangup, SipEventSink& sink);
  void forget(SipCallRecord& call, SipEventSink& sink);

  SipConfig config_;
  SipStats stats_;
  SipCallTable calls_;
  SipMessage message_;               // reused for every message
  std::vector<char> privacy_out_;    // rewritten URIs of the current message
  size_t privacy_used_ = 0;
  std::vector<uint8_t> hash_input_;  // hash_salt + user
};

// One TCP connection carrying SIP; recycled with reset(). Frames messages by
// Content-Length (absent: 0) in a buffer of max_message_bytes per direction,
// allocated once; bytes already in one segment are parsed in place.
class SipStreamSession {
 public:
  explicit SipStreamSession(SipAnalyzer& analyzer);
  void reset();
  void onData(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, SipEventSink& sink);
  // `len` bytes never arrived: the partial message is dropped; if the gap ends inside a message
  // of known length its rest is skipped, otherwise bytes are dropped up to a SIP start line.
  void onGap(StreamDir dir, uint64_t len, SipEventSink& sink);
  void onEnd(StreamDir dir, StreamEnd reason, Timestamp ts, SipEventSink& sink);

 private:
  enum class Mode : uint8_t {
    kFrame,          // at a message boundary or inside a message
    kResync,         // at a line start, dropping lines until a SIP start line
    kResyncMidLine,  // dropping bytes up to the next line end, then kResync
  };
  struct Direction {
    // max_message_bytes, allocated once and not zeroed: pages are committed as messages need them.
    std::unique_ptr<uint8_t[]> buffer;
    size_t capacity = 0;
    size_t used = 0;              // bytes of a partial message (or candidate line) held
    size_t scan = 0;              // where the search for a line end resumes
    uint64_t need = 0;            // the message's whole length once its head is complete, else 0
    uint64_t skip = 0;            // bytes still to drop (rest of an over-long message)
    bool start_line_ok = false;   // the message's first line was checked
    Mode mode = Mode::kFrame;
  };
  void clearMessage(Direction& d);
  size_t frame(Direction& d, StreamDir dir, const uint8_t* p, size_t n, Timestamp ts, SipEventSink& sink);

  SipAnalyzer& analyzer_;
  Direction dirs_[2];
};

}  // namespace tapflow
