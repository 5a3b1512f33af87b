// TCP stream reassembly (rules in tcp_reassembler.h).
//
// Layout. A stream's out-of-order bytes are a sorted, disjoint, singly linked
// list of segment descriptors; every descriptor starts strictly after the
// stream's next byte (a descriptor that becomes contiguous is delivered at
// once). A descriptor's bytes sit in a chain of fixed-size blocks. Descriptors
// and blocks come from two per-worker pools that grow by slabs, only while
// what is in use needs more and never past the caps, and are reused through
// free lists: in steady state nothing is allocated. Room is checked and
// reserved before a segment is copied in, so a copy never fails half-way.
// The list keeps a tail, so the usual case (more data after the last buffered
// segment) is O(1); an insert in the middle walks the list, which the
// per-stream segment cap bounds.
//
// Positions. All positions of a stream are compared relative to next_seq_:
// buffered data, seen_end_ and the FIN lie in [next_seq_, next_seq_ + 1 GiB +
// 64 KiB), so those differences are exact unsigned numbers, and an incoming
// segment's start is a signed 32-bit difference (negative: old bytes).
#include "reassembly/tcp_reassembler.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>

namespace tapflow {

struct TcpReassembler::Segment {
  uint32_t seq = 0;
  uint32_t len = 0;
  uint32_t next = 0;  // next segment of the stream, or of the free list; 0 = none
  uint32_t first_block = 0;
  uint32_t last_block = 0;
  Timestamp ts = 0;  // of the first bytes; bytes appended later keep it
};

// What buffering one segment would take: the pieces not already held.
struct TcpReassembler::Plan {
  uint32_t pieces = 0;
  uint32_t bytes = 0;
  uint32_t blocks = 0;
};

namespace {

constexpr uint32_t kNoBlock = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kMaxBlocks = 1ull << 31;  // block indices stay far from kNoBlock
constexpr uint32_t kMaxSegments = 1u << 30;
constexpr uint32_t kMaxAppendedLen = 64 * 1024;  // bounds the block walk of a later overlap

int32_t serialDiff(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b); }

uint32_t blocksFor(uint32_t len) { return (len + kTcpReassemblyBlockSize - 1) / kTcpReassemblyBlockSize; }

}  // namespace

TcpReassembler::TcpReassembler(const TcpReassemblyConfig& config) : config_(config), free_block_(kNoBlock) {
  max_blocks_ = static_cast<uint32_t>(std::min<uint64_t>(config.max_buffered_bytes / kBlockSize, kMaxBlocks));
  max_segments_ = std::min<uint32_t>(config.max_buffered_segments, kMaxSegments);
  block_slabs_.reserve((max_blocks_ + kSlabBlocks - 1) / kSlabBlocks);
  segment_slabs_.reserve((max_segments_ + 1 + kSlabSegments - 1) / kSlabSegments);
}

TcpReassembler::~TcpReassembler() = default;

uint64_t TcpReassembler::memoryBytes() const { return uint64_t{blocks_in_use_} * kBlockSize; }

uint64_t TcpReassembler::poolBytes() const { return uint64_t{blocks_created_} * kBlockSize; }

// ---- Pools ----

TcpReassembler::Segment& TcpReassembler::segment(uint32_t index) {
  return segment_slabs_[index / kSlabSegments][index % kSlabSegments];
}
const TcpReassembler::Segment& TcpReassembler::segment(uint32_t index) const {
  return segment_slabs_[index / kSlabSegments][index % kSlabSegments];
}
uint32_t& TcpReassembler::blockNext(uint32_t block) {
  return block_slabs_[block / kSlabBlocks].next[block % kSlabBlocks];
}
uint32_t TcpReassembler::blockNext(uint32_t block) const {
  return block_slabs_[block / kSlabBlocks].next[block % kSlabBlocks];
}
uint8_t* TcpReassembler::blockData(uint32_t block) {
  return block_slabs_[block / kSlabBlocks].bytes.get() + (block % kSlabBlocks) * kBlockSize;
}
const uint8_t* TcpReassembler::blockData(uint32_t block) const {
  return block_slabs_[block / kSlabBlocks].bytes.get() + (block % kSlabBlocks) * kBlockSize;
}

