// DPDK capture: ports owned by DPDK (physical NICs bound to vfio-pci, or
// virtual devices such as net_pcap, net_af_packet, net_af_xdp), one source per RX queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "app/config.h"
#include "capture/packet_source.h"
#include "ops/counter.h"

namespace tapflow {

// A port's own counters (rte_eth_stats), copied once a second by the capture
// thread of the port's queue 0: some PMDs read them with syscalls or from
// state the RX path updates, so the metrics thread never calls DPDK itself.
#define TF_DPDK_STATS(C)                                                                           \
  C(rx_packets, "Packets the port received (rte_eth_stats ipackets)")                              \
  C(rx_bytes, "Bytes the port received (rte_eth_stats ibytes)")                                    \
  C(imissed, "Packets the port dropped with its RX queues full: capture fell behind (imissed)")   \
  C(rx_nombuf, "Packets dropped because the mbuf pool was empty (rte_eth_stats rx_nombuf)")        \
  C(ierrors, "Erroneous packets the port received (rte_eth_stats ierrors)")

struct DpdkPortStats {
  TF_DPDK_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_DPDK_STATS(TF_VISIT_COUNTER)
  }
};

// What one RX queue's capture thread did.
#define TF_DPDK_QUEUE_STATS(C)                                                                     \
  C(polls, "rte_eth_rx_burst calls that returned packets")                                         \
  C(empty_polls, "rte_eth_rx_burst calls that returned nothing (the queue was idle)")              \
  C(multi_segment, "Packets that arrived as a chain of mbufs, copied into one buffer to decode")   \
  C(vlan_reinserted, "Packets whose VLAN tag the device had stripped, put back before decoding")   \
  C(vlan_reinsert_failed, "Stripped VLAN tags that could not be put back (no headroom): untagged")

struct DpdkQueueStats {
  TF_DPDK_QUEUE_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_DPDK_QUEUE_STATS(TF_VISIT_COUNTER)
  }
};

// A Toeplitz RSS key of one repeated 16-bit pattern (0x6d5a): the hash of
// (src, dst, sport, dport) equals that of (dst, src, dport, sport), for IPv4
// and IPv6, so both directions of a flow reach the same RX queue (Woo and
// Park, "Scalable TCP Session Monitoring with Symmetric Receive-side Scaling").
inline std::vector<uint8_t> symmetricRssKey(size_t bytes) {
  std::vector<uint8_t> key(bytes);
  for (size_t i = 0; i < bytes; ++i) key[i] = (i % 2 == 0) ? 0x6d : 0x5a;
  return key;
}

// Initialises DPDK's EAL with config.dpdk.eal_args, configures and starts the
// ports (config.dpdk.ports, or every port DPDK found) with rx_queues RX
// queues each and a symmetric RSS key, and returns one source per (port,
// queue), named "dpdk:<port>:<queue>". The EAL runs once per process: a second
// call throws. Everything is undone when the last source is destroyed: ports
// stopped and closed, EAL cleaned up, its runtime directory removed.
// Throws CaptureSetupError naming what is missing (EAL arguments, hugepages,
// ports, queues, memory).
std::vector<std::unique_ptr<PacketSource>> makeDpdkSources(const CaptureConfig& config);

}  // namespace tapflow
