// Counters of TCP stream reassembly, one set per worker.
// Every payload byte given to the reassembler ends in exactly one of these byte
// counters, or is still buffered (TcpReassembler::bufferedBytes()):
//   bytes_delivered, retransmitted_bytes, dropped_{flow_cap,worker_cap,out_of_window}_bytes,
//   released_at_end_bytes, discarded_bytes, bytes_after_end.
// The unit tests and the fuzz target check that sum against payload_bytes.
#pragma once

#include "ops/counter.h"

namespace tapflow {

#define TF_TCP_REASSEMBLY_STATS(C)                                                                                  \
  C(segments, "TCP segments given to stream reassembly")                                                            \
  C(payload_bytes, "Payload bytes of those segments")                                                               \
  C(bytes_delivered, "Stream bytes delivered in order to the analyzers, each once")                                 \
  C(retransmitted_bytes,                                                                                            \
    "Payload bytes at positions already delivered, skipped as a gap or buffered (retransmissions, "                 \
    "duplicates, late bytes): ignored")                                                                             \
  C(overlap_conflicts,                                                                                              \
    "Segments whose bytes differ from buffered bytes at the same positions (the first bytes are kept; bytes "       \
    "already delivered are not compared)")                                                                          \
  C(midstream_pickups, "Streams picked up without their SYN, at their first segment carrying payload")              \
  C(syn_resyncs, "Streams restarted by a SYN with another initial sequence before they delivered anything")         \
  C(out_of_order_segments, "Segments that arrived ahead of a hole in their stream (buffered, or dropped at a cap)") \
  C(gaps, "Holes skipped: runs of stream bytes that never arrived, reported to the analyzer as gaps")               \
  C(gap_bytes, "Stream bytes in those holes")                                                                       \
  C(gaps_flow_cap, "Holes skipped because the stream's out-of-order buffer was full (max_flow_buffered_*)")         \
  C(gaps_peer_ack, "Holes skipped because the other side acknowledged past them (lost by the capture)")             \
  C(gaps_close, "Holes skipped when the flow ended with bytes still buffered or missing")                           \
  C(dropped_flow_cap_segments,                                                                                      \
    "Out-of-order segments dropped: alone larger than a stream's buffer caps (max_flow_buffered_*)")                \
  C(dropped_flow_cap_bytes, "New bytes of those segments (parts already held are counted as retransmitted)")        \
  C(dropped_worker_cap_segments,                                                                                    \
    "Out-of-order segments dropped: the worker's buffer was full (max_buffered_segments, or max_buffered_bytes as " \
    "512-byte blocks)")                                                                                             \
  C(dropped_worker_cap_bytes, "New bytes of those segments (parts already held are counted as retransmitted)")      \
  C(dropped_out_of_window_segments, "Segments dropped: they end more than 1 GiB past the stream's next byte")       \
  C(dropped_out_of_window_bytes, "Payload bytes of those segments")                                                 \
  C(released_at_end_segments, "Buffered runs thrown away because their stream ended first (FIN, RST, depth limit)") \
  C(released_at_end_bytes, "Bytes of those segments that were not delivered")                                       \
  C(discarded_bytes, "Bytes thrown away on arrival: carried by a RST, past the FIN, or past the depth limit")       \
  C(ignored_fins, "FINs ignored: behind bytes already delivered, out of window, or unlike an earlier FIN")          \
  C(depth_limited_streams, "Streams ended at max_stream_depth delivered bytes; their later bytes are ignored")      \
  C(segments_after_end, "Segments with payload that arrived after their stream ended (FIN, RST, depth, close)")     \
  C(bytes_after_end, "Payload bytes of those segments")

struct TcpReassemblyStats {
  TF_TCP_REASSEMBLY_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_TCP_REASSEMBLY_STATS(TF_VISIT_COUNTER)
  }
};

}  // namespace tapflow
