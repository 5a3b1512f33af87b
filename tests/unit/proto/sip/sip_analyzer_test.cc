// Tests of the SIP analyzer: call summaries of sipp-style dialogs over UDP,
// privacy modes, timeouts and table limits, and TCP framing (segments, gaps,
// resync) with the whole / 1-byte / random-pieces differential test.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "flow/sha1.h"
#include "proto/sip/sip_analyzer.h"
#include "sip_test_util.h"

namespace tapflow {
namespace {

using namespace sip_test;
using EndReason = SipCall::EndReason;
using Hangup = SipCall::Hangup;

constexpr StreamDir kUp = StreamDir::kToServer;
constexpr StreamDir kDown = StreamDir::kToClient;

void send(SipAnalyzer& analyzer, StreamDir dir, const std::string& message, Timestamp ts, SipEventSink& sink) {
  analyzer.onDatagram(dir, reinterpret_cast<const uint8_t*>(message.data()), message.size(), ts, sink);
}

void sendTcp(SipStreamSession& session, StreamDir dir, std::string_view bytes, Timestamp ts, SipEventSink& sink) {
  session.onData(dir, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), ts, sink);
}

// The basic sipp uac/uas call: INVITE (SDP), 100, 180, 200 (SDP), ACK, BYE, 200.
void basicCall(SipAnalyzer& analyzer, const Dialog& d, Timestamp t0, SipEventSink& sink, bool callee_hangs_up = false) {
  send(analyzer, kUp, d.request("INVITE", 1, false, kOfferSdp), t0, sink);
  send(analyzer, kDown, d.response(100, "Trying", 1, "INVITE", false), t0 + 10 * kMs, sink);
  send(analyzer, kDown, d.response(180, "Ringing", 1, "INVITE", true), t0 + 100 * kMs, sink);
  send(analyzer, kDown, d.response(200, "OK", 1, "INVITE", true, kAnswerSdp), t0 + 2000 * kMs, sink);
  send(analyzer, kUp, d.request("ACK", 1, true), t0 + 2010 * kMs, sink);
  if (callee_hangs_up) {
    send(analyzer, kDown, d.request("BYE", 1, true, {}, /*from_callee=*/true), t0 + 32000 * kMs, sink);
  } else {
    send(analyzer, kUp, d.request("BYE", 2, true), t0 + 32000 * kMs, sink);
  }
  send(analyzer, kDown, d.response(200, "OK", 2, "BYE", true), t0 + 32010 * kMs, sink);
}

TEST_CASE("sip udp call flow reports every message and one summary on the bye") {
  SipAnalyzer analyzer{SipConfig{}};
  RecordingSink sink;
  const Dialog d;
  basicCall(analyzer, d, kT0, sink);

  REQUIRE(sink.messages.size() == 7);
  const OwnedMessage& invite = sink.messages[0];
  CHECK(invite.is_request);
  CHECK(invite.method == "INVITE");
  CHECK(invite.dir == kUp);
  CHECK(invite.ts == kT0);
  CHECK(invite.raw == d.request("INVITE", 1, false, kOfferSdp));
  REQUIRE(invite.media.size() == 1);
  CHECK(invite.media[0].address == "192.168.1.1");
  CHECK(invite.media[0].port == 6000);
  CHECK(invite.media[0].codecs == std::vector<std::string>{"PCMU/8000", "PCMA/8000", "telephone-event/8000"});
  const OwnedMessage& ok = sink.messages[3];
  CHECK_FALSE(ok.is_request);
  CHECK(ok.status_code == 200);
  CHECK(ok.reason == "OK");
  CHECK(ok.to_tag == "1234SIPpTag012");
  CHECK(ok.dir == kDown);
  REQUIRE(ok.media.size() == 1);
  CHECK(ok.media[0].address == "192.168.1.2");  // media-level c= after the m= line
  CHECK(ok.media[0].port == 6002);
  CHECK(ok.media[0].codecs == std::vector<std::string>{"PCMA/8000"});
  CHECK(sink.messages[5].method == "BYE");
  CHECK(sink.messages[6].cseq_method == "BYE");

  REQUIRE(sink.calls.size() == 1);
  const OwnedCall& call = sink.calls[0];
  CHECK(call.call_id == "1-4242@192.168.1.1");
  CHECK(call.from_uri == "sip:sipp@192.168.1.1:5061");
  CHECK(call.to_uri == "sip:service@192.168.1.2:5060");
  CHECK(call.invite_ts == kT0);
  CHECK(call.ringing_ts == kT0 + 100 * kMs);
  CHECK(call.answer_ts == kT0 + 2000 * kMs);
  CHECK(call.end_ts == kT0 + 32000 * kMs);
  CHECK(call.final_status == 200);
  CHECK(call.end_reason == EndReason::kBye);
  CHECK(call.hangup == Hangup::kCaller);
  // The summary comes right after the BYE, before the BYE's 200 OK.
  CHECK(sink.log[6].rfind("call ", 0) == 0);

  CHECK(analyzer.stats().requests.value() == 3);
  CHECK(analyzer.stats().responses.value() == 4);
  CHECK(analyzer.stats().calls_started.value() == 1);
  CHECK(analyzer.stats().calls_ended.value() == 1);
  CHECK(analyzer.callsTracked() == 1);  // lingering for retransmissions
  analyzer.expire(kT0 + 32010 * kMs + SipConfig{}.linger, sink);
  CHECK(analyzer.callsTracked() == 0);
  CHECK(sink.calls.size() == 1);
}

TEST_CASE("sip bye from the callee is a callee hangup") {
  SipAnalyzer analyzer{SipConfig{}};
  RecordingSink sink;
  basicCall(analyzer, Dialog{}, kT0, sink, /*callee_hangs_up=*/true);
  REQUIRE(sink.calls.size() == 1);
  CHECK(sink.calls[0].end_reason == EndReason::kBye);
  CHECK(sink.calls[0].hangup == Hangup::kCallee);
}

TEST_CASE("sip 486 busy ends the call as a failure and retransmissions start nothing") {
  SipAnalyzer analyzer{SipConfig{}};
  RecordingSink sink;
  const Dialog d;
  const std::string invite = d.request("INVITE", 1, false, kOfferSdp);
  send(analyzer, kUp, invite, kT0, sink);
  send(analyzer, kDown, d.response(100, "Trying", 1, "INVITE", false), kT0 + 5 * kMs, sink);
  send(analyzer, kDown, d.response(486, "Busy Here", 1, "INVITE", true), kT0 + 300 * kMs, sink);
  send(analyzer, kUp, invite, kT0 + 500 * kMs, sink);  // retransmission crossing the 486
  send(analyzer, kDown, d.response(486, "Busy Here", 1, "INVITE", true), kT0 + 800 * kMs, sink);
  send(analyzer, kUp, d.request("ACK", 1, true), kT0 + 810 * kMs, sink);
  REQUIRE(sink.calls.size() == 1);
  const OwnedCall& call = sink.calls[0];
  CHECK(call.final_status == 486);
  CHECK(call.end_reason == EndReason::kFailure);
  CHECK(call.hangup == Hangup::kNone);
  CHECK(call.ringing_ts == 0);
  CHECK(call.answer_ts == 0);
  CHECK(call.end_ts == kT0 + 300 * kMs);
  CHECK(analyzer.stats().calls_started.value() == 1);
  analyzer.finish(kT0 + kNanosPerSecond, sink);
  CHECK(sink.calls.size() == 1);  // an ended call is not flushed again
  CHECK(analyzer.callsTracked() == 0);
}

TEST_CASE("sip cancel then 487 ends the call as cancelled") {
  SipAnalyzer analyzer{SipConfig{}};
  RecordingSink sink;
  const Dialog d;
  send(analyzer, kUp, d.request("INVITE", 1, false, kOfferSdp), kT0, sink);
  send(analyzer, kDown, d.response(180, "Ringing", 1, "INVITE", true), kT0 + 50 * kMs, sink);
  send(analyzer, kUp, d.request("CANCEL", 1, false), kT0 + 4000 * kMs, sink);
  send(analyzer, kDown, d.response(200, "OK", 1, "CANCEL", true), kT0 + 4010 * kMs, sink);
  send(analyzer, kDown, d.response(487, "Request Terminated", 1, "INVITE", true), kT0 + 4020 * kMs, sink);
  send(analyzer, kUp, d.request("ACK", 1, true), kT0 + 4030 * kMs, sink);
  REQUIRE(sink.calls.size() == 1);
  CHECK(sink.calls[0].end_reason == EndReason::kCancel);
  CHECK(sink.calls[0].final_status == 487);
  CHECK(sink.calls[0].ringing_ts == kT0 + 50 * kMs);
  CHECK(sink.calls[0].end_ts == kT0 + 4020 * kMs);
}

TEST_CASE("sip 487 without a cancel is a failure") {
  SipAnalyzer analyzer{SipConfig{}};
  RecordingSink sink;
  const Dialog d;
  send(analyzer, kUp, d.request("INVITE", 1, false), kT0, sink);
  send(analyzer, kDown, d.response(487, "Request Terminated", 1, "INVITE", true), kT0 + kMs, sink);
  REQUIRE(sink.calls.size() == 1);
  CHECK(sink.calls[0].end_reason == EndReason::kFailure);
}

TEST_CASE("sip 407 challenge then invite with credentials is one answered call") {
  SipAnalyzer analyzer{SipConfig{}};
  RecordingSink sink;
  const Dialog d;
  send(analyzer, kUp, d.request("INVITE", 1, false), kT0, sink);
  send(analyzer, kDown, d.response(407, "Proxy Authentication Required", 1, "INVITE", true), kT0 + 20 * kMs, sink);
  send(analyzer, kUp, d.request("ACK", 1, true), kT0 + 21 * kMs, sink);
  CHECK(sink.calls.empty());
  send(analyzer, kUp, d.request("INVITE", 2, false), kT0 + 40 * kMs, sink);
  send(analyzer, kDown, d.response(180, "Ringing", 2, "INVITE", true), kT0 + 60 * kMs, sink);
  send(analyzer, kDown, d.response(200, "OK", 2, "INVITE", true), kT0 + 900 * kMs, sink);
  send(analyzer, kUp, d.request("BYE", 3, true), kT0 + 5000 * kMs, sink);
  REQUIRE(sink.calls.size() == 1);
  CHECK(sink.calls[0].invite_ts == kT0);
  CHECK(sink.calls[0].ringing_ts == kT0 + 60 * kMs);
  CHECK(sink.calls[0].answer_ts == kT0 + 900 * kMs);
  CHECK(sink.calls[0].final_status == 200);
  CHECK(sink.calls[0].end_reason == EndReason::kBye);
  CHECK(analyzer.stats().calls_started.value() == 1);
}

TEST_CASE("sip 401 challenge never answered is reported as a failure after the linger time") {
  SipConfig config;
  config.linger = 10 * kNanosPerSecond;
  SipAnalyzer analyzer{config};
  RecordingSink sink;
  const Dialog d;
  send(analyzer, kUp, d.request("INVITE", 1, false), kT0, sink);
  send(analyzer, kDown, d.response(401, "Unauthorized", 1, "INVITE", true), kT0 + 20 * kMs, sink);
  analyzer.expire(kT0 + 20 * kMs + 10 * kNanosPerSecond - 1, sink);
  CHECK(sink.calls.empty());
  analyzer.expire(kT0 + 20 * kMs + 10 * kNanosPerSecond, sink);
  REQUIRE(sink.calls.size() == 1);
  CHECK(sink.calls[0].end_reason == EndReason::kFailure);
  CHECK(sink.calls[0].final_status == 401);
  CHECK(sink.calls[0].end_ts == kT0 + 20 * kMs);
  CHECK(analyzer.callsTracked() == 0);
}

TEST_CASE("sip re-invite neither starts a call nor ends one with its failure") {
  SipAnalyzer analyzer{SipConfig{}};
  RecordingSink sink;
  const Dialog d;
  send(analyzer, kUp, d.request("INVITE", 1, false), kT0, sink);
  send(analyzer, kDown, d.response(200, "OK", 1, "INVITE", true), kT0 + kMs, sink);
  send(analyzer, kUp, d.request("INVITE", 2, true, kOfferSdp), kT0 + 60 * kNanosPerSecond, sink);
  send(analyzer, kDown, d.response(491, "Request Pending", 2, "INVITE", true), kT0 + 61 * kNanosPerSecond, sink);
  CHECK(sink.calls.empty());
  CHECK(analyzer.stats().calls_started.value() == 1);

  Dialog other;
  other.call_id = "mid-call@elsewhere";
  send(analyzer, kUp, other.request("INVITE", 5, true), kT0, sink);  // re-INVITE of a call not seen
  CHECK(analyzer.stats().untracked_reinvites.value() == 1);
  CHECK(analyzer.callsTracked() == 1);
  send(analyzer, kUp, other.request("BYE", 6, true), kT0, sink);
  CHECK(analyzer.stats().orphan_byes.value() == 1);

  analyzer.finish(kT0 + 100 * kNanosPerSecond, sink);
  REQUIRE(sink.calls.size() == 1);
  CHECK(sink.calls[0].end_reason == EndReason::kFlush);
  CHECK(sink.calls[0].final_status == 200);
  CHECK(sink.calls[0].end_ts == kT0 + 61 * kNanosPerSecond);  // its last message
  CHECK(analyzer.stats().calls_flushed.value() == 1);
}

TEST_CASE("sip setup timeout and call timeout end calls as timed out") {
  SipConfig config;
  config.setup_timeout = 30 * kNanosPerSecond;
  config.call_timeout = 600 * kNanosPerSecond;
  SipAnalyzer analyzer{config};
  RecordingSink sink;
  Dialog ringing, talking;
  ringing.call_id = "ringing@h";
  talking.call_id = "talking@h";
  send(analyzer, kUp, ringing.request("INVITE", 1, false), kT0, sink);
  send(analyzer, kDown, ringing.response(180, "Ringing", 1, "INVITE", true), kT0 + kNanosPerSecond, sink);
  send(analyzer, kUp, talking.request("INVITE", 1, false), kT0, sink);
  send(analyzer, kDown, talking.response(200, "OK", 1, "INVITE", true), kT0 + kNanosPerSecond, sink);
  send(analyzer, kUp, talking.request("INFO", 2, true), kT0 + 100 * kNanosPerSecond, sink);

  analyzer.expire(kT0 + 30 * kNanosPerSecond - 1, sink);
  CHECK(sink.calls.empty());
  analyzer.expire(kT0 + 30 * kNanosPerSecond, sink);
  REQUIRE(sink.calls.size() == 1);
  CHECK(sink.calls[0].call_id == "ringing@h");
  CHECK(sink.calls[0].end_reason == EndReason::kTimeout);
  CHECK(sink.calls[0].end_ts == kT0 + kNanosPerSecond);
  CHECK(sink.calls[0].final_status == 0);

  analyzer.expire(kT0 + 700 * kNanosPerSecond - 1, sink);  // the INFO kept it alive
  CHECK(sink.calls.size() == 1);
  analyzer.expire(kT0 + 700 * kNanosPerSecond, sink);
  REQUIRE(sink.calls.size() == 2);
  CHECK(sink.calls[1].call_id == "talking@h");
  CHECK(sink.calls[1].end_reason == EndReason::kTimeout);
  CHECK(sink.calls[1].end_ts == kT0 + 100 * kNanosPerSecond);
  CHECK(analyzer.stats().calls_timed_out.value() == 2);
  CHECK(analyzer.stats().calls_ended.value() == 2);
}

TEST_CASE("sip call table full counts and does not track, ended calls make room") {
  SipConfig config;
  config.max_calls = 2;
  SipAnalyzer analyzer{config};
  RecordingSink sink;
  Dialog a, b, c;
  a.call_id = "a@h";
  b.call_id = "b@h";
  c.call_id = "c@h";
  send(analyzer, kUp, a.request("INVITE", 1, false), kT0, sink);
  send(analyzer, kUp, b.request("INVITE", 1, false), kT0, sink);
  send(analyzer, kUp, c.request("INVITE", 1, false), kT0, sink);
  CHECK(analyzer.stats().calls_table_full.value() == 1);
  CHECK(analyzer.callsTracked() == 2);
  send(analyzer, kDown, c.response(486, "Busy Here", 1, "INVITE", true), kT0, sink);
  CHECK(sink.calls.empty());  // c was never tracked

  send(analyzer, kDown, a.response(486, "Busy Here", 1, "INVITE", true), kT0 + kMs, sink);
  REQUIRE(sink.calls.size() == 1);
  CHECK(analyzer.callsTracked() == 2);  // a lingers...
  send(analyzer, kUp, c.request("INVITE", 1, false), kT0 + 2 * kMs, sink);
  CHECK(analyzer.stats().calls_table_full.value() == 1);  // ...but gives way to a new call
  CHECK(analyzer.callsTracked() == 2);
  analyzer.finish(kT0 + 3 * kMs, sink);
  REQUIRE(sink.calls.size() == 3);
  CHECK(sink.calls[1].call_id == "b@h");
  CHECK(sink.calls[2].call_id == "c@h");
}

TEST_CASE("sip long call-id and uris are stored truncated, counted, and still match") {
  SipAnalyzer analyzer{SipConfig{}};
  RecordingSink sink;
  Dialog d;
  d.call_id = std::string(150, 'x') + "@h";
  d.from = "<sip:" + std::string(120, 'u') + "@h>;tag=1";
  send(analyzer, kUp, d.request("INVITE", 1, false), kT0, sink);
  CHECK(analyzer.stats().truncated_fields.value() == 2);
  Dialog same_prefix = d;
  same_prefix.call_id = std::string(150, 'x') + "@other";  // equal stored bytes, different call
  send(analyzer, kUp, same_prefix.request("BYE", 2, true), kT0 + kMs, sink);
  CHECK(sink.calls.empty());
  CHECK(analyzer.stats().orphan_byes.value() == 1);
  send(analyzer, kUp, d.request("BYE", 2, true), kT0 + 2 * kMs, sink);
  REQUIRE(sink.calls.size() == 1);
  CHECK(sink.calls[0].call_id == std::string(96, 'x'));
  CHECK(sink.calls[0].from_uri == "sip:" + std::string(92, 'u'));
  CHECK(sink.calls[0].hangup == Hangup::kCaller);
}

TEST_CASE("sip privacy hash replaces users by a salted digest and withholds raw") {
  SipConfig config;
  config.user_privacy = SipConfig::UserPrivacy::kHash;
  SipAnalyzer analyzer{config};
  RecordingSink sink;
  Dialog d;
  send(analyzer, kUp, d.request("INVITE", 1, false), kT0, sink);
  REQUIRE(sink.messages.size() == 1);
  const OwnedMessage& m = sink.messages[0];
  CHECK(m.from_uri == "sip:24d9af470f09369c@192.168.1.1:5061");  // sha1("sipp")
  CHECK(m.to_uri == "sip:4cf5bc59bee9e1c4@192.168.1.2:5060");    // sha1("service")
  CHECK(m.request_uri == "sip:4cf5bc59bee9e1c4@192.168.1.2:5060");
  CHECK(m.from_tag == "4242SIPpTag001");
  CHECK(m.raw.empty());
  analyzer.finish(kT0, sink);
  REQUIRE(sink.calls.size() == 1);
  CHECK(sink.calls[0].from_uri == "sip:24d9af470f09369c@192.168.1.1:5061");
  CHECK(sink.calls[0].to_uri == "sip:4cf5bc59bee9e1c4@192.168.1.2:5060");

  SipConfig salted = config;
  salted.hash_salt = "pepper|";
  SipAnalyzer salted_analyzer{salted};
  RecordingSink salted_sink;
  send(salted_analyzer, kUp, d.request("INVITE", 1, false), kT0, salted_sink);
  REQUIRE(salted_sink.messages.size() == 1);
  CHECK(salted_sink.messages[0].from_uri == "sip:639b0aac0632b9fd@192.168.1.1:5061");  // sha1("pepper|sipp")
}

TEST_CASE("sip privacy covers p-asserted-identity and tel uris, drop empties the user") {
  const std::string text = crlf(
      "INVITE tel:+15551234567 SIP/2.0\n"
      "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\n"
      "From: \"Alice\" <sip:alice:secret@atlanta.example.com>;tag=9\n"
      "To: <tel:+15551234567;phone-context=example.com>\n"
      "P-Asserted-Identity: <sip:alice@atlanta.example.com>\n"
      "Call-ID: p@h\n"
      "CSeq: 1 INVITE\n"
      "Content-Length: 0\n"
      "\n");
  SipConfig config;
  config.user_privacy = SipConfig::UserPrivacy::kDrop;
  SipAnalyzer dropping{config};
  RecordingSink sink;
  send(dropping, kUp, text, kT0, sink);
  REQUIRE(sink.messages.size() == 1);
  CHECK(sink.messages[0].request_uri == "tel:");
  CHECK(sink.messages[0].from_uri == "sip:@atlanta.example.com");
  CHECK(sink.messages[0].to_uri == "tel:;phone-context=example.com");
  CHECK(sink.messages[0].pai_uri == "sip:@atlanta.example.com");
  CHECK(sink.messages[0].raw.empty());

  config.user_privacy = SipConfig::UserPrivacy::kHash;
  SipAnalyzer hashing{config};
  send(hashing, kUp, text, kT0, sink);
  REQUIRE(sink.messages.size() == 2);
  CHECK(sink.messages[1].to_uri == "tel:1861e395c5cdad6a;phone-context=example.com");  // sha1("+15551234567")
  CHECK(sink.messages[1].pai_uri == "sip:522b276a356bdf39@atlanta.example.com");      // sha1("alice")

  config.user_privacy = SipConfig::UserPrivacy::kKeep;
  SipAnalyzer keeping{config};
  send(keeping, kUp, text, kT0, sink);
  REQUIRE(sink.messages.size() == 3);
  CHECK(sink.messages[2].from_uri == "sip:alice:secret@atlanta.example.com");
  CHECK(sink.messages[2].raw == text);
}

TEST_CASE("sip keep-alive datagrams are counted and oversize datagrams dropped") {
  SipConfig config;
  config.max_message_bytes = 400;
  SipAnalyzer analyzer{config};
  RecordingSink sink;
  send(analyzer, kUp, "\r\n\r\n", kT0, sink);
  send(analyzer, kUp, "\r\n", kT0, sink);
  CHECK(analyzer.stats().keepalives.value() == 2);
  send(analyzer, kUp, Dialog{}.request("INVITE", 1, false, kOfferSdp), kT0, sink);
  CHECK(analyzer.stats().malformed_too_long.value() == 1);
  send(analyzer, kUp, "\r\n" + Dialog{}.request("OPTIONS", 1, false), kT0, sink);  // leading CRLF tolerated
  CHECK(sink.messages.size() == 1);
  CHECK(sink.calls.empty());
}

TEST_CASE("sip detection accepts request and status lines only") {
  auto looks = [](std::string_view s) {
    return SipAnalyzer::looksLikeSip(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  CHECK(looks(Dialog{}.request("REGISTER", 1, false)));
  CHECK(looks("SIP/2.0 200 OK\r\n"));
  CHECK(looks("\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\n"));
  CHECK(looks("SIP/2.0 100 Trying"));
  CHECK_FALSE(looks("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK_FALSE(looks("INVITE sip:a@b SIP/2"));  // cut before the version ends
  CHECK_FALSE(looks(""));
  CHECK_FALSE(SipAnalyzer::looksLikeSip(nullptr, 0));
}

// --- TCP -------------------------------------------------------------------

TEST_CASE("sip tcp frames several messages in one segment and one message over several") {
  SipAnalyzer analyzer{SipConfig{}};
  SipStreamSession session(analyzer);
  RecordingSink sink;
  const Dialog d;
  const std::string invite = d.request("INVITE", 1, false, kOfferSdp);
  const std::string trying = d.response(100, "Trying", 1, "INVITE", false);
  const std::string ringing = d.response(180, "Ringing", 1, "INVITE", true);

  sendTcp(session, kUp, invite.substr(0, 50), kT0, sink);
  sendTcp(session, kUp, invite.substr(50, invite.size() - 60), kT0 + kMs, sink);
  CHECK(sink.messages.empty());
  sendTcp(session, kUp, invite.substr(invite.size() - 10), kT0 + 2 * kMs, sink);
  REQUIRE(sink.messages.size() == 1);
  CHECK(sink.messages[0].raw == invite);
  CHECK(sink.messages[0].ts == kT0 + 2 * kMs);  // the segment that completed it
  CHECK(sink.messages[0].media.size() == 1);

  const std::string both = trying + "\r\n\r\n" + ringing;  // with a keep-alive between
  sendTcp(session, kDown, both, kT0 + 3 * kMs, sink);
  REQUIRE(sink.messages.size() == 3);
  CHECK(sink.messages[1].status_code == 100);
  CHECK(sink.messages[2].status_code == 180);
  CHECK(sink.messages[2].raw == ringing);
  CHECK(analyzer.stats().keepalives.value() == 2);
}

TEST_CASE("sip tcp message without content-length has no body") {
  SipAnalyzer analyzer{SipConfig{}};
  SipStreamSession session(analyzer);
  RecordingSink sink;
  const std::string options = crlf("OPTIONS sip:h SIP/2.0\ni: o@h\nCSeq: 1 OPTIONS\nf: <sip:a@h>;tag=1\nt: <sip:h>\n\n");
  sendTcp(session, kUp, options + options, kT0, sink);
  REQUIRE(sink.messages.size() == 2);
  CHECK(sink.messages[0].raw == options);
  CHECK(sink.messages[1].raw == options);
}

TEST_CASE("sip tcp over-long message is skipped by its content-length and the next one parsed") {
  SipConfig config;
  config.max_message_bytes = 400;
  SipAnalyzer analyzer{config};
  SipStreamSession session(analyzer);
  RecordingSink sink;
  const Dialog d;
  const std::string big = crlf("MESSAGE sip:h SIP/2.0\ni: m@h\nCSeq: 1 MESSAGE\nf: <sip:a@h>;tag=1\nt: <sip:h>\n"
                               "l: 1000\n\n") + std::string(1000, 'z');
  const std::string bye = d.request("BYE", 2, true);
  REQUIRE(bye.size() < 400);
  sendTcp(session, kUp, big.substr(0, 300), kT0, sink);
  sendTcp(session, kUp, big.substr(300) + bye, kT0, sink);
  REQUIRE(sink.messages.size() == 1);
  CHECK(sink.messages[0].method == "BYE");
  CHECK(analyzer.stats().malformed_too_long.value() == 1);
  CHECK(analyzer.stats().bytes_skipped.value() == big.size());
  CHECK(analyzer.stats().resyncs.value() == 0);
}

TEST_CASE("sip tcp bad start line and bad content-length resync at the next start line") {
  SipAnalyzer analyzer{SipConfig{}};
  SipStreamSession session(analyzer);
  RecordingSink sink;
  const Dialog d;
  const std::string bye = d.request("BYE", 2, true);
  const std::string bad_length = crlf("INFO sip:h SIP/2.0\ni: m@h\nl: 12x\n\nSome body\n");
  sendTcp(session, kUp, "HELLO there\r\nthis is not SIP\r\n" + bye + bad_length + bye, kT0, sink);
  REQUIRE(sink.messages.size() == 2);
  CHECK(sink.messages[0].raw == bye);
  CHECK(sink.messages[1].raw == bye);
  CHECK(analyzer.stats().malformed_start_line.value() == 1);
  CHECK(analyzer.stats().malformed_bad_content_length.value() == 1);
  CHECK(analyzer.stats().resyncs.value() == 2);
}

TEST_CASE("sip tcp head longer than the buffer is dropped and the stream resyncs") {
  SipConfig config;
  config.max_message_bytes = 400;
  SipAnalyzer analyzer{config};
  SipStreamSession session(analyzer);
  RecordingSink sink;
  const Dialog d;
  const std::string bye = d.request("BYE", 2, true);
  REQUIRE(bye.size() < 400);
  std::string long_head = "OPTIONS sip:h SIP/2.0\r\n";
  for (int i = 0; i < 20; ++i) long_head += "X-Filler: 0123456789012345678901234567890123456789\r\n";
  long_head += "\r\n";
  sendTcp(session, kUp, long_head + bye, kT0, sink);
  REQUIRE(sink.messages.size() == 1);
  CHECK(sink.messages[0].method == "BYE");
  CHECK(analyzer.stats().malformed_too_long.value() == 1);
  CHECK(analyzer.stats().resyncs.value() == 1);
}

TEST_CASE("sip tcp gap inside a body of known length skips exactly to the next message") {
  SipAnalyzer analyzer{SipConfig{}};
  SipStreamSession session(analyzer);
  RecordingSink sink;
  const Dialog d;
  const std::string invite = d.request("INVITE", 1, false, kOfferSdp);
  const std::string bye = d.request("BYE", 2, true);
  const size_t cut = invite.size() - 40;  // inside the SDP
  sendTcp(session, kUp, invite.substr(0, cut), kT0, sink);
  session.onGap(kUp, 20, sink);
  sendTcp(session, kUp, invite.substr(cut + 20) + bye, kT0, sink);
  REQUIRE(sink.messages.size() == 1);
  CHECK(sink.messages[0].raw == bye);
  CHECK(analyzer.stats().gaps.value() == 1);
  CHECK(analyzer.stats().gap_messages_lost.value() == 1);
  CHECK(analyzer.stats().resyncs.value() == 0);
}

TEST_CASE("sip tcp gap in a head drops bytes until a line that looks like a start line") {
  SipAnalyzer analyzer{SipConfig{}};
  SipStreamSession session(analyzer);
  RecordingSink sink;
  const Dialog d;
  const std::string invite = d.request("INVITE", 1, false, kOfferSdp);
  const std::string bye = d.request("BYE", 2, true);
  sendTcp(session, kUp, invite.substr(0, 30), kT0, sink);
  session.onGap(kUp, 100, sink);
  // The rest arrives cut mid-line, the start line of the BYE split over two segments.
  const std::string rest = invite.substr(130) + bye;
  sendTcp(session, kUp, rest.substr(0, invite.size() - 130 + 5), kT0, sink);
  sendTcp(session, kUp, rest.substr(invite.size() - 130 + 5), kT0, sink);
  REQUIRE(sink.messages.size() == 1);
  CHECK(sink.messages[0].raw == bye);
  CHECK(analyzer.stats().gap_messages_lost.value() == 1);
  CHECK(analyzer.stats().resyncs.value() == 1);
  CHECK(analyzer.stats().malformed_start_line.value() == 0);  // lines dropped while resyncing are not malformed
}

TEST_CASE("sip tcp stream end with a partial message counts it and reset recycles the session") {
  SipAnalyzer analyzer{SipConfig{}};
  SipStreamSession session(analyzer);
  RecordingSink sink;
  const Dialog d;
  const std::string bye = d.request("BYE", 2, true);
  sendTcp(session, kUp, bye.substr(0, 40), kT0, sink);
  session.onEnd(kUp, StreamEnd::kFin, kT0, sink);
  CHECK(analyzer.stats().stream_messages_truncated.value() == 1);
  sendTcp(session, kDown, bye.substr(0, 40), kT0, sink);
  session.reset();
  sendTcp(session, kDown, bye, kT0, sink);
  REQUIRE(sink.messages.size() == 1);
  CHECK(sink.messages[0].raw == bye);
  CHECK(analyzer.stats().stream_messages_truncated.value() == 1);
}

// A stream exercising every framing path: calls, keep-alives, compact forms, a message
// with no Content-Length, an over-long message, garbage, a bad Content-Length, a head
// longer than the buffer.
std::string differentialStream() {
  const Dialog d;
  std::string s;
  s += d.request("INVITE", 1, false, kOfferSdp);
  s += "\r\n\r\n";
  s += d.request("ACK", 1, true);
  s += crlf("OPTIONS sip:h SIP/2.0\ni: o@h\nCSeq: 1 OPTIONS\nf: <sip:a@h>;tag=1\nt: <sip:h>\n\n");
  s += crlf("MESSAGE sip:h SIP/2.0\ni: m@h\nCSeq: 1 MESSAGE\nf: <sip:a@h>;tag=1\nt: <sip:h>\nl: 900\n\n") +
       std::string(900, 'z');
  s += "garbage line\r\nmore\r\n";
  s += crlf("INFO sip:h SIP/2.0\ni: m@h\nl: 1x\n\n");
  s += d.request("BYE", 2, true);
  s += "OPTIONS sip:h SIP/2.0\r\n" + std::string(1000, 'h') + "\r\n\r\n";
  Dialog second;
  second.call_id = "second@h";
  s += second.request("INVITE", 1, false, kOfferSdp);
  s += second.request("CANCEL", 1, false);
  s += "\n";
  return s;
}

struct StreamRun {
  std::vector<std::string> log;
  std::string counters;
};

StreamRun runStream(const std::string& stream, const std::vector<size_t>& pieces) {
  SipConfig config;
  config.max_message_bytes = 800;
  SipAnalyzer analyzer{config};
  SipStreamSession session(analyzer);
  RecordingSink sink;
  size_t pos = 0;
  for (size_t piece : pieces) {
    sendTcp(session, kUp, std::string_view(stream).substr(pos, piece), kT0, sink);
    pos += piece;
  }
  REQUIRE(pos == stream.size());
  session.onEnd(kUp, StreamEnd::kFin, kT0, sink);
  analyzer.finish(kT0, sink);
  return {sink.log, counters(analyzer.stats())};
}

TEST_CASE("sip tcp gives identical events whole, in 1-byte pieces and in random pieces") {
  const std::string stream = differentialStream();
  const StreamRun whole = runStream(stream, {stream.size()});
  REQUIRE(whole.log.size() == 8);  // INVITE, ACK, OPTIONS, BYE, call, INVITE, CANCEL, flushed call
  CHECK(whole.log[3].find("msg BYE") == 0);
  CHECK(whole.log[4].find("call 1-4242@192.168.1.1") == 0);
  CHECK(whole.log[7].find("|flush|") != std::string::npos);
  CHECK(whole.counters.find("keepalives=3\n") != std::string::npos);
  CHECK(whole.counters.find("malformed_too_long=2\n") != std::string::npos);
  CHECK(whole.counters.find("malformed_start_line=1\n") != std::string::npos);
  CHECK(whole.counters.find("malformed_bad_content_length=1\n") != std::string::npos);
  CHECK(whole.counters.find("resyncs=3\n") != std::string::npos);

  const StreamRun bytewise = runStream(stream, std::vector<size_t>(stream.size(), 1));
  CHECK(bytewise.log == whole.log);
  CHECK(bytewise.counters == whole.counters);

  std::mt19937 random(12345);
  for (int round = 0; round < 50; ++round) {
    std::vector<size_t> pieces;
    for (size_t left = stream.size(); left > 0;) {
      const size_t piece = std::min<size_t>(left, 1 + random() % (round % 2 ? 40 : 700));
      pieces.push_back(piece);
      left -= piece;
    }
    const StreamRun run = runStream(stream, pieces);
    CHECK(run.log == whole.log);
    CHECK(run.counters == whole.counters);
  }
}

}  // namespace
}  // namespace tapflow
