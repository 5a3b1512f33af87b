// Packet time: nanoseconds since the Unix epoch, as captured.
// All flow and fragment timeouts run on packet time, so offline runs are
// deterministic and live runs need no clock call per packet.
#pragma once

#include <time.h>

#include <cstdint>

namespace tapflow {

using Timestamp = int64_t;  // ns since 1970-01-01T00:00:00Z
using Duration = int64_t;   // ns

constexpr Duration kNanosPerSecond = 1'000'000'000;
constexpr Duration seconds(double s) { return static_cast<Duration>(s * 1e9); }

// Wall-clock time in the packet-time scale. Live sources call it once per
// burst (never per packet); workers call it only when idle.
inline Timestamp wallClockNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return Timestamp(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

}  // namespace tapflow
