// Tests of the DNS analyzer over UDP: pairing, answers by type, caps,
// timeouts and malformed messages, on messages laid out as real ones are
// (dig with EDNS, compression pointers into the question and into rdata).
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "dns_test_util.h"

namespace tapflow {
namespace {

using namespace dnstest;

constexpr Timestamp kT0 = 1'700'000'000 * kNanosPerSecond;
constexpr uint16_t kA = 1, kNs = 2, kCname = 5, kSoa = 6, kPtr = 12, kMx = 15, kTxt = 16, kAaaa = 28, kSrv = 33;
constexpr uint16_t kQueryRd = 0x0100;      // dig's default: recursion desired
constexpr uint16_t kResponseRdRa = 0x8180;  // QR RD RA, NOERROR

Bytes hex(std::string_view h) {
  Bytes b;
  int hi = -1;
  for (char c : h) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      b.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return b;
}

struct Fixture {
  explicit Fixture(DnsConfig c = DnsConfig{}) : config(c), scratch(config), session(config, stats, scratch) {}
  void udp(const Bytes& m, Timestamp ts, StreamDir dir = StreamDir::kToServer) {
    session.onDatagram(dir, m.data(), m.size(), ts, sink);
  }
  void udp(const Msg& m, Timestamp ts, StreamDir dir = StreamDir::kToServer) { udp(m.b, ts, dir); }
  DnsConfig config;
  DnsStats stats;
  DnsScratch scratch;
  DnsSession session;
  RecordingSink sink;
};

// dig www.example.com A, as captured: EDNS OPT with a client cookie.
const Bytes kDigQuery = hex(
    "8c2f 0120 0001 0000 0000 0001"
    "03777777 076578616d706c65 03636f6d 00 0001 0001"
    "00 0029 1000 00000000 000c 000a0008 d51c1e7e4b3a9c02");
// Its answer: one A record whose owner is a pointer to the question name, then OPT.
const Bytes kDigResponse = hex(
    "8c2f 8180 0001 0001 0000 0001"
    "03777777 076578616d706c65 03636f6d 00 0001 0001"
    "c00c 0001 0001 00000c9f 0004 5db8d70e"
    "00 0029 04d0 00000000 0000");

TEST_CASE("a dig A query and its response make one transaction with exact fields") {
  Fixture f;
  f.udp(kDigQuery, kT0, StreamDir::kToServer);
  CHECK(f.sink.events.empty());
  CHECK(f.session.pendingQueries() == 1);
  f.udp(kDigResponse, kT0 + 1'500'000, StreamDir::kToClient);
  REQUIRE(f.sink.events.size() == 1);
  const Event& e = f.sink.events[0];
  CHECK(e.has_query);
  CHECK(e.has_response);
  CHECK_FALSE(e.over_tcp);
  CHECK(e.id == 0x8c2f);
  CHECK(e.name == "www.example.com");
  CHECK(e.qtype == kA);
  CHECK(e.qclass == 1);
  CHECK(e.opcode == 0);
  CHECK(e.rcode == 0);
  CHECK(e.recursion_desired);
  CHECK(e.recursion_available);
  CHECK_FALSE(e.authoritative);
  CHECK_FALSE(e.truncated);
  CHECK_FALSE(e.malformed);
  CHECK(e.answer_count == 1);
  REQUIRE(e.answers.size() == 1);
  CHECK(e.answers[0] == Answer{"www.example.com", kA, 1, 3231, "93.184.215.14"});
  CHECK(e.query_ts == kT0);
  CHECK(e.response_ts == kT0 + 1'500'000);
  CHECK(f.session.pendingQueries() == 0);
  CHECK(f.stats.queries.value() == 1);
  CHECK(f.stats.responses.value() == 1);
  CHECK(f.stats.transactions.value() == 1);
  CHECK(f.stats.bad_qdcount.value() == 0);
  CHECK(f.stats.unanswered.value() == 0);
}

TEST_CASE("an AAAA answer is written as RFC 5952 text") {
  Fixture f;
  Msg q(7, kQueryRd, 1, 0);
  q.question("example.com", kAaaa);
  Msg r(7, kResponseRdRa, 1, 1);
  r.question("example.com", kAaaa);
  r.name("", 12);
  r.rr(kAaaa, 300).bytes(hex("2606 2800 021f cb07 6820 80da af6b 8b2c")).endRdata();
  f.udp(q, kT0);
  f.udp(r, kT0 + 1);
  REQUIRE(f.sink.events.size() == 1);
  REQUIRE(f.sink.events[0].answers.size() == 1);
  CHECK(f.sink.events[0].answers[0] == Answer{"example.com", kAaaa, 1, 300, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"});
  CHECK(f.sink.events[0].qtype == kAaaa);
}

TEST_CASE("an NXDOMAIN response with an SOA in authority reports the rcode and no answers") {
  Fixture f;
  Msg q(0x4242, kQueryRd, 1, 0);
  q.question("nonexistent.example.com", kA);
  Msg r(0x4242, 0x8183, 1, 0, 1, 0);
  r.question("nonexistent.example.com", kA);
  r.name("", 24);  // "example.com" inside the question
  r.rr(kSoa, 3600);
  r.name("ns.icann.org");
  r.name("noc.dns", static_cast<int>(r.size() - 11));  // -> "icann.org" of the mname
  r.u32(2024010101).u32(7200).u32(3600).u32(1209600).u32(3600).endRdata();
  f.udp(q, kT0);
  f.udp(r, kT0 + 2);
  REQUIRE(f.sink.events.size() == 1);
  const Event& e = f.sink.events[0];
  CHECK(e.rcode == 3);
  CHECK(std::string_view(dnsRcodeName(e.rcode)) == "NXDOMAIN");
  CHECK(e.name == "nonexistent.example.com");
  CHECK(e.answer_count == 0);
  CHECK(e.answers.empty());
  CHECK_FALSE(e.malformed);
  CHECK(f.stats.transactions.value() == 1);
}

TEST_CASE("a CNAME chain with pointers into earlier rdata is followed to the final A") {
  // www.microsoft.com -> www.microsoft.com-c-3.edgekey.net -> e13678.dscb.akamaiedge.net -> A
  Fixture f;
  Msg q(0x1d3c, kQueryRd, 1, 0);
  q.question("www.microsoft.com", kA);
  Msg r(0x1d3c, kResponseRdRa, 1, 3);
  r.question("www.microsoft.com", kA);
  r.name("", 12);
  r.rr(kCname, 3600);
  const size_t target1 = r.name("www.microsoft.com-c-3.edgekey.net");
  r.endRdata();
  const size_t net = target1 + 4 + 10 + 8 + 8;  // "net" inside that rdata
  r.name("", static_cast<int>(target1));
  r.rr(kCname, 900);
  const size_t target2 = r.name("e13678.dscb.akamaiedge", static_cast<int>(net));
  r.endRdata();
  r.name("", static_cast<int>(target2));
  r.rr(kA, 20).bytes({23, 45, 232, 205}).endRdata();
  f.udp(q, kT0);
  f.udp(r, kT0 + 3);
  REQUIRE(f.sink.events.size() == 1);
  const Event& e = f.sink.events[0];
  CHECK(e.answer_count == 3);
  REQUIRE(e.answers.size() == 3);
  CHECK(e.answers[0] == Answer{"www.microsoft.com", kCname, 1, 3600, "www.microsoft.com-c-3.edgekey.net"});
  CHECK(e.answers[1] == Answer{"www.microsoft.com-c-3.edgekey.net", kCname, 1, 900, "e13678.dscb.akamaiedge.net"});
  CHECK(e.answers[2] == Answer{"e13678.dscb.akamaiedge.net", kA, 1, 20, "23.45.232.205"});
}

TEST_CASE("NS, PTR, MX, TXT, SRV and SOA answers are rendered by type, unknown types without data") {
  Fixture f;
  Msg r(9, 0x8400, 1, 8);  // QR AA
  r.question("example.com", 255);
  r.name("", 12);
  r.rr(kNs, 1).name("a.iana-servers.net");
  r.endRdata();
  r.name("", 12);
  r.rr(kPtr, 2).name("host", 12);
  r.endRdata();
  r.name("", 12);
  r.rr(kMx, 3).u16(10).name("mail", 12);
  r.endRdata();
  r.name("", 12);
  r.rr(kTxt, 4).u8(6).raw("v=spf1").u8(5).raw(" -all").u8(0).endRdata();
  r.name("_sip._tcp", 12);
  r.rr(kSrv, 5).u16(1).u16(50).u16(5060).name("sip", 12);
  r.endRdata();
  r.name("", 12);
  r.rr(kSoa, 6).name("ns", 12);
  r.name("admin", 12);
  r.u32(1).u32(2).u32(3).u32(4).u32(5).endRdata();
  r.name("", 12);
  r.rr(257, 7).u8(0).u8(5).raw("issue").raw("letsencrypt.org").endRdata();  // CAA
  r.name("", 12);
  r.rr(kPtr, 8).name("");  // root as a name
  r.endRdata();
  f.udp(r, kT0);
  REQUIRE(f.sink.events.size() == 1);
  const Event& e = f.sink.events[0];
  CHECK_FALSE(e.has_query);
  CHECK(e.authoritative);
  CHECK_FALSE(e.recursion_available);
  REQUIRE(e.answers.size() == 8);
  CHECK(e.answers[0] == Answer{"example.com", kNs, 1, 1, "a.iana-servers.net"});
  CHECK(e.answers[1] == Answer{"example.com", kPtr, 1, 2, "host.example.com"});
  CHECK(e.answers[2] == Answer{"example.com", kMx, 1, 3, "10 mail.example.com"});
  CHECK(e.answers[3] == Answer{"example.com", kTxt, 1, 4, "v=spf1 -all"});
  CHECK(e.answers[4] == Answer{"_sip._tcp.example.com", kSrv, 1, 5, "1 50 5060 sip.example.com"});
  CHECK(e.answers[5] == Answer{"example.com", kSoa, 1, 6, ""});
  CHECK(e.answers[6] == Answer{"example.com", 257, 1, 7, ""});
  CHECK(e.answers[7] == Answer{"example.com", kPtr, 1, 8, "."});
  CHECK(f.stats.malformed_bad_rdata.value() == 0);
}

TEST_CASE("a response without a pending query is reported alone with its own question") {
  Fixture f;
  f.udp(kDigResponse, kT0 + 5);
  REQUIRE(f.sink.events.size() == 1);
  const Event& e = f.sink.events[0];
  CHECK_FALSE(e.has_query);
  CHECK(e.has_response);
  CHECK(e.name == "www.example.com");
  CHECK(e.qtype == kA);
  CHECK(e.recursion_desired);  // the response's copy of RD
  CHECK(e.query_ts == 0);
  CHECK(e.response_ts == kT0 + 5);
  CHECK(e.answers.size() == 1);
  CHECK(f.stats.responses_without_query.value() == 1);
  CHECK(f.stats.transactions.value() == 0);
}

TEST_CASE("responses pair by id, name and type; a mismatch leaves the query pending") {
  Fixture f;
  Msg qa(5, kQueryRd, 1, 0), qaaaa(5, kQueryRd, 1, 0);
  qa.question("example.org", kA);
  qaaaa.question("example.org", kAaaa);
  f.udp(qa, kT0);
  f.udp(qaaaa, kT0 + 1);
  Msg other_name(5, kResponseRdRa, 1, 0), other_id(6, kResponseRdRa, 1, 0), aaaa(5, kResponseRdRa, 1, 0);
  other_name.question("example.net", kAaaa);
  other_id.question("example.org", kAaaa);
  aaaa.question("example.org", kAaaa);
  f.udp(other_name, kT0 + 2);
  f.udp(other_id, kT0 + 3);
  f.udp(aaaa, kT0 + 4);
  REQUIRE(f.sink.events.size() == 3);
  CHECK_FALSE(f.sink.events[0].has_query);
  CHECK(f.sink.events[0].name == "example.net");
  CHECK_FALSE(f.sink.events[1].has_query);
  CHECK(f.sink.events[1].id == 6);
  CHECK(f.sink.events[2].has_query);
  CHECK(f.sink.events[2].qtype == kAaaa);
  CHECK(f.sink.events[2].query_ts == kT0 + 1);
  CHECK(f.session.pendingQueries() == 1);  // the A query
  CHECK(f.stats.responses_without_query.value() == 2);
  f.session.finish(kT0 + 10, f.sink);
  REQUIRE(f.sink.events.size() == 4);
  CHECK(f.sink.events[3].qtype == kA);
  CHECK_FALSE(f.sink.events[3].has_response);
}

TEST_CASE("names pair whatever their letter case and the event keeps the query's case") {
  Fixture f;
  Msg q(11, kQueryRd, 1, 0), r(11, kResponseRdRa, 1, 0);
  q.question("wWw.ExAmPlE.cOm", kA);
  r.question("www.example.com", kA);
  f.udp(q, kT0);
  f.udp(r, kT0 + 1);
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].has_query);
  CHECK(f.sink.events[0].name == "wWw.ExAmPlE.cOm");
}

TEST_CASE("a retransmitted query is counted once and keeps the first time") {
  Fixture f;
  f.udp(kDigQuery, kT0);
  f.udp(kDigQuery, kT0 + kNanosPerSecond);
  CHECK(f.session.pendingQueries() == 1);
  CHECK(f.stats.queries.value() == 2);
  CHECK(f.stats.queries_retransmitted.value() == 1);
  f.udp(kDigResponse, kT0 + 2 * kNanosPerSecond);
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].query_ts == kT0);
}

