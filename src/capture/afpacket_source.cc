#include "capture/afpacket_source.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ops/log.h"
#include "packet/decoder.h"

namespace tapflow {
namespace {

constexpr int kPollTimeoutMs = 100;           // how often an idle capture thread looks at `stop`
constexpr Duration kStatsInterval = kNanosPerSecond;  // PACKET_STATISTICS read (and reset) period
constexpr uint32_t kFrameSize = 2048;         // only sizes tp_frame_nr: TPACKET_V3 frames are variable
constexpr uint32_t kVlanTagLen = 4;

std::string errnoText(int err) { return std::strerror(err); }

[[noreturn]] void throwSocketError(const std::string& interface, const char* call, int err) {
  if (err == EPERM || err == EACCES) {
    throw CaptureSetupError("CAP_NET_RAW is needed to capture on " + interface + " with AF_PACKET (" + call +
                            ": " + errnoText(err) + ")");
  }
  if (err == EAFNOSUPPORT) {
    throw CaptureSetupError("AF_PACKET sockets (kernel CONFIG_PACKET) are needed to capture on " + interface);
  }
  throw CaptureSetupError("cannot open an AF_PACKET socket on " + interface + " (" + call + ": " + errnoText(err) +
                          ")");
}

Timestamp coarseNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Timestamp(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

// How the frames of the interface start, from its ARPHRD type.
void probeLinkType(const std::string& interface, LinkType& link, bool& loopback) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) throwSocketError(interface, "socket", errno);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
  int err = errno;
  close(fd);
  if (rc != 0) {
    if (err == ENODEV) throw CaptureSetupError("interface " + interface + " does not exist");
    throw CaptureSetupError("cannot read the link type of interface " + interface + ": " + errnoText(err));
  }
  loopback = false;
  switch (ifr.ifr_hwaddr.sa_family) {
    case ARPHRD_ETHER: link = LinkType::kEthernet; return;
    case ARPHRD_LOOPBACK:
      link = LinkType::kEthernet;  // Linux loopback frames carry a zeroed Ethernet header
      loopback = true;
      return;
    case ARPHRD_NONE:  // tun, wireguard: the packet starts with its IP header
#ifdef ARPHRD_RAWIP
    case ARPHRD_RAWIP:
#endif
      link = LinkType::kRaw;
      return;
    default:
      throw CaptureSetupError("interface " + interface + " has link type ARPHRD " +
                              std::to_string(ifr.ifr_hwaddr.sa_family) +
                              ", which AF_PACKET capture does not decode (Ethernet, loopback and raw IP only)");
  }
}

}  // namespace

