// Tests of TCP stream reassembly: each rule of tcp_reassembler.h with the exact
// bytes, gaps and ends a consumer sees, plus property loops (any cut, order or
// duplication of a stream gives the same bytes) and a flood against the caps.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "reassembly/tcp_reassembler.h"

namespace tapflow {
namespace {

// Records what a consumer sees as text: data bytes as they are, a gap as
// "<gap N>", the end as "<end REASON>". Also checks the call contract: each
// call starts where the last one stopped, and nothing follows the end.
class Recorder : public TcpStreamConsumer {
 public:
  explicit Recorder(const TcpStream* stream = nullptr) : stream_(stream) {}

  void onStreamData(const uint8_t* data, size_t len, Timestamp ts) override {
    check(len);
    text.append(reinterpret_cast<const char*>(data), len);
    data_bytes += len;
    stamps.push_back(ts);
  }
  void onStreamGap(uint64_t len) override {
    check(len);
    text += "<gap " + std::to_string(len) + ">";
    gap_bytes += len;
  }
  void onStreamEnd(StreamEnd reason) override {
    CHECK(ends == 0);
    ++ends;
    text += std::string("<end ") + streamEndName(reason) + ">";
  }

  std::string text;
  std::vector<Timestamp> stamps;
  uint64_t data_bytes = 0;
  uint64_t gap_bytes = 0;
  int ends = 0;

 private:
  void check(uint64_t len) {
    CHECK(ends == 0);
    CHECK(len > 0);
    if (stream_ != nullptr) {
      if (have_position_) CHECK(stream_->nextSeq() == position_);
      position_ = stream_->nextSeq() + static_cast<uint32_t>(len);
      have_position_ = true;
    }
  }
  const TcpStream* stream_;
  uint32_t position_ = 0;
  bool have_position_ = false;
};

TcpInfo tcp(uint32_t seq, uint8_t flags = tcp_flags::kAck) {
  TcpInfo t;
  t.seq = seq;
  t.flags = flags;
  return t;
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// One direction under test: a stream, its recorder and helpers to feed it.
struct Direction {
  TcpReassembler& r;
  TcpStream stream;
  Recorder rec{&stream};

  explicit Direction(TcpReassembler& reassembler) : r(reassembler) {}

  void syn(uint32_t isn) { r.onSegment(stream, tcp(isn, tcp_flags::kSyn), nullptr, 0, 1, rec); }
  void send(uint32_t seq, const std::string& data, uint8_t flags = tcp_flags::kAck, Timestamp ts = 1) {
    r.onSegment(stream, tcp(seq, flags), bytes(data), static_cast<uint32_t>(data.size()), ts, rec);
  }
  void fin(uint32_t seq) { r.onSegment(stream, tcp(seq, tcp_flags::kFin | tcp_flags::kAck), nullptr, 0, 1, rec); }
  void ack(uint32_t ack) { r.onPeerAck(stream, ack, rec); }
  void close(StreamEnd reason = StreamEnd::kFlowEnd) { r.close(stream, reason, rec); }
};

// Every payload byte given is delivered, ignored for one named reason, or still buffered.
void checkAccounting(const TcpReassembler& r) {
  const TcpReassemblyStats& s = r.stats();
  const uint64_t fates = s.bytes_delivered.value() + s.retransmitted_bytes.value() + s.dropped_flow_cap_bytes.value() +
                         s.dropped_worker_cap_bytes.value() + s.dropped_out_of_window_bytes.value() +
                         s.released_at_end_bytes.value() + s.discarded_bytes.value() + s.bytes_after_end.value() +
                         r.bufferedBytes();
  CHECK(fates == s.payload_bytes.value());
  CHECK(s.gaps.value() == s.gaps_flow_cap.value() + s.gaps_peer_ack.value() + s.gaps_close.value());
}

constexpr uint32_t kIsn = 1000;

TEST_CASE("a stream opened by a SYN delivers its bytes from ISN + 1 and ends at its FIN") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  CHECK(d.stream.synced());
  CHECK(d.stream.nextSeq() == kIsn + 1);
  d.send(kIsn + 1, "GET / HTTP/1.1\r\n");
  d.send(kIsn + 17, "\r\n", tcp_flags::kAck | tcp_flags::kFin);
  CHECK(d.rec.text == "GET / HTTP/1.1\r\n\r\n<end fin>");
  CHECK(d.stream.ended());
  CHECK(d.stream.endReason() == StreamEnd::kFin);
  CHECK(d.stream.deliveredBytes() == 18);
  CHECK(r.stats().bytes_delivered.value() == 18);
  CHECK(r.stats().midstream_pickups.value() == 0);
  checkAccounting(r);
}

TEST_CASE("payload on the SYN itself is delivered (TCP fast open)") {
  TcpReassembler r({});
  Direction d(r);
  d.send(kIsn, "early", tcp_flags::kSyn);
  d.send(kIsn + 6, "-late");
  CHECK(d.rec.text == "early-late");
}

TEST_CASE("a stream without a SYN is picked up at its first segment with payload") {
  TcpReassembler r({});
  Direction d(r);
  d.send(5000, "");  // a pure ACK: nothing to pick up yet
  CHECK_FALSE(d.stream.synced());
  d.send(7000, "abc");
  d.send(6990, "0123456789");  // before the pick-up point: never delivered
  d.send(7003, "def");
  CHECK(d.rec.text == "abcdef");
  CHECK(d.stream.midstream());
  CHECK(r.stats().midstream_pickups.value() == 1);
  CHECK(r.stats().retransmitted_bytes.value() == 10);
  checkAccounting(r);
}

TEST_CASE("a FIN before any byte ends the stream without any callback") {
  TcpReassembler r({});
  Direction d(r);
  d.fin(5000);
  CHECK(d.stream.ended());
  d.send(5000, "late");
  CHECK(d.rec.text.empty());
  CHECK(r.stats().segments_after_end.value() == 1);
  CHECK(r.stats().bytes_after_end.value() == 4);
  checkAccounting(r);
}

TEST_CASE("an out-of-order segment waits for the hole and keeps its own timestamp") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 4, "world", tcp_flags::kAck, 20);
  CHECK(d.rec.text.empty());
  CHECK(r.bufferedBytes() == 5);
  CHECK(r.bufferedSegments() == 1);
  CHECK(d.stream.bufferedBytes() == 5);
  CHECK(r.memoryBytes() == kTcpReassemblyBlockSize);
  d.send(kIsn + 1, "hi ", tcp_flags::kAck, 30);
  CHECK(d.rec.text == "hi world");
  CHECK(d.rec.stamps == std::vector<Timestamp>{30, 20});
  CHECK(r.bufferedBytes() == 0);
  CHECK(r.bufferedSegments() == 0);
  CHECK(r.memoryBytes() == 0);
  CHECK(r.stats().out_of_order_segments.value() == 1);
  checkAccounting(r);
}