TEST_CASE("past max_pending_queries the oldest query is reported unanswered") {
  DnsConfig c;
  c.max_pending_queries = 2;
  Fixture f(c);
  for (uint16_t id = 1; id <= 3; ++id) {
    Msg q(id, kQueryRd, 1, 0);
    q.question("example.com", kA);
    f.udp(q, kT0 + id);
  }
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].id == 1);
  CHECK(f.sink.events[0].has_query);
  CHECK_FALSE(f.sink.events[0].has_response);
  CHECK(f.sink.events[0].query_ts == kT0 + 1);
  CHECK(f.session.pendingQueries() == 2);
  CHECK(f.stats.pending_overflow.value() == 1);
  CHECK(f.stats.unanswered.value() == 1);
}

TEST_CASE("expire reports queries strictly older than the timeout, and a late response comes alone") {
  Fixture f;
  f.udp(kDigQuery, kT0);
  Msg q2(99, kQueryRd, 1, 0);
  q2.question("late.example", kA);
  f.udp(q2, kT0 + kNanosPerSecond);
  f.session.expire(kT0 + f.config.query_timeout, f.sink);
  CHECK(f.sink.events.empty());
  f.session.expire(kT0 + f.config.query_timeout + 1, f.sink);
  REQUIRE(f.sink.events.size() == 1);
  const Event& e = f.sink.events[0];
  CHECK(e.id == 0x8c2f);
  CHECK(e.name == "www.example.com");
  CHECK(e.has_query);
  CHECK_FALSE(e.has_response);
  CHECK(e.recursion_desired);
  CHECK(e.response_ts == 0);
  CHECK(f.session.pendingQueries() == 1);
  CHECK(f.stats.unanswered.value() == 1);
  f.udp(kDigResponse, kT0 + 11 * kNanosPerSecond);
  REQUIRE(f.sink.events.size() == 2);
  CHECK_FALSE(f.sink.events[1].has_query);
  CHECK(f.stats.responses_without_query.value() == 1);
}