// Slabs are full-size except maybe the last, so index / slab size finds the
// slab and a pool never holds more than its cap. Slab tables were reserved at
// start-up: adding a slab never moves them.

bool TcpReassembler::reserveSegments(uint32_t count) {
  while (free_segments_ < count) {
    // Index 0 is never handed out, so the pool holds max_segments_ + 1 slots.
    if (segments_created_ >= max_segments_ + 1) return false;
    const uint32_t n = std::min(kSlabSegments, max_segments_ + 1 - segments_created_);
    std::unique_ptr<Segment[]> slab(new (std::nothrow) Segment[n]);
    if (!slab) return false;
    segment_slabs_.push_back(std::move(slab));
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t index = segments_created_ + i;
      if (index == 0) continue;
      segment(index).next = free_segment_;
      free_segment_ = index;
      ++free_segments_;
    }
    segments_created_ += n;
  }
  return true;
}

bool TcpReassembler::reserveBlocks(uint32_t count) {
  while (free_blocks_ < count) {
    if (blocks_created_ >= max_blocks_) return false;
    const uint32_t n = std::min(kSlabBlocks, max_blocks_ - blocks_created_);
    BlockSlab slab;
    slab.bytes.reset(new (std::nothrow) uint8_t[size_t{n} * kBlockSize]);
    slab.next.reset(new (std::nothrow) uint32_t[n]);
    if (!slab.bytes || !slab.next) return false;
    block_slabs_.push_back(std::move(slab));
    for (uint32_t i = 0; i < n; ++i) {
      blockNext(blocks_created_ + i) = free_block_;
      free_block_ = blocks_created_ + i;
    }
    blocks_created_ += n;
    free_blocks_ += n;
  }
  return true;
}

uint32_t TcpReassembler::takeSegment() {
  const uint32_t index = free_segment_;
  free_segment_ = segment(index).next;
  --free_segments_;
  ++segments_in_use_;
  return index;
}

uint32_t TcpReassembler::takeBlock() {
  const uint32_t block = free_block_;
  free_block_ = blockNext(block);
  blockNext(block) = kNoBlock;
  --free_blocks_;
  ++blocks_in_use_;
  return block;
}

void TcpReassembler::freeSegment(uint32_t index) {
  Segment& seg = segment(index);
  uint32_t block = seg.first_block;
  const uint32_t blocks = blocksFor(seg.len);
  for (uint32_t n = blocks; n > 0; --n) {
    const uint32_t next = blockNext(block);
    blockNext(block) = free_block_;
    free_block_ = block;
    block = next;
  }
  blocks_in_use_ -= blocks;
  free_blocks_ += blocks;
  buffered_bytes_ -= seg.len;
  --segments_in_use_;
  ++free_segments_;
  seg.next = free_segment_;
  free_segment_ = index;
}

bool TcpReassembler::sameBytes(const Segment& seg, uint32_t offset, const uint8_t* data, uint32_t len) const {
  uint32_t block = seg.first_block;
  for (uint32_t skip = offset / kBlockSize; skip > 0; --skip) block = blockNext(block);
  uint32_t in_block = offset % kBlockSize;
  uint32_t done = 0;
  while (done < len) {
    const uint32_t n = std::min(kBlockSize - in_block, len - done);
    if (std::memcmp(blockData(block) + in_block, data + done, n) != 0) return false;
    done += n;
    in_block = 0;
    block = blockNext(block);
  }
  return true;
}

// ---- Segments ----

