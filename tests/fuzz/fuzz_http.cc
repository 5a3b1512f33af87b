// libFuzzer target for the HTTP/1.x session: the input is a script of both
// directions' stream bytes, gaps and ends, run on a session with tiny limits.
//
// Byte 0: bits 0-1 url mode, bits 2-7 seed of the random piece sizes.
// Then records:
//   b0  bit0 direction (1 = server to client), bits 1-2 kind: 0 or 3 data,
//       1 gap, 2 end; bits 3-4 the end's reason
//   b1  data: length of the bytes that follow (cut short at the input's end);
//       gap: its length (b1 * 3 + 1)
// The script runs three times on one session, reset() in between: each data
// record delivered whole, in 1-byte pieces, and in random pieces (1..16
// bytes). The events (as describeTransaction() text) and every counter's
// increase must be identical; every event view must lie in the session's
// buffers; after finish(), every request and response head counted must have
// been reported exactly once. A failed check is __builtin_trap().
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/http/http_session.h"

// The harness's own loops stay out of coverage, so libFuzzer's feedback is the session's.
#if defined(__clang__)
#define HARNESS __attribute__((no_sanitize("coverage"), noinline))
#else
#define HARNESS
#endif

namespace {

using namespace tapflow;

constexpr uint32_t kMaxCopied = 2;

struct Recorder : HttpEventSink {
  const HttpSession* session = nullptr;
  std::vector<std::string> events;
  uint64_t with_request = 0, with_response = 0;

  HARNESS void onHttpTransaction(const HttpTransaction& t) override {
    for (std::string_view v : {t.method, t.url, t.request_version, t.host, t.user_agent, t.reason, t.response_version,
                               t.upgrade}) {
      if (!session->ownsText(v)) __builtin_trap();
    }
    if (t.header_count > 2 * kMaxCopied || (t.header_count > 0 && t.headers == nullptr)) __builtin_trap();
    for (size_t i = 0; i < t.header_count; ++i) {
      if (!session->ownsText(t.headers[i].name) || !session->ownsText(t.headers[i].value)) __builtin_trap();
      if (t.headers[i].name.empty()) __builtin_trap();
    }
    if (!t.has_request && !t.has_response) __builtin_trap();
    if (!t.has_request && (!t.method.empty() || t.request_body_bytes != 0)) __builtin_trap();
    if (!t.has_response && (t.status_code != 0 || t.response_body_bytes != 0)) __builtin_trap();
    if (t.has_request && t.method.empty()) __builtin_trap();
    if (t.has_response && (t.status_code < 100 || t.status_code > 999)) __builtin_trap();
    with_request += t.has_request;
    with_response += t.has_response;
    events.push_back(describeTransaction(t));
  }
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

HARNESS std::vector<uint64_t> counters(const HttpStats& stats) {
  std::vector<uint64_t> values;
  stats.forEach([&](const char*, const char*, const Counter& c) { values.push_back(c.value()); });
  return values;
}

// mode 0: whole records, 1: 1-byte pieces, 2: random pieces.
void runScript(const uint8_t* data, size_t size, int mode, HttpSession& session, const HttpStats& stats,
               Recorder& out) {
  Rng rng{0x9e3779b9u ^ (static_cast<uint32_t>(data[0]) << 8) ^ static_cast<uint32_t>(size)};
  const std::vector<uint64_t> before = counters(stats);
  Timestamp ts = 1000;
  size_t at = 1;
  while (at + 2 <= size) {
    const uint8_t control = data[at];
    const uint8_t length = data[at + 1];
    at += 2;
    const StreamDir dir = (control & 1) ? StreamDir::kToClient : StreamDir::kToServer;
    ts += 10;
    switch ((control >> 1) & 3) {
      case 1: session.onGap(dir, uint64_t{length} * 3 + 1, out); break;
      case 2: session.onEnd(dir, static_cast<StreamEnd>((control >> 3) & 3), ts, out); break;
      default: {
        const size_t n = std::min<size_t>(length, size - at);
        for (size_t done = 0; done < n;) {
          size_t piece = n - done;
          if (mode == 1) piece = 1;
          if (mode == 2) piece = std::min<size_t>(piece, 1 + rng.next() % 16);
          session.onData(dir, data + at + done, piece, ts, out);
          done += piece;
        }
        at += n;
        break;
      }
    }
  }
  session.finish(ts + 1, out);
  const std::vector<uint64_t> after = counters(stats);
  // Counters of this run only.
  std::vector<uint64_t> delta(after.size());
  for (size_t i = 0; i < after.size(); ++i) delta[i] = after[i] - before[i];
  const auto& s = stats;
  const uint64_t requests = s.requests.value() - before[0];
  const uint64_t responses = s.responses.value() - before[1];
  if (out.events.size() != s.transactions.value() - before[3]) __builtin_trap();
  out.events.push_back("counters");
  for (uint64_t v : delta) out.events.push_back(std::to_string(v));
  // Every request kept and every final response head is reported exactly once.
  const uint64_t not_kept = (s.pending_overflow.value() - before[7]) + (s.pending_bytes_overflow.value() - before[8]);
  if (not_kept > requests || out.with_request != requests - not_kept) __builtin_trap();
  if (out.with_response != responses) __builtin_trap();
  if (s.unanswered_requests.value() - before[5] > requests) __builtin_trap();
  if (s.responses_without_request.value() - before[6] > responses) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static HttpConfig config = [] {
    HttpConfig c;
    c.headers = {"x-a", "HOST"};
    c.max_header_bytes = 128;
    c.max_pending_requests = 3;
    c.max_pending_bytes = 160;
    c.max_copied_headers = kMaxCopied;
    return c;
  }();
  config.url_mode = static_cast<HttpConfig::UrlMode>(data[0] % 3);
  static HttpStats stats;
  // The counters' order is the X-macro's: check the indexes runScript uses.
  static const bool order_checked = [] {
    const char* expected[] = {"requests", "responses", "informational_responses", "transactions", "upgrades",
                              "unanswered_requests", "responses_without_request", "pending_overflow",
                              "pending_bytes_overflow"};
    size_t i = 0;
    bool ok = true;
    stats.forEach([&](const char* name, const char*, const Counter&) {
      if (i < 9) ok = ok && std::string(name) == expected[i];
      ++i;
    });
    return ok;
  }();
  if (!order_checked) __builtin_trap();

  HttpSession session(config, stats);
  Recorder whole, bytewise, random;
  whole.session = bytewise.session = random.session = &session;
  runScript(data, size, 0, session, stats, whole);
  session.reset();
  runScript(data, size, 1, session, stats, bytewise);
  session.reset();
  runScript(data, size, 2, session, stats, random);
  if (whole.events != bytewise.events || whole.events != random.events) __builtin_trap();
  return 0;
}