TEST_CASE("finish reports every pending query in arrival order and empties the flow") {
  Fixture f;
  for (uint16_t id = 1; id <= 3; ++id) {
    Msg q(id, 0, 1, 0);
    q.question("host" + std::to_string(id) + ".lan", kA);
    f.udp(q, kT0 + id);
  }
  f.session.finish(kT0 + 5, f.sink);
  REQUIRE(f.sink.events.size() == 3);
  for (uint16_t i = 0; i < 3; ++i) {
    CHECK(f.sink.events[i].id == i + 1);
    CHECK(f.sink.events[i].name == "host" + std::to_string(i + 1) + ".lan");
    CHECK_FALSE(f.sink.events[i].recursion_desired);
  }
  CHECK(f.session.pendingQueries() == 0);
  CHECK(f.stats.unanswered.value() == 3);
}

TEST_CASE("answers past max_answers are counted in answer_count but not copied") {
  DnsConfig c;
  c.max_answers = 2;
  Fixture f(c);
  Msg r(3, kResponseRdRa, 1, 3);
  r.question("pool.ntp.org", kA);
  for (uint8_t i = 1; i <= 3; ++i) {
    r.name("", 12);
    r.rr(kA, 60).bytes({10, 0, 0, i}).endRdata();
  }
  f.udp(r, kT0);
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].answer_count == 3);
  REQUIRE(f.sink.events[0].answers.size() == 2);
  CHECK(f.sink.events[0].answers[1].data == "10.0.0.2");
  CHECK(f.stats.answers_not_copied.value() == 1);
}