void TcpReassembler::onSegment(TcpStream& st, const TcpInfo& tcp, const uint8_t* payload, uint32_t len, Timestamp ts,
                               TcpStreamConsumer& out) {
  if (payload == nullptr) len = 0;
  stats_.segments.add();
  stats_.payload_bytes.add(len);
  if (st.ended()) {
    if (len > 0) {
      stats_.segments_after_end.add();
      stats_.bytes_after_end.add(len);
    }
    return;
  }
  if (tcp.flags & tcp_flags::kRst) {
    // Stacks ignore data on a RST; so does the analysis.
    stats_.discarded_bytes.add(len);
    if (st.state_ == TcpStream::State::kNew) {
      st.state_ = TcpStream::State::kEnded;
    } else {
      endStream(st, StreamEnd::kRst, out);
    }
    return;
  }

  const bool syn = tcp.flags & tcp_flags::kSyn;
  const auto open = [&st](uint32_t first_byte) {
    st.state_ = TcpStream::State::kOpen;
    st.next_seq_ = first_byte;
    st.seen_end_ = first_byte;
  };
  if (st.state_ == TcpStream::State::kNew) {
    if (syn) {
      open(tcp.seq + 1);
    } else if (len > 0) {
      open(tcp.seq);
      st.flags_ |= TcpStream::kMidstream;
      stats_.midstream_pickups.add();
    } else {
      // A FIN before any byte: the stream is over before it began.
      if (tcp.flags & tcp_flags::kFin) st.state_ = TcpStream::State::kEnded;
      return;
    }
  } else if (syn && !st.started() && st.head_ == 0 && tcp.seq + 1 != st.next_seq_) {
    // A new connection attempt with another ISN (nothing depends on the old one).
    st = TcpStream{};
    open(tcp.seq + 1);
    stats_.syn_resyncs.add();
  }

  const uint32_t data_seq = tcp.seq + (syn ? 1u : 0u);
  if (len > 0) processData(st, data_seq, payload, len, ts, out);
  if ((tcp.flags & tcp_flags::kFin) && st.synced()) recordFin(st, data_seq + len, out);
}

void TcpReassembler::processData(TcpStream& st, uint32_t seq, const uint8_t* data, uint32_t len, Timestamp ts,
                                 TcpStreamConsumer& out) {
  // [start, end) relative to next_seq_; start < 0 means old bytes.
  int64_t start = serialDiff(seq, st.next_seq_);
  int64_t end = start + len;
  if (end > int64_t{kTcpReassemblyWindow}) {
    stats_.dropped_out_of_window_segments.add();
    stats_.dropped_out_of_window_bytes.add(len);
    return;
  }
  if (st.flags_ & TcpStream::kFinPending) {
    const int64_t fin = st.fin_seq_ - st.next_seq_;
    if (end > fin) {
      const int64_t cut = std::max(start, fin);
      stats_.discarded_bytes.add(static_cast<uint64_t>(end - cut));
      end = cut;
    }
  }
  if (start < 0) {
    const int64_t old = std::min(-start, end - start);
    stats_.retransmitted_bytes.add(static_cast<uint64_t>(old));
    data += old;
    start += old;
  }
  if (end <= start) return;
  uint32_t n = static_cast<uint32_t>(end - start);
  if (end > int64_t{st.seen_end_ - st.next_seq_}) st.seen_end_ = st.next_seq_ + static_cast<uint32_t>(end);
  if (start == 0) {
    deliverInOrder(st, data, n, ts, out);
    return;
  }

  stats_.out_of_order_segments.add();
  uint32_t first = st.next_seq_ + static_cast<uint32_t>(start);
  for (;;) {
    if (st.ended()) {  // a skip below reached the FIN or the depth limit
      stats_.discarded_bytes.add(n);
      return;
    }
    const int32_t ahead = serialDiff(first, st.next_seq_);
    if (ahead <= 0) {  // skips caught up with it
      const uint32_t old = std::min(static_cast<uint32_t>(-static_cast<int64_t>(ahead)), n);
      stats_.retransmitted_bytes.add(old);
      data += old;
      first += old;
      n -= old;
      if (n > 0) deliverInOrder(st, data, n, ts, out);
      return;
    }
    if (bufferOutOfOrder(st, first, data, n, ts)) return;
    // The stream's buffer is full: give up its first hole, up to the first byte
    // known (buffered, or this segment), then deliver what became contiguous.
    const uint32_t to_head = segment(st.head_).seq - st.next_seq_;
    const uint32_t hole = std::min(to_head, static_cast<uint32_t>(ahead));
    if (hole == 0) {  // cannot happen (buffered data starts past next_seq_); never spin
      stats_.discarded_bytes.add(n);
      return;
    }
    if (!gap(st, hole, stats_.gaps_flow_cap, out)) continue;
    if (st.next_seq_ == first) {
      deliverInOrder(st, data, n, ts, out);
      return;
    }
    drain(st, out);
  }
}

