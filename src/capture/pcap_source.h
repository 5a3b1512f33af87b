// Offline capture: a pcap or pcapng file read with libpcap, decoded on the
// capture thread and handed to the workers through the same path live
// capture uses. A file can wait, so the hand-off waits instead of dropping.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "capture/packet_source.h"
#include "packet/decoded_packet.h"

namespace tapflow {

// Maps libpcap's DLT_* value to the link type the decoder knows; false when
// tapflow cannot decode it. (Also used by perf/bench_engine.cc.)
bool linkTypeFromDlt(int dlt, LinkType& link);

class PcapFileSource : public PacketSource {
 public:
  // Opens the file; throws std::runtime_error naming it (and the link type
  // when tapflow cannot decode it).
  PcapFileSource(const std::string& path, uint32_t snaplen);
  ~PcapFileSource() override;

  const std::string& name() const override { return name_; }
  bool isOffline() const override { return true; }
  // Reads until the end of the file or until `stop` is set.
  void run(Handoff& handoff, const std::atomic<bool>& stop) override;
  Timestamp lastTimestamp() const override { return last_ts_; }
  const CaptureStats& stats() const override { return stats_; }
  const DecodeStats& decodeStats() const override { return decode_stats_; }
  const std::string& path() const { return path_; }

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
  std::string path_;
  std::string name_ = "pcap";
  uint32_t snaplen_;
  LinkType link_;
  Timestamp last_ts_ = 0;
  CaptureStats stats_;
  DecodeStats decode_stats_;
};

}  // namespace tapflow
