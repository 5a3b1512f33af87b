// TCP stream reassembly: turns the segments of one direction of a connection
// into in-order bytes, with gaps where bytes never arrived, for the analyzers.
//
// One TcpReassembler per worker owns the memory of every out-of-order segment
// its streams hold: pools of 512-byte blocks and of segment descriptors that
// grow lazily up to max_buffered_bytes / max_buffered_segments and are reused
// through free lists, so a flood of tiny or out-of-order segments never takes
// more than the caps. Per-direction state is
// a small TcpStream the caller keeps in its flow; in-order bytes go straight
// from the packet to the consumer without a copy.
//
// Rules (the unit tests check each one):
// - Sequence numbers use 32-bit serial arithmetic; delivered bytes count in 64 bits.
// - A SYN sets the initial sequence: data starts at ISN + 1. A stream without a
//   SYN is picked up at its first segment carrying payload (midstream_pickups);
//   bytes before that point are never delivered. A SYN with another ISN before
//   anything was delivered or buffered restarts the stream (syn_resyncs).
// - Bytes are delivered once, in order. Overlaps are resolved first-wins: bytes
//   already delivered or buffered are kept and the newcomer's copy is counted in
//   retransmitted_bytes. Overlapping bytes are compared with still-buffered bytes
//   (overlap_conflicts when they differ); bytes already delivered are gone and
//   cannot be compared, so a conflicting retransmission of them is not detected.
// - Out-of-order bytes are buffered. Only the parts not already held are stored:
//   a part right after a buffered run is appended to it, any other part starts
//   a new run. Caps count runs as segments (a segment straddling buffered data
//   may add several). Caps are checked before anything is allocated:
//     * the stream's caps (max_flow_buffered_bytes/segments): the stream gives up
//       its first hole (a gap up to the first byte it holds, or up to the new
//       segment if that comes first, then the bytes that became contiguous)
//       until the new bytes fit (gaps_flow_cap); a segment too big for an empty
//       buffer is dropped (dropped_flow_cap_*);
//     * the worker's caps (max_buffered_segments, and max_buffered_bytes counted
//       as whole blocks, which bounds both memory and buffered payload): the
//       segment is dropped (dropped_worker_cap_*); its bytes become a hole.
//   Segments ending more than 1 GiB past the next expected byte are dropped as
//   out of window (nothing sane buffers that far; it also keeps serial
//   comparisons of buffered positions unambiguous).
// - Holes that never fill are skipped, as onStreamGap(len): when a stream cap is
//   hit (above), when the other side acknowledges past them (onPeerAck), and at
//   close(). A skip never goes past the highest byte seen of the stream (or its
//   FIN), so a bogus ACK cannot make a stream jump over bytes nobody sent.
// - FIN ends the stream with kFin once every byte before it was delivered or
//   skipped; bytes past the FIN are discarded. RST ends the stream with kRst at
//   once (its payload is discarded); what is still buffered is released
//   (released_at_end_*). The other direction is not touched: the caller decides.
// - max_stream_depth: after that many delivered bytes (gaps do not count), the
//   next byte or gap ends the stream with kDepthLimit (a stream of exactly that
//   length then FIN still ends with kFin).
// - After the end, segments are ignored (segments_after_end when they carry payload).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "ops/counter.h"
#include "packet/decoded_packet.h"
#include "packet/timestamp.h"
#include "proto/stream.h"
#include "reassembly/tcp_reassembly_stats.h"