// Returns false when the stream's caps leave no room and it has a hole to give
// up; otherwise the segment was buffered or dropped (and counted).
bool TcpReassembler::bufferOutOfOrder(TcpStream& st, uint32_t seq, const uint8_t* data, uint32_t len, Timestamp ts) {
  const Plan p = plan(st, seq, len);
  const bool fits_flow = uint64_t{st.buffered_bytes_} + p.bytes <= config_.max_flow_buffered_bytes &&
                         uint64_t{st.buffered_segments_} + p.pieces <= config_.max_flow_buffered_segments;
  if (!fits_flow) {
    if (st.head_ != 0) return false;
    commit(st, seq, data, len, ts, false);
    stats_.dropped_flow_cap_segments.add();
    stats_.dropped_flow_cap_bytes.add(p.bytes);
    return true;
  }
  const bool fits_worker = uint64_t{segments_in_use_} + p.pieces <= max_segments_ &&
                           uint64_t{blocks_in_use_} + p.blocks <= max_blocks_ && reserveSegments(p.pieces) &&
                           reserveBlocks(p.blocks);
  if (!fits_worker) {
    commit(st, seq, data, len, ts, false);
    stats_.dropped_worker_cap_segments.add();
    stats_.dropped_worker_cap_bytes.add(p.bytes);
    return true;
  }
  commit(st, seq, data, len, ts, true);
  return true;
}

// Calls piece(prev, next, from, to) for each part of [start, end) (relative to
// next_seq_) that the buffer lacks, between segments `prev` and `next` (0 at
// either end of the list), and overlap(index, offset, from, to) for each part
// already held by segment `index` (from `offset` in it), in order. piece() may
// link a segment in after `prev` or grow `prev`: the walk never looks back.
template <typename Piece, typename Overlap>
void TcpReassembler::walk(const TcpStream& st, uint32_t start, uint32_t end, Piece&& piece, Overlap&& overlap) const {
  uint32_t prev = 0;
  uint32_t i = st.head_;
  if (st.tail_ != 0 && segment(st.tail_).seq + segment(st.tail_).len - st.next_seq_ <= start) {
    prev = st.tail_;  // the usual case: past everything buffered
    i = 0;
  }
  uint32_t cur = start;
  while (cur < end) {
    if (i == 0) {
      piece(prev, 0u, cur, end);
      return;
    }
    const uint32_t seg_start = segment(i).seq - st.next_seq_;
    const uint32_t seg_end = seg_start + segment(i).len;
    const uint32_t next = segment(i).next;
    if (seg_end <= cur) {
      prev = i;
      i = next;
      continue;
    }
    if (seg_start >= end) {
      piece(prev, i, cur, end);
      return;
    }
    if (seg_start > cur) {
      piece(prev, i, cur, seg_start);
      cur = seg_start;
    }
    const uint32_t to = std::min(end, seg_end);
    overlap(i, cur - seg_start, cur, to);
    cur = to;
    prev = i;
    i = next;
  }
}

