// libFuzzer target for the TLS hello analyzer. The input is one connection:
//   b0     bit0 small max_hello_bytes (300), bit1 small max_ja3_bytes (40),
//          bit2 a gap in the client stream, bit3 a gap in the server stream,
//          bit4 end each direction (onEnd) before finish(), bits5-7 split seed
//   b1-2   client byte count C (big-endian, clamped to what is there)
//   b3     where the gaps go: client gap after (b3 * C / 256) bytes, server
//          gap after (b3 * S / 256) bytes
//   then C client bytes, then the server bytes (S).
// The connection is played three times on one session (reset() between):
// each direction whole; in 1-byte pieces; in pseudo-random pieces with the
// directions interleaved. All three must give the same events and counters.
// Each event is also checked on its own: views inside the session's buffers,
// lists within their caps, MD5(ja3) == ja3_hash, JA4's shape, and counters
// that agree with the event. A failed check is __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ops/hex.h"
#include "proto/tls/md5.h"
#include "proto/tls/tls_session.h"

#define HARNESS __attribute__((no_sanitize("coverage"), noinline))

namespace {

using namespace tapflow;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Recorder : TlsEventSink {
  const TlsSession* session = nullptr;
  const TlsConfig* config = nullptr;
  std::vector<std::string> lines;
  bool client = false, server = false;

  HARNESS void onTlsHello(const TlsHello& h) override {
    const std::string_view views[] = {h.sni, h.ja3, h.ja3_hash, h.ja4, h.ja3s, h.ja3s_hash};
    for (std::string_view v : views) check(session->ownsText(v));
    check(h.alpn_count <= TlsHello::kMaxAlpn);
    check(h.supported_version_count <= TlsHello::kMaxVersions);
    for (size_t i = 0; i < h.alpn_count; ++i) check(session->ownsText(h.alpn[i]) && !h.alpn[i].empty());
    check(h.has_client_hello || h.has_server_hello);
    client = h.has_client_hello;
    server = h.has_server_hello;
    check(h.ja3.size() <= config->max_ja3_bytes && h.ja3s.size() <= config->max_ja3_bytes);
    if (h.has_client_hello) {
      check(h.ja3_hash.size() == 32);
      if (!h.ja3.empty()) {
        uint8_t digest[Md5::kDigestBytes];
        md5(reinterpret_cast<const uint8_t*>(h.ja3.data()), h.ja3.size(), digest);
        check(hexString(digest, sizeof(digest)) == h.ja3_hash);
      }
      check(h.ja4.empty() || (h.ja4.size() == 36 && h.ja4[0] == 't' && h.ja4[10] == '_' && h.ja4[23] == '_'));
      for (size_t i = 0; i < h.supported_version_count; ++i) check(!isTlsGrease(h.supported_versions[i]));
    } else {
      check(h.ja3.empty() && h.ja3_hash.empty() && h.ja4.empty() && h.sni.empty() && h.alpn_count == 0);
    }
    if (h.has_server_hello) {
      check(h.ja3s_hash.size() == 32);
    } else {
      check(h.ja3s.empty() && h.ja3s_hash.empty() && h.server_version == 0 && h.cipher == 0);
    }
    std::string line;
    line.append(h.sni).append("|").append(h.ja3).append("|").append(h.ja3_hash).append("|").append(h.ja4);
    line.append("|").append(h.ja3s).append("|").append(h.ja3s_hash).append("|");
    for (size_t i = 0; i < h.alpn_count; ++i) line.append(h.alpn[i]).append(",");
    for (size_t i = 0; i < h.supported_version_count; ++i) line += std::to_string(h.supported_versions[i]) + ",";
    line += std::to_string(h.has_client_hello) + std::to_string(h.has_server_hello) + "|" +
            std::to_string(h.client_version) + "|" + std::to_string(h.server_version) + "|" +
            std::to_string(h.cipher) + "|" + std::to_string(h.hello_retry_request) + "|" +
            std::to_string(h.client_hello_ts) + "|" + std::to_string(h.server_hello_ts);
    lines.push_back(line);
  }
};

struct Stream {
  const uint8_t* data;
  size_t len;
  bool gap;
  size_t gap_at;
};

struct Run {
  std::vector<std::string> lines;
  bool client = false, server = false;
  std::vector<uint64_t> counters;  // change of every counter during the run
  uint64_t client_hellos = 0, server_hellos = 0, events = 0;
};

uint32_t g_rng = 1;
uint32_t nextRandom() {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 17;
  g_rng ^= g_rng << 5;
  return g_rng;
}

// Plays the connection with pieces from `piece(dir, left)`; directions take
// turns when `interleave`, else all client bytes then all server bytes.
HARNESS std::vector<uint64_t> snapshot(const TlsStats& stats) {
  std::vector<uint64_t> values;
  stats.forEach([&](const char*, const char*, const Counter& c) { values.push_back(c.value()); });
  return values;
}

// Counters of which each direction bumps at most one: its hello, or why it gave up.
uint64_t directionOutcomes(const TlsStats& s) {
  return s.client_hellos.value() + s.server_hellos.value() + s.sslv2_hellos.value() + s.hello_too_long.value() +
         s.gaps.value() + s.truncated_hellos.value() + s.not_handshake.value() + s.alerts_before_hello.value() +
         s.malformed_record_header.value() + s.malformed_record_length.value() +
         s.malformed_record_sequence.value() + s.malformed_unexpected_message.value() +
         s.malformed_client_hello.value() + s.malformed_server_hello.value();
}

template <typename Piece>
HARNESS Run play(TlsSession& session, const TlsStats& stats, const TlsConfig& config, const Stream (&streams)[2],
                 bool end_each, bool interleave, Piece piece) {
  const std::vector<uint64_t> before = snapshot(stats);
  const uint64_t client_hellos = stats.client_hellos.value(), server_hellos = stats.server_hellos.value(),
                 events = stats.events.value();
  const uint64_t outcomes_before = directionOutcomes(stats);
  Recorder recorder;
  recorder.session = &session;
  recorder.config = &config;
  session.reset();
  size_t pos[2] = {0, 0};
  bool gap_done[2] = {false, false};
  const Timestamp ts[2] = {1000, 2000};
  for (;;) {
    bool progressed = false;
    for (int d = 0; d < 2; ++d) {
      const Stream& s = streams[d];
      const StreamDir dir = d == 0 ? StreamDir::kToServer : StreamDir::kToClient;
      // Deliver one piece (or all of it when not interleaving), never across the gap point.
      do {
        if (s.gap && !gap_done[d] && pos[d] == s.gap_at) {
          session.onGap(dir, 10, recorder);
          gap_done[d] = true;
          progressed = true;
          continue;
        }
        if (pos[d] >= s.len) break;
        size_t limit = s.len - pos[d];
        if (s.gap && !gap_done[d]) limit = s.gap_at - pos[d];
        size_t n = piece(limit);
        if (n == 0 || n > limit) n = limit;
        session.onData(dir, s.data + pos[d], n, ts[d], recorder);
        pos[d] += n;
        progressed = true;
      } while (!interleave);
    }
    if (!progressed) break;
  }
  if (end_each) {
    session.onEnd(StreamDir::kToServer, StreamEnd::kFin, 3000, recorder);
    session.onEnd(StreamDir::kToClient, StreamEnd::kRst, 3000, recorder);
  }
  session.finish(4000, recorder);
  check(session.done());
  check(recorder.lines.size() <= 1);
  Run run;
  run.lines = recorder.lines;
  run.client = recorder.client;
  run.server = recorder.server;
  run.counters = snapshot(stats);
  for (size_t i = 0; i < run.counters.size(); ++i) run.counters[i] -= before[i];
  run.client_hellos = stats.client_hellos.value() - client_hellos;
  run.server_hellos = stats.server_hellos.value() - server_hellos;
  run.events = stats.events.value() - events;
  // Each direction ends in at most one way: its hello parsed, or one reason to give up.
  const uint64_t outcomes = directionOutcomes(stats) - outcomes_before;
  check(outcomes <= 2);
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t flags = data[0];
  const size_t body = size - 4;
  size_t client_len = size_t(data[1]) << 8 | data[2];
  if (client_len > body) client_len = body;
  const uint8_t gap_fraction = data[3];
  const uint8_t* client = data + 4;
  const uint8_t* server = client + client_len;
  const size_t server_len = body - client_len;

  TlsConfig config;
  if (flags & 1) config.max_hello_bytes = 300;
  if (flags & 2) config.max_ja3_bytes = 40;
  const Stream streams[2] = {
      {client, client_len, (flags & 4) != 0, client_len * gap_fraction / 256},
      {server, server_len, (flags & 8) != 0, server_len * gap_fraction / 256},
  };
  const bool end_each = (flags & 16) != 0;

  static TlsStats stats;  // deltas per run are compared, so sharing across inputs is fine
  TlsSession session(config, stats);

  const Run whole = play(session, stats, config, streams, end_each, false, [](size_t left) { return left; });
  const Run bytes = play(session, stats, config, streams, end_each, true, [](size_t) { return size_t(1); });
  g_rng = 0x9e3779b9u ^ (uint32_t(flags >> 5) << 24) ^ uint32_t(size);
  const Run random = play(session, stats, config, streams, end_each, true, [](size_t left) {
    const uint32_t r = nextRandom();
    return (r & 3) == 0 ? left : size_t(1 + (r >> 8) % 64);
  });

  check(whole.lines == bytes.lines && whole.lines == random.lines);
  check(whole.counters == bytes.counters && whole.counters == random.counters);
  // Counters agree with the event: one hello per direction at most, an event
  // exactly when one was parsed, and the event says which.
  check(whole.client_hellos <= 1 && whole.server_hellos <= 1);
  check(whole.events == whole.lines.size());
  check(whole.events == ((whole.client_hellos + whole.server_hellos) > 0 ? 1u : 0u));
  check(whole.client == (whole.client_hellos == 1) && whole.server == (whole.server_hellos == 1));
  return 0;
}