AfPacketRingLayout afPacketRingLayout(const AfPacketConfig& config, long page_size) {
  if (page_size <= 0) page_size = 4096;
  const uint64_t page = uint64_t(page_size);
  if (config.block_size < page || config.block_size % page != 0) {
    throw CaptureSetupError("capture.afpacket.block_size " + std::to_string(config.block_size) +
                            " is not a multiple of the page size " + std::to_string(page) +
                            ": the kernel would not accept that ring");
  }
  if (config.block_count == 0) throw CaptureSetupError("capture.afpacket.block_count must be at least 1");
  AfPacketRingLayout l;
  l.block_size = config.block_size;
  l.block_count = config.block_count;
  l.frame_size = std::min(kFrameSize, config.block_size);
  uint64_t frames = uint64_t(l.block_size / l.frame_size) * l.block_count;
  if (frames > UINT32_MAX || uint64_t(l.block_size) * l.block_count > (uint64_t(1) << 40)) {
    throw CaptureSetupError("capture.afpacket ring of " + std::to_string(l.block_count) + " blocks of " +
                            std::to_string(l.block_size) + " bytes is too large");
  }
  l.frame_count = uint32_t(frames);
  Duration tov_ms = config.block_timeout / 1'000'000;
  l.retire_ms = uint32_t(std::clamp<Duration>(tov_ms, 1, 60'000));
  return l;
}

int afPacketFanoutType(const std::string& mode) {
  if (mode == "hash") return PACKET_FANOUT_HASH;  // symmetric flow hash: a flow's two directions together
  if (mode == "cpu") return PACKET_FANOUT_CPU;
  if (mode == "lb") return PACKET_FANOUT_LB;
  throw CaptureSetupError("capture.afpacket.fanout must be hash, cpu or lb, not \"" + mode + "\"");
}

uint16_t afPacketFanoutGroupId(pid_t pid, int ifindex) {
  // Mix so that neighbouring pids and ifindexes do not land on neighbouring ids.
  uint32_t h = uint32_t(pid) * 2654435761u ^ uint32_t(ifindex) * 40503u;
  h ^= h >> 16;
  uint16_t id = uint16_t(h);
  return id == 0 ? 1 : id;
}

uint32_t restoreVlanTag(const uint8_t* frame, uint32_t cap_len, uint16_t tpid, uint16_t tci, uint8_t* out) {
  constexpr uint32_t kMacs = 12;
  if (cap_len < kMacs) return 0;
  std::memcpy(out, frame, kMacs);
  uint16_t tag[2] = {htons(tpid), htons(tci)};
  std::memcpy(out + kMacs, tag, sizeof(tag));
  std::memcpy(out + kMacs + kVlanTagLen, frame + kMacs, cap_len - kMacs);
  return cap_len + kVlanTagLen;
}

AfPacketSource::AfPacketSource(const std::string& interface, int ifindex, uint32_t socket_index, LinkType link,
                               bool loopback, const AfPacketRingLayout& layout, uint32_t snaplen)
    : interface_(interface),
      name_("afpacket:" + interface + ":" + std::to_string(socket_index)),
      socket_index_(socket_index),
      link_(link),
      loopback_(loopback),
      layout_(layout),
      snaplen_(snaplen),
      scratch_(size_t(snaplen) + kVlanTagLen) {
  if (snaplen_ == 0) throw CaptureSetupError("capture.snaplen must be at least 1");
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: nothing queued before bind
  if (fd_ < 0) throwSocketError(interface, "socket", errno);

  // A constructor that throws does not run the destructor: close by hand.
  auto fail = [this](const std::string& message) {
    if (ring_ != nullptr) munmap(ring_, ring_bytes_);
    ring_ = nullptr;
    close(fd_);
    fd_ = -1;
    throw CaptureSetupError(message);
  };

  int version = TPACKET_V3;
  if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0) {
    fail("TPACKET_V3 (Linux 3.2 or later) is needed for AF_PACKET capture on " + interface + ": " +
         errnoText(errno));
  }
  // The snap length, applied by the kernel: a filter that accepts every packet
  // and keeps its first snaplen bytes, so the ring holds no more than that.
  sock_filter keep{BPF_RET | BPF_K, 0, 0, snaplen_};
  sock_fprog prog{1, &keep};
  if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0) {
    fail("cannot apply the snap length to the AF_PACKET socket on " + interface + ": " + errnoText(errno));
  }
  tpacket_req3 req{};
  req.tp_block_size = layout_.block_size;
  req.tp_block_nr = layout_.block_count;
  req.tp_frame_size = layout_.frame_size;
  req.tp_frame_nr = layout_.frame_count;
  req.tp_retire_blk_tov = layout_.retire_ms;
  req.tp_sizeof_priv = 0;
  req.tp_feature_req_word = 0;
  if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0) {
    fail("the kernel did not accept an AF_PACKET ring of " + std::to_string(layout_.block_count) + " blocks of " +
         std::to_string(layout_.block_size) + " bytes on " + interface +
         " (capture.afpacket.block_size, block_count): " + errnoText(errno));
  }
  ring_bytes_ = size_t(layout_.block_size) * layout_.block_count;
  void* map = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
  if (map == MAP_FAILED) {
    fail("cannot map the AF_PACKET ring of " + std::to_string(ring_bytes_) + " bytes on " + interface + ": " +
         errnoText(errno));
  }
  ring_ = static_cast<uint8_t*>(map);

  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = ifindex;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno == ENODEV || errno == ENXIO) fail("interface " + interface + " does not exist");
    fail("cannot bind the AF_PACKET socket to " + interface + ": " + errnoText(errno));
  }
  // Membership, not the interface flag: it ends with the socket, even after a crash.
  packet_mreq mreq{};
  mreq.mr_ifindex = ifindex;
  mreq.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0) {
    fail("cannot put " + interface + " in promiscuous mode: " + errnoText(errno));
  }
}