// A piece right after a buffered segment is appended to it (into the room
// left in its last block, then new blocks): runs of small segments behind a
// hole take few descriptors and little memory, and later inserts walk fewer.
bool TcpReassembler::appendable(const TcpStream& st, uint32_t prev, uint32_t from, uint32_t len) const {
  if (prev == 0) return false;
  const Segment& seg = segment(prev);
  return seg.seq + seg.len == st.next_seq_ + from && seg.len + len <= kMaxAppendedLen;
}

TcpReassembler::Plan TcpReassembler::plan(const TcpStream& st, uint32_t seq, uint32_t len) const {
  Plan p;
  walk(
      st, seq - st.next_seq_, seq - st.next_seq_ + len,
      [&](uint32_t prev, uint32_t, uint32_t from, uint32_t to) {
        const uint32_t n = to - from;
        p.bytes += n;
        if (appendable(st, prev, from, n)) {
          p.blocks += blocksFor(segment(prev).len + n) - blocksFor(segment(prev).len);
        } else {
          ++p.pieces;
          p.blocks += blocksFor(n);
        }
      },
      [](uint32_t, uint32_t, uint32_t, uint32_t) {});
  return p;
}

// Walks the segment against the stream's buffer: overlaps are compared and
// counted as retransmitted; with `store`, the new pieces are linked in (room
// was checked and reserved by the caller, from plan()).
void TcpReassembler::commit(TcpStream& st, uint32_t seq, const uint8_t* data, uint32_t len, Timestamp ts, bool store) {
  const uint32_t start = seq - st.next_seq_;
  bool conflict = false;
  // Copies [from, to) into `seg`'s blocks, after its `seg.len` bytes.
  const auto copyIn = [&](Segment& seg, uint32_t from, uint32_t to) {
    uint32_t at = from;
    const uint32_t used = seg.len % kBlockSize;
    if (seg.len > 0 && used != 0) {
      const uint32_t n = std::min(kBlockSize - used, to - at);
      std::memcpy(blockData(seg.last_block) + used, data + (at - start), n);
      at += n;
      seg.len += n;
    }
    while (at < to) {
      const uint32_t block = takeBlock();
      const uint32_t n = std::min(kBlockSize, to - at);
      std::memcpy(blockData(block), data + (at - start), n);
      if (seg.len == 0) {
        seg.first_block = block;
      } else {
        blockNext(seg.last_block) = block;
      }
      seg.last_block = block;
      at += n;
      seg.len += n;
    }
  };
  const auto piece = [&](uint32_t prev, uint32_t next, uint32_t from, uint32_t to) {
    if (!store) return;
    st.buffered_bytes_ += to - from;
    buffered_bytes_ += to - from;
    if (appendable(st, prev, from, to - from)) {
      copyIn(segment(prev), from, to);
      return;
    }
    const uint32_t index = takeSegment();
    Segment& seg = segment(index);
    seg.seq = st.next_seq_ + from;
    seg.len = 0;
    seg.next = next;
    seg.ts = ts;
    copyIn(seg, from, to);
    if (prev == 0) {
      st.head_ = index;
    } else {
      segment(prev).next = index;
    }
    if (next == 0) st.tail_ = index;
    ++st.buffered_segments_;
  };
  const auto overlap = [&](uint32_t index, uint32_t offset, uint32_t from, uint32_t to) {
    if (!sameBytes(segment(index), offset, data + (from - start), to - from)) conflict = true;
    stats_.retransmitted_bytes.add(to - from);
  };
  walk(st, start, start + len, piece, overlap);
  if (conflict) stats_.overlap_conflicts.add();
}

