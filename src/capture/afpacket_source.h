// Live capture with AF_PACKET for hosts where XDP cannot be used: one
// TPACKET_V3 ring per socket, the sockets of an interface joined in a fanout group.
#pragma once

#include <linux/if_packet.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "capture/packet_source.h"
#include "ops/counter.h"
#include "packet/decoded_packet.h"

namespace tapflow {

// The kernel's ring statistics (PACKET_STATISTICS, which resets on every read,
// so the capture thread accumulates them here) and what the ring walker found.
#define TF_AFPACKET_STATS(C)                                                                          \
  C(kernel_packets, "Packets the kernel passed to this socket, the ones it dropped included (tp_packets)") \
  C(dropped_ring_full, "Packets the kernel dropped because this socket's ring was full (tp_drops)")       \
  C(ring_freezes, "Times the kernel froze the ring's queue because every block was in use (tp_freeze_q_cnt)") \
  C(dropped_bad_frame, "Packets left unread because a frame header pointed outside its ring block")     \
  C(blocks, "Ring blocks the kernel handed over and the capture thread returned")                      \
  C(vlan_restored, "Packets whose VLAN tag the kernel had moved out of the frame, put back as on the wire") \
  C(interface_down, "Times the socket reported its interface down (ENETDOWN)")

struct AfPacketStats {
  TF_AFPACKET_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_AFPACKET_STATS(TF_VISIT_COUNTER)
  }
};

// Sockets (one capture thread each) for every interface of config.interfaces,
// config.afpacket.threads per interface. Throws CaptureSetupError naming what
// is missing (CAP_NET_RAW, the interface, a ring size the kernel refuses).
std::vector<std::unique_ptr<PacketSource>> makeAfPacketSources(const CaptureConfig& config);

// Ring geometry handed to PACKET_RX_RING.
struct AfPacketRingLayout {
  uint32_t block_size = 0;
  uint32_t block_count = 0;
  uint32_t frame_size = 0;   // TPACKET_V3 places frames freely; the kernel still checks this
  uint32_t frame_count = 0;
  uint32_t retire_ms = 0;    // a partly filled block is handed over after this
};

// Checks config.afpacket against the page size; throws CaptureSetupError.
AfPacketRingLayout afPacketRingLayout(const AfPacketConfig& config, long page_size);
// PACKET_FANOUT_* for "hash", "cpu", "lb"; throws CaptureSetupError otherwise.
int afPacketFanoutType(const std::string& mode);
// Fanout group id used when the kernel cannot pick a free one
// (PACKET_FANOUT_FLAG_UNIQUEID): distinct per process and interface.
uint16_t afPacketFanoutGroupId(pid_t pid, int ifindex);

// One packet of a TPACKET_V3 block, its header already checked against the block.
struct AfPacketFrame {
  const uint8_t* data = nullptr;  // link-layer header
  uint32_t cap_len = 0;           // bytes in the ring (tp_snaplen)
  uint32_t wire_len = 0;          // bytes on the wire (tp_len)
  uint32_t status = 0;            // TP_STATUS_*
  uint32_t sec = 0;
  uint32_t nsec = 0;
  uint16_t vlan_tci = 0;
  uint16_t vlan_tpid = 0;
  uint8_t pkttype = 0;            // PACKET_HOST, PACKET_OUTGOING, ...
};

