// libFuzzer target for the SIP analyzer. The input is a config byte then chunks
// separated by 0xFF bytes; each chunk is a control byte and a payload:
//   config  bits0-1 user privacy (0 keep, 1 hash, 2 drop, 3 keep), bits2-7 seed of the
//           TCP piece sizes
//   control bit0 direction (to client), bit1 call expire() first, bit2 a TCP gap of
//           1 + (bits3-7) * 9 bytes before the chunk, bits3-7 time step (x 512 ns)
// The chunks are fed three ways: as UDP datagrams, and as one TCP stream per direction
// delivered whole per chunk and in pseudo-random pieces (gaps at the same places).
// Checked, with __builtin_trap() on failure: whole and pieces give the same events and
// counters; the call table never holds more than max_calls; every started call is reported
// exactly once by finish(); events hold sane values (status range, media and codec caps,
// no user part under privacy, no raw bytes under privacy).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/sip/sip_analyzer.h"
#include "proto/sip/sip_parser.h"

// The harness's own loops are left out of coverage so libFuzzer follows the analyzer.
#define HARNESS __attribute__((no_sanitize("coverage"), noinline))

namespace {

using namespace tapflow;

constexpr uint32_t kMaxCalls = 4;
constexpr size_t kMaxChunks = 256;

SipConfig fuzzConfig(uint8_t config_byte) {
  SipConfig c;
  switch (config_byte & 3) {
    case 1: c.user_privacy = SipConfig::UserPrivacy::kHash; break;
    case 2: c.user_privacy = SipConfig::UserPrivacy::kDrop; break;
    default: c.user_privacy = SipConfig::UserPrivacy::kKeep; break;
  }
  c.hash_salt = "fuzz";
  c.max_message_bytes = 512;
  c.max_calls = kMaxCalls;
  c.call_timeout = 40'000;
  c.setup_timeout = 10'000;
  c.linger = 3'000;
  return c;
}

HARNESS void check(bool ok) {
  if (!ok) __builtin_trap();
}

HARNESS void checkUserHidden(std::string_view uri, SipConfig::UserPrivacy privacy) {
  if (privacy == SipConfig::UserPrivacy::kKeep || uri.empty()) return;
  size_t begin = 0, end = 0;
  if (!findSipUriUser(uri, begin, end) || begin == end) return;
  // kDrop leaves no user; kHash leaves 16 lowercase hex digits.
  check(privacy == SipConfig::UserPrivacy::kHash && end - begin == 16);
  for (size_t i = begin; i < end; ++i) {
    const char c = uri[i];
    check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
}

// Serializes every event (for whole/pieces comparison) and checks each one.
class CheckingSink : public SipEventSink {
 public:
  explicit CheckingSink(SipConfig::UserPrivacy privacy) : privacy_(privacy) {}
  std::string log;
  uint64_t calls = 0;

  HARNESS void onSipMessage(const SipMessage& m) override {
    check(!m.call_id.empty());
    check(!m.cseq_method.empty());
    check(m.is_request ? !m.method.empty() && m.status_code == 0 : m.status_code >= 100 && m.status_code <= 699);
    check(m.media_count <= SipMessage::kMaxMedia);
    check(privacy_ == SipConfig::UserPrivacy::kKeep || m.raw.empty());
    checkUserHidden(m.from_uri, privacy_);
    checkUserHidden(m.to_uri, privacy_);
    checkUserHidden(m.pai_uri, privacy_);
    checkUserHidden(m.request_uri, privacy_);
    std::string& s = log;
    s += "M";
    for (std::string_view f : {m.method, m.request_uri, m.reason, m.call_id, m.cseq_method, m.from_uri, m.from_tag,
                               m.to_uri, m.to_tag, m.via_branch, m.user_agent, m.pai_uri, m.raw}) {
      s += '|';
      s.append(f.data(), f.size());
    }
    s += '|' + std::to_string(m.status_code) + '|' + std::to_string(m.cseq_number) + '|' +
         std::to_string(static_cast<int>(m.dir)) + '|' + std::to_string(m.ts);
    for (size_t i = 0; i < m.media_count; ++i) {
      const SipMedia& media = m.media[i];
      check(media.codec_count <= SipMedia::kMaxCodecs);
      s += "|m=";
      s.append(media.type);
      s += ' ';
      s.append(media.address);
      s += ' ' + std::to_string(media.port) + ' ';
      s.append(media.protocol);
      for (size_t c = 0; c < media.codec_count; ++c) {
        check(!media.codecs[c].empty());
        s += ' ';
        s.append(media.codecs[c]);
      }
    }
    s += '\n';
  }

  HARNESS void onSipCall(const SipCall& c) override {
    ++calls;
    check(!c.call_id.empty());
    check(c.call_id.size() <= 96 && c.from_uri.size() <= 96 && c.to_uri.size() <= 96);
    check(c.end_reason == SipCall::EndReason::kBye || c.hangup == SipCall::Hangup::kNone);
    check(c.answer_ts == 0 || (c.final_status >= 200 && c.final_status < 300));
    std::string& s = log;
    s += "C|";
    s.append(c.call_id);
    s += '|';
    s.append(c.from_uri);
    s += '|';
    s.append(c.to_uri);
    s += '|' + std::to_string(c.invite_ts) + '|' + std::to_string(c.ringing_ts) + '|' + std::to_string(c.answer_ts) +
         '|' + std::to_string(c.end_ts) + '|' + std::to_string(c.final_status) + '|' +
         sipEndReasonName(c.end_reason) + '|' + sipHangupName(c.hangup) + '\n';
  }

 private:
  SipConfig::UserPrivacy privacy_;
};

HARNESS std::string counters(const SipStats& stats) {
  std::string out;
  stats.forEach([&](const char* name, const char*, const Counter& c) {
    out += name;
    out += '=' + std::to_string(c.value()) + '\n';
  });
  return out;
}

struct Chunk {
  uint8_t control;
  const uint8_t* data;
  size_t len;
};

HARNESS size_t splitChunks(const uint8_t* data, size_t size, Chunk* chunks) {
  size_t count = 0, begin = 0;
  for (size_t i = 0; i <= size && count < kMaxChunks; ++i) {
    if (i < size && data[i] != 0xFF) continue;
    if (i > begin) chunks[count++] = Chunk{data[begin], data + begin + 1, i - begin - 1};
    begin = i + 1;
  }
  return count;
}

HARNESS void checkTable(const SipAnalyzer& analyzer) {
  check(analyzer.callsTracked() <= kMaxCalls);
  check(analyzer.stats().calls_ended.value() <= analyzer.stats().calls_started.value());
}

HARNESS void checkFinished(const SipAnalyzer& analyzer, const CheckingSink& sink) {
  check(analyzer.callsTracked() == 0);
  check(analyzer.stats().calls_ended.value() == analyzer.stats().calls_started.value());
  check(sink.calls == analyzer.stats().calls_ended.value());
}

StreamDir dirOf(uint8_t control) { return (control & 1) ? StreamDir::kToClient : StreamDir::kToServer; }

// Feeds the chunks as two TCP streams; `piece_seed` 0 means whole chunks.
HARNESS void runTcp(const Chunk* chunks, size_t count, const SipConfig& config, uint32_t piece_seed,
                    CheckingSink& sink, std::string& stats_out) {
  SipAnalyzer analyzer(config);
  SipStreamSession session(analyzer);
  Timestamp ts = 1'000'000;
  uint32_t random = piece_seed * 2654435761u + 1;
  for (size_t i = 0; i < count; ++i) {
    const Chunk& c = chunks[i];
    ts += static_cast<Timestamp>(c.control >> 3) * 512;
    if (c.control & 2) analyzer.expire(ts, sink);
    if (c.control & 4) session.onGap(dirOf(c.control), 1 + (c.control >> 3) * 9, sink);
    if (piece_seed == 0) {
      session.onData(dirOf(c.control), c.data, c.len, ts, sink);
    } else {
      for (size_t pos = 0; pos < c.len;) {
        random = random * 1103515245u + 12345u;
        const size_t piece = 1 + (random >> 16) % (1 + piece_seed % 61);
        const size_t n = piece < c.len - pos ? piece : c.len - pos;
        session.onData(dirOf(c.control), c.data + pos, n, ts, sink);
        pos += n;
      }
    }
    checkTable(analyzer);
  }
  session.onEnd(StreamDir::kToServer, StreamEnd::kFin, ts, sink);
  session.onEnd(StreamDir::kToClient, StreamEnd::kRst, ts, sink);
  analyzer.finish(ts, sink);
  checkFinished(analyzer, sink);
  stats_out = counters(analyzer.stats());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const SipConfig config = fuzzConfig(data[0]);
  static Chunk chunks[kMaxChunks];
  const size_t count = splitChunks(data + 1, size - 1, chunks);

  // UDP: one chunk, one datagram.
  {
    SipAnalyzer analyzer(config);
    CheckingSink sink(config.user_privacy);
    Timestamp ts = 1'000'000;
    for (size_t i = 0; i < count; ++i) {
      ts += static_cast<Timestamp>(chunks[i].control >> 3) * 512;
      if (chunks[i].control & 2) analyzer.expire(ts, sink);
      analyzer.onDatagram(dirOf(chunks[i].control), chunks[i].data, chunks[i].len, ts, sink);
      checkTable(analyzer);
      SipAnalyzer::looksLikeSip(chunks[i].data, chunks[i].len);
    }
    analyzer.finish(ts, sink);
    checkFinished(analyzer, sink);
  }

  // TCP: whole chunks against pieces.
  CheckingSink whole(config.user_privacy), pieces(config.user_privacy);
  std::string whole_stats, pieces_stats;
  runTcp(chunks, count, config, 0, whole, whole_stats);
  runTcp(chunks, count, config, 1 + (data[0] >> 2), pieces, pieces_stats);
  check(whole.log == pieces.log);
  check(whole_stats == pieces_stats);
  return 0;
}
