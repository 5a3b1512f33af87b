// Tests of the DNS analyzer over TCP: 2-byte length framing, messages split
// across segments or several per segment, gaps, caps and stream ends; and a
// differential test (whole, 1-byte and random pieces give the same events).
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "dns_test_util.h"

namespace tapflow {
namespace {

// "h<i>". (Not "h" + std::to_string(i): GCC 12 warns falsely on that
// operator+ at -O3, its bug 105651.)
std::string hostLabel(unsigned i) {
  std::string label = "h";
  label += std::to_string(i);
  return label;
}

using namespace dnstest;

constexpr Timestamp kT0 = 1'700'000'000 * kNanosPerSecond;
constexpr uint16_t kA = 1, kAaaa = 28, kCname = 5, kAxfr = 252;
constexpr StreamDir kUp = StreamDir::kToServer, kDown = StreamDir::kToClient;

Msg query(uint16_t id, std::string_view name, uint16_t type) {
  Msg q(id, 0x0100, 1, 0);
  q.question(name, type);
  return q;
}

Msg response(uint16_t id, std::string_view name, uint16_t type, uint8_t last_octet) {
  Msg r(id, 0x8180, 1, 2);
  r.question(name, type);
  r.name("", 12);
  r.rr(kCname, 60);
  const size_t target = r.name("edge", 12);
  r.endRdata();
  r.name("", static_cast<int>(target));
  r.rr(kA, 30).bytes({192, 0, 2, last_octet}).endRdata();
  return r;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

struct Fixture {
  explicit Fixture(DnsConfig c = DnsConfig{}) : config(c), scratch(config), session(config, stats, scratch) {}
  void tcp(StreamDir dir, const Bytes& b, Timestamp ts) { session.onData(dir, b.data(), b.size(), ts, sink); }
  DnsConfig config;
  DnsStats stats;
  DnsScratch scratch;
  DnsSession session;
  RecordingSink sink;
};

TEST_CASE("two queries in one segment and both responses in one segment pair over TCP") {
  Fixture f;
  f.tcp(kUp, concat({query(1, "a.example", kA).tcp(), query(2, "b.example", kAaaa).tcp()}), kT0);
  CHECK(f.session.pendingQueries() == 2);
  f.tcp(kDown, concat({response(2, "b.example", kAaaa, 2).tcp(), response(1, "a.example", kA, 1).tcp()}), kT0 + 9);
  REQUIRE(f.sink.events.size() == 2);
  const Event& b = f.sink.events[0];
  CHECK(b.has_query);
  CHECK(b.over_tcp);
  CHECK(b.id == 2);
  CHECK(b.name == "b.example");
  CHECK(b.qtype == kAaaa);
  REQUIRE(b.answers.size() == 2);
  CHECK(b.answers[0] == Answer{"b.example", kCname, 1, 60, "edge.b.example"});
  CHECK(b.answers[1] == Answer{"edge.b.example", kA, 1, 30, "192.0.2.2"});
  CHECK(f.sink.events[1].id == 1);
  CHECK(f.sink.events[1].answers.at(1).data == "192.0.2.1");
  CHECK(f.stats.transactions.value() == 2);
}

TEST_CASE("a message split inside its length prefix and its body is parsed when complete") {
  Fixture f;
  const Bytes m = query(3, "split.example", kA).tcp();
  f.tcp(kUp, Bytes(m.begin(), m.begin() + 1), kT0);
  f.tcp(kUp, Bytes(m.begin() + 1, m.begin() + 7), kT0 + 1);
  CHECK(f.session.pendingQueries() == 0);
  f.tcp(kUp, Bytes(m.begin() + 7, m.end()), kT0 + 2);
  CHECK(f.session.pendingQueries() == 1);
  f.session.finish(kT0 + 3, f.sink);
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].name == "split.example");
  CHECK(f.sink.events[0].query_ts == kT0 + 2);  // the segment that completed it
  CHECK(f.sink.events[0].over_tcp);
}

// One TCP conversation delivered with the given piece sizes in each direction.
struct Run {
  std::vector<Event> events;
  std::vector<std::pair<std::string, uint64_t>> counters;
};

template <typename NextSize>
Run deliver(const Bytes& up, const Bytes& down, NextSize next_size) {
  DnsConfig config;
  config.max_tcp_message = 512;  // the AXFR-like message below is capped
  DnsStats stats;
  DnsScratch scratch(config);
  DnsSession session(config, stats, scratch);
  RecordingSink sink;
  // Queries first, so that each response finds its query pending.
  for (size_t at = 0; at < up.size();) {
    const size_t n = std::min(next_size(), up.size() - at);
    session.onData(kUp, up.data() + at, n, kT0, sink);
    at += n;
  }
  for (size_t at = 0; at < down.size();) {
    const size_t n = std::min(next_size(), down.size() - at);
    session.onData(kDown, down.data() + at, n, kT0, sink);
    at += n;
  }
  session.finish(kT0, sink);
  return {sink.events, counters(stats)};
}

TEST_CASE("whole, 1-byte and random-size deliveries of a TCP conversation give identical events") {
  Msg big(9, 0x8400, 1, 40);  // an AXFR answer longer than the 512-byte cap
  big.question("zone.example", kAxfr);
  for (uint8_t i = 0; i < 40; ++i) {
    big.name(hostLabel(i), 12);
    big.rr(kA, 3600).bytes({10, 9, 0, i}).endRdata();
  }
  REQUIRE(big.size() > 600);
  Msg bad(10, 0x8180, 1, 1);  // its answer's owner name loops
  bad.question("bad.example", kA);
  bad.u16(0xC000u | static_cast<uint32_t>(bad.size()));
  bad.rr(kA, 1).bytes({1, 1, 1, 1}).endRdata();
  const Bytes up = concat({query(1, "a.example", kA).tcp(), query(2, "b.example", kAaaa).tcp(),
                           query(9, "zone.example", kAxfr).tcp(), query(10, "bad.example", kA).tcp(),
                           query(11, "never.example", kA).tcp()});
  const Bytes down = concat({response(1, "a.example", kA, 1).tcp(), response(2, "b.example", kAaaa, 2).tcp(),
                             big.tcp(), bad.tcp(), response(12, "alone.example", kA, 12).tcp()});

  const Run whole = deliver(up, down, [] { return size_t(1) << 20; });
  REQUIRE(whole.events.size() == 6);
  CHECK(whole.events[2].name == "zone.example");
  CHECK(whole.events[2].answer_count == 40);
  CHECK(whole.events[2].answers.size() == 16);  // max_answers, all within the first 512 bytes
  CHECK(whole.events[2].answers[15].data == "10.9.0.15");
  CHECK_FALSE(whole.events[2].malformed);
  CHECK(whole.events[3].malformed);
  CHECK_FALSE(whole.events[4].has_query);
  CHECK(whole.events[4].id == 12);
  CHECK_FALSE(whole.events[5].has_response);
  CHECK(whole.events[5].id == 11);

  const Run bytewise = deliver(up, down, [] { return size_t(1); });
  CHECK(bytewise.events == whole.events);
  CHECK(bytewise.counters == whole.counters);
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> size(1, 300);
    const Run random = deliver(up, down, [&] { return size(rng); });
    CHECK(random.events == whole.events);
    CHECK(random.counters == whole.counters);
  }
}