TEST_CASE("segments in reverse order are all delivered once the first arrives") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 8, "89");
  d.send(kIsn + 5, "567");
  d.send(kIsn + 2, "234");
  CHECK(r.bufferedSegments() == 3);
  d.send(kIsn + 1, "1");
  CHECK(d.rec.text == "123456789");
  CHECK(r.stats().out_of_order_segments.value() == 3);
  CHECK(r.bufferedSegments() == 0);
}

TEST_CASE("a retransmission is delivered once and its bytes are counted") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 1, "abcdef");
  d.send(kIsn + 1, "abcdef");
  d.send(kIsn + 4, "defghi");  // half old, half new
  CHECK(d.rec.text == "abcdefghi");
  CHECK(r.stats().retransmitted_bytes.value() == 9);
  CHECK(r.stats().overlap_conflicts.value() == 0);
  checkAccounting(r);
}

TEST_CASE("overlapping segment with different bytes keeps the first and counts") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 5, "EFGH");    // buffered first
  d.send(kIsn + 3, "xxefgh");  // overlaps the buffered bytes with other ones
  CHECK(r.stats().overlap_conflicts.value() == 1);
  CHECK(r.stats().retransmitted_bytes.value() == 4);
  d.send(kIsn + 1, "ab");
  CHECK(d.rec.text == "abxxEFGH");
  d.send(kIsn + 9, "ij");
  d.send(kIsn + 9, "IJ");  // against delivered bytes: cannot be compared, not counted
  CHECK(d.rec.text == "abxxEFGHij");
  CHECK(r.stats().overlap_conflicts.value() == 1);
  checkAccounting(r);
}

TEST_CASE("an identical overlap with buffered bytes is not a conflict") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 5, "efgh");
  d.send(kIsn + 3, "cdefgh");
  CHECK(r.stats().overlap_conflicts.value() == 0);
  d.send(kIsn + 1, "abcdefghij");  // in order, across the buffered bytes
  CHECK(d.rec.text == "abcdefghij");
  CHECK(r.stats().overlap_conflicts.value() == 0);
  CHECK(r.stats().retransmitted_bytes.value() == 4 + 6);
  checkAccounting(r);
}

TEST_CASE("an in-order segment with other bytes than the buffered ones delivers the buffered ones") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 3, "CD");
  d.send(kIsn + 1, "abcdef");
  CHECK(d.rec.text == "abCDef");
  CHECK(r.stats().overlap_conflicts.value() == 1);
  checkAccounting(r);
}