// `data` starts at next_seq_ and ends at or before the FIN. Buffered bytes win
// where they overlap it (they came first).
void TcpReassembler::deliverInOrder(TcpStream& st, const uint8_t* data, uint32_t len, Timestamp ts,
                                    TcpStreamConsumer& out) {
  bool conflict = false;
  uint32_t done = 0;
  while (done < len) {
    if (st.ended()) {
      stats_.discarded_bytes.add(len - done);
      break;
    }
    if (st.head_ != 0 && segment(st.head_).seq == st.next_seq_) {
      const uint32_t overlap = std::min(len - done, segment(st.head_).len);
      if (!sameBytes(segment(st.head_), 0, data + done, overlap)) conflict = true;
      stats_.retransmitted_bytes.add(overlap);
      done += overlap;
      deliverHead(st, out);
      continue;
    }
    uint32_t chunk = len - done;
    if (st.head_ != 0) chunk = std::min(chunk, segment(st.head_).seq - st.next_seq_);
    const uint32_t delivered = deliver(st, data + done, chunk, ts, out);
    done += delivered;
    if (delivered < chunk) {
      stats_.discarded_bytes.add(len - done);
      break;
    }
  }
  if (conflict) stats_.overlap_conflicts.add();
  drain(st, out);
}

// Hands `len` bytes at next_seq_ to the consumer, up to the depth limit.
// Returns how many went; fewer than `len` means the stream ended.
uint32_t TcpReassembler::deliver(TcpStream& st, const uint8_t* data, uint32_t len, Timestamp ts,
                                 TcpStreamConsumer& out) {
  if (len == 0) return 0;
  uint32_t allowed = len;
  if (config_.max_stream_depth != 0) {
    if (st.delivered_bytes_ >= config_.max_stream_depth) {
      endStream(st, StreamEnd::kDepthLimit, out);
      return 0;
    }
    allowed = static_cast<uint32_t>(std::min<uint64_t>(len, config_.max_stream_depth - st.delivered_bytes_));
  }
  st.flags_ |= TcpStream::kStarted;
  out.onStreamData(data, allowed, ts);
  st.next_seq_ += allowed;
  st.delivered_bytes_ += allowed;
  stats_.bytes_delivered.add(allowed);
  if (allowed < len) {
    endStream(st, StreamEnd::kDepthLimit, out);
  } else if ((st.flags_ & TcpStream::kFinPending) && st.next_seq_ == st.fin_seq_) {
    endStream(st, StreamEnd::kFin, out);
  }
  return allowed;
}

// Skips `len` (> 0) missing bytes at next_seq_. Returns false when the depth
// limit ended the stream instead.
bool TcpReassembler::gap(TcpStream& st, uint32_t len, Counter& cause, TcpStreamConsumer& out) {
  if (config_.max_stream_depth != 0 && st.delivered_bytes_ >= config_.max_stream_depth) {
    endStream(st, StreamEnd::kDepthLimit, out);
    return false;
  }
  st.flags_ |= TcpStream::kStarted;
  out.onStreamGap(len);
  st.next_seq_ += len;
  st.gap_bytes_ += len;
  stats_.gaps.add();
  stats_.gap_bytes.add(len);
  cause.add();
  if ((st.flags_ & TcpStream::kFinPending) && st.next_seq_ == st.fin_seq_) endStream(st, StreamEnd::kFin, out);
  return true;
}

void TcpReassembler::drain(TcpStream& st, TcpStreamConsumer& out) {
  while (!st.ended() && st.head_ != 0 && segment(st.head_).seq == st.next_seq_) deliverHead(st, out);
}

// Delivers the first buffered segment (it starts at next_seq_) up to the FIN,
// then frees it; what the stream's end left undelivered is counted released.
void TcpReassembler::deliverHead(TcpStream& st, TcpStreamConsumer& out) {
  const uint32_t index = st.head_;
  const Segment seg = segment(index);
  st.head_ = seg.next;
  if (st.head_ == 0) st.tail_ = 0;
  st.buffered_bytes_ -= seg.len;
  --st.buffered_segments_;
  uint32_t available = seg.len;
  if (st.flags_ & TcpStream::kFinPending) available = std::min(available, st.fin_seq_ - st.next_seq_);
  uint32_t done = 0;
  uint32_t block = seg.first_block;
  while (done < available) {
    const uint32_t chunk = std::min(kBlockSize, available - done);
    const uint32_t delivered = deliver(st, blockData(block), chunk, seg.ts, out);
    done += delivered;
    if (delivered < chunk) break;
    block = blockNext(block);
  }
  if (done < seg.len) {
    stats_.released_at_end_segments.add();
    stats_.released_at_end_bytes.add(seg.len - done);
  }
  freeSegment(index);
}