TEST_CASE("a message over max_tcp_message is parsed from its first bytes and counted as capped") {
  DnsConfig c;
  c.max_tcp_message = 512;
  c.max_answers = 64;
  Fixture f(c);
  Msg big(9, 0x8400, 1, 40);
  big.question("zone.example", kAxfr);
  for (uint8_t i = 0; i < 40; ++i) {
    big.name(hostLabel(i), 12);
    big.rr(kA, 3600).bytes({10, 9, 0, i}).endRdata();
  }
  f.tcp(kDown, concat({big.tcp(), response(5, "next.example", kA, 5).tcp()}), kT0);
  REQUIRE(f.sink.events.size() == 2);
  const Event& e = f.sink.events[0];
  CHECK(e.answer_count == 40);
  // 30 bytes of header and question, ten 19-byte records (h0-h9), then
  // 20-byte ones: 24 records end by byte 500 of 512, the 25th would not fit.
  CHECK(e.answers.size() == 24);
  CHECK(e.answers.back() == Answer{"h23.zone.example", kA, 1, 3600, "10.9.0.23"});
  CHECK_FALSE(e.malformed);
  CHECK(f.sink.events[1].name == "next.example");
  CHECK(f.stats.tcp_messages_capped.value() == 1);
  CHECK(f.stats.malformed_truncated.value() == 0);
}

TEST_CASE("a length prefix under 12 bytes stops the direction and is counted") {
  Fixture f;
  f.tcp(kUp, concat({Bytes{0x00, 0x05, 1, 2, 3, 4, 5}, query(1, "a.example", kA).tcp()}), kT0);
  CHECK(f.session.pendingQueries() == 0);
  CHECK(f.stats.malformed_tcp_framing.value() == 1);
  f.tcp(kUp, query(2, "b.example", kA).tcp(), kT0);
  CHECK(f.session.pendingQueries() == 0);
  // The other direction still parses.
  f.tcp(kDown, response(3, "c.example", kA, 3).tcp(), kT0);
  CHECK(f.sink.events.size() == 1);
}

