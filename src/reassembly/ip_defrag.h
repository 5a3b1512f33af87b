// IPv4 and IPv6 defragmentation, one instance per worker.
// Bounded: a fixed pool of datagram trackers and a byte budget, both set at
// start-up; nothing is allocated per packet. Overlapping fragments drop the
// whole datagram (RFC 5722); datagrams not completed within the timeout are
// dropped. Every drop is counted by reason.
#pragma once

#include <cstdint>
#include <memory>

#include "packet/decoded_packet.h"
#include "reassembly/ip_defrag_stats.h"

namespace tapflow {

struct DefragConfig {
  uint32_t max_datagrams = 4096;              // trackers (datagrams in progress) per worker
  uint64_t max_bytes = 32ull << 20;           // fragment payload bytes held per worker
  uint32_t max_fragments_per_datagram = 64;
  Duration timeout = 30 * kNanosPerSecond;
};

// A datagram rebuilt from its fragments: the IP header of the first fragment
// (fragmentation fields cleared, lengths fixed) followed by the whole payload.
// `bytes` stays valid until the next call to add() or expire().
struct ReassembledDatagram {
  const uint8_t* bytes = nullptr;
  uint32_t len = 0;
  uint32_t fragment_count = 0;      // packets on the wire that made it up
  uint64_t fragment_ip_bytes = 0;   // sum of the fragments' IP total lengths
  Timestamp first_ts = 0;           // time of the earliest fragment
};

enum class DefragResult : uint8_t {
  kHeld,       // fragment stored, datagram not complete yet
  kComplete,   // `out` holds the reassembled datagram
  kDropped,    // fragment (and possibly its datagram) dropped; counted
};

class IpDefragmenter {
 public:
  explicit IpDefragmenter(const DefragConfig& config);
  ~IpDefragmenter();
  IpDefragmenter(const IpDefragmenter&) = delete;
  IpDefragmenter& operator=(const IpDefragmenter&) = delete;

  // `fragment` must have is_fragment set; its bytes must stay valid for the call only.
  DefragResult add(const DecodedPacket& fragment, ReassembledDatagram& out);

  // Drops datagrams whose first fragment is older than now - timeout.
  void expire(Timestamp now);

  uint32_t datagramsInProgress() const;
  uint64_t bytesHeld() const;
  const DefragStats& stats() const { return stats_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DefragStats stats_;
};

}  // namespace tapflow