// Calls fn(const AfPacketFrame&) for each packet of the block at `block`
// (block_size bytes). Every offset the kernel wrote is checked against the
// block before it is followed; a bad one ends the walk. Returns the packets
// the block announced but the walk could not deliver.
template <typename Fn>
uint32_t forEachAfPacketFrame(const uint8_t* block, size_t block_size, Fn&& fn) {
  if (block_size < sizeof(tpacket_block_desc)) return 0;
  tpacket_hdr_v1 bh;
  std::memcpy(&bh, &reinterpret_cast<const tpacket_block_desc*>(block)->hdr.bh1, sizeof(bh));
  constexpr size_t kSllOffset = TPACKET_ALIGN(sizeof(tpacket3_hdr));
  size_t off = bh.offset_to_first_pkt;
  for (uint32_t i = 0; i < bh.num_pkts; ++i) {
    if (off < sizeof(tpacket_block_desc) || off > block_size || block_size - off < sizeof(tpacket3_hdr)) {
      return bh.num_pkts - i;
    }
    tpacket3_hdr h;
    std::memcpy(&h, block + off, sizeof(h));
    if (h.tp_mac > block_size - off || h.tp_snaplen > block_size - off - h.tp_mac) return bh.num_pkts - i;
    AfPacketFrame f;
    f.data = block + off + h.tp_mac;
    f.cap_len = h.tp_snaplen;
    f.wire_len = h.tp_len;
    f.status = h.tp_status;
    f.sec = h.tp_sec;
    f.nsec = h.tp_nsec;
    f.vlan_tci = uint16_t(h.hv1.tp_vlan_tci);
    f.vlan_tpid = h.hv1.tp_vlan_tpid;
    // The kernel puts a sockaddr_ll between the header and the packet.
    if (h.tp_mac >= kSllOffset + sizeof(sockaddr_ll)) {
      std::memcpy(&f.pkttype, block + off + kSllOffset + offsetof(sockaddr_ll, sll_pkttype), 1);
    }
    fn(f);
    if (i + 1 < bh.num_pkts) {
      if (h.tp_next_offset == 0) return bh.num_pkts - i - 1;
      off += h.tp_next_offset;
    }
  }
  return 0;
}

// Puts back the 802.1Q/802.1ad tag the kernel moved into the frame header (as
// libpcap does, so flows keep their VLAN). Writes the frame with the tag into
// `out` (at least cap_len + 4 bytes); returns its length, or 0 when the frame is
// shorter than two MAC addresses.
uint32_t restoreVlanTag(const uint8_t* frame, uint32_t cap_len, uint16_t tpid, uint16_t tci, uint8_t* out);

class AfPacketSource : public PacketSource {
 public:
  // Opens the socket, maps its ring, binds it to the interface and enables
  // promiscuous mode. Throws CaptureSetupError.
  AfPacketSource(const std::string& interface, int ifindex, uint32_t socket_index, LinkType link,
                 bool loopback, const AfPacketRingLayout& layout, uint32_t snaplen);
  ~AfPacketSource() override;
  AfPacketSource(const AfPacketSource&) = delete;
  AfPacketSource& operator=(const AfPacketSource&) = delete;

  // PACKET_FANOUT with `arg` (group id | type and flags << 16); returns 0 or errno.
  int joinFanout(uint32_t arg);
  // The group the kernel put this socket in (PACKET_FANOUT getsockopt).
  uint32_t fanoutArg() const;

  const std::string& name() const override { return name_; }
  bool isOffline() const override { return false; }
  void run(Handoff& handoff, const std::atomic<bool>& stop) override;
  Timestamp lastTimestamp() const override { return last_ts_; }
  const CaptureStats& stats() const override { return stats_; }
  const DecodeStats& decodeStats() const override { return decode_stats_; }
  const AfPacketStats& afPacketStats() const { return af_stats_; }
  void collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const override;

 private:
  void processBlock(const uint8_t* block, Handoff& handoff);
  void readKernelStats();
  void checkSocketError();

  std::string interface_;
  std::string name_;
  uint32_t socket_index_;
  LinkType link_;
  bool loopback_;
  AfPacketRingLayout layout_;
  uint32_t snaplen_;
  int fd_ = -1;
  uint8_t* ring_ = nullptr;
  size_t ring_bytes_ = 0;
  bool interface_down_ = false;
  std::vector<uint8_t> scratch_;  // a frame with its VLAN tag restored
  DecodedPacket pkt_;
  Timestamp last_ts_ = 0;
  CaptureStats stats_;
  DecodeStats decode_stats_;
  AfPacketStats af_stats_;
};

}  // namespace tapflow