TEST_CASE("a segment straddling buffered data stores only its new parts, appended to the runs before them") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 12, "L");
  d.send(kIsn + 22, "V");
  d.send(kIsn + 7, "ghijk.mnopqrstu.wxyz");  // new around and between them
  CHECK(r.bufferedSegments() == 3);          // "ghijk"; "L" + "mnopqrstu"; "V" + "wxyz"
  CHECK(r.bufferedBytes() == 20);
  CHECK(r.stats().retransmitted_bytes.value() == 2);
  CHECK(r.stats().overlap_conflicts.value() == 1);
  d.send(kIsn + 1, "abcdefg");  // the last byte overlaps the first piece
  CHECK(d.rec.text == "abcdefghijkLmnopqrstuVwxyz");
  CHECK(r.stats().retransmitted_bytes.value() == 3);
  CHECK(r.stats().overlap_conflicts.value() == 1);
  CHECK(r.bufferedSegments() == 0);
  checkAccounting(r);
}

TEST_CASE("small segments behind a hole are appended into one run of packed blocks") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  std::string expected = "_";
  for (uint32_t i = 0; i < 1000; ++i) {
    const std::string byte(1, static_cast<char>('a' + i % 26));
    d.send(kIsn + 2 + i, byte, tcp_flags::kAck, 100 + i);
    expected += byte;
  }
  CHECK(r.bufferedSegments() == 1);
  CHECK(r.bufferedBytes() == 1000);
  CHECK(r.memoryBytes() == 2 * kTcpReassemblyBlockSize);
  d.send(kIsn + 1, "_", tcp_flags::kAck, 5);
  CHECK(d.rec.text == expected);
  // The run is handed over block by block, with the time of its first segment.
  CHECK(d.rec.stamps == std::vector<Timestamp>{5, 100, 100});
  CHECK(r.stats().out_of_order_segments.value() == 1000);
  checkAccounting(r);
}

TEST_CASE("a segment spanning several blocks is buffered and delivered whole") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  std::string big(3 * kTcpReassemblyBlockSize + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  d.send(kIsn + 2, big);
  CHECK(r.memoryBytes() == 4 * kTcpReassemblyBlockSize);
  d.send(kIsn + 100, big.substr(98, 1000));  // compared across block boundaries
  CHECK(r.stats().overlap_conflicts.value() == 0);
  d.send(kIsn + 1, "_");
  CHECK(d.rec.text == "_" + big);
  CHECK(r.memoryBytes() == 0);
  CHECK(r.poolBytes() == 128 * kTcpReassemblyBlockSize);  // one slab, kept for reuse
}

TEST_CASE("the peer's ACK past a hole skips it as a gap and delivers what follows") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 1, "ab");
  d.send(kIsn + 6, "fg");
  d.send(kIsn + 10, "jk");
  d.ack(kIsn + 3);  // acknowledges only what was delivered: nothing to skip
  CHECK(d.rec.text == "ab");
  d.ack(kIsn + 7);  // past the first hole, inside the buffered "fg"
  CHECK(d.rec.text == "ab<gap 3>fg");
  d.ack(kIsn + 500);  // past the second hole and far past anything seen
  CHECK(d.rec.text == "ab<gap 3>fg<gap 2>jk");
  CHECK(d.stream.nextSeq() == kIsn + 12);  // never past the last byte seen
  CHECK(r.stats().gaps.value() == 2);
  CHECK(r.stats().gap_bytes.value() == 5);
  CHECK(r.stats().gaps_peer_ack.value() == 2);
  CHECK(d.stream.gapBytes() == 5);
  d.send(kIsn + 3, "cde");  // late: already skipped
  CHECK(r.stats().retransmitted_bytes.value() == 3);
  checkAccounting(r);
}

TEST_CASE("an ACK behind the stream or on a stream not synced does nothing") {
  TcpReassembler r({});
  Direction d(r);
  d.ack(12345);
  CHECK_FALSE(d.stream.synced());
  d.syn(kIsn);
  d.send(kIsn + 5, "x");
  d.ack(kIsn - 100);
  d.ack(kIsn + 1);
  CHECK(d.rec.text.empty());
  CHECK(r.stats().gaps.value() == 0);
}

TEST_CASE("an ACK of a FIN whose data never came skips to the FIN and ends the stream") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 1, "ab");
  d.fin(kIsn + 10);  // bytes 3..9 were lost by the capture
  CHECK(d.rec.text == "ab");
  d.ack(kIsn + 11);
  CHECK(d.rec.text == "ab<gap 7><end fin>");
  CHECK(d.stream.endReason() == StreamEnd::kFin);
}

