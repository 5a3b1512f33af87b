// libFuzzer target for TCP stream reassembly: the input is a script of
// segments, peer ACKs and closes over four pattern-filled streams that share
// one reassembler with small caps, so every cap, skip and end path is hit.
//
// Input: a 6-byte header, then 6-byte records.
//   header b0-3  ISN of stream 0 (big endian); stream s uses ISN + s * 0x01000000
//          b4    caps: bits0-1 stream bytes, bits2-3 stream segments,
//                bits4-5 worker blocks, bits6-7 worker segments (tables below)
//          b5    depth limit in units of 97 bytes; 0 = none
//   record b0    bits0-1 stream, bits2-4 kind, bit5 FIN on data segments
//                kind 0-2 data segment, 3 SYN (with data if len > 0),
//                4 RST (with data if len > 0), 5 the peer ACKs ISN + offset,
//                6 close (b5 bit0: kRst instead of kFlowEnd), 7 data segment
//                whose bytes differ from the stream's (an overlap conflict)
//          b1-2  offset from the stream's ISN (big endian)
//          b3-4  payload length & 0x0fff
//          b5    time step
// Stream bytes follow a pattern of (stream, offset from ISN), so every
// delivered byte is checked at its position. Checked after every record: each
// callback starts where the last one stopped, data matches the pattern (except
// where a differing copy was offered), onStreamEnd comes once and only for a
// started stream, nothing follows it, the caps hold, and every payload byte is
// accounted for by exactly one counter. At a close, a stream ends at the last
// byte any segment carried, or at a FIN some segment carried. Then the same
// data segments, without flags, are replayed in script order, sorted,
// reversed and (when small) one byte at a time with roomy caps: each replay
// must deliver exactly the bytes the segments cover and report the rest as
// gaps, so delivered + gap bytes is the stream length. A failed check is
// __builtin_trap().
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "reassembly/tcp_reassembler.h"

// The harness's own byte loops are left out of coverage: they would drown the
// reassembler's comparisons in libFuzzer's feedback and slow every run.
#define HARNESS __attribute__((no_sanitize("coverage"), noinline))

namespace {

using namespace tapflow;

constexpr size_t kHeader = 6;
constexpr size_t kRecord = 6;
constexpr int kStreams = 4;
constexpr uint32_t kSpan = 1u << 17;  // offsets from the ISN never reach this
constexpr uint32_t kMaxLen = 0x0fff;

constexpr uint32_t kFlowBytes[4] = {64, 700, 3000, 1u << 20};
constexpr uint32_t kFlowSegments[4] = {1, 3, 8, 1024};
constexpr uint32_t kWorkerBlocks[4] = {1, 4, 12, 64};
constexpr uint32_t kWorkerSegments[4] = {1, 5, 16, 262144};

uint8_t pattern(int stream, uint32_t offset) {
  uint32_t x = offset * 2654435761u + static_cast<uint32_t>(stream) * 0x5bd1e995u;
  x ^= x >> 15;
  return static_cast<uint8_t>(x ^ (x >> 8));
}

uint32_t get16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }

struct Bits {
  uint8_t bits[kSpan / 8];
  bool dirty = false;
  bool test(uint32_t i) const { return bits[i / 8] & (1u << (i % 8)); }
  void set(uint32_t i) {
    bits[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    dirty = true;
  }
  HARNESS void clear() {
    if (dirty) std::memset(bits, 0, sizeof bits);
    dirty = false;
  }
  // Whether every bit of [from, to) equals `value`, a byte at a time where it can.
  HARNESS bool all(uint32_t from, uint32_t to, bool value) const {
    const uint8_t full = value ? 0xff : 0;
    uint32_t i = from;
    for (; i < to && i % 8 != 0; ++i) {
      if (test(i) != value) return false;
    }
    for (; i + 8 <= to; i += 8) {
      if (bits[i / 8] != full) return false;
    }
    for (; i < to; ++i) {
      if (test(i) != value) return false;
    }
    return true;
  }
  HARNESS void setRange(uint32_t from, uint32_t to) {
    uint32_t i = from;
    for (; i < to && i % 8 != 0; ++i) set(i);
    for (; i + 8 <= to; i += 8) bits[i / 8] = 0xff;
    for (; i < to; ++i) set(i);
    dirty = true;
  }
};

// Checks the consumer contract for one stream and the bytes against the pattern.
class Checker : public TcpStreamConsumer {
 public:
  void reset(int id, uint32_t isn, const TcpStream* stream, const Bits* corrupted) {
    id_ = id;
    isn_ = isn;
    stream_ = stream;
    corrupted_ = corrupted;
    started_ = false;
    ends_ = 0;
    data_ = gaps_ = 0;
    position_ = 0;
  }

