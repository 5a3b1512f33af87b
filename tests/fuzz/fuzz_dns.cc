// libFuzzer target for the DNS analyzer. The input is a control header and a
// TCP byte stream of length-prefixed DNS messages:
//   b0     bit0 put a gap in the stream, bit1 deliver in the kToClient direction
//   b1-2   gap offset (modulo the stream length), b3 gap length - 1
//   b4-7   seed of the random piece sizes
//   b8...  the stream
// The stream goes to one session whole and to another in random pieces (with
// the same gap): events and counters must be identical. Without a gap, each
// message is also given to a third session as a UDP datagram: when every
// message is whole and under the TCP cap, its events must match the TCP ones.
// Every event is checked against the caps, strings must not point into the
// input, and the counters must add up once the flow is finished. A failed
// check is __builtin_trap().
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "proto/dns/dns_session.h"

// The harness's own loops and string building stay out of libFuzzer's coverage.
#if defined(__clang__)
#define HARNESS __attribute__((no_sanitize("coverage"), noinline))
#else
#define HARNESS __attribute__((noinline))
#endif

namespace {

using namespace tapflow;

constexpr size_t kControl = 8;
constexpr Timestamp kTs = 1'000'000'000;

DnsConfig fuzzConfig() {
  DnsConfig c;
  c.max_pending_queries = 4;
  c.max_answers = 3;
  c.query_timeout = 100;
  c.max_tcp_message = 512;
  c.max_answer_text = 1024;
  return c;
}

class CheckingSink : public DnsEventSink {
 public:
  CheckingSink(const uint8_t* input, size_t input_len, bool with_transport)
      : input_(input), input_end_(input + input_len), with_transport_(with_transport) {}

  HARNESS void onDnsTransaction(const DnsTransaction& t) override {
    const DnsConfig config = fuzzConfig();
    if (!t.has_query && !t.has_response) __builtin_trap();
    if (t.answers_reported > config.max_answers || t.answers_reported > t.answer_count) __builtin_trap();
    if (t.answers_reported > 0 && t.answers == nullptr) __builtin_trap();
    if (!t.has_response && (t.answers_reported != 0 || t.response_ts != 0 || t.malformed)) __builtin_trap();
    if (!t.has_query && t.query_ts != 0) __builtin_trap();
    if (t.name.size() > kDnsMaxNameText) __builtin_trap();
    checkCopied(t.name);
    log_ += t.has_query ? 'Q' : '-';
    log_ += t.has_response ? 'R' : '-';
    if (with_transport_) log_ += t.over_tcp ? 'T' : 'U';
    log_ += std::to_string(t.id) + ' ' + std::string(t.name) + ' ' + std::to_string(t.qtype) + ' ' +
            std::to_string(t.qclass) + ' ' + std::to_string(t.opcode) + ' ' + std::to_string(t.rcode) + ' ' +
            std::to_string(t.truncated + 2 * t.authoritative + 4 * t.recursion_desired +
                           8 * t.recursion_available + 16 * t.malformed) +
            ' ' + std::to_string(t.answer_count) + ' ' + std::to_string(t.query_ts) + ' ' +
            std::to_string(t.response_ts) + '\n';
    size_t text = 0;
    for (size_t i = 0; i < t.answers_reported; ++i) {
      const DnsAnswer& a = t.answers[i];
      if (a.name.size() > kDnsMaxNameText || a.data.size() > kDnsMaxDataText) __builtin_trap();
      text += a.name.size() + a.data.size();
      if (text > config.max_answer_text) __builtin_trap();
      checkCopied(a.name);
      checkCopied(a.data);
      log_ += "  " + std::string(a.name) + ' ' + std::to_string(a.type) + ' ' + std::to_string(a.dns_class) + ' ' +
              std::to_string(a.ttl) + ' ' + std::string(a.data) + '\n';
    }
    ++events_;
  }

  const std::string& log() const { return log_; }
  uint64_t events() const { return events_; }

 private:
  // Event strings live in the session's own buffers, never in the caller's bytes.
  void checkCopied(std::string_view s) const {
    if (s.empty()) return;
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    if (p < input_end_ && p + s.size() > input_) __builtin_trap();
  }