TEST_CASE("close delivers across holes, skips missing bytes up to the last seen, then ends") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 1, "a");
  d.send(kIsn + 3, "c");
  d.send(kIsn + 6, "fg");
  d.close(StreamEnd::kFlowEnd);
  CHECK(d.rec.text == "a<gap 1>c<gap 2>fg<end flow_end>");
  CHECK(r.stats().gaps_close.value() == 2);
  CHECK(r.bufferedBytes() == 0);
  CHECK(r.bufferedSegments() == 0);
  d.close(StreamEnd::kFlowEnd);  // a second close does nothing
  CHECK(d.rec.ends == 1);
  checkAccounting(r);
}

TEST_CASE("close of a stream that had a FIN reaches the FIN and ends with fin") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 1, "ab");
  d.send(kIsn + 5, "ef", tcp_flags::kAck | tcp_flags::kFin);
  d.close(StreamEnd::kFlowEnd);
  CHECK(d.rec.text == "ab<gap 2>ef<end fin>");
}

TEST_CASE("close of a stream that never started calls nothing") {
  TcpReassembler r({});
  Direction a(r), b(r);
  a.close(StreamEnd::kFlowEnd);  // never seen
  b.syn(kIsn);                   // synced, no byte
  b.close(StreamEnd::kFlowEnd);
  CHECK(a.rec.text.empty());
  CHECK(b.rec.text.empty());
  CHECK(a.stream.ended());
  CHECK(b.stream.ended());
}

TEST_CASE("a FIN that arrives ahead ends the stream when its bytes are in") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 4, "de", tcp_flags::kAck | tcp_flags::kFin);
  d.send(kIsn + 6, "after the fin");  // bytes past the FIN are discarded
  CHECK(d.rec.text.empty());
  d.send(kIsn + 1, "abc");
  CHECK(d.rec.text == "abcde<end fin>");
  CHECK(r.stats().discarded_bytes.value() == 13);
  d.send(kIsn + 6, "x");
  CHECK(r.stats().segments_after_end.value() == 1);
  checkAccounting(r);
}

TEST_CASE("buffered bytes past a FIN learnt later are released when the FIN is reached") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 3, "cdXY");  // 'X' and 'Y' lie past the FIN below
  d.fin(kIsn + 5);
  d.send(kIsn + 1, "ab");
  CHECK(d.rec.text == "abcd<end fin>");
  CHECK(r.stats().released_at_end_segments.value() == 1);
  CHECK(r.stats().released_at_end_bytes.value() == 2);
  CHECK(r.bufferedBytes() == 0);
  checkAccounting(r);
}

TEST_CASE("FINs behind delivered bytes or unlike the first FIN are ignored and counted") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 1, "abcdef");
  d.fin(kIsn + 3);  // bytes past it were already delivered
  d.fin(kIsn + 20);
  d.fin(kIsn + 20);  // retransmitted: same position, fine
  d.fin(kIsn + 30);
  CHECK(r.stats().ignored_fins.value() == 2);
  CHECK_FALSE(d.stream.ended());
  d.close();
  CHECK(d.rec.text == "abcdef<gap 13><end fin>");
}

TEST_CASE("a RST ends the stream at once, releasing what was buffered") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 1, "ab");
  d.send(kIsn + 5, "efg");
  d.send(kIsn + 9, "i");
  d.send(kIsn + 3, "diagnostic", tcp_flags::kRst);
  CHECK(d.rec.text == "ab<end rst>");
  CHECK(d.stream.endReason() == StreamEnd::kRst);
  CHECK(r.stats().released_at_end_segments.value() == 2);
  CHECK(r.stats().released_at_end_bytes.value() == 4);
  CHECK(r.stats().discarded_bytes.value() == 10);
  CHECK(r.bufferedBytes() == 0);
  d.send(kIsn + 3, "cd");
  CHECK(r.stats().segments_after_end.value() == 1);
  checkAccounting(r);
}

TEST_CASE("a RST on a stream that delivered nothing ends it without a callback") {
  TcpReassembler r({});
  Direction a(r), b(r);
  a.send(1, "", tcp_flags::kRst);
  b.syn(kIsn);
  b.send(kIsn + 1, "", tcp_flags::kRst);
  CHECK(a.stream.ended());
  CHECK(b.stream.ended());
  CHECK(a.rec.ends == 0);
  CHECK(b.rec.ends == 0);
}

TEST_CASE("the depth limit cuts the stream and ignores its later bytes") {
  TcpReassemblyConfig config;
  config.max_stream_depth = 5;
  TcpReassembler r(config);
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 9, "ij");  // buffered, released at the end
  d.send(kIsn + 1, "abc");
  d.send(kIsn + 4, "defg");
  CHECK(d.rec.text == "abcde<end depth_limit>");
  CHECK(d.stream.endReason() == StreamEnd::kDepthLimit);
  CHECK(r.stats().depth_limited_streams.value() == 1);
  CHECK(r.stats().discarded_bytes.value() == 2);
  CHECK(r.stats().released_at_end_bytes.value() == 2);
  d.send(kIsn + 8, "hij");
  CHECK(r.stats().segments_after_end.value() == 1);
  CHECK(r.stats().bytes_after_end.value() == 3);
  checkAccounting(r);
}

