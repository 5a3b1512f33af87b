// Offline capture: a pcap or pcapng file, decoded on the capture thread and
// handed to the workers through the same path live capture uses. A file can
// wait, so the hand-off waits instead of dropping. Classic pcap files are
// mapped, walked and handed to the workers in place (no copy of a packet);
// pcapng, pipes and FIFOs are read with libpcap.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "capture/packet_source.h"
#include "packet/decoded_packet.h"

namespace tapflow {

// Maps libpcap's DLT_* value to the link type the decoder knows; false when
// tapflow cannot decode it. (Also used by perf/bench_engine.cc.)
bool linkTypeFromDlt(int dlt, LinkType& link);

// One record of a capture file as libpcap hands it over: `data` holds
// `caplen` bytes (already cut to the file's snapshot length), `len` is the
// length on the wire, `ts` nanoseconds since the epoch.
struct PcapRecord {
  const uint8_t* data = nullptr;
  uint32_t caplen = 0;
  uint32_t len = 0;
  Timestamp ts = 0;
};

enum class PcapReadResult : uint8_t { kRecord, kEnd, kError };

// What a classic pcap file header says about its records, as libpcap
// interpreted it (byte order, time unit, the caplen/len order of old
// versions, the snapshot length after libpcap's adjustment).
struct PcapRecordLayout {
  enum class LengthOrder : uint8_t { kCaplenFirst, kLenFirst, kLenFirstWhenCaplenLarger };
  bool swapped = false;  // written in the other byte order
  bool nanoseconds = false;
  LengthOrder lengths = LengthOrder::kCaplenFirst;
  uint32_t snapshot = 262144;
  // libpcap refuses records larger than this (max_snaplen_for_dlt: 256 KiB
  // for every link type tapflow decodes): a damaged or fuzzed file.
  uint32_t max_caplen = 262144;
};

// Walks the records of a classic pcap file held in memory (the mapping),
// starting after the 24-byte file header. Same records, same cuts and the
// same error texts as libpcap's reader (sf-pcap.c), so both paths behave
// alike; the bytes are never copied.
class PcapRecordWalker {
 public:
  static constexpr size_t kFileHeaderBytes = 24;
  static constexpr size_t kRecordHeaderBytes = 16;
  // How far ahead of the walk to prefetch: a few packets (2 KiB and 8 KiB
  // measured alike, both well ahead of no prefetch).
  static constexpr size_t kPrefetchBytes = 2048;

  enum class Step : uint8_t {
    kRecord,
    kEnd,        // no bytes left after the last whole record
    kTruncated,  // the bytes end inside a record; more may come (growing file)
    kInvalid,    // a record libpcap refuses (caplen too large); error() says why
  };

  explicit PcapRecordWalker(const PcapRecordLayout& layout) : layout_(layout) {}

  // The file's bytes: called again with a longer view when the file grew
  // (the walk goes on from where it was).
  void setBytes(const uint8_t* bytes, size_t size) {
    bytes_ = bytes;
    size_ = size;
  }
  Step next(PcapRecord& record);
  // libpcap's text for the last kTruncated or kInvalid.
  std::string error() const;
  size_t offset() const { return offset_; }

 private:
  PcapRecordLayout layout_;
  const uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
  size_t offset_ = kFileHeaderBytes;
  size_t prefetched_ = kFileHeaderBytes;  // lines before it were prefetched
  // For error(): what the failed step tried to read and what there was.
  Step last_ = Step::kRecord;
  bool header_short_ = false;
  uint32_t wanted_ = 0;
  size_t available_ = 0;
  uint32_t bad_caplen_ = 0;
};

class PcapFileSource : public PacketSource {
 public:
  enum class ReadMode : uint8_t {
    kMapClassicPcap,  // classic pcap in a regular file: mapped; else libpcap
    kLibpcapOnly,     // tests compare the two paths with it
  };

  // Opens the file; throws std::runtime_error naming it (and the link type
  // when tapflow cannot decode it).
  PcapFileSource(const std::string& path, uint32_t snaplen, ReadMode mode = ReadMode::kMapClassicPcap);
  ~PcapFileSource() override;

  const std::string& name() const override { return name_; }
  bool isOffline() const override { return true; }
  // Reads until the end of the file or until `stop` is set.
  void run(Handoff& handoff, const std::atomic<bool>& stop) override;
  Timestamp lastTimestamp() const override { return last_ts_; }
  const CaptureStats& stats() const override { return stats_; }
  const DecodeStats& decodeStats() const override { return decode_stats_; }
  const std::string& path() const { return path_; }

  // The next record, before tapflow's snaplen cut; on kError readError()
  // says why (libpcap's words on both paths). run() is built on it.
  PcapReadResult readRecord(PcapRecord& record);
  const std::string& readError() const { return read_error_; }
  // True when the file is walked in place rather than read by libpcap.
  bool isMapped() const;

 private:
  struct Handle;
  bool remapIfGrown();

  std::unique_ptr<Handle> handle_;
  std::string path_;
  std::string name_ = "pcap";
  uint32_t snaplen_;
  LinkType link_;
  Timestamp last_ts_ = 0;
  std::string read_error_;
  CaptureStats stats_;
  DecodeStats decode_stats_;
};

}  // namespace tapflow