  const uint8_t* input_;
  const uint8_t* input_end_;
  bool with_transport_;
  std::string log_;
  uint64_t events_ = 0;
};

struct Rng {
  uint32_t state;
  uint32_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
};

HARNESS void checkFinished(const DnsSession& session, const DnsStats& s, const CheckingSink& sink) {
  if (session.pendingQueries() != 0) __builtin_trap();
  if (s.queries.value() != s.transactions.value() + s.unanswered.value() + s.queries_retransmitted.value()) {
    __builtin_trap();
  }
  if (s.responses.value() != s.transactions.value() + s.responses_without_query.value()) __builtin_trap();
  if (sink.events() != s.transactions.value() + s.unanswered.value() + s.responses_without_query.value()) {
    __builtin_trap();
  }
  if (s.pending_overflow.value() > s.unanswered.value()) __builtin_trap();
}

// Delivers stream[0, len) in pieces (whole when rng is null), with a gap of
// gap_len bytes replacing the bytes at gap_at when gap_len > 0.
HARNESS void deliverTcp(DnsSession& session, StreamDir dir, const uint8_t* stream, size_t len, size_t gap_at,
                        size_t gap_len, Rng* rng, CheckingSink& sink) {
  const size_t max_pending = fuzzConfig().max_pending_queries;
  const auto pieces = [&](size_t from, size_t to) {
    while (from < to) {
      size_t n = to - from;
      if (rng != nullptr) n = std::min<size_t>(n, 1 + rng->next() % ((rng->next() & 1) ? 3 : 97));
      session.onData(dir, stream + from, n, kTs, sink);
      if (session.pendingQueries() > max_pending) __builtin_trap();
      from += n;
    }
  };
  if (gap_len == 0) {
    pieces(0, len);
  } else {
    pieces(0, gap_at);
    session.onGap(dir, gap_len, sink);
    pieces(gap_at + gap_len, len);
  }
  session.onEnd(dir, StreamEnd::kFin, kTs, sink);
  session.expire(kTs + 100, sink);  // not older than the timeout yet
  session.expire(kTs + 101, sink);
  if (session.pendingQueries() != 0) __builtin_trap();
  session.finish(kTs + 200, sink);
}

uint64_t total(const DnsStats& s) {
  uint64_t sum = 0;
  s.forEach([&](const char*, const char*, const Counter& c) { sum = sum * 31 + c.value(); });
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kControl) return 0;
  const bool with_gap = data[0] & 1;
  const StreamDir dir = (data[0] & 2) ? StreamDir::kToClient : StreamDir::kToServer;
  const uint8_t* stream = data + kControl;
  const size_t len = size - kControl;
  size_t gap_at = 0, gap_len = 0;
  if (with_gap && len > 0) {
    gap_at = (static_cast<size_t>(data[1]) << 8 | data[2]) % len;
    gap_len = std::min<size_t>(len - gap_at, 1 + data[3]);
  }
  Rng rng{static_cast<uint32_t>(data[4]) << 24 | static_cast<uint32_t>(data[5]) << 16 |
          static_cast<uint32_t>(data[6]) << 8 | data[7]};
  if (rng.state == 0) rng.state = 1;

  const DnsConfig config = fuzzConfig();
  DnsStats whole_stats, split_stats;
  // One scratch for all sessions, as a worker has: it must not carry
  // anything from one session's message to another's.
  DnsScratch scratch(config);
  DnsSession whole(config, whole_stats, scratch), split(config, split_stats, scratch);
  CheckingSink whole_sink(data, size, true), split_sink(data, size, true);
  deliverTcp(whole, dir, stream, len, gap_at, gap_len, nullptr, whole_sink);
  deliverTcp(split, dir, stream, len, gap_at, gap_len, &rng, split_sink);
  if (whole_sink.log() != split_sink.log()) __builtin_trap();
  if (total(whole_stats) != total(split_stats)) __builtin_trap();
  checkFinished(whole, whole_stats, whole_sink);
  checkFinished(split, split_stats, split_sink);
  if (gap_len > 0 && whole_stats.gaps.value() != 1) __builtin_trap();

  if (gap_len > 0) return 0;
  // The same messages as UDP datagrams.
  DnsStats udp_stats;
  DnsSession udp(config, udp_stats, scratch);
  CheckingSink udp_sink(data, size, false);
  bool comparable = true;
  size_t at = 0;
  while (at + 2 <= len) {
    const size_t message_len = static_cast<size_t>(stream[at]) << 8 | stream[at + 1];
    const size_t n = std::min(message_len, len - at - 2);
    if (message_len < kDnsHeaderLength || message_len > config.max_tcp_message || n < message_len) {
      comparable = false;
    }
    udp.onDatagram(dir, stream + at + 2, n, kTs, udp_sink);
    if (udp.pendingQueries() > config.max_pending_queries) __builtin_trap();
    at += 2 + n;
  }
  if (at != len) comparable = false;
  udp.expire(kTs + 101, udp_sink);
  udp.finish(kTs + 200, udp_sink);
  checkFinished(udp, udp_stats, udp_sink);
  if (comparable) {
    CheckingSink tcp_sink(data, size, false);
    DnsStats tcp_stats;
    DnsSession tcp(config, tcp_stats, scratch);
    deliverTcp(tcp, dir, stream, len, 0, 0, nullptr, tcp_sink);
    if (tcp_sink.log() != udp_sink.log()) __builtin_trap();
    if (tcp_stats.malformed_tcp_framing.value() != 0 || tcp_stats.tcp_messages_capped.value() != 0 ||
        tcp_stats.tcp_incomplete_at_end.value() != 0) {
      __builtin_trap();
    }
    // Apart from framing, both transports count the same.
    tcp_stats.forEach([&](const char* name, const char*, const Counter& c) {
      udp_stats.forEach([&](const char* other, const char*, const Counter& u) {
        if (std::string_view(name) == other && c.value() != u.value()) __builtin_trap();
      });
    });
  }
  return 0;
}
