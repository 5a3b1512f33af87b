// Helpers of the SIP tests: sipp-style messages of one dialog, and a sink that
// keeps owned copies of every event (the analyzer's views die after the callback).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/sip/sip_analyzer.h"

namespace tapflow::sip_test {

constexpr Timestamp kT0 = 1'700'000'000 * kNanosPerSecond;
constexpr Timestamp kMs = 1'000'000;

// "\n" line ends to "\r\n".
inline std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

inline std::vector<uint8_t> bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

constexpr std::string_view kOfferSdp =
    "v=0\n"
    "o=user1 53655765 2353687637 IN IP4 192.168.1.1\n"
    "s=-\n"
    "c=IN IP4 192.168.1.1\n"
    "t=0 0\n"
    "m=audio 6000 RTP/AVP 0 8 101\n"
    "a=rtpmap:0 PCMU/8000\n"
    "a=rtpmap:101 telephone-event/8000\n"
    "a=fmtp:101 0-15\n";

constexpr std::string_view kAnswerSdp =
    "v=0\n"
    "o=user2 1 2 IN IP4 192.168.1.2\n"
    "s=-\n"
    "t=0 0\n"
    "m=audio 6002 RTP/AVP 8\n"
    "c=IN IP4 192.168.1.2\n";

// One dialog between sipp's UAC (192.168.1.1) and UAS (192.168.1.2).
struct Dialog {
  std::string call_id = "1-4242@192.168.1.1";
  std::string from = "sipp <sip:sipp@192.168.1.1:5061>;tag=4242SIPpTag001";
  std::string to = "service <sip:service@192.168.1.2:5060>";
  std::string to_tag = "1234SIPpTag012";
  std::string branch = "z9hG4bK-4242-1-0";

  std::string toHeader(bool with_tag) const { return with_tag ? to + ";tag=" + to_tag : to; }

  // A request from the caller (the callee's requests swap From and To).
  std::string request(std::string_view method, uint32_t cseq, bool to_tag_present, std::string_view sdp = {},
                      bool from_callee = false) const {
    const std::string from_line = from_callee ? toHeader(true) : from;
    const std::string to_line = from_callee ? from : toHeader(to_tag_present);
    std::string m = std::string(method) + " sip:service@192.168.1.2:5060 SIP/2.0\n";
    m += "Via: SIP/2.0/UDP 192.168.1.1:5061;branch=" + branch + "\n";
    m += "From: " + from_line + "\n";
    m += "To: " + to_line + "\n";
    m += "Call-ID: " + call_id + "\n";
    m += "CSeq: " + std::to_string(cseq) + " " + std::string(method) + "\n";
    m += "Contact: sip:sipp@192.168.1.1:5061\n";
    m += "Max-Forwards: 70\n";
    m += "User-Agent: SIPp/3.6\n";
    return finish(m, sdp);
  }

  std::string response(uint16_t status, std::string_view reason, uint32_t cseq, std::string_view cseq_method,
                       bool to_tag_present, std::string_view sdp = {}) const {
    std::string m = "SIP/2.0 " + std::to_string(status) + " " + std::string(reason) + "\n";
    m += "Via: SIP/2.0/UDP 192.168.1.1:5061;branch=" + branch + ";received=192.168.1.1\n";
    m += "From: " + from + "\n";
    m += "To: " + toHeader(to_tag_present) + "\n";
    m += "Call-ID: " + call_id + "\n";
    m += "CSeq: " + std::to_string(cseq) + " " + std::string(cseq_method) + "\n";
    m += "Contact: <sip:192.168.1.2:5060;transport=UDP>\n";
    return finish(m, sdp);
  }

