// The SIP analyzer: message reporting with user privacy, call tracking, and
// TCP framing (see sip_analyzer.h for the call rules).
#include "proto/sip/sip_analyzer.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "flow/sha1.h"
#include "ops/hex.h"
#include "proto/sip/sip_parser.h"

namespace tapflow {
namespace {

constexpr size_t npos = std::string_view::npos;
constexpr size_t kDigestHexChars = 16;  // 64 bits of SHA-1: no collisions among real users

using State = SipCallRecord::State;
using List = SipCallTable::List;

uint64_t randomSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

}  // namespace

const char* sipEndReasonName(SipCall::EndReason reason) {
  switch (reason) {
    case SipCall::EndReason::kBye: return "bye";
    case SipCall::EndReason::kCancel: return "cancel";
    case SipCall::EndReason::kFailure: return "failure";
    case SipCall::EndReason::kTimeout: return "timeout";
    case SipCall::EndReason::kFlush: return "flush";
  }
  return "unknown";
}

const char* sipHangupName(SipCall::Hangup hangup) {
  switch (hangup) {
    case SipCall::Hangup::kNone: return "none";
    case SipCall::Hangup::kCaller: return "caller";
    case SipCall::Hangup::kCallee: return "callee";
  }
  return "unknown";
}

SipAnalyzer::SipAnalyzer(const SipConfig& config)
    : config_(config), calls_(config.max_calls, randomSeed()) {
  config_.max_message_bytes = std::max<uint32_t>(config_.max_message_bytes, 1);
  if (config_.user_privacy != SipConfig::UserPrivacy::kKeep) {
    // The rewritten URIs are disjoint parts of one message, each grown by at most a digest.
    privacy_out_.resize(config_.max_message_bytes + 4 * kDigestHexChars);
    hash_input_.resize(config_.hash_salt.size() + config_.max_message_bytes);
    std::memcpy(hash_input_.data(), config_.hash_salt.data(), config_.hash_salt.size());
  }
}

bool SipAnalyzer::looksLikeSip(const uint8_t* data, size_t len) {
  if (data == nullptr) return false;
  std::string_view text = asText(data, len);
  while (!text.empty() && (text.front() == '\r' || text.front() == '\n')) text.remove_prefix(1);
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return isSipStartLine(text);
}

void SipAnalyzer::onDatagram(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, SipEventSink& sink) {
  if (data == nullptr) return;
  std::string_view text = asText(data, len);
  while (!text.empty() && (text.front() == '\r' || text.front() == '\n')) text.remove_prefix(1);
  if (text.empty()) {
    stats_.keepalives.add();
    return;
  }
  if (text.size() > config_.max_message_bytes) {
    stats_.malformed_too_long.add();
    return;
  }
  onMessage(dir, text, /*datagram=*/true, ts, sink);
}

void SipAnalyzer::onMessage(StreamDir dir, std::string_view bytes, bool datagram, Timestamp ts,
                            SipEventSink& sink) {
  SipMessage& m = message_;
  m = SipMessage{};
  if (parseSipMessage(bytes, datagram, m, stats_) != SipParseResult::kOk) return;
  m.dir = dir;
  m.ts = ts;
  if (config_.user_privacy != SipConfig::UserPrivacy::kKeep) {
    privacy_used_ = 0;
    m.request_uri = applyPrivacy(m.request_uri);
    m.from_uri = applyPrivacy(m.from_uri);
    m.to_uri = applyPrivacy(m.to_uri);
    m.pai_uri = applyPrivacy(m.pai_uri);
    m.raw = {};
  }
  (m.is_request ? stats_.requests : stats_.responses).add();
  sink.onSipMessage(m);
  trackCall(m, sink);
}

std::string_view SipAnalyzer::applyPrivacy(std::string_view uri) {
  size_t user_begin = 0, user_end = 0;
  if (!findSipUriUser(uri, user_begin, user_end) || user_begin == user_end) return uri;
  const std::string_view user = uri.substr(user_begin, user_end - user_begin);
  char digest_hex[kDigestHexChars];
  size_t digest_len = 0;
  const size_t salt_len = config_.hash_salt.size();
  if (config_.user_privacy == SipConfig::UserPrivacy::kHash && salt_len + user.size() <= hash_input_.size()) {
    std::memcpy(hash_input_.data() + salt_len, user.data(), user.size());
    uint8_t digest[20];
    sha1(hash_input_.data(), salt_len + user.size(), digest);
    hexEncode(digest, kDigestHexChars / 2, digest_hex);
    digest_len = kDigestHexChars;
  }
  const size_t out_len = user_begin + digest_len + (uri.size() - user_end);
  // Sized for any message; if it ever were not, the URI is withheld rather than leaked.
  if (out_len > privacy_out_.size() - privacy_used_) return {};
  char* out = privacy_out_.data() + privacy_used_;
  std::memcpy(out, uri.data(), user_begin);
  if (digest_len > 0) std::memcpy(out + user_begin, digest_hex, digest_len);
  std::memcpy(out + user_begin + digest_len, uri.data() + user_end, uri.size() - user_end);
  privacy_used_ += out_len;
  return std::string_view(out, out_len);
}

void SipAnalyzer::startCall(SipCallRecord& call, const SipMessage& m) {
  call.invite_cseq = m.cseq_number;
  if (!call.from_uri.assign(m.from_uri)) stats_.truncated_fields.add();
  if (!call.to_uri.assign(m.to_uri)) stats_.truncated_fields.add();
  if (!call.from_tag.assign(m.from_tag)) stats_.truncated_fields.add();
  stats_.calls_started.add();
}

void SipAnalyzer::trackCall(const SipMessage& m, SipEventSink& sink) {
  SipCallRecord* call = calls_.find(m.call_id);
  // An INVITE without a To tag opens a dialog; with one it is a re-INVITE inside a dialog.
  const bool initial_invite = m.is_request && m.method == "INVITE" && m.to_tag.empty();
  if (call != nullptr && call->state == State::kEnded && initial_invite && m.cseq_number > call->invite_cseq) {
    calls_.release(*call);  // a new attempt with a Call-ID whose call ended: a new call
    call = nullptr;
  }
  if (call == nullptr) {
    if (!m.is_request) return;
    if (m.method == "BYE") stats_.orphan_byes.add();
    if (m.method != "INVITE") return;
    if (!initial_invite) {
      stats_.untracked_reinvites.add();
      return;
    }
    if (calls_.size() == calls_.capacity()) {
      // Ended calls are only remembered for retransmissions: the oldest one makes room.
      if (SipCallRecord* oldest = calls_.oldest(List::kLingering)) forget(*oldest, sink);
    }
    bool truncated = false;
    call = calls_.create(m.call_id, m.ts, truncated);
    if (call == nullptr) {
      stats_.calls_table_full.add();
      return;
    }
    if (truncated) stats_.truncated_fields.add();
    startCall(*call, m);
    return;
  }
  if (call->state == State::kEnded) return;  // retransmissions, 200 OK to the BYE, late ACKs
  calls_.touch(*call, m.ts);

  if (m.is_request) {
    if (m.method == "INVITE") {
      // The INVITE with credentials after a 401/407 continues the same call.
      if (call->state == State::kChallenged && initial_invite && m.cseq_number > call->invite_cseq) {
        call->invite_cseq = m.cseq_number;
        call->final_status = 0;
        call->end_ts = 0;
        calls_.setState(*call, State::kSetup, m.ts);
      }
    } else if (m.method == "BYE") {
      SipCall::Hangup hangup = SipCall::Hangup::kNone;
      if (call->from_tag.original > 0 && !m.from_tag.empty()) {
        hangup = call->from_tag.matches(m.from_tag) ? SipCall::Hangup::kCaller : SipCall::Hangup::kCallee;
      }
      endCall(*call, SipCall::EndReason::kBye, hangup, m.ts, sink);
    } else if (m.method == "CANCEL" && call->state == State::kSetup) {
      call->cancel_seen = true;
    }
    return;
  }

  // Responses: only those to the INVITE that opened the call (or its authenticated retry).
  if (m.cseq_method != "INVITE" || call->state != State::kSetup || m.cseq_number != call->invite_cseq) return;
  const uint16_t status = m.status_code;
  if (status < 200) {
    if (status >= 180 && call->ringing_ts == 0) call->ringing_ts = m.ts;
    return;
  }
  call->final_status = status;
  if (status < 300) {
    call->answer_ts = m.ts;
    calls_.setState(*call, State::kEstablished, m.ts);
  } else if (status == 401 || status == 407) {
    call->end_ts = m.ts;
    calls_.setState(*call, State::kChallenged, m.ts);
  } else {
    const bool cancelled = status == 487 && call->cancel_seen;
    endCall(*call, cancelled ? SipCall::EndReason::kCancel : SipCall::EndReason::kFailure, SipCall::Hangup::kNone,
            m.ts, sink);
  }
}

void SipAnalyzer::emitCall(const SipCallRecord& call, SipCall::EndReason reason, SipCall::Hangup hangup,
                           SipEventSink& sink) {
  SipCall c;
  c.call_id = call.call_id.view();
  c.from_uri = call.from_uri.view();
  c.to_uri = call.to_uri.view();
  c.invite_ts = call.invite_ts;
  c.ringing_ts = call.ringing_ts;
  c.answer_ts = call.answer_ts;
  c.end_ts = call.end_ts;
  c.final_status = call.final_status;
  c.end_reason = reason;
  c.hangup = hangup;
  stats_.calls_ended.add();
  sink.onSipCall(c);
}

void SipAnalyzer::endCall(SipCallRecord& call, SipCall::EndReason reason, SipCall::Hangup hangup, Timestamp end_ts,
                          SipEventSink& sink) {
  call.end_ts = end_ts;
  emitCall(call, reason, hangup, sink);
  // Linger from the later of the end and the last message, so the lingering list stays in time order.
  calls_.setState(call, State::kEnded, std::max(end_ts, call.last_ts));
}

void SipAnalyzer::forget(SipCallRecord& call, SipEventSink& sink) {
  // A challenged call whose INVITE with credentials never came failed with the 401/407.
  if (call.state == State::kChallenged) emitCall(call, SipCall::EndReason::kFailure, SipCall::Hangup::kNone, sink);
  calls_.release(call);
}

void SipAnalyzer::expire(Timestamp now, SipEventSink& sink) {
  while (SipCallRecord* call = calls_.oldest(List::kSetup)) {
    if (now - call->state_since < config_.setup_timeout) break;
    stats_.calls_timed_out.add();
    endCall(*call, SipCall::EndReason::kTimeout, SipCall::Hangup::kNone, call->last_ts, sink);
  }
  while (SipCallRecord* call = calls_.oldest(List::kEstablished)) {
    if (now - call->last_ts < config_.call_timeout) break;
    stats_.calls_timed_out.add();
    endCall(*call, SipCall::EndReason::kTimeout, SipCall::Hangup::kNone, call->last_ts, sink);
  }
  while (SipCallRecord* call = calls_.oldest(List::kLingering)) {
    if (now - call->state_since < config_.linger) break;
    forget(*call, sink);
  }
}

void SipAnalyzer::finish(Timestamp /*now*/, SipEventSink& sink) {
  for (List list : {List::kSetup, List::kEstablished}) {
    while (SipCallRecord* call = calls_.oldest(list)) {
      stats_.calls_flushed.add();
      endCall(*call, SipCall::EndReason::kFlush, SipCall::Hangup::kNone, call->last_ts, sink);
    }
  }
  while (SipCallRecord* call = calls_.oldest(List::kLingering)) forget(*call, sink);
}

// ---------------------------------------------------------------------------
// TCP

SipStreamSession::SipStreamSession(SipAnalyzer& analyzer) : analyzer_(analyzer) {
  for (Direction& d : dirs_) {
    d.capacity = analyzer.config_.max_message_bytes;
    d.buffer.reset(new uint8_t[d.capacity]);
  }
}

void SipStreamSession::clearMessage(Direction& d) {
  d.need = 0;
  d.scan = 0;
  d.start_line_ok = false;
}

void SipStreamSession::reset() {
  for (Direction& d : dirs_) {
    clearMessage(d);
    d.used = 0;
    d.skip = 0;
    d.mode = Mode::kFrame;
  }
}

void SipStreamSession::onData(StreamDir dir, const uint8_t* data, size_t len, Timestamp ts, SipEventSink& sink) {
  if (data == nullptr) return;
  Direction& d = dirs_[static_cast<size_t>(dir) & 1];
  SipStats& stats = analyzer_.stats_;
  const size_t cap = d.capacity;
  while (len > 0) {
    if (d.skip > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(d.skip, len));
      d.skip -= n;
      stats.bytes_skipped.add(n);
      data += n;
      len -= n;
      continue;
    }
    if (d.mode == Mode::kResyncMidLine) {
      const void* nl = std::memchr(data, '\n', len);
      const size_t n = nl == nullptr ? len : static_cast<size_t>(static_cast<const uint8_t*>(nl) - data) + 1;
      if (nl != nullptr) d.mode = Mode::kResync;
      stats.bytes_skipped.add(n);
      data += n;
      len -= n;
      continue;
    }
    if (d.used == 0) {
      // Parse in place while a message starts in this segment.
      if (d.mode == Mode::kFrame) {
        while (len > 0 && (*data == '\r' || *data == '\n')) {
          if (*data == '\n') stats.keepalives.add();
          ++data;
          --len;
        }
        if (len == 0) break;
      }
      const size_t consumed = frame(d, dir, data, len, ts, sink);
      if (consumed > 0) {
        data += consumed;
        len -= consumed;
        continue;
      }
      // Incomplete, and shorter than the buffer: frame() decides as soon as it sees `cap` bytes.
      std::memcpy(d.buffer.get(), data, len);
      d.used = len;
      return;
    }
    size_t take = std::min(len, cap - d.used);
    if (d.need > 0) take = static_cast<size_t>(std::min<uint64_t>(take, d.need - d.used));
    std::memcpy(d.buffer.get() + d.used, data, take);
    d.used += take;
    data += take;
    len -= take;
    const size_t consumed = frame(d, dir, d.buffer.get(), d.used, ts, sink);
    if (consumed == 0) continue;
    // frame() had returned 0 on the bytes held before this append, so what it consumed now
    // covers them: the rest came from `data` and is handed back instead of moved.
    const size_t rest = d.used - consumed;
    data -= rest;
    len += rest;
    d.used = 0;
  }
}

