// Counters of IP defragmentation.
#pragma once

#include "ops/counter.h"

namespace tapflow {

#define TF_DEFRAG_STATS(C)                                                                   \
  C(fragments, "IP fragments given to the defragmenter")                                     \
  C(datagrams_reassembled, "Datagrams rebuilt from their fragments")                         \
  C(dropped_overlap, "Datagrams dropped because two fragments overlapped (RFC 5722)")        \
  C(dropped_timeout, "Datagrams dropped because a fragment never came before the timeout")   \
  C(dropped_tracker_limit, "Fragments dropped: no free datagram tracker (defrag.max_datagrams)") \
  C(dropped_memory_limit, "Fragments dropped: fragment bytes over defrag.max_bytes")         \
  C(dropped_fragment_limit, "Datagrams dropped: more fragments than defrag.max_fragments_per_datagram") \
  C(dropped_too_large, "Datagrams dropped: reassembled size over 65535 bytes")               \
  C(dropped_malformed, "Fragments dropped: zero length, bad offset or inconsistent last fragment") \
  C(dropped_truncated, "Fragments dropped: captured shorter than their IP length (snap length)")  \
  C(dropped_dead_datagram, "Fragments dropped: their datagram was already dropped and is remembered until the timeout")

struct DefragStats {
  TF_DEFRAG_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_DEFRAG_STATS(TF_VISIT_COUNTER)
  }
};

}  // namespace tapflow
