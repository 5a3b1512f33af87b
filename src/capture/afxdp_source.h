// Live capture with AF_XDP, the default live source: one socket and UMEM per
// RX queue, fed by tapflow's XDP program (xdp/), one capture thread each.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "capture/packet_source.h"
#include "capture/xdp_program.h"
#include "ops/counter.h"
#include "packet/decoded_packet.h"

namespace tapflow {

// Counters of one AF_XDP capture thread. The kernel's own drop counters
// (XDP_STATISTICS) are read from the socket when metrics are collected.
#define TF_AFXDP_STATS(C)                                                                               \
  C(batches, "Non-empty batches of descriptors taken from the RX ring")                                 \
  C(polls, "poll() calls made while the RX ring was empty")                                             \
  C(busy_polls, "recvfrom() calls that drove busy polling while the RX ring was empty")                  \
  C(wakeups, "Wake-ups the kernel asked for after the fill ring was refilled (need_wakeup)")            \
  C(socket_errors, "Polls that found the socket in error (interface gone or down); the thread backs off 100 ms") \
  C(dropped_invalid_descriptor, "RX descriptors pointing outside their UMEM frame, skipped")

struct AfXdpStats {
  TF_AFXDP_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_AFXDP_STATS(TF_VISIT_COUNTER)
  }
};

// The kernel's per-socket drop counters (getsockopt SOL_XDP, XDP_STATISTICS).
struct XskKernelStats {
  uint64_t rx_dropped = 0;                // no room or another reason (includes fill ring empty)
  uint64_t rx_invalid_descs = 0;
  uint64_t rx_ring_full = 0;              // the RX ring was full: tapflow did not keep up
  uint64_t rx_fill_ring_empty_descs = 0;  // no free frame in the fill ring
};

// One AF_XDP source per (interface, queue) of config.interfaces and
// config.queues (empty: every RX queue of each interface), with one XDP
// program per interface carrying config.filter. The sockets are registered
// before the program is attached, so no packet it redirects finds a queue
// without its socket. Throws CaptureSetupError naming what is missing
// (CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF, RLIMIT_MEMLOCK, the interface, AF_XDP
// support in the kernel, zero-copy when capture.afxdp.zero_copy is "on").
std::vector<std::unique_ptr<PacketSource>> makeAfXdpSources(const CaptureConfig& config);

// Rewrites the target sets of the XDP programs behind `sources` (each program
// once) without reattaching: AF_XDP sources, also those capturing mirror
// mode's veth. Sources without an XDP program are skipped; returns
// how many programs were updated. Throws std::invalid_argument for a bad entry.
size_t updateAfXdpTargets(const std::vector<std::unique_ptr<PacketSource>>& sources,
                          const CaptureFilterConfig& filter);

// RX queues of an interface: ethtool's channel counts (ETHTOOL_GCHANNELS:
// combined + rx-only), else the rx-* entries in /sys/class/net/IF/queues;
// 0 when neither can be read.
uint32_t rxQueueCount(const std::string& interface);

// capture.afxdp values the kernel would refuse, as a CaptureSetupError.
void checkAfXdpConfig(const AfXdpConfig& config);

class AfXdpSource : public PacketSource {
 public:
  // Maps and registers the UMEM, creates the socket bound to `queue` (zero-copy
  // first when config.zero_copy allows, else copy mode), fills the fill ring
  // and registers the socket in the program's XSK map. `reports_program`: this
  // source also exposes the program's counters (one source per interface does).
  AfXdpSource(std::shared_ptr<XdpProgram> program, uint32_t queue, const AfXdpConfig& config, uint32_t snaplen,
              bool reports_program);
  ~AfXdpSource() override;
  AfXdpSource(const AfXdpSource&) = delete;
  AfXdpSource& operator=(const AfXdpSource&) = delete;

  const std::string& name() const override { return name_; }
  bool isOffline() const override { return false; }
  void run(Handoff& handoff, const std::atomic<bool>& stop) override;
  Timestamp lastTimestamp() const override { return last_ts_.load(std::memory_order_relaxed); }
  const CaptureStats& stats() const override { return stats_; }
  const DecodeStats& decodeStats() const override { return decode_stats_; }
  void collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const override;

  const std::string& interface() const { return interface_; }
  uint32_t queue() const { return queue_; }
  bool zeroCopy() const { return zero_copy_; }
  // Why zero-copy was not used ("" when it is, or when it was not asked for).
  const std::string& copyModeReason() const { return copy_mode_reason_; }
  XdpProgram& program() const { return *program_; }
  XdpProgram* xdpProgram() const override { return program_.get(); }
  const AfXdpStats& afXdpStats() const { return af_stats_; }
  // Read from the socket now; false when the kernel refused.
  bool kernelStats(XskKernelStats& out) const;
  // Frames in the fill ring (free for the kernel to receive into) and in the
  // RX ring (received, waiting for the capture thread).
  uint32_t fillRingFrames() const;
  uint32_t rxRingFrames() const;

 private:
  // Creates the UMEM registration and the socket; returns 0 or a negative errno,
  // leaving nothing behind on failure.
  int createSocket(bool zero_copy);
  void destroySocket();
  void refill();

  // Declared first so it is destroyed last: the program outlives the socket.
  std::shared_ptr<XdpProgram> program_;
  std::string interface_;
  std::string name_;
  uint32_t queue_;
  AfXdpConfig config_;
  uint32_t snaplen_;
  bool reports_program_;
  bool zero_copy_ = false;
  std::string copy_mode_reason_;

  uint8_t* umem_area_ = nullptr;
  uint64_t umem_bytes_ = 0;
  // libxdp's socket, UMEM and rings, kept out of this header: <xdp/xsk.h>
  // brings libbpf's headers, which clash with libpcap's where both are seen.
  struct Socket;
  std::unique_ptr<Socket> sock_;
  // Frames owned by user space, not in any ring: given to the fill ring after
  // every batch. Sized once for every frame, so recycling never allocates.
  std::vector<uint64_t> free_frames_;
  uint32_t free_count_ = 0;

  DecodedPacket pkt_;
  std::atomic<Timestamp> last_ts_{0};
  CaptureStats stats_;
  DecodeStats decode_stats_;
  AfXdpStats af_stats_;
};

}  // namespace tapflow