size_t SipStreamSession::frame(Direction& d, StreamDir dir, const uint8_t* p, size_t n, Timestamp ts,
                               SipEventSink& sink) {
  SipStats& stats = analyzer_.stats_;
  const size_t cap = d.capacity;
  // Never look past `cap` bytes: every decision is then the same however the stream is cut.
  const std::string_view text = asText(p, std::min(n, cap));
  if (!d.start_line_ok) {
    const size_t nl = text.find('\n', d.scan);
    if (nl == npos) {
      if (text.size() < cap) {
        d.scan = text.size();
        return 0;
      }
      if (d.mode == Mode::kFrame) {
        stats.malformed_too_long.add();
        stats.resyncs.add();
      }
      d.mode = Mode::kResyncMidLine;
      stats.bytes_skipped.add(cap);
      clearMessage(d);
      return cap;
    }
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!isSipStartLine(line)) {
      if (d.mode == Mode::kFrame) {
        stats.malformed_start_line.add();
        stats.resyncs.add();
        d.mode = Mode::kResync;
      }
      stats.bytes_skipped.add(nl + 1);
      clearMessage(d);
      return nl + 1;
    }
    d.mode = Mode::kFrame;
    d.start_line_ok = true;
    d.scan = nl;
  }
  if (d.need == 0) {
    const size_t head_end = findSipHeadEnd(text, d.scan);
    if (head_end == npos) {
      if (text.size() < cap) {
        d.scan = std::max(d.scan, text.size() >= 2 ? text.size() - 2 : 0);
        return 0;
      }
      stats.malformed_too_long.add();
      stats.resyncs.add();
      d.mode = Mode::kResyncMidLine;
      stats.bytes_skipped.add(cap);
      clearMessage(d);
      return cap;
    }
    uint64_t body = 0;
    const SipLength length = sipContentLength(text.substr(0, head_end), body);
    if (length == SipLength::kBad) {
      // Without a length the message's end is unknown: look for the next start line.
      stats.malformed_bad_content_length.add();
      stats.resyncs.add();
      d.mode = Mode::kResync;
      stats.bytes_skipped.add(head_end);
      clearMessage(d);
      return head_end;
    }
    if (length == SipLength::kAbsent) body = 0;  // RFC 3261 18.3: absent on a stream means 0
    const uint64_t total = head_end + body;
    if (total > cap) {
      stats.malformed_too_long.add();
      const size_t consumed = static_cast<size_t>(std::min<uint64_t>(total, n));
      d.skip = total - consumed;
      stats.bytes_skipped.add(consumed);
      clearMessage(d);
      return consumed;
    }
    d.need = total;
  }
  if (n < d.need) return 0;
  const size_t message_len = static_cast<size_t>(d.need);
  clearMessage(d);
  analyzer_.onMessage(dir, asText(p, message_len), /*datagram=*/false, ts, sink);
  return message_len;
}