  HARNESS void onStreamData(const uint8_t* data, size_t len, Timestamp) override {
    const uint32_t at = advance(len);
    for (uint32_t i = 0; i < len; ++i) {
      if (data[i] != pattern(id_, at + i) && !(corrupted_ != nullptr && corrupted_->test(at + i))) {
        __builtin_trap();
      }
    }
    data_ += len;
    onData(at, static_cast<uint32_t>(len));
  }
  void onStreamGap(uint64_t len) override {
    const uint32_t at = advance(len);
    gaps_ += len;
    onGap(at, static_cast<uint32_t>(len));
  }
  void onStreamEnd(StreamEnd reason) override {
    if (ends_ != 0 || !started_) __builtin_trap();
    ++ends_;
    reason_ = reason;
  }

  bool started() const { return started_; }
  int ends() const { return ends_; }
  StreamEnd reason() const { return reason_; }
  uint64_t dataBytes() const { return data_; }
  uint64_t gapBytes() const { return gaps_; }

 protected:
  virtual void onData(uint32_t, uint32_t) {}
  virtual void onGap(uint32_t, uint32_t) {}

 private:
  // Returns the offset of the call's first byte; traps on a broken sequence.
  uint32_t advance(uint64_t len) {
    if (ends_ != 0 || len == 0 || len >= kSpan) __builtin_trap();
    const uint32_t at = stream_->nextSeq() - isn_;
    if (started_ && at != position_) __builtin_trap();
    if (uint64_t{at} + len >= kSpan) __builtin_trap();
    started_ = true;
    position_ = at + static_cast<uint32_t>(len);
    return at;
  }

  int id_ = 0;
  uint32_t isn_ = 0;
  const TcpStream* stream_ = nullptr;
  const Bits* corrupted_ = nullptr;
  bool started_ = false;
  int ends_ = 0;
  StreamEnd reason_ = StreamEnd::kFlowEnd;
  uint64_t data_ = 0;
  uint64_t gaps_ = 0;
  uint32_t position_ = 0;
};

// For the replays: data must fall on covered offsets and gaps on the others.
class CoverageChecker : public Checker {
 public:
  const Bits* covered = nullptr;