TEST_CASE("answers whose text outgrows max_answer_text stop being copied and are counted") {
  DnsConfig c;
  c.max_answer_text = 1024;
  Fixture f(c);
  const std::string long_name = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c');
  Msg r(3, kResponseRdRa, 1, 6);
  r.question(long_name + ".example", kA);  // 199 characters
  for (uint8_t i = 1; i <= 6; ++i) {
    r.name("", 12);
    r.rr(kA, 60).bytes({10, 0, 0, i}).endRdata();  // 199 + 8 bytes of text each
  }
  f.udp(r, kT0);
  REQUIRE(f.sink.events.size() == 1);
  const Event& e = f.sink.events[0];
  CHECK(e.answer_count == 6);
  REQUIRE(e.answers.size() == 4);  // 4 * 207 = 828; a fifth would need 1035 > 1024
  CHECK(e.answers[3] == Answer{long_name + ".example", kA, 1, 60, "10.0.0.4"});
  CHECK_FALSE(e.malformed);
  CHECK(f.stats.answer_text_full.value() == 1);
  CHECK(f.stats.answers_not_copied.value() == 2);
}

TEST_CASE("a response without a question pairs by id alone; several questions use the first") {
  Fixture f;
  f.udp(kDigQuery, kT0);
  Msg formerr(0x8c2f, 0x8181, 0, 0);
  f.udp(formerr, kT0 + 1);
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].has_query);
  CHECK(f.sink.events[0].name == "www.example.com");
  CHECK(f.sink.events[0].rcode == 1);
  CHECK(f.stats.bad_qdcount.value() == 1);

  Msg two(12, kResponseRdRa, 2, 1);
  two.question("first.example", kA);
  two.question("second.example", kAaaa);
  two.name("", 12);
  two.rr(kA, 1).bytes({1, 2, 3, 4}).endRdata();
  f.udp(two, kT0 + 2);
  REQUIRE(f.sink.events.size() == 2);
  CHECK(f.sink.events[1].name == "first.example");
  CHECK(f.sink.events[1].qtype == kA);
  REQUIRE(f.sink.events[1].answers.size() == 1);
  CHECK(f.sink.events[1].answers[0].data == "1.2.3.4");
  CHECK(f.stats.bad_qdcount.value() == 2);
}

