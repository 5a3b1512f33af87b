// Offline capture: a pcap or pcapng file read with libpcap, decoded on the
// capture thread and handed to the workers through the same path live
// capture uses. A file can wait, so the hand-off waits instead of dropping.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "capture/capture_stats.h"
#include "packet/decode_stats.h"
#include "packet/decoded_packet.h"
#include "worker/handoff.h"

namespace tapflow {

class PcapFileSource {
 public:
  // Opens the file; throws std::runtime_error naming it (and the link type
  // when tapflow cannot decode it).
  PcapFileSource(const std::string& path, uint32_t snaplen);
  ~PcapFileSource();

  // Reads until the end of the file or until `stop` is set; flushes the hand-off.
  void run(Handoff& handoff, const std::atomic<bool>& stop);

  // Newest packet time seen (the offline clock at the end of the file).
  Timestamp lastTimestamp() const { return last_ts_; }
  const CaptureStats& stats() const { return stats_; }
  const DecodeStats& decodeStats() const { return decode_stats_; }
  const std::string& path() const { return path_; }

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
  std::string path_;
  uint32_t snaplen_;
  LinkType link_;
  Timestamp last_ts_ = 0;
  CaptureStats stats_;
  DecodeStats decode_stats_;
};

}  // namespace tapflow
