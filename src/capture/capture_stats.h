// Counters of one capture thread.
#pragma once

#include "ops/counter.h"

namespace tapflow {

#define TF_CAPTURE_STATS(C)                                                            \
  C(packets, "Packets received from the source")                                       \
  C(bytes, "Bytes received from the source (captured length)")

struct CaptureStats {
  TF_CAPTURE_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_CAPTURE_STATS(TF_VISIT_COUNTER)
  }
};

}  // namespace tapflow
