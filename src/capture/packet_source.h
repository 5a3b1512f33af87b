// What every capture source provides to the pipeline. A source runs on its own
// capture thread, decodes what it receives and hands it to the workers; one
// source instance per capture thread (per RX queue for live sources).
#pragma once

#include <atomic>
#include <stdexcept>
#include <string>

#include "capture/capture_stats.h"
#include "ops/metrics.h"
#include "packet/decode_stats.h"
#include "packet/timestamp.h"
#include "worker/handoff.h"

namespace tapflow {

class XdpProgram;

// A source could not be set up (missing capability, kernel feature, device,
// memlock limit...). what() names the missing thing; tapflow exits 2.
class CaptureSetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PacketSource {
 public:
  virtual ~PacketSource() = default;

  // A short name for logs and metric labels, e.g. "pcap", "afxdp:eth0:2".
  virtual const std::string& name() const = 0;

  // True for files: the hand-off may wait for workers instead of dropping.
  virtual bool isOffline() const = 0;

  // Captures until the source ends (files) or `stop` is set; hands every
  // decoded packet to `handoff` and flushes it at the end of each burst.
  virtual void run(Handoff& handoff, const std::atomic<bool>& stop) = 0;

  // Newest packet time seen: the clock the workers expire flows against at the end.
  virtual Timestamp lastTimestamp() const = 0;

  virtual const CaptureStats& stats() const = 0;
  virtual const DecodeStats& decodeStats() const = 0;

  // Source-specific metrics (kernel ring statistics and the like), labelled
  // with `labels`. Called from the metrics thread.
  virtual void collectMetrics(MetricsWriter& /*metrics*/, const MetricLabels& /*labels*/) const {}

  // The XDP program that chooses what this source receives (AF_XDP, also
  // behind mirror mode's wrapper); nullptr for sources without one.
  virtual XdpProgram* xdpProgram() const { return nullptr; }
};

}  // namespace tapflow