TEST_CASE("a stream exactly as long as the depth limit still ends with its FIN") {
  TcpReassemblyConfig config;
  config.max_stream_depth = 4;
  TcpReassembler r(config);
  Direction a(r), b(r);
  a.syn(kIsn);
  a.send(kIsn + 1, "abcd");
  a.fin(kIsn + 5);
  CHECK(a.rec.text == "abcd<end fin>");
  b.syn(kIsn);
  b.send(kIsn + 1, "abcd");
  b.send(kIsn + 5, "e");  // the first byte past the limit ends it
  CHECK(b.rec.text == "abcd<end depth_limit>");
  CHECK(r.stats().depth_limited_streams.value() == 1);
}

TEST_CASE("a gap past the depth limit ends the stream instead of being reported") {
  TcpReassemblyConfig config;
  config.max_stream_depth = 2;
  TcpReassembler r(config);
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 1, "ab");
  d.send(kIsn + 5, "ef");
  d.close();
  CHECK(d.rec.text == "ab<end depth_limit>");
  checkAccounting(r);
}

TEST_CASE("a full stream buffer gives up its first hole to make room") {
  TcpReassemblyConfig config;
  config.max_flow_buffered_segments = 2;
  TcpReassembler r(config);
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 3, "c");
  d.send(kIsn + 5, "e");
  d.send(kIsn + 7, "g");  // a third piece: the hole at 1..2 is given up
  CHECK(d.rec.text == "<gap 2>c");
  CHECK(d.stream.bufferedSegments() == 2);
  CHECK(r.stats().gaps_flow_cap.value() == 1);
  CHECK(r.stats().dropped_flow_cap_segments.value() == 0);
  d.send(kIsn + 4, "d");
  CHECK(d.rec.text == "<gap 2>cde");
  checkAccounting(r);
}

TEST_CASE("a segment inside the hole being given up is delivered, not skipped") {
  TcpReassemblyConfig config;
  config.max_flow_buffered_bytes = 4;
  TcpReassembler r(config);
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 10, "jklm");
  d.send(kIsn + 4, "defg");  // does not fit: skip only up to its start
  CHECK(d.rec.text == "<gap 3>defg");
  CHECK(d.stream.bufferedBytes() == 4);
  d.send(kIsn + 8, "hi");
  CHECK(d.rec.text == "<gap 3>defghijklm");
  checkAccounting(r);
}

TEST_CASE("a segment larger than the stream's whole buffer is dropped and counted") {
  TcpReassemblyConfig config;
  config.max_flow_buffered_bytes = 4;
  TcpReassembler r(config);
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 3, "cdefg");
  CHECK(r.stats().dropped_flow_cap_segments.value() == 1);
  CHECK(r.stats().dropped_flow_cap_bytes.value() == 5);
  CHECK(r.bufferedBytes() == 0);
  d.send(kIsn + 1, "ab");
  d.close();
  CHECK(d.rec.text == "ab<gap 5><end flow_end>");
  checkAccounting(r);
}

TEST_CASE("the worker's segment cap drops segments of every stream and counts them") {
  TcpReassemblyConfig config;
  config.max_buffered_segments = 3;
  TcpReassembler r(config);
  Direction a(r), b(r);
  a.syn(kIsn);
  b.syn(kIsn);
  a.send(kIsn + 3, "c");
  a.send(kIsn + 5, "e");
  b.send(kIsn + 3, "c");
  b.send(kIsn + 5, "e");   // fourth piece for the worker: dropped
  b.send(kIsn + 7, "gh");  // dropped too
  CHECK(r.bufferedSegments() == 3);
  CHECK(r.stats().dropped_worker_cap_segments.value() == 2);
  CHECK(r.stats().dropped_worker_cap_bytes.value() == 3);
  b.send(kIsn + 1, "ab");  // in-order bytes need no buffer
  CHECK(b.rec.text == "abc");
  b.send(kIsn + 5, "ef");  // room again
  CHECK(b.rec.text == "abc");
  CHECK(r.bufferedSegments() == 3);
  checkAccounting(r);
}

TEST_CASE("the worker's byte cap counts whole blocks") {
  TcpReassemblyConfig config;
  config.max_buffered_bytes = 2 * kTcpReassemblyBlockSize;
  TcpReassembler r(config);
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 10, "x");
  d.send(kIsn + 20, "y");  // one byte, one block each: the pool is full
  d.send(kIsn + 30, "z");
  CHECK(r.stats().dropped_worker_cap_segments.value() == 1);
  CHECK(r.stats().dropped_worker_cap_bytes.value() == 1);
  CHECK(r.memoryBytes() == 2 * kTcpReassemblyBlockSize);
  CHECK(r.poolBytes() == 2 * kTcpReassemblyBlockSize);
  d.close();
  CHECK(d.rec.text == "<gap 9>x<gap 9>y<gap 10><end flow_end>");
  CHECK(r.memoryBytes() == 0);
  checkAccounting(r);
}