AfPacketSource::~AfPacketSource() {
  if (ring_ != nullptr) munmap(ring_, ring_bytes_);
  if (fd_ >= 0) close(fd_);
}

int AfPacketSource::joinFanout(uint32_t arg) {
  int value = int(arg);
  return setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &value, sizeof(value)) == 0 ? 0 : errno;
}

uint32_t AfPacketSource::fanoutArg() const {
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &value, &len) != 0) return 0;
  return uint32_t(value);
}

void AfPacketSource::readKernelStats() {
  tpacket_stats_v3 st{};
  socklen_t len = sizeof(st);
  // Resets the kernel's counters: only this (the capture) thread reads them.
  if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return;
  af_stats_.kernel_packets.add(st.tp_packets);
  af_stats_.dropped_ring_full.add(st.tp_drops);
  af_stats_.ring_freezes.add(st.tp_freeze_q_cnt);
}

void AfPacketSource::checkSocketError() {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == 0) return;  // reading clears it
  if (err == ENETDOWN) {
    af_stats_.interface_down.add();
    if (!interface_down_) {
      // Once per outage: the socket resumes by itself when the interface is up again.
      logWarn("capture interface is down", {{"capture", name_}, {"interface", interface_}});
      interface_down_ = true;
    }
    return;
  }
  logWarn("AF_PACKET socket error", {{"capture", name_}, {"error", errnoText(err)}});
}

void AfPacketSource::processBlock(const uint8_t* block, Handoff& handoff) {
  uint32_t unread = forEachAfPacketFrame(block, layout_.block_size, [&](const AfPacketFrame& f) {
    // Loopback shows every packet twice, leaving and arriving; keep one (as libpcap does).
    if (loopback_ && f.pkttype == PACKET_OUTGOING) return;
    const uint8_t* data = f.data;
    uint32_t cap_len = std::min(f.cap_len, snaplen_);
    uint32_t wire_len = f.wire_len;
    if ((f.status & TP_STATUS_VLAN_VALID) != 0 && link_ == LinkType::kEthernet) {
      uint16_t tpid = (f.status & TP_STATUS_VLAN_TPID_VALID) != 0 ? f.vlan_tpid : uint16_t(ETH_P_8021Q);
      uint32_t restored = restoreVlanTag(data, cap_len, tpid, f.vlan_tci, scratch_.data());
      if (restored != 0) {
        data = scratch_.data();
        cap_len = std::min(restored, snaplen_);
        wire_len += kVlanTagLen;
        af_stats_.vlan_restored.add();
      }
    }
    Timestamp ts = Timestamp(f.sec) * kNanosPerSecond + Timestamp(f.nsec);
    last_ts_ = std::max(last_ts_, ts);
    stats_.packets.add();
    stats_.bytes.add(cap_len);
    if (decodePacket(data, cap_len, wire_len, ts, link_, pkt_, decode_stats_) == DecodeResult::kOk) {
      handoff.push(pkt_);  // a refusal is counted by the hand-off, per worker
    }
  });
  if (unread != 0) af_stats_.dropped_bad_frame.add(unread);
}