TEST_CASE("a gap inside a message skips that message and keeps the framing") {
  Fixture f;
  const Bytes first = query(1, "lost.example", kA).tcp();
  const Bytes second = query(2, "kept.example", kA).tcp();
  f.tcp(kUp, Bytes(first.begin(), first.begin() + 10), kT0);
  f.session.onGap(kUp, 5, f.sink);
  f.tcp(kUp, concat({Bytes(first.begin() + 15, first.end()), second}), kT0);
  CHECK(f.stats.gaps.value() == 1);
  CHECK(f.stats.gap_messages_lost.value() == 1);
  CHECK(f.stats.gap_streams_stopped.value() == 0);
  f.session.finish(kT0, f.sink);
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].name == "kept.example");
}

TEST_CASE("a gap that ends a message exactly keeps the next one") {
  Fixture f;
  const Bytes first = query(1, "lost.example", kA).tcp();
  f.tcp(kUp, Bytes(first.begin(), first.begin() + 4), kT0);
  f.session.onGap(kUp, first.size() - 4, f.sink);
  f.tcp(kUp, query(2, "kept.example", kA).tcp(), kT0);
  CHECK(f.session.pendingQueries() == 1);
  CHECK(f.stats.gap_messages_lost.value() == 1);
}

TEST_CASE("a gap over a length prefix stops the direction") {
  Fixture f;
  const Bytes first = query(1, "a.example", kA).tcp();
  f.tcp(kUp, first, kT0);
  f.session.onGap(kUp, 3, f.sink);
  f.tcp(kUp, query(2, "b.example", kA).tcp(), kT0);
  CHECK(f.session.pendingQueries() == 1);
  CHECK(f.stats.gap_streams_stopped.value() == 1);

  // A gap longer than the rest of the current message crosses a prefix too.
  Fixture g;
  g.tcp(kUp, Bytes(first.begin(), first.begin() + 5), kT0);
  g.session.onGap(kUp, first.size(), g.sink);
  g.tcp(kUp, first, kT0);
  CHECK(g.session.pendingQueries() == 0);
  CHECK(g.stats.gap_streams_stopped.value() == 1);
  CHECK(g.stats.gap_messages_lost.value() == 0);
}

TEST_CASE("a gap past the cap of a capped message still lets its first bytes be parsed") {
  DnsConfig c;
  c.max_tcp_message = 512;
  Fixture f(c);
  Msg big(9, 0x8400, 1, 40);
  big.question("zone.example", kAxfr);
  for (uint8_t i = 0; i < 40; ++i) {
    big.name(hostLabel(i), 12);
    big.rr(kA, 3600).bytes({10, 9, 0, i}).endRdata();
  }
  const Bytes m = big.tcp();
  f.tcp(kDown, Bytes(m.begin(), m.begin() + 600), kT0 + 4);
  f.session.onGap(kDown, m.size() - 600, f.sink);
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].answers.size() == 16);
  CHECK(f.sink.events[0].response_ts == kT0 + 4);
  CHECK(f.stats.gap_messages_lost.value() == 0);
  CHECK(f.stats.tcp_messages_capped.value() == 1);
}

TEST_CASE("a message cut by the end of its stream is counted and dropped") {
  Fixture f;
  const Bytes m = query(1, "a.example", kA).tcp();
  f.tcp(kUp, Bytes(m.begin(), m.end() - 1), kT0);
  f.session.onEnd(kUp, StreamEnd::kFin, kT0, f.sink);
  f.tcp(kUp, Bytes(m.end() - 1, m.end()), kT0);
  CHECK(f.session.pendingQueries() == 0);
  CHECK(f.stats.tcp_incomplete_at_end.value() == 1);
  f.session.onEnd(kDown, StreamEnd::kRst, kT0, f.sink);  // nothing pending there
  CHECK(f.stats.tcp_incomplete_at_end.value() == 1);
}

TEST_CASE("reset clears the TCP framing of both directions") {
  Fixture f;
  const Bytes m = query(1, "a.example", kA).tcp();
  f.tcp(kUp, Bytes(m.begin(), m.begin() + 5), kT0);
  f.session.onGap(kDown, 1, f.sink);  // stops kDown
  f.session.reset();
  f.tcp(kUp, m, kT0);
  f.tcp(kDown, response(1, "a.example", kA, 1).tcp(), kT0);
  REQUIRE(f.sink.events.size() == 1);
  CHECK(f.sink.events[0].has_query);
}

}  // namespace
}  // namespace tapflow