namespace tapflow {

struct TcpReassemblyConfig {
  uint32_t max_flow_buffered_bytes = 1u << 20;  // out-of-order payload bytes held per direction
  uint32_t max_flow_buffered_segments = 1024;   // out-of-order runs held per direction
  uint64_t max_buffered_bytes = 256ull << 20;   // per worker, all streams together, in whole blocks
  uint32_t max_buffered_segments = 262144;      // runs, per worker
  uint64_t max_stream_depth = 0;                // bytes delivered per direction; 0 = no limit
};

// Buffered bytes live in blocks of this size; a segment takes ceil(len / size)
// blocks, so max_buffered_bytes / kTcpReassemblyBlockSize blocks is the memory cap.
inline constexpr uint32_t kTcpReassemblyBlockSize = 512;
// Out-of-order data ending further than this past the next expected byte is dropped.
inline constexpr uint32_t kTcpReassemblyWindow = 1u << 30;

// The analyzer side of one direction. Calls for a stream come in this order:
// any number of onStreamData/onStreamGap, then at most one onStreamEnd.
// A stream is *started* by its first onStreamData or onStreamGap; onStreamEnd
// comes exactly once for every started stream (from onSegment, onPeerAck or
// close) and never for a stream that was not started. Nothing comes after it.
// During a call, the stream's nextSeq() is the sequence number of the first
// byte of that data or gap. A consumer must not call back into the reassembler
// for the same stream from inside a callback.
class TcpStreamConsumer {
 public:
  virtual ~TcpStreamConsumer() = default;
  // In-order bytes, each stream byte once; `data` is valid during the call only.
  // `ts` is the capture time of the segment that carried them (bytes that
  // waited behind a hole carry that of the first segment of their run).
  virtual void onStreamData(const uint8_t* data, size_t len, Timestamp ts) = 0;
  // `len` (> 0) bytes that will never arrive, at this point of the stream.
  virtual void onStreamGap(uint64_t len) = 0;
  virtual void onStreamEnd(StreamEnd reason) = 0;
};

// Reassembly state of one direction, kept by the caller (in its flow) and
// changed only by the TcpReassembler. TcpStream{} means "nothing seen yet".
// A stream that holds buffered segments owns part of the reassembler's pool:
// call close() before dropping or reusing it. After close() (or any end), the
// stream stays ended; assign TcpStream{} to start over.
class TcpStream {
 public:
  bool synced() const { return state_ == State::kOpen; }  // initial sequence known, not ended
  bool ended() const { return state_ == State::kEnded; }
  bool started() const { return flags_ & kStarted; }      // delivered a byte or a gap
  bool midstream() const { return flags_ & kMidstream; }  // picked up without a SYN
  StreamEnd endReason() const { return end_reason_; }     // meaningful once ended() and started()
  uint32_t nextSeq() const { return next_seq_; }          // next byte to deliver (once synced)
  uint64_t deliveredBytes() const { return delivered_bytes_; }
  uint64_t gapBytes() const { return gap_bytes_; }
  uint32_t bufferedBytes() const { return buffered_bytes_; }
  uint32_t bufferedSegments() const { return buffered_segments_; }

 private:
  friend class TcpReassembler;
  enum class State : uint8_t { kNew = 0, kOpen, kEnded };
  static constexpr uint8_t kStarted = 1, kMidstream = 2, kFinPending = 4;

  uint32_t next_seq_ = 0;
  uint32_t seen_end_ = 0;  // one past the highest data byte seen (serially >= next_seq_)
  uint32_t fin_seq_ = 0;   // position of the FIN, when kFinPending
  uint32_t head_ = 0;      // buffered segments, sorted and disjoint; 0 = none
  uint32_t tail_ = 0;
  uint32_t buffered_bytes_ = 0;
  uint32_t buffered_segments_ = 0;
  uint64_t delivered_bytes_ = 0;
  uint64_t gap_bytes_ = 0;
  State state_ = State::kNew;
  uint8_t flags_ = 0;
  StreamEnd end_reason_ = StreamEnd::kFlowEnd;
};

static_assert(std::is_trivially_destructible_v<TcpStream>);
static_assert(sizeof(TcpStream) <= 64);

class TcpReassembler {
 public:
  // Allocates nothing but two small tables; the pools grow as segments are buffered.
  explicit TcpReassembler(const TcpReassemblyConfig& config);
  ~TcpReassembler();
  TcpReassembler(const TcpReassembler&) = delete;
  TcpReassembler& operator=(const TcpReassembler&) = delete;

  // One segment of the direction `stream` describes (seq and flags from `tcp`;
  // payload bytes valid for the call only).
  void onSegment(TcpStream& stream, const TcpInfo& tcp, const uint8_t* payload, uint32_t len, Timestamp ts,
                 TcpStreamConsumer& out);
  // The other direction acknowledged everything before `ack`: bytes below it
  // that we never saw were lost by the capture, not the network. Holes below
  // `ack` (up to the highest byte seen, or the FIN) are skipped as gaps and the
  // buffered data after them delivered; reaching a seen FIN ends the stream.
  void onPeerAck(TcpStream& stream, uint32_t ack, TcpStreamConsumer& out);
  // The flow is over (or being recycled): buffered bytes are delivered across
  // holes (holes, and missing bytes up to the highest seen or the FIN, as gaps),
  // then onStreamEnd(reason) if the stream has not ended yet (kFin if a seen FIN
  // was reached); every buffer of the stream is released.
  void close(TcpStream& stream, StreamEnd reason, TcpStreamConsumer& out);