void AfPacketSource::run(Handoff& handoff, const std::atomic<bool>& stop) {
  pollfd pfd{};
  pfd.fd = fd_;
  pfd.events = POLLIN | POLLERR;
  uint32_t current = 0;
  Timestamp stats_due = coarseNow() + kStatsInterval;
  // Returns the current block to the kernel once it has been read.
  auto takeReadyBlock = [&]() -> bool {
    auto* desc = reinterpret_cast<tpacket_block_desc*>(ring_ + size_t(current) * layout_.block_size);
    if ((__atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) return false;
    processBlock(reinterpret_cast<const uint8_t*>(desc), handoff);
    handoff.flush();
    __atomic_store_n(&desc->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    af_stats_.blocks.add();
    interface_down_ = false;
    current = current + 1 == layout_.block_count ? 0 : current + 1;
    return true;
  };

  while (!stop.load(std::memory_order_relaxed)) {
    if (!takeReadyBlock()) {
      pfd.revents = 0;
      if (poll(&pfd, 1, kPollTimeoutMs) > 0 && (pfd.revents & POLLERR) != 0) checkSocketError();
    }
    Timestamp now = coarseNow();
    if (now >= stats_due) {
      readKernelStats();
      stats_due = now + kStatsInterval;
    }
  }
  // Blocks the kernel already handed over are read before leaving.
  for (uint32_t i = 0; i < layout_.block_count && takeReadyBlock(); ++i) {
  }
  handoff.flush();
  readKernelStats();
}

void AfPacketSource::collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const {
  MetricLabels l = labels;
  l.emplace_back("interface", interface_);
  l.emplace_back("socket", std::to_string(socket_index_));
  metrics.stats("afpacket", af_stats_, l);
}

std::vector<std::unique_ptr<PacketSource>> makeAfPacketSources(const CaptureConfig& config) {
  if (config.interfaces.empty()) {
    throw CaptureSetupError("capture.interfaces names no interface to capture with AF_PACKET");
  }
  if (config.afpacket.threads == 0) throw CaptureSetupError("capture.afpacket.threads must be at least 1");
  const AfPacketRingLayout layout = afPacketRingLayout(config.afpacket, sysconf(_SC_PAGESIZE));
  const int fanout_type = afPacketFanoutType(config.afpacket.fanout);

  std::vector<std::unique_ptr<PacketSource>> sources;
  for (const std::string& interface : config.interfaces) {
    unsigned ifindex = if_nametoindex(interface.c_str());
    if (ifindex == 0) throw CaptureSetupError("interface " + interface + " does not exist");
    LinkType link;
    bool loopback;
    probeLinkType(interface, link, loopback);

    std::vector<AfPacketSource*> group;
    for (uint32_t t = 0; t < config.afpacket.threads; ++t) {
      auto source = std::make_unique<AfPacketSource>(interface, int(ifindex), t, link, loopback, layout,
                                                     config.snaplen);
      group.push_back(source.get());
      sources.push_back(std::move(source));
    }
    const std::string ring = std::to_string(uint64_t(layout.block_size) * layout.block_count);
    if (group.size() < 2) {
      logInfo("AF_PACKET capture ready", {{"interface", interface}, {"sockets", "1"}, {"ring_bytes_per_socket", ring}});
      continue;
    }
    // The kernel picks a group id no one uses (two tapflows, or tapflow and
    // another capture, must not share a group); a derived id is the fallback.
    uint32_t type = uint32_t(fanout_type);
    int err = group[0]->joinFanout((type | PACKET_FANOUT_FLAG_UNIQUEID) << 16);
    uint32_t id = group[0]->fanoutArg() & 0xffff;
    if (err != 0) {
      id = afPacketFanoutGroupId(getpid(), int(ifindex));
      err = group[0]->joinFanout(type << 16 | id);
    }
    for (size_t i = 1; i < group.size() && err == 0; ++i) err = group[i]->joinFanout(type << 16 | id);
    if (err != 0) {
      throw CaptureSetupError("cannot join the AF_PACKET sockets of " + interface + " in fanout group " +
                              std::to_string(id) + " (" + config.afpacket.fanout + "): " + errnoText(err));
    }
    logInfo("AF_PACKET capture ready", {{"interface", interface}, {"sockets", std::to_string(group.size())},
                                        {"ring_bytes_per_socket", ring}, {"fanout", config.afpacket.fanout},
                                        {"fanout_group", std::to_string(id)}});
  }
  return sources;
}

}  // namespace tapflow