TEST_CASE("a segment ending more than 1 GiB ahead is dropped as out of window") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.send(kIsn + 1 + kTcpReassemblyWindow, "x");
  CHECK(r.stats().dropped_out_of_window_segments.value() == 1);
  CHECK(r.stats().dropped_out_of_window_bytes.value() == 1);
  CHECK(r.bufferedBytes() == 0);
  d.send(kIsn + kTcpReassemblyWindow, "y");  // ends exactly 1 GiB ahead: kept
  CHECK(r.bufferedBytes() == 1);
  d.close();
  CHECK(d.rec.text == "<gap 1073741823>y<end flow_end>");
  checkAccounting(r);
}

TEST_CASE("a SYN with another ISN before any byte restarts the stream") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(kIsn);
  d.syn(kIsn);  // retransmitted SYN: same stream
  CHECK(r.stats().syn_resyncs.value() == 0);
  d.syn(9000);
  CHECK(r.stats().syn_resyncs.value() == 1);
  CHECK(d.stream.nextSeq() == 9001);
  d.send(9001, "new");
  d.syn(kIsn);  // after bytes: the SYN is an old one
  CHECK(d.rec.text == "new");
  CHECK(r.stats().syn_resyncs.value() == 1);
}

TEST_CASE("sequence numbers wrap around at 0xFFFFFFFF") {
  TcpReassembler r({});
  Direction d(r);
  d.syn(0xFFFFFFF9u);           // data starts at 0xFFFFFFFA
  d.send(0x00000002u, "ijkl");  // after the wrap, out of order
  d.send(0xFFFFFFFEu, "efgh");  // crosses the wrap
  d.send(0xFFFFFFFAu, "abcd");
  CHECK(d.rec.text == "abcdefghijkl");
  d.send(0xFFFFFFFCu, "cdef");  // an old one across the wrap
  CHECK(r.stats().retransmitted_bytes.value() == 4);
  d.send(0x00000010u, "q");
  d.ack(0x00000010u);
  d.fin(0x00000011u);
  CHECK(d.rec.text == "abcdefghijkl<gap 10>q<end fin>");
  CHECK(d.stream.deliveredBytes() == 13);
  checkAccounting(r);
}

// Counts bytes without keeping them.
struct ByteCounter : TcpStreamConsumer {
  void onStreamData(const uint8_t*, size_t len, Timestamp) override { data_bytes += len; }
  void onStreamGap(uint64_t) override {}
  void onStreamEnd(StreamEnd) override {}
  uint64_t data_bytes = 0;
};

TEST_CASE("delivered bytes count in 64 bits past 4 GiB") {
  TcpReassembler r({});
  TcpStream stream;
  ByteCounter counter;
  r.onSegment(stream, tcp(0, tcp_flags::kSyn), nullptr, 0, 1, counter);
  const std::string chunk(1 << 20, 'z');
  uint32_t seq = 1;
  for (int i = 0; i < 4100; ++i) {
    r.onSegment(stream, tcp(seq), bytes(chunk), static_cast<uint32_t>(chunk.size()), 1, counter);
    seq += static_cast<uint32_t>(chunk.size());
  }
  CHECK(counter.data_bytes == 4100ull << 20);
  CHECK(stream.deliveredBytes() == 4100ull << 20);
  CHECK(r.stats().bytes_delivered.value() == 4100ull << 20);
  CHECK(r.stats().retransmitted_bytes.value() == 0);
}

// ---- Properties ----