TEST_CASE("a message shorter than its header is dropped as truncated") {
  Fixture f;
  const Bytes m = hex("8c2f 0120 0001 0000 0000");
  f.udp(m, kT0);
  CHECK(f.sink.events.empty());
  CHECK(f.stats.malformed_truncated.value() == 1);
  CHECK(f.stats.queries.value() == 0);
}

TEST_CASE("a question with a pointer loop, a bad label or a cut type is dropped and counted by reason") {
  Fixture f;
  Msg loop(1, 0, 1, 0);
  loop.u16(0xC00C).u16(1).u16(1);  // the question name points to itself
  Msg label(2, 0, 1, 0);
  label.u8(0x41).raw("a").u8(0).u16(1).u16(1);
  Msg cut(3, 0x8180, 1, 0);
  cut.name("example.com");
  cut.u16(1);
  f.udp(loop, kT0);
  f.udp(label, kT0);
  f.udp(cut, kT0);
  CHECK(f.sink.events.empty());
  CHECK(f.session.pendingQueries() == 0);
  CHECK(f.stats.malformed_pointer_loop.value() == 1);
  CHECK(f.stats.malformed_bad_label.value() == 1);
  CHECK(f.stats.malformed_truncated.value() == 1);
  CHECK(f.stats.queries.value() == 0);
  CHECK(f.stats.responses.value() == 0);
}

TEST_CASE("an answer section cut short is reported as malformed with the answers before it") {
  Fixture f;
  f.udp(kDigQuery, kT0);
  Msg r(0x8c2f, kResponseRdRa, 1, 3);
  r.question("www.example.com", kA);
  r.name("", 12);
  r.rr(kA, 60).bytes({10, 1, 1, 1}).endRdata();
  r.name("", 12);
  r.rr(kA, 60).bytes({10, 1, 1, 2}).endRdata();
  r.b.resize(r.b.size() - 1);  // the second record loses a byte of rdata
  f.udp(r, kT0 + 1);
  REQUIRE(f.sink.events.size() == 1);
  const Event& e = f.sink.events[0];
  CHECK(e.has_query);
  CHECK(e.malformed);
  CHECK(e.answer_count == 3);
  REQUIRE(e.answers.size() == 1);
  CHECK(e.answers[0].data == "10.1.1.1");
  CHECK(f.stats.malformed_truncated.value() == 1);
  CHECK(f.stats.transactions.value() == 1);
}