// Skips holes (and delivers the buffered data after each) until next_seq_
// reaches `target`, which is serially at or before seen_end_ or the FIN.
void TcpReassembler::skipHoles(TcpStream& st, uint32_t target, Counter& cause, TcpStreamConsumer& out) {
  while (!st.ended() && serialDiff(target, st.next_seq_) > 0) {
    uint32_t hole = target - st.next_seq_;
    if (st.head_ != 0) hole = std::min(hole, segment(st.head_).seq - st.next_seq_);
    if (hole == 0) return;  // cannot happen (buffered data starts past next_seq_); never spin
    if (!gap(st, hole, cause, out)) return;
    drain(st, out);
  }
}

void TcpReassembler::onPeerAck(TcpStream& st, uint32_t ack, TcpStreamConsumer& out) {
  if (!st.synced() || serialDiff(ack, st.next_seq_) <= 0) return;
  // Never past the last byte seen: beyond it there is no hole, only bytes not
  // sent yet or an ACK not to be trusted.
  const uint32_t limit = (st.flags_ & TcpStream::kFinPending) ? st.fin_seq_ : st.seen_end_;
  const uint32_t target = ack - st.next_seq_ < limit - st.next_seq_ ? ack : limit;
  skipHoles(st, target, stats_.gaps_peer_ack, out);
}

void TcpReassembler::close(TcpStream& st, StreamEnd reason, TcpStreamConsumer& out) {
  if (st.state_ == TcpStream::State::kNew) {
    st.state_ = TcpStream::State::kEnded;
    return;
  }
  if (st.ended()) return;
  const uint32_t target = (st.flags_ & TcpStream::kFinPending) ? st.fin_seq_ : st.seen_end_;
  skipHoles(st, target, stats_.gaps_close, out);
  if (!st.ended()) endStream(st, reason, out);
}

void TcpReassembler::recordFin(TcpStream& st, uint32_t fin_seq, TcpStreamConsumer& out) {
  if (st.flags_ & TcpStream::kFinPending) {
    if (fin_seq != st.fin_seq_) stats_.ignored_fins.add();
    return;
  }
  // Behind next_seq_, bytes past it were already delivered: that FIN is wrong.
  const int32_t ahead = serialDiff(fin_seq, st.next_seq_);
  if (ahead < 0 || ahead > int32_t{kTcpReassemblyWindow}) {
    stats_.ignored_fins.add();
    return;
  }
  st.flags_ |= TcpStream::kFinPending;
  st.fin_seq_ = fin_seq;
  if (ahead == 0) endStream(st, StreamEnd::kFin, out);
}

void TcpReassembler::endStream(TcpStream& st, StreamEnd reason, TcpStreamConsumer& out) {
  releaseAll(st);
  st.state_ = TcpStream::State::kEnded;
  st.end_reason_ = reason;
  if (reason == StreamEnd::kDepthLimit) stats_.depth_limited_streams.add();
  if (st.started()) out.onStreamEnd(reason);
}

void TcpReassembler::releaseAll(TcpStream& st) {
  for (uint32_t i = st.head_; i != 0;) {
    const uint32_t next = segment(i).next;
    stats_.released_at_end_segments.add();
    stats_.released_at_end_bytes.add(segment(i).len);
    freeSegment(i);
    i = next;
  }
  st.head_ = st.tail_ = 0;
  st.buffered_bytes_ = 0;
  st.buffered_segments_ = 0;
}

}  // namespace tapflow
