// Tests of the stateless SIP/SDP parsing: start lines, header fields (compact,
// case-insensitive, folded), addresses, Content-Length, SDP media, and each
// malformed-message reason with its counter.
#include <doctest/doctest.h>

#include <string>

#include "proto/sip/sip_parser.h"
#include "sip_test_util.h"

namespace tapflow {
namespace {

using namespace sip_test;

TEST_CASE("sip start lines are recognised and lookalikes refused") {
  CHECK(isSipStartLine("INVITE sip:bob@biloxi.example.com SIP/2.0"));
  CHECK(isSipStartLine("OPTIONS sips:proxy.example.com:5061 SIP/2.0"));
  CHECK(isSipStartLine("INVITE tel:+15551234567 sip/2.0"));
  CHECK(isSipStartLine("SIP/2.0 180 Ringing"));
  CHECK(isSipStartLine("SIP/2.0 200"));
  CHECK_FALSE(isSipStartLine("GET / HTTP/1.1"));
  CHECK_FALSE(isSipStartLine("HTTP/1.1 200 OK"));
  CHECK_FALSE(isSipStartLine("INVITE sip:bob@b SIP/3.0"));
  CHECK_FALSE(isSipStartLine("INVITE  sip:bob@b SIP/2.0"));   // two spaces
  CHECK_FALSE(isSipStartLine("INVITE bob SIP/2.0"));          // URI without scheme
  CHECK_FALSE(isSipStartLine("INV(TE sip:bob@b SIP/2.0"));    // not a token
  CHECK_FALSE(isSipStartLine("SIP/2.0 099 Low"));
  CHECK_FALSE(isSipStartLine("SIP/2.0 700 High"));
  CHECK_FALSE(isSipStartLine("SIP/2.0 20 Short"));
  CHECK_FALSE(isSipStartLine("SIP/2.0 2000 Long"));
  CHECK_FALSE(isSipStartLine(""));
}

TEST_CASE("sip head end is found after CRLF CRLF or bare LF LF and resumes from a hint") {
  CHECK(findSipHeadEnd("OPTIONS sip:a SIP/2.0\r\nA: b\r\n\r\nbody") == 31);
  CHECK(findSipHeadEnd("OPTIONS sip:a SIP/2.0\nA: b\n\nbody") == 28);
  CHECK(findSipHeadEnd("OPTIONS sip:a SIP/2.0\r\nA: b\r\n") == std::string_view::npos);
  const std::string_view text = "X\r\nA: b\r\n\r\n";
  CHECK(findSipHeadEnd(text, 8) == text.size());
}

TEST_CASE("sip header names are matched case-insensitively and in compact form") {
  CHECK(classifySipHeader("Call-ID") == SipHeader::kCallId);
  CHECK(classifySipHeader("call-id") == SipHeader::kCallId);
  CHECK(classifySipHeader("i") == SipHeader::kCallId);
  CHECK(classifySipHeader("F") == SipHeader::kFrom);
  CHECK(classifySipHeader("t") == SipHeader::kTo);
  CHECK(classifySipHeader("v") == SipHeader::kVia);
  CHECK(classifySipHeader("l") == SipHeader::kContentLength);
  CHECK(classifySipHeader("c") == SipHeader::kContentType);
  CHECK(classifySipHeader("CSEQ") == SipHeader::kCSeq);
  CHECK(classifySipHeader("P-Asserted-Identity") == SipHeader::kPAssertedIdentity);
  CHECK(classifySipHeader("USER-AGENT") == SipHeader::kUserAgent);
  CHECK(classifySipHeader("m") == SipHeader::kOther);  // Contact: not reported
  CHECK(classifySipHeader("Call-IDs") == SipHeader::kOther);
}

TEST_CASE("sip header reader joins folded lines and skips lines without a colon") {
  SipHeaderReader reader("Subject: I know you're there,\r\n   pick up the phone\r\nbroken line\r\nTo : <sip:b@h>\r\n\r\nX: y");
  std::string_view name, value;
  REQUIRE(reader.next(name, value));
  CHECK(name == "Subject");
  CHECK(value == "I know you're there,\r\n   pick up the phone");
  REQUIRE(reader.next(name, value));
  CHECK(name == "To");
  CHECK(value == "<sip:b@h>");
  CHECK_FALSE(reader.next(name, value));  // stops at the empty line
  CHECK(reader.badLines() == 1);
}

TEST_CASE("sip addresses give the URI and tag of name-addr and addr-spec forms") {
  SipAddress a;
  REQUIRE(parseSipAddress("\"Alice <home>\" <sip:alice@atlanta.example.com;user=phone>;tag=1928301774", a));
  CHECK(a.uri == "sip:alice@atlanta.example.com;user=phone");
  CHECK(a.tag == "1928301774");
  REQUIRE(parseSipAddress("sip:bob@biloxi.example.com ; TAG = a6c85cf", a));
  CHECK(a.uri == "sip:bob@biloxi.example.com");
  CHECK(a.tag == "a6c85cf");
  REQUIRE(parseSipAddress("<tel:+15551234567>", a));
  CHECK(a.uri == "tel:+15551234567");
  CHECK(a.tag == "");
  REQUIRE(parseSipAddress("<sip:a@h>, <tel:+1>;tag=second", a));  // list: the first value only
  CHECK(a.uri == "sip:a@h");
  CHECK(a.tag == "");
  CHECK_FALSE(parseSipAddress("<sip:alice@h", a));
  CHECK_FALSE(parseSipAddress("\"unterminated <sip:a@h>", a));
  CHECK_FALSE(parseSipAddress("Alice sip:alice@h", a));
  CHECK_FALSE(parseSipAddress("<alice>", a));
  CHECK_FALSE(parseSipAddress("", a));
}

TEST_CASE("sip uri user part covers userinfo of sip uris and the number of tel uris") {
  size_t b = 0, e = 0;
  REQUIRE(findSipUriUser("sip:alice@atlanta.example.com", b, e));
  CHECK(b == 4);
  CHECK(e == 9);
  REQUIRE(findSipUriUser("sips:alice:secret@h;transport=tls", b, e));
  CHECK(std::string_view("sips:alice:secret@h;transport=tls").substr(b, e - b) == "alice:secret");
  REQUIRE(findSipUriUser("tel:+15551234567;phone-context=x", b, e));
  CHECK(std::string_view("tel:+15551234567;phone-context=x").substr(b, e - b) == "+15551234567");
  CHECK_FALSE(findSipUriUser("sip:proxy.example.com", b, e));
  CHECK_FALSE(findSipUriUser("nocolon", b, e));
}

TEST_CASE("sip params are read by name up to the next comma-separated value") {
  CHECK(sipParam(";branch=z9hG4bK776;rport", "branch") == "z9hG4bK776");
  CHECK(sipParam(";rport;Branch=x", "branch") == "x");
  CHECK(sipParam(";rport", "rport") == "");
  CHECK(sipParam(";a=1, SIP/2.0/UDP h;branch=second", "branch") == "");
}

TEST_CASE("sip content length is read for framing and refused when bad or contradictory") {
  uint64_t length = 99;
  CHECK(sipContentLength("INVITE sip:a SIP/2.0\r\nl: 42\r\n\r\n", length) == SipLength::kOk);
  CHECK(length == 42);
  CHECK(sipContentLength("INVITE sip:a SIP/2.0\r\nX: 1\r\n\r\n", length) == SipLength::kAbsent);
  CHECK(sipContentLength("INVITE sip:a SIP/2.0\r\nContent-Length: 4x\r\n\r\n", length) == SipLength::kBad);
  CHECK(sipContentLength("INVITE sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n", length) == SipLength::kBad);
  CHECK(sipContentLength("INVITE sip:a SIP/2.0\r\nContent-Length:\r\n\r\n", length) == SipLength::kBad);
  CHECK(sipContentLength("INVITE sip:a SIP/2.0\r\nContent-Length: 1234567890123456789\r\n\r\n", length) ==
        SipLength::kBad);
  CHECK(sipContentLength("INVITE sip:a SIP/2.0\r\nContent-Length: 4\r\nl: 5\r\n\r\n", length) == SipLength::kBad);
  CHECK(sipContentLength("INVITE sip:a SIP/2.0\r\nContent-Length: 4\r\nl: 4\r\n\r\n", length) == SipLength::kOk);
}

TEST_CASE("sip invite with sdp gives every reported field exactly") {
  const Dialog d;
  const std::string invite = d.request("INVITE", 1, false, kOfferSdp);
  SipStats stats;
  SipMessage m;
  REQUIRE(parseSipMessage(invite, true, m, stats) == SipParseResult::kOk);
  CHECK(m.is_request);
  CHECK(m.method == "INVITE");
  CHECK(m.request_uri == "sip:service@192.168.1.2:5060");
  CHECK(m.status_code == 0);
  CHECK(m.call_id == "1-4242@192.168.1.1");
  CHECK(m.cseq_number == 1);
  CHECK(m.cseq_method == "INVITE");
  CHECK(m.from_uri == "sip:sipp@192.168.1.1:5061");
  CHECK(m.from_tag == "4242SIPpTag001");
  CHECK(m.to_uri == "sip:service@192.168.1.2:5060");
  CHECK(m.to_tag == "");
  CHECK(m.via_branch == "z9hG4bK-4242-1-0");
  CHECK(m.user_agent == "SIPp/3.6");
  CHECK(m.pai_uri == "");
  CHECK(m.raw == invite);
  REQUIRE(m.media_count == 1);
  CHECK(m.media[0].type == "audio");
  CHECK(m.media[0].address == "192.168.1.1");
  CHECK(m.media[0].port == 6000);
  CHECK(m.media[0].protocol == "RTP/AVP");
  REQUIRE(m.media[0].codec_count == 3);
  CHECK(m.media[0].codecs[0] == "PCMU/8000");
  CHECK(m.media[0].codecs[1] == "PCMA/8000");  // static payload type without rtpmap
  CHECK(m.media[0].codecs[2] == "telephone-event/8000");
  CHECK(counters(stats) == counters(SipStats{}));
}

TEST_CASE("sip response in compact form with folded header and P-Asserted-Identity is parsed") {
  const std::string text = crlf(
      "SIP/2.0 183 Session Progress\n"
      "v: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKabc, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKlower\n"
      "f: <sip:+15550001@carrier.example>;tag=aa\n"
      "t: \"Bob\" <sip:+15550002@carrier.example>;tag=bb\n"
      "i: folded-call-id@host\n"
      "CSeq:\n  7 INVITE\n"
      "P-Asserted-Identity: \"Bob\" <sip:+15550002@carrier.example>, <tel:+15550002>\n"
      "l: 0\n"
      "\n");
  SipStats stats;
  SipMessage m;
  REQUIRE(parseSipMessage(text, false, m, stats) == SipParseResult::kOk);
  CHECK_FALSE(m.is_request);
  CHECK(m.status_code == 183);
  CHECK(m.reason == "Session Progress");
  CHECK(m.via_branch == "z9hG4bKabc");
  CHECK(m.from_uri == "sip:+15550001@carrier.example");
  CHECK(m.from_tag == "aa");
  CHECK(m.to_uri == "sip:+15550002@carrier.example");
  CHECK(m.to_tag == "bb");
  CHECK(m.call_id == "folded-call-id@host");
  CHECK(m.cseq_number == 7);
  CHECK(m.cseq_method == "INVITE");
  CHECK(m.pai_uri == "sip:+15550002@carrier.example");
  CHECK(m.media_count == 0);
}

TEST_CASE("sip messages missing a required header are dropped and counted by reason") {
  const std::string good = crlf(
      "OPTIONS sip:h SIP/2.0\n"
      "Call-ID: x\n"
      "CSeq: 1 OPTIONS\n"
      "From: <sip:a@h>;tag=1\n"
      "To: <sip:b@h>\n"
      "\n");
  SipStats stats;
  SipMessage m;
  REQUIRE(parseSipMessage(good, true, m, stats) == SipParseResult::kOk);

  auto without = [&](std::string_view line) {
    std::string text = good;
    const size_t at = text.find(line);
    REQUIRE(at != std::string::npos);
    text.erase(at, line.size());
    SipMessage out;
    return parseSipMessage(text, true, out, stats);
  };
  CHECK(without("Call-ID: x\r\n") == SipParseResult::kMalformed);
  CHECK(stats.malformed_missing_call_id.value() == 1);
  CHECK(without("CSeq: 1 OPTIONS\r\n") == SipParseResult::kMalformed);
  CHECK(stats.malformed_missing_cseq.value() == 1);
  CHECK(without("From: <sip:a@h>;tag=1\r\n") == SipParseResult::kMalformed);
  CHECK(stats.malformed_missing_from.value() == 1);
  CHECK(without("To: <sip:b@h>\r\n") == SipParseResult::kMalformed);
  CHECK(stats.malformed_missing_to.value() == 1);
  CHECK(without("OPTIONS") == SipParseResult::kMalformed);
  CHECK(stats.malformed_start_line.value() == 1);
  CHECK(without(" OPTIONS") == SipParseResult::kMalformed);  // "CSeq: 1" has no method
  CHECK(stats.malformed_bad_cseq.value() == 1);
  CHECK(without("<sip:b@h>") == SipParseResult::kMalformed);  // empty To
  CHECK(stats.malformed_bad_address.value() == 1);
  CHECK(without("Call-ID: x\r\nCSeq: 1 OPTIONS") == SipParseResult::kMalformed);
  CHECK(stats.malformed_missing_call_id.value() == 2);
}

TEST_CASE("sip cseq number over 32 bits is malformed") {
  SipStats stats;
  SipMessage m;
  const std::string text = crlf("BYE sip:h SIP/2.0\ni: x\nCSeq: 4294967296 BYE\nf: <sip:a@h>\nt: <sip:b@h>\n\n");
  CHECK(parseSipMessage(text, true, m, stats) == SipParseResult::kMalformed);
  CHECK(stats.malformed_bad_cseq.value() == 1);
}

TEST_CASE("sip datagram body follows content length when present and the datagram otherwise") {
  const std::string head = crlf("MESSAGE sip:h SIP/2.0\ni: x\nCSeq: 2 MESSAGE\nf: <sip:a@h>\nt: <sip:b@h>\n");
  SipStats stats;
  SipMessage m;
  const std::string no_length = head + "\r\nhello world";
  REQUIRE(parseSipMessage(no_length, true, m, stats) == SipParseResult::kOk);
  CHECK(m.raw == no_length);

  const std::string shorter = head + "l: 5\r\n\r\nhello world";
  m = SipMessage{};
  REQUIRE(parseSipMessage(shorter, true, m, stats) == SipParseResult::kOk);
  CHECK(m.raw == head + "l: 5\r\n\r\nhello");

  const std::string longer = head + "l: 50\r\n\r\nhello world";
  m = SipMessage{};
  CHECK(parseSipMessage(longer, true, m, stats) == SipParseResult::kMalformed);
  CHECK(stats.malformed_truncated_datagram.value() == 1);

  const std::string bad = head + "l: five\r\n\r\nhello";
  m = SipMessage{};
  CHECK(parseSipMessage(bad, true, m, stats) == SipParseResult::kMalformed);
  CHECK(stats.malformed_bad_content_length.value() == 1);

  const std::string no_empty_line = head;  // headers up to the end of the datagram
  m = SipMessage{};
  REQUIRE(parseSipMessage(no_empty_line, true, m, stats) == SipParseResult::kOk);
  CHECK(m.call_id == "x");
}

TEST_CASE("sdp media take the session or media connection, rtpmap or static names, and are capped") {
  const std::string body = crlf(
      "v=0\n"
      "o=- 1 1 IN IP4 198.51.100.1\n"
      "c=IN IP4 198.51.100.1/127\n"
      "m=audio 49170/2 RTP/AVP 0 97 18 96 13\n"
      "a=rtpmap:97 iLBC/8000\n"
      "a=rtpmap:96 opus/48000/2\n"
      "m=video 51372 RTP/SAVP 31 120\n"
      "c=IN IP6 2001:db8::7\n"
      "a=rtpmap:31 H261/90000\n"
      "m=image 0 udptl t38\n"
      "m=audio bad RTP/AVP 0\n"
      "c=IN IP4\n"
      "m=audio 2000 RTP/AVP 0 1 2 3 4 5 6 7 8 9\n"
      "m=audio 3000 RTP/AVP 0\n");
  SipStats stats;
  SipMessage m;
  parseSdp(body, m, stats);
  REQUIRE(m.media_count == 4);
  CHECK(m.media[0].type == "audio");
  CHECK(m.media[0].address == "198.51.100.1");
  CHECK(m.media[0].port == 49170);
  REQUIRE(m.media[0].codec_count == 5);
  CHECK(m.media[0].codecs[0] == "PCMU/8000");
  CHECK(m.media[0].codecs[1] == "iLBC/8000");
  CHECK(m.media[0].codecs[2] == "G729/8000");
  CHECK(m.media[0].codecs[3] == "opus/48000/2");
  CHECK(m.media[0].codecs[4] == "CN/8000");
  CHECK(m.media[1].type == "video");
  CHECK(m.media[1].address == "2001:db8::7");
  CHECK(m.media[1].protocol == "RTP/SAVP");
  REQUIRE(m.media[1].codec_count == 2);
  CHECK(m.media[1].codecs[0] == "H261/90000");
  CHECK(m.media[1].codecs[1] == "120");
  CHECK(m.media[2].type == "image");
  CHECK(m.media[2].port == 0);
  CHECK(m.media[2].protocol == "udptl");
  REQUIRE(m.media[2].codec_count == 1);
  CHECK(m.media[2].codecs[0] == "t38");
  CHECK(m.media[3].port == 2000);
  CHECK(m.media[3].address == "198.51.100.1");
  REQUIRE(m.media[3].codec_count == 8);
  CHECK(m.media[3].codecs[1] == "1");  // unassigned static number: as written
  CHECK(m.media[3].codecs[7] == "LPC/8000");
  CHECK(stats.sdp_bad_lines.value() == 2);         // "bad" port, c= without address
  CHECK(stats.sdp_codecs_truncated.value() == 2);  // formats 8 and 9 of the 10
  CHECK(stats.sdp_media_truncated.value() == 1);   // the fifth reported m= line
}

}  // namespace
}  // namespace tapflow