std::string randomBytes(std::mt19937& rng, size_t len) {
  std::string s(len, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

struct Piece {
  uint32_t offset;
  uint32_t len;
};

// Cuts [0, total) into pieces of 1..max_len bytes.
std::vector<Piece> cut(std::mt19937& rng, uint32_t total, uint32_t max_len) {
  std::vector<Piece> pieces;
  for (uint32_t at = 0; at < total;) {
    const uint32_t len = std::min<uint32_t>(total - at, 1 + rng() % max_len);
    pieces.push_back({at, len});
    at += len;
  }
  return pieces;
}

std::string reassemble(const std::string& data, uint32_t isn, const std::vector<Piece>& pieces,
                       const TcpReassemblyConfig& config = {}) {
  TcpReassembler r(config);
  Direction d(r);
  d.syn(isn);
  for (const Piece& p : pieces) d.send(isn + 1 + p.offset, data.substr(p.offset, p.len));
  d.close();
  checkAccounting(r);
  CHECK(r.bufferedBytes() == 0);
  CHECK(r.memoryBytes() == 0);
  return d.rec.text;
}

TEST_CASE("differential: whole, one byte at a time, random cuts, shuffled and duplicated give the same bytes") {
  std::mt19937 rng(20240611);
  for (int round = 0; round < 40; ++round) {
    const uint32_t total = 1 + rng() % 5000;
    const std::string data = randomBytes(rng, total);
    // Half the rounds start just before the wrap so pieces cross it.
    const uint32_t isn = (round % 2) ? 0xFFFFFFFFu - rng() % 3000 : static_cast<uint32_t>(rng());
    const std::string expected = data + "<end flow_end>";
    CAPTURE(round);

    CHECK(reassemble(data, isn, {{0, total}}) == expected);

    std::vector<Piece> ones;
    for (uint32_t i = 0; i < total; ++i) ones.push_back({i, 1});
    CHECK(reassemble(data, isn, ones) == expected);

    std::vector<Piece> pieces = cut(rng, total, 1 + rng() % 1500);
    CHECK(reassemble(data, isn, pieces) == expected);

    std::vector<Piece> shuffled = pieces;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    CHECK(reassemble(data, isn, shuffled) == expected);

    // Duplicates and overlapping retransmissions at random places.
    std::vector<Piece> noisy = shuffled;
    for (int i = 0; i < 20; ++i) {
      const uint32_t offset = rng() % total;
      noisy.insert(noisy.begin() + static_cast<long>(rng() % (noisy.size() + 1)),
                   Piece{offset, 1 + static_cast<uint32_t>(rng() % (total - offset))});
    }
    CHECK(reassemble(data, isn, noisy) == expected);

    // Reversed, with small caps on a stream's buffer: holes may be given up,
    // but every byte is delivered or reported as a gap, in order, and what is
    // delivered is the stream's own bytes.
    std::vector<Piece> reversed = pieces;
    std::reverse(reversed.begin(), reversed.end());
    TcpReassemblyConfig small;
    small.max_flow_buffered_segments = 4;
    small.max_flow_buffered_bytes = 2000;
    const std::string capped = reassemble(data, isn, reversed, small);
    std::string rebuilt;
    for (size_t at = 0; at < capped.size();) {
      if (capped.compare(at, 5, "<gap ") == 0) {
        const size_t close = capped.find('>', at);
        const uint64_t len = std::stoull(capped.substr(at + 5, close - at - 5));
        rebuilt += data.substr(rebuilt.size(), len);  // stands for the missing bytes
        at = close + 1;
      } else if (capped.compare(at, 5, "<end ") == 0) {
        CHECK(capped.substr(at) == "<end flow_end>");
        break;
      } else {
        rebuilt += capped[at++];
      }
    }
    CHECK(rebuilt == data);
  }
}

TEST_CASE("random scripts keep every byte accounted for and every callback in order") {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    TcpReassemblyConfig config;
    config.max_flow_buffered_bytes = 1 + rng() % 3000;
    config.max_flow_buffered_segments = 1 + rng() % 8;
    config.max_buffered_bytes = (1 + rng() % 8) * kTcpReassemblyBlockSize;
    config.max_buffered_segments = 1 + rng() % 12;
    config.max_stream_depth = (rng() % 3 == 0) ? rng() % 3000 : 0;
    TcpReassembler r(config);
    std::vector<Direction> dirs;
    dirs.reserve(3);
    for (int i = 0; i < 3; ++i) dirs.emplace_back(r);
    const uint32_t isn = static_cast<uint32_t>(rng());
    const std::string data = randomBytes(rng, 4000);
    for (Direction& d : dirs) {
      if (rng() % 4 != 0) d.syn(isn);
    }
    for (int step = 0; step < 60; ++step) {
      Direction& d = dirs[rng() % dirs.size()];
      const uint32_t offset = rng() % 3900;
      const uint32_t len = rng() % 100;
      const uint32_t what = rng() % 20;
      if (what == 0) {
        d.ack(isn + 1 + rng() % 4000);
      } else if (what == 1) {
        d.fin(isn + 1 + offset);
      } else if (what == 2 && rng() % 4 == 0) {
        d.send(isn + 1 + offset, "", tcp_flags::kRst);
      } else {
        d.send(isn + 1 + offset, data.substr(offset, len));
      }
      CHECK(r.bufferedBytes() <= config.max_buffered_bytes);
      CHECK(r.memoryBytes() <= config.max_buffered_bytes);
      CHECK(r.bufferedSegments() <= config.max_buffered_segments);
      CHECK(d.stream.bufferedBytes() <= config.max_flow_buffered_bytes);
      CHECK(d.stream.bufferedSegments() <= config.max_flow_buffered_segments);
      if (config.max_stream_depth != 0) CHECK(d.stream.deliveredBytes() <= config.max_stream_depth);
    }
    uint64_t delivered = 0, gaps = 0;
    for (Direction& d : dirs) {
      d.close();
      CHECK(d.rec.ends == (d.stream.started() ? 1 : 0));
      CHECK(d.rec.data_bytes == d.stream.deliveredBytes());
      CHECK(d.rec.gap_bytes == d.stream.gapBytes());
      delivered += d.rec.data_bytes;
      gaps += d.rec.gap_bytes;
    }
    CHECK(r.stats().bytes_delivered.value() == delivered);
    CHECK(r.stats().gap_bytes.value() == gaps);
    CHECK(r.bufferedBytes() == 0);
    CHECK(r.bufferedSegments() == 0);
    CHECK(r.memoryBytes() == 0);
    checkAccounting(r);
  }
}

TEST_CASE("a flood of out-of-order one-byte segments stays under the caps and counts every drop") {
  TcpReassemblyConfig config;
  config.max_flow_buffered_segments = 16;
  config.max_buffered_segments = 1000;
  config.max_buffered_bytes = 600 * kTcpReassemblyBlockSize;  // binds before the segment cap
  TcpReassembler r(config);
  constexpr int kStreams = 50;
  std::vector<Direction> dirs;
  dirs.reserve(kStreams);
  for (int i = 0; i < kStreams; ++i) dirs.emplace_back(r);
  for (Direction& d : dirs) d.syn(kIsn);
  std::vector<uint32_t> next_offset(kStreams, 2);
  uint64_t sent = 0;
  const auto flood = [&](int stream) {
    Direction& d = dirs[static_cast<size_t>(stream)];
    // Every other byte, never the first: nothing arrives in order.
    d.send(kIsn + next_offset[static_cast<size_t>(stream)], "x");
    next_offset[static_cast<size_t>(stream)] += 2;
    ++sent;
    CHECK(r.memoryBytes() <= config.max_buffered_bytes);
    CHECK(r.poolBytes() <= config.max_buffered_bytes);
    CHECK(r.bufferedSegments() <= config.max_buffered_segments);
    CHECK(d.stream.bufferedSegments() <= config.max_flow_buffered_segments);
  };
  // Ten streams alone: each fills its own buffer, then gives up holes.
  for (int i = 0; i < 100; ++i) {
    for (int s = 0; s < 10; ++s) flood(s);
  }
  const TcpReassemblyStats& s = r.stats();
  CHECK(s.gaps_flow_cap.value() == 10 * (100 - 16));
  CHECK(s.bytes_delivered.value() == 10 * (100 - 16));
  CHECK(r.bufferedSegments() == 160);
  // Then all of them, round after round: the worker's blocks run out.
  for (int round = 0; round < 200; ++round) {
    for (int st = 0; st < kStreams; ++st) flood(st);
  }
  CHECK(s.out_of_order_segments.value() == sent);
  CHECK(s.dropped_worker_cap_segments.value() > 0);
  CHECK(s.dropped_worker_cap_segments.value() == s.dropped_worker_cap_bytes.value());
  CHECK(s.dropped_flow_cap_segments.value() == 0);
  uint64_t delivered = 0;
  for (const Direction& d : dirs) delivered += d.stream.deliveredBytes();
  CHECK(delivered == s.bytes_delivered.value());
  // Each byte sent was delivered (after a hole was given up), is still buffered, or was dropped.
  CHECK(delivered + r.bufferedSegments() + s.dropped_worker_cap_segments.value() == sent);
  CHECK(r.bufferedSegments() == 600);
  CHECK(r.poolBytes() == 600 * kTcpReassemblyBlockSize);
  checkAccounting(r);
  for (Direction& d : dirs) d.close();
  CHECK(r.bufferedSegments() == 0);
  CHECK(r.memoryBytes() == 0);
  CHECK(r.poolBytes() == 600 * kTcpReassemblyBlockSize);  // kept for reuse, never more
}

TEST_CASE("a stream's state is small and value-initialised means nothing seen") {
  const TcpStream fresh{};
  CHECK_FALSE(fresh.synced());
  CHECK_FALSE(fresh.ended());
  CHECK_FALSE(fresh.started());
  CHECK(fresh.bufferedBytes() == 0);
  CHECK(sizeof(TcpStream) <= 64);
}

TEST_CASE("every counter has a name and help text") {
  TcpReassembler r({});
  int count = 0;
  r.stats().forEach([&count](const char* name, const char* help, const Counter& c) {
    CHECK(std::strlen(name) > 0);
    CHECK(std::strlen(help) > 10);
    CHECK(c.value() == 0);
    ++count;
  });
  CHECK(count == 26);
}

}  // namespace
}  // namespace tapflow