TEST_CASE("an answer with a pointer loop in its owner name stops the section, counted as a loop") {
  Fixture f;
  Msg r(4, kResponseRdRa, 1, 2);
  r.question("example.com", kA);
  r.name("", 12);
  r.rr(kA, 1).bytes({1, 1, 1, 1}).endRdata();
  const size_t at = r.size();
  r.u16(0xC000u | static_cast<uint32_t>(at));
  r.rr(kA, 1).bytes({2, 2, 2, 2}).endRdata();
  f.udp(r, kT0);
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].malformed);
  CHECK(f.sink.events[0].answers.size() == 1);
  CHECK(f.stats.malformed_pointer_loop.value() == 1);
}

TEST_CASE("record data that does not fit its type is reported empty, counted, and the next record read") {
  Fixture f;
  Msg r(8, kResponseRdRa, 1, 5);
  r.question("example.com", kA);
  r.name("", 12);
  r.rr(kA, 1).bytes({1, 2, 3, 4, 5}).endRdata();  // A of 5 bytes
  r.name("", 12);
  r.rr(kCname, 1).name("x", 12);
  r.u8(0).endRdata();  // one byte after the name
  r.name("", 12);
  r.rr(kTxt, 1).u8(9).raw("short").endRdata();  // string longer than the rdata
  r.name("", 12);
  r.rr(kMx, 1).u16(5).endRdata();  // no exchange name
  r.name("", 12);
  r.rr(kAaaa, 1).bytes(Bytes(16, 0)).endRdata();
  f.udp(r, kT0);
  REQUIRE(f.sink.events.size() == 1);
  const Event& e = f.sink.events[0];
  CHECK_FALSE(e.malformed);
  REQUIRE(e.answers.size() == 5);
  CHECK(e.answers[0].data.empty());
  CHECK(e.answers[1].data.empty());
  CHECK(e.answers[2].data.empty());
  CHECK(e.answers[3].data.empty());
  CHECK(e.answers[4].data == "::");
  CHECK(f.stats.malformed_bad_rdata.value() == 4);
}

TEST_CASE("TXT strings longer than 512 bytes in total are cut and counted") {
  Fixture f;
  Msg r(8, kResponseRdRa, 1, 1);
  r.question("big.example", kTxt);
  r.name("", 12);
  r.rr(kTxt, 1);
  for (int i = 0; i < 3; ++i) r.u8(255).raw(std::string(255, static_cast<char>('a' + i)));
  r.endRdata();
  f.udp(r, kT0);
  REQUIRE(f.sink.events.size() == 1);
  REQUIRE(f.sink.events[0].answers.size() == 1);
  const std::string& data = f.sink.events[0].answers[0].data;
  CHECK(data.size() == kDnsMaxDataText);
  CHECK(data == std::string(255, 'a') + std::string(255, 'b') + "cc");
  CHECK(f.stats.txt_truncated.value() == 1);
  CHECK(f.stats.malformed_bad_rdata.value() == 0);
}

TEST_CASE("the opcode is reported and reset forgets pending queries") {
  Fixture f;
  Msg notify(77, 0x2000, 1, 0);  // NOTIFY
  notify.question("zone.example", kSoa);
  f.udp(notify, kT0);
  CHECK(f.session.pendingQueries() == 1);
  f.session.reset();
  CHECK(f.session.pendingQueries() == 0);
  f.session.finish(kT0, f.sink);
  CHECK(f.sink.events.empty());
  f.udp(notify, kT0);
  f.session.finish(kT0, f.sink);
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].opcode == 4);
}

TEST_CASE("type and rcode names cover the common values and are null when unknown") {
  CHECK(std::string_view(dnsTypeName(1)) == "A");
  CHECK(std::string_view(dnsTypeName(28)) == "AAAA");
  CHECK(std::string_view(dnsTypeName(5)) == "CNAME");
  CHECK(std::string_view(dnsTypeName(65)) == "HTTPS");
  CHECK(dnsTypeName(9999) == nullptr);
  CHECK(std::string_view(dnsRcodeName(0)) == "NOERROR");
  CHECK(std::string_view(dnsRcodeName(2)) == "SERVFAIL");
  CHECK(std::string_view(dnsRcodeName(5)) == "REFUSED");
  CHECK(dnsRcodeName(15) == nullptr);
}

}  // namespace
}  // namespace tapflow