void SipStreamSession::onGap(StreamDir dir, uint64_t len, SipEventSink& /*sink*/) {
  Direction& d = dirs_[static_cast<size_t>(dir) & 1];
  SipStats& stats = analyzer_.stats_;
  stats.gaps.add();
  if (d.skip > 0) {
    if (len <= d.skip) {  // still inside the over-long message being skipped
      d.skip -= len;
      return;
    }
    len -= d.skip;
    d.skip = 0;
  } else if (d.mode == Mode::kFrame && d.need > 0) {
    // The lost bytes fell inside a message of known length: skip its rest, if the gap ends in it.
    stats.gap_messages_lost.add();
    const uint64_t remaining = d.need - d.used;
    d.used = 0;
    clearMessage(d);
    if (len <= remaining) {
      d.skip = remaining - len;
      return;
    }
  } else if (d.mode == Mode::kFrame && d.used > 0) {
    stats.gap_messages_lost.add();
  }
  if (d.mode == Mode::kFrame) stats.resyncs.add();
  d.mode = Mode::kResync;
  d.used = 0;
  clearMessage(d);
}

void SipStreamSession::onEnd(StreamDir dir, StreamEnd /*reason*/, Timestamp /*ts*/, SipEventSink& /*sink*/) {
  Direction& d = dirs_[static_cast<size_t>(dir) & 1];
  if (d.mode == Mode::kFrame && d.used > 0) analyzer_.stats_.stream_messages_truncated.add();
  clearMessage(d);
  d.used = 0;
  d.skip = 0;
  d.mode = Mode::kFrame;
}

}  // namespace tapflow