  const TcpReassemblyStats& stats() const { return stats_; }
  uint64_t bufferedBytes() const { return buffered_bytes_; }      // payload held, all streams
  uint32_t bufferedSegments() const { return segments_in_use_; }  // runs held, all streams
  uint64_t memoryBytes() const;                                   // blocks in use x block size (<= max_buffered_bytes)
  uint64_t poolBytes() const;                                     // blocks allocated so far, in use or free

 private:
  struct Segment;
  struct Plan;

  void processData(TcpStream& st, uint32_t seq, const uint8_t* data, uint32_t len, Timestamp ts,
                   TcpStreamConsumer& out);
  void deliverInOrder(TcpStream& st, const uint8_t* data, uint32_t len, Timestamp ts, TcpStreamConsumer& out);
  bool bufferOutOfOrder(TcpStream& st, uint32_t seq, const uint8_t* data, uint32_t len, Timestamp ts);
  template <typename Piece, typename Overlap>
  void walk(const TcpStream& st, uint32_t start, uint32_t end, Piece&& piece, Overlap&& overlap) const;
  bool appendable(const TcpStream& st, uint32_t prev, uint32_t from, uint32_t len) const;
  Plan plan(const TcpStream& st, uint32_t seq, uint32_t len) const;
  void commit(TcpStream& st, uint32_t seq, const uint8_t* data, uint32_t len, Timestamp ts, bool store);
  uint32_t deliver(TcpStream& st, const uint8_t* data, uint32_t len, Timestamp ts, TcpStreamConsumer& out);
  bool gap(TcpStream& st, uint32_t len, Counter& cause, TcpStreamConsumer& out);
  void drain(TcpStream& st, TcpStreamConsumer& out);
  void deliverHead(TcpStream& st, TcpStreamConsumer& out);
  void skipHoles(TcpStream& st, uint32_t target, Counter& cause, TcpStreamConsumer& out);
  void recordFin(TcpStream& st, uint32_t fin_seq, TcpStreamConsumer& out);
  void endStream(TcpStream& st, StreamEnd reason, TcpStreamConsumer& out);
  void releaseAll(TcpStream& st);

  // Pools. Both grow by slabs, only up to the caps, and recycle through free lists.
  bool reserveSegments(uint32_t count);
  bool reserveBlocks(uint32_t count);
  uint32_t takeSegment();
  uint32_t takeBlock();
  void freeSegment(uint32_t index);
  Segment& segment(uint32_t index);
  const Segment& segment(uint32_t index) const;
  uint32_t& blockNext(uint32_t block);
  uint32_t blockNext(uint32_t block) const;
  uint8_t* blockData(uint32_t block);
  const uint8_t* blockData(uint32_t block) const;
  bool sameBytes(const Segment& s, uint32_t offset, const uint8_t* data, uint32_t len) const;

  static constexpr uint32_t kBlockSize = kTcpReassemblyBlockSize;
  static constexpr uint32_t kSlabBlocks = 128;    // 64 KiB of blocks per allocation
  static constexpr uint32_t kSlabSegments = 512;  // 12 KiB of descriptors per allocation

  struct BlockSlab {
    std::unique_ptr<uint8_t[]> bytes;
    std::unique_ptr<uint32_t[]> next;  // chains a segment's blocks, and the free list
  };

  TcpReassemblyConfig config_;
  TcpReassemblyStats stats_;
  uint32_t max_blocks_ = 0;
  uint32_t max_segments_ = 0;
  std::vector<std::unique_ptr<Segment[]>> segment_slabs_;  // index 0 stands for "none"
  uint32_t segments_created_ = 0;
  uint32_t free_segment_ = 0;
  uint32_t free_segments_ = 0;
  Gauge<uint32_t> segments_in_use_ = 0;  // read by the metrics thread
  std::vector<BlockSlab> block_slabs_;
  uint32_t blocks_created_ = 0;
  uint32_t free_block_;
  uint32_t free_blocks_ = 0;
  Gauge<uint32_t> blocks_in_use_ = 0;
  Gauge<uint64_t> buffered_bytes_ = 0;
};

}  // namespace tapflow