  static std::string finish(std::string head, std::string_view sdp) {
    const std::string body = crlf(sdp);
    if (!body.empty()) head += "Content-Type: application/sdp\n";
    head += "Content-Length: " + std::to_string(body.size()) + "\n\n";
    return crlf(head) + body;
  }
};

struct OwnedMedia {
  std::string type, address, protocol;
  uint16_t port = 0;
  std::vector<std::string> codecs;
};

struct OwnedMessage {
  bool is_request = false;
  std::string method, request_uri, reason, call_id, cseq_method;
  uint16_t status_code = 0;
  uint32_t cseq_number = 0;
  std::string from_uri, from_tag, to_uri, to_tag, via_branch, user_agent, pai_uri, raw;
  std::vector<OwnedMedia> media;
  StreamDir dir = StreamDir::kToServer;
  Timestamp ts = 0;
};

struct OwnedCall {
  std::string call_id, from_uri, to_uri;
  Timestamp invite_ts = 0, ringing_ts = 0, answer_ts = 0, end_ts = 0;
  uint16_t final_status = 0;
  SipCall::EndReason end_reason = SipCall::EndReason::kFlush;
  SipCall::Hangup hangup = SipCall::Hangup::kNone;
};

class RecordingSink : public SipEventSink {
 public:
  std::vector<OwnedMessage> messages;
  std::vector<OwnedCall> calls;
  std::vector<std::string> log;  // every event as one line, in order, for whole/split comparisons

  void onSipMessage(const SipMessage& m) override {
    OwnedMessage o;
    o.is_request = m.is_request;
    o.method = m.method;
    o.request_uri = m.request_uri;
    o.reason = m.reason;
    o.call_id = m.call_id;
    o.cseq_method = m.cseq_method;
    o.status_code = m.status_code;
    o.cseq_number = m.cseq_number;
    o.from_uri = m.from_uri;
    o.from_tag = m.from_tag;
    o.to_uri = m.to_uri;
    o.to_tag = m.to_tag;
    o.via_branch = m.via_branch;
    o.user_agent = m.user_agent;
    o.pai_uri = m.pai_uri;
    o.raw = m.raw;
    o.dir = m.dir;
    o.ts = m.ts;
    std::string line = "msg " + o.method + "|" + o.request_uri + "|" + std::to_string(o.status_code) + "|" + o.reason +
                       "|" + o.call_id + "|" + std::to_string(o.cseq_number) + o.cseq_method + "|" + o.from_uri + "|" +
                       o.from_tag + "|" + o.to_uri + "|" + o.to_tag + "|" + o.via_branch + "|" + o.user_agent + "|" +
                       o.pai_uri + "|" + std::to_string(static_cast<int>(o.dir)) + "|" + std::to_string(o.ts) +
                       "|raw=" + o.raw;
    for (size_t i = 0; i < m.media_count; ++i) {
      const SipMedia& s = m.media[i];
      OwnedMedia media{std::string(s.type), std::string(s.address), std::string(s.protocol), s.port, {}};
      line += "|m=" + media.type + " " + media.address + ":" + std::to_string(media.port) + " " + media.protocol;
      for (size_t c = 0; c < s.codec_count; ++c) {
        media.codecs.emplace_back(s.codecs[c]);
        line += " " + media.codecs.back();
      }
      o.media.push_back(std::move(media));
    }
    log.push_back(std::move(line));
    messages.push_back(std::move(o));
  }

  void onSipCall(const SipCall& c) override {
    OwnedCall o;
    o.call_id = c.call_id;
    o.from_uri = c.from_uri;
    o.to_uri = c.to_uri;
    o.invite_ts = c.invite_ts;
    o.ringing_ts = c.ringing_ts;
    o.answer_ts = c.answer_ts;
    o.end_ts = c.end_ts;
    o.final_status = c.final_status;
    o.end_reason = c.end_reason;
    o.hangup = c.hangup;
    log.push_back("call " + o.call_id + "|" + o.from_uri + "|" + o.to_uri + "|" + std::to_string(o.invite_ts) + "|" +
                  std::to_string(o.ringing_ts) + "|" + std::to_string(o.answer_ts) + "|" +
                  std::to_string(o.end_ts) + "|" + std::to_string(o.final_status) + "|" +
                  sipEndReasonName(o.end_reason) + "|" + sipHangupName(o.hangup));
    calls.push_back(std::move(o));
  }
};

// Every counter of a stats struct as "name=value" lines, for whole/split comparisons.
inline std::string counters(const SipStats& stats) {
  std::string out;
  stats.forEach([&](const char* name, const char*, const Counter& c) {
    out += std::string(name) + "=" + std::to_string(c.value()) + "\n";
  });
  return out;
}

}  // namespace tapflow::sip_test