 protected:
  void onData(uint32_t at, uint32_t len) override {
    if (!covered->all(at, at + len, true)) __builtin_trap();
  }
  void onGap(uint32_t at, uint32_t len) override {
    if (!covered->all(at, at + len, false)) __builtin_trap();
  }
};

struct Model {
  Bits corrupted;
  Bits fins;     // FIN offsets some segment carried
  Bits covered;  // offsets some flagless data segment carried (for the replays)
  uint32_t max_end = 0;
  bool any_data = false;
};

Model g_model[kStreams];
uint8_t g_payload[kMaxLen + 1];

HARNESS void fillPayload(int stream, uint32_t offset, uint32_t len, bool corrupt) {
  for (uint32_t i = 0; i < len; ++i) {
    g_payload[i] = static_cast<uint8_t>(pattern(stream, offset + i) ^ (corrupt ? 0x5a : 0));
  }
}

void markRange(Bits& bits, uint32_t from, uint32_t len) { bits.setRange(from, from + len); }

void checkAccounting(const TcpReassembler& r) {
  const TcpReassemblyStats& s = r.stats();
  const uint64_t fates = s.bytes_delivered.value() + s.retransmitted_bytes.value() + s.dropped_flow_cap_bytes.value() +
                         s.dropped_worker_cap_bytes.value() + s.dropped_out_of_window_bytes.value() +
                         s.released_at_end_bytes.value() + s.discarded_bytes.value() + s.bytes_after_end.value() +
                         r.bufferedBytes();
  if (fates != s.payload_bytes.value()) __builtin_trap();
  if (s.gaps.value() != s.gaps_flow_cap.value() + s.gaps_peer_ack.value() + s.gaps_close.value()) __builtin_trap();
  if (r.memoryBytes() < r.bufferedBytes()) __builtin_trap();
}

void checkCaps(const TcpReassembler& r, const TcpReassemblyConfig& c, const TcpStream& st) {
  if (r.memoryBytes() > c.max_buffered_bytes || r.poolBytes() > c.max_buffered_bytes) __builtin_trap();
  if (r.bufferedBytes() > c.max_buffered_bytes || r.bufferedSegments() > c.max_buffered_segments) __builtin_trap();
  if (st.bufferedBytes() > c.max_flow_buffered_bytes || st.bufferedSegments() > c.max_flow_buffered_segments) {
    __builtin_trap();
  }
  if (c.max_stream_depth != 0 && st.deliveredBytes() > c.max_stream_depth) __builtin_trap();
}

// After a close: where the stream stopped must match what the segments carried.
void checkClosed(const TcpReassembler& r, const Checker& k, const TcpStream& st, uint32_t isn, const Model& m,
                 StreamEnd close_reason) {
  if (!st.ended()) __builtin_trap();
  if (k.ends() != (k.started() ? 1 : 0)) __builtin_trap();
  if (k.dataBytes() != st.deliveredBytes() || k.gapBytes() != st.gapBytes()) __builtin_trap();
  if (st.bufferedBytes() != 0 || st.bufferedSegments() != 0) __builtin_trap();
  if (!k.started() || r.stats().syn_resyncs.value() != 0) return;
  const uint32_t at = st.nextSeq() - isn;
  if (k.reason() == close_reason && at != m.max_end) __builtin_trap();
  if (k.reason() == StreamEnd::kFin && !m.fins.test(at)) __builtin_trap();
}

struct Op {
  int stream;
  uint32_t offset;
  uint32_t len;
};

// Replays data segments in the given order on a roomy reassembler.
HARNESS void replay(const std::vector<Op>& ops, const uint32_t* isn, bool one_byte_at_a_time) {
  TcpReassemblyConfig c;
  c.max_flow_buffered_bytes = 1u << 24;
  c.max_flow_buffered_segments = 1u << 16;
  c.max_buffered_bytes = 1ull << 23;
  c.max_buffered_segments = 1u << 16;
  TcpReassembler r(c);
  TcpStream streams[kStreams];
  CoverageChecker checkers[kStreams];
  for (int s = 0; s < kStreams; ++s) {
    checkers[s].reset(s, isn[s], &streams[s], nullptr);
    checkers[s].covered = &g_model[s].covered;
    TcpInfo syn;
    syn.seq = isn[s];
    syn.flags = tcp_flags::kSyn;
    r.onSegment(streams[s], syn, nullptr, 0, 0, checkers[s]);
  }
  for (const Op& op : ops) {
    fillPayload(op.stream, op.offset, op.len, false);
    TcpInfo t;
    t.flags = tcp_flags::kAck;
    const uint32_t step = one_byte_at_a_time ? 1 : op.len;
    for (uint32_t done = 0; done < op.len; done += step) {
      t.seq = isn[op.stream] + op.offset + done;
      r.onSegment(streams[op.stream], t, g_payload + done, std::min(step, op.len - done), 0, checkers[op.stream]);
    }
  }
  for (int s = 0; s < kStreams; ++s) {
    r.close(streams[s], StreamEnd::kFlowEnd, checkers[s]);
    // Every offset from ISN + 1 to the last byte carried was delivered or skipped.
    const uint32_t end = g_model[s].any_data ? std::max(g_model[s].max_end, 1u) : 1u;
    if (checkers[s].dataBytes() + checkers[s].gapBytes() != end - 1) __builtin_trap();
    if (streams[s].nextSeq() - isn[s] != end) __builtin_trap();
  }
  if (r.bufferedBytes() != 0 || r.bufferedSegments() != 0 || r.memoryBytes() != 0) __builtin_trap();
  if (r.stats().gaps.value() != r.stats().gaps_close.value()) __builtin_trap();
  checkAccounting(r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeader) return 0;
  const uint32_t isn0 = static_cast<uint32_t>(data[0]) << 24 | static_cast<uint32_t>(data[1]) << 16 |
                        static_cast<uint32_t>(data[2]) << 8 | data[3];
  TcpReassemblyConfig config;
  config.max_flow_buffered_bytes = kFlowBytes[data[4] & 3];
  config.max_flow_buffered_segments = kFlowSegments[(data[4] >> 2) & 3];
  config.max_buffered_bytes = uint64_t{kWorkerBlocks[(data[4] >> 4) & 3]} * kTcpReassemblyBlockSize;
  config.max_buffered_segments = kWorkerSegments[(data[4] >> 6) & 3];
  config.max_stream_depth = uint64_t{data[5]} * 97;

  uint32_t isn[kStreams];
  TcpStream streams[kStreams];
  Checker checkers[kStreams];
  StreamEnd close_reason[kStreams];
  std::vector<Op> data_ops;  // the streams' flagless data segments, for the replays
  for (int s = 0; s < kStreams; ++s) {
    isn[s] = isn0 + static_cast<uint32_t>(s) * 0x01000000u;
    g_model[s].corrupted.clear();
    g_model[s].fins.clear();
    g_model[s].covered.clear();
    g_model[s].max_end = 0;
    g_model[s].any_data = false;
    checkers[s].reset(s, isn[s], &streams[s], &g_model[s].corrupted);
    close_reason[s] = StreamEnd::kFlowEnd;
  }
  uint32_t replay_end[kStreams] = {};  // last byte of those segments, per stream

  TcpReassembler r(config);
  Timestamp ts = 1;
  for (size_t at = kHeader; at + kRecord <= size; at += kRecord) {
    const uint8_t* rec = data + at;
    const int s = rec[0] & 3;
    const uint32_t kind = (rec[0] >> 2) & 7;
    const uint32_t offset = get16(rec + 1);
    const uint32_t len = get16(rec + 3) & kMaxLen;
    ts += rec[5];
    TcpStream& st = streams[s];
    Model& m = g_model[s];
    const bool was_ended = st.ended();

    if (kind == 5) {
      r.onPeerAck(st, isn[s] + offset, checkers[s]);
    } else if (kind == 6) {
      close_reason[s] = (rec[5] & 1) ? StreamEnd::kRst : StreamEnd::kFlowEnd;
      r.close(st, close_reason[s], checkers[s]);
      if (!was_ended) checkClosed(r, checkers[s], st, isn[s], m, close_reason[s]);
    } else {
      TcpInfo t;
      t.seq = isn[s] + offset;
      t.flags = tcp_flags::kAck;
      uint32_t data_offset = offset;
      if (kind == 3) {
        t.flags |= tcp_flags::kSyn;
        ++data_offset;
      } else if (kind == 4) {
        t.flags |= tcp_flags::kRst;
      }
      const bool fin = (rec[0] & 0x20) && kind != 4;
      if (fin) t.flags |= tcp_flags::kFin;
      const bool corrupt = kind == 7;
      fillPayload(s, data_offset, len, corrupt);
      if (corrupt) markRange(m.corrupted, data_offset, len);
      if (fin) m.fins.set(data_offset + len);
      if (!was_ended && kind != 4 && len > 0) {
        m.max_end = std::max(m.max_end, data_offset + len);
      }
      if (kind <= 2 && len > 0) {
        data_ops.push_back({s, data_offset, len});
        replay_end[s] = std::max(replay_end[s], data_offset + len);
      }
      r.onSegment(st, t, g_payload, len, ts, checkers[s]);
    }
    checkCaps(r, config, st);
    checkAccounting(r);
    if (st.ended() && checkers[s].started() && checkers[s].ends() != 1) __builtin_trap();
    // A FIN ends a stream only where some segment carried one.
    if (!was_ended && st.ended() && checkers[s].started() && checkers[s].reason() == StreamEnd::kFin &&
        r.stats().syn_resyncs.value() == 0 && !m.fins.test(st.nextSeq() - isn[s])) {
      __builtin_trap();
    }
  }

  for (int s = 0; s < kStreams; ++s) {
    const bool was_ended = streams[s].ended();
    r.close(streams[s], StreamEnd::kFlowEnd, checkers[s]);
    if (!was_ended) checkClosed(r, checkers[s], streams[s], isn[s], g_model[s], StreamEnd::kFlowEnd);
    if (checkers[s].ends() != (checkers[s].started() ? 1 : 0)) __builtin_trap();
  }
  if (r.bufferedBytes() != 0 || r.bufferedSegments() != 0 || r.memoryBytes() != 0) __builtin_trap();
  checkAccounting(r);
  uint64_t delivered = 0, gaps = 0;
  for (const Checker& k : checkers) {
    delivered += k.dataBytes();
    gaps += k.gapBytes();
  }
  if (delivered != r.stats().bytes_delivered.value() || gaps != r.stats().gap_bytes.value()) __builtin_trap();

  // Replays: the stream data segments alone, in several orders.
  uint64_t total = 0;
  for (int s = 0; s < kStreams; ++s) {
    g_model[s].max_end = replay_end[s];
    g_model[s].any_data = replay_end[s] != 0;
  }
  for (const Op& op : data_ops) {
    // Offset 0 is the SYN's: bytes there are old and never delivered.
    if (op.offset == 0) {
      if (op.len > 1) markRange(g_model[op.stream].covered, 1, op.len - 1);
    } else {
      markRange(g_model[op.stream].covered, op.offset, op.len);
    }
    total += op.len;
  }
  replay(data_ops, isn, false);
  std::vector<Op> sorted = data_ops;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Op& a, const Op& b) { return a.offset < b.offset; });
  replay(sorted, isn, false);
  std::reverse(sorted.begin(), sorted.end());
  replay(sorted, isn, false);
  if (total <= 4096) replay(data_ops, isn, true);
  return 0;
}
