#include "capture/afxdp_source.h"

#include <linux/ethtool.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include "capture/capabilities.h"
#include "ops/log.h"
#include "packet/decoder.h"

namespace tapflow {
namespace {

// SO_* values the Debian 12 userspace headers may lack (Linux 5.11+).
#ifndef SO_BUSY_POLL
#define SO_BUSY_POLL 46
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

// A receive-only socket has no TX ring, so the completion ring stays empty;
// the kernel still wants one, and this is its smallest useful size.
constexpr uint32_t kCompletionRingSize = 64;
// How long the capture thread sleeps in poll() on an empty ring before it
// looks at the stop flag again.
constexpr int kPollTimeoutMs = 100;
// A burst ends when the ring has stayed empty this long (or, busy polling,
// for this many empty polls); only then are partly filled hand-off batches
// sent. Flushing whenever the ring runs dry would send a batch per wake-up,
// a few packets each at moderate rates, and drain the hand-off's batch pool
// long before its packet capacity.
constexpr int kBurstGapMs = 1;
constexpr uint32_t kBurstGapBusyPolls = 64;
// How long busy polling spins in the driver per recvfrom() (SO_BUSY_POLL, µs).
constexpr int kBusyPollMicros = 20;

bool isPowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string sizeText(uint64_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (1 << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// The kernel charges UMEM to RLIMIT_MEMLOCK unless the process has
// CAP_IPC_LOCK. Raise the soft limit (and the hard one, when allowed) by what
// the UMEM needs, so whatever else this user locks still fits.
void raiseMemlockFor(uint64_t bytes) {
  if (CapabilitySet::ofThisThread().has(Capability::kIpcLock)) return;
  rlimit lim{};
  if (getrlimit(RLIMIT_MEMLOCK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return;
  const rlim_t want = lim.rlim_cur + bytes;
  rlimit raised = lim;
  raised.rlim_cur = want;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < want) raised.rlim_max = want;
  if (setrlimit(RLIMIT_MEMLOCK, &raised) != 0) {
    // Without CAP_SYS_RESOURCE only the soft limit can move, up to the hard one.
    raised.rlim_max = lim.rlim_max;
    raised.rlim_cur = std::min<rlim_t>(want, lim.rlim_max);
    if (raised.rlim_cur <= lim.rlim_cur || setrlimit(RLIMIT_MEMLOCK, &raised) != 0) return;
  }
  logInfo("raised RLIMIT_MEMLOCK for the AF_XDP UMEM",
          {{"from", std::to_string(lim.rlim_cur)}, {"to", std::to_string(raised.rlim_cur)},
           {"umem_bytes", std::to_string(bytes)}});
}

// AF_XDP needs CONFIG_XDP_SOCKETS; find out before anything is attached.
void checkAfXdpSupport() {
  int fd = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    ::close(fd);
    return;
  }
  int err = errno;
  if (err == EAFNOSUPPORT) {
    throw CaptureSetupError("AF_XDP sockets are not supported by this kernel (it needs CONFIG_XDP_SOCKETS): "
                            "use capture.source afpacket");
  }
  if (err == EPERM || err == EACCES) throw CaptureSetupError("AF_XDP sockets need CAP_NET_RAW");
  throw CaptureSetupError(std::string("cannot open an AF_XDP socket: ") + std::strerror(err));
}

uint32_t sysfsRxQueues(const std::string& interface) {
  if (interface.empty() || interface.find('/') != std::string::npos || interface[0] == '.') return 0;
  std::error_code ec;
  uint32_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/net/" + interface + "/queues", ec)) {
    if (e.path().filename().string().rfind("rx-", 0) == 0) ++n;
  }
  return ec ? 0 : n;
}

}  // namespace

struct AfXdpSource::Socket {
  xsk_umem* umem = nullptr;
  xsk_socket* xsk = nullptr;
  int fd = -1;
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  xsk_ring_cons rx{};
};

uint32_t rxQueueCount(const std::string& interface) {
  uint32_t n = 0;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && interface.size() < IFNAMSIZ) {
    ethtool_channels channels{};
    channels.cmd = ETHTOOL_GCHANNELS;
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, interface.c_str(), interface.size());
    ifr.ifr_data = reinterpret_cast<char*>(&channels);
    if (::ioctl(fd, SIOCETHTOOL, &ifr) == 0) n = channels.combined_count + channels.rx_count;
  }
  if (fd >= 0) ::close(fd);
  return n > 0 ? n : sysfsRxQueues(interface);
}

void checkAfXdpConfig(const AfXdpConfig& c) {
  auto bad = [](const std::string& what) { return CaptureSetupError("capture.afxdp." + what); };
  if (c.frame_size != 2048 && c.frame_size != 4096) throw bad("frame_size must be 2048 or 4096");
  if (!isPowerOfTwo(c.frames)) throw bad("frames must be a power of two");
  if (!isPowerOfTwo(c.rx_ring)) throw bad("rx_ring must be a power of two");
  if (!isPowerOfTwo(c.fill_ring)) throw bad("fill_ring must be a power of two");
  if (c.batch == 0 || c.batch > c.rx_ring) throw bad("batch must be between 1 and rx_ring");
  if (c.xdp_mode != "auto" && c.xdp_mode != "native" && c.xdp_mode != "generic") {
    throw bad("xdp_mode must be auto, native or generic");
  }
  if (c.zero_copy != "auto" && c.zero_copy != "on" && c.zero_copy != "off") throw bad("zero_copy must be auto, on or off");
}

AfXdpSource::AfXdpSource(std::shared_ptr<XdpProgram> program, uint32_t queue, const AfXdpConfig& config,
                         uint32_t snaplen, bool reports_program)
    : program_(std::move(program)),
      interface_(program_->interface()),
      name_("afxdp:" + interface_ + ":" + std::to_string(queue)),
      queue_(queue),
      config_(config),
      snaplen_(snaplen),
      reports_program_(reports_program),
      sock_(std::make_unique<Socket>()) {
  checkAfXdpConfig(config_);
  umem_bytes_ = uint64_t(config_.frames) * config_.frame_size;
  void* area = ::mmap(nullptr, umem_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) {
    throw CaptureSetupError("cannot map " + sizeText(umem_bytes_) + " of UMEM for " + name_ + ": " +
                            std::strerror(errno));
  }
  umem_area_ = static_cast<uint8_t*>(area);
  free_frames_.resize(config_.frames);
  for (uint32_t i = 0; i < config_.frames; ++i) free_frames_[i] = uint64_t(config_.frames - 1 - i) * config_.frame_size;
  free_count_ = config_.frames;

  try {
    int err = 0;
    if (config_.zero_copy != "off") {
      err = createSocket(true);
      if (err == 0) {
        zero_copy_ = true;
      } else if (config_.zero_copy == "on") {
        throw CaptureSetupError("zero-copy AF_XDP refused on " + interface_ + " queue " + std::to_string(queue_) +
                                ": " + std::strerror(-err) + " (capture.afxdp.zero_copy is on)");
      } else {
        copy_mode_reason_ = std::string("zero-copy refused: ") + std::strerror(-err);
      }
    }
    if (!zero_copy_) err = createSocket(false);
    if (err != 0) {
      err = -err;
      std::string where = "cannot create the AF_XDP socket for " + interface_ + " queue " + std::to_string(queue_);
      if (err == ENOBUFS || err == ENOMEM) {
        rlimit lim{};
        getrlimit(RLIMIT_MEMLOCK, &lim);
        throw CaptureSetupError("RLIMIT_MEMLOCK too low for " + sizeText(umem_bytes_) + " of UMEM (" + name_ +
                                "): the kernel refused it under a limit of " +
                                (lim.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : sizeText(lim.rlim_cur)) +
                                ", which counts what every process of this user has locked; raise it (ulimit -l, "
                                "systemd LimitMEMLOCK=) or grant CAP_IPC_LOCK");
      }
      if (err == EPERM || err == EACCES) throw CaptureSetupError(where + ": it needs CAP_NET_RAW");
      if (err == EBUSY) {
        throw CaptureSetupError(where + ": the queue already has an AF_XDP socket (another capture running?)");
      }
      throw CaptureSetupError(where + ": " + std::strerror(err));
    }
    // What the kernel actually did, rather than what was asked.
    xdp_options options{};
    socklen_t len = sizeof(options);
    if (getsockopt(sock_->fd, SOL_XDP, XDP_OPTIONS, &options, &len) == 0) {
      zero_copy_ = (options.flags & XDP_OPTIONS_ZEROCOPY) != 0;
    }
    if (config_.busy_poll) {
      int one = 1, usecs = kBusyPollMicros, budget = int(config_.busy_poll_budget);
      if (setsockopt(sock_->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) != 0 ||
          setsockopt(sock_->fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs)) != 0 ||
          setsockopt(sock_->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget)) != 0) {
        int e = errno;
        throw CaptureSetupError("capture.afxdp.busy_poll on " + name_ + ": " + std::strerror(e) +
                                (e == EPERM ? " (SO_BUSY_POLL_BUDGET needs CAP_NET_ADMIN)" : ""));
      }
    }
    refill();
    if (int e = xsk_socket__update_xskmap(sock_->xsk, program_->xsksMapFd()); e != 0) {
      throw CaptureSetupError("cannot register " + name_ + " in the XDP program's socket map: " +
                              std::strerror(e < 0 ? -e : e));
    }
  } catch (...) {
    destroySocket();
    ::munmap(umem_area_, umem_bytes_);
    throw;
  }
}

AfXdpSource::~AfXdpSource() {
  destroySocket();
  if (umem_area_ != nullptr) ::munmap(umem_area_, umem_bytes_);
}

int AfXdpSource::createSocket(bool zero_copy) {
  Socket& s = *sock_;
  xsk_umem_config umem_config{};
  umem_config.fill_size = config_.fill_ring;
  umem_config.comp_size = kCompletionRingSize;
  umem_config.frame_size = config_.frame_size;
  umem_config.frame_headroom = 0;
  umem_config.flags = 0;
  int err = xsk_umem__create(&s.umem, umem_area_, umem_bytes_, &s.fill, &s.comp, &umem_config);
  if (err != 0) {
    s.umem = nullptr;
    return err < 0 ? err : -err;
  }
  xsk_socket_config socket_config{};
  socket_config.rx_size = config_.rx_ring;
  socket_config.tx_size = 0;
  // tapflow attaches its own program; libxdp must not load its default one.
  socket_config.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  socket_config.xdp_flags = 0;
  socket_config.bind_flags = uint16_t((config_.need_wakeup ? XDP_USE_NEED_WAKEUP : 0) |
                                      (zero_copy ? XDP_ZEROCOPY : XDP_COPY));
  err = xsk_socket__create(&s.xsk, interface_.c_str(), queue_, s.umem, &s.rx, nullptr, &socket_config);
  if (err != 0) {
    s.xsk = nullptr;
    // A fresh UMEM for the next attempt: the fill and completion rings of a
    // failed bind cannot be set up twice on the same descriptor.
    xsk_umem__delete(s.umem);
    s.umem = nullptr;
    s.fill = {};
    s.comp = {};
    s.rx = {};
    return err < 0 ? err : -err;
  }
  s.fd = xsk_socket__fd(s.xsk);
  return 0;
}

void AfXdpSource::destroySocket() {
  Socket& s = *sock_;
  if (s.xsk != nullptr) xsk_socket__delete(s.xsk);  // also leaves the XSK map
  if (s.umem != nullptr) xsk_umem__delete(s.umem);
  s = Socket{};
}

void AfXdpSource::refill() {
  Socket& s = *sock_;
  uint32_t n = std::min(free_count_, xsk_prod_nb_free(&s.fill, free_count_));
  if (n == 0) return;
  uint32_t idx = 0;
  if (xsk_ring_prod__reserve(&s.fill, n, &idx) != n) return;
  for (uint32_t i = 0; i < n; ++i) *xsk_ring_prod__fill_addr(&s.fill, idx + i) = free_frames_[--free_count_];
  xsk_ring_prod__submit(&s.fill, n);
}

void AfXdpSource::run(Handoff& handoff, const std::atomic<bool>& stop) {
  Socket& s = *sock_;
  const uint32_t batch = config_.batch;
  const uint64_t frame_size = config_.frame_size;
  const uint64_t frame_mask = ~(frame_size - 1);
  const uint32_t frames = config_.frames;
  pollfd pfd{s.fd, POLLIN, 0};
  bool unflushed = false;  // packets handed over since the last flush
  uint32_t empty_polls = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    uint32_t idx = 0;
    const uint32_t n = xsk_ring_cons__peek(&s.rx, batch, &idx);
    if (n == 0) {
      if (config_.busy_poll) {
        af_stats_.busy_polls.add();
        ::recvfrom(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
        if (unflushed && ++empty_polls >= kBurstGapBusyPolls) {
          handoff.flush();
          unflushed = false;
        }
      } else {
        af_stats_.polls.add();
        const int ready = ::poll(&pfd, 1, unflushed ? kBurstGapMs : kPollTimeoutMs);
        if (ready == 0 && unflushed) {
          handoff.flush();
          unflushed = false;
        } else if (ready > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
          // The interface went away or down: poll() would return at once,
          // forever. Back off instead of spinning; the count says why.
          af_stats_.socket_errors.add();
          ::poll(nullptr, 0, kPollTimeoutMs);
        }
      }
      continue;
    }
    empty_polls = 0;
    const Timestamp now = wallClockNow();
    // Packets kPrefetchPackets ahead are on their way while this one is decoded.
    auto prefetchFrame = [&](uint32_t i) {
      const uint64_t addr = xsk_umem__add_offset_to_addr(xsk_ring_cons__rx_desc(&s.rx, idx + i)->addr);
      if (addr < umem_bytes_) prefetchPacket(umem_area_ + addr);
    };
    for (uint32_t i = 0; i < n && i < kPrefetchPackets; ++i) prefetchFrame(i);
    for (uint32_t i = 0; i < n; ++i) {
      const xdp_desc* desc = xsk_ring_cons__rx_desc(&s.rx, idx + i);
      if (i + kPrefetchPackets < n) prefetchFrame(i + kPrefetchPackets);
      const uint64_t addr = xsk_umem__add_offset_to_addr(desc->addr);
      const uint32_t len = desc->len;
      const uint64_t frame = addr & frame_mask;
      if (frame >= umem_bytes_) {
        af_stats_.dropped_invalid_descriptor.add();  // not ours to recycle either
        continue;
      }
      // The frame goes back to the fill ring after this batch: the hand-off
      // copies the bytes, so nothing refers to it once the loop moves on.
      if (free_count_ < frames) free_frames_[free_count_++] = frame;
      if (len == 0 || addr + len > frame + frame_size) {
        af_stats_.dropped_invalid_descriptor.add();
        continue;
      }
      const uint32_t cap_len = std::min(len, snaplen_);
      stats_.packets.add();
      stats_.bytes.add(cap_len);
      if (decodePacket(umem_area_ + addr, cap_len, len, now, LinkType::kEthernet, pkt_, decode_stats_) ==
          DecodeResult::kOk) {
        handoff.push(pkt_);  // a refusal is counted by the hand-off, per worker
      }
    }
    xsk_ring_cons__release(&s.rx, n);
    refill();
    if (config_.need_wakeup && xsk_ring_prod__needs_wakeup(&s.fill)) {
      af_stats_.wakeups.add();
      ::recvfrom(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }
    af_stats_.batches.add();
    last_ts_.store(now, std::memory_order_relaxed);
    unflushed = true;  // full hand-off batches went out already; the rest at the burst's end
  }
  handoff.flush();
}

bool AfXdpSource::kernelStats(XskKernelStats& out) const {
  xdp_statistics st{};
  socklen_t len = sizeof(st);
  if (sock_->fd < 0 || getsockopt(sock_->fd, SOL_XDP, XDP_STATISTICS, &st, &len) != 0) return false;
  out.rx_dropped = st.rx_dropped;
  out.rx_invalid_descs = st.rx_invalid_descs;
  out.rx_ring_full = st.rx_ring_full;
  out.rx_fill_ring_empty_descs = st.rx_fill_ring_empty_descs;
  return true;
}

uint32_t AfXdpSource::fillRingFrames() const {
  const xsk_ring_prod& r = sock_->fill;
  if (r.producer == nullptr) return 0;
  return __atomic_load_n(r.producer, __ATOMIC_ACQUIRE) - __atomic_load_n(r.consumer, __ATOMIC_ACQUIRE);
}

uint32_t AfXdpSource::rxRingFrames() const {
  const xsk_ring_cons& r = sock_->rx;
  if (r.producer == nullptr) return 0;
  return __atomic_load_n(r.producer, __ATOMIC_ACQUIRE) - __atomic_load_n(r.consumer, __ATOMIC_ACQUIRE);
}

void AfXdpSource::collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const {
  MetricLabels l = labels;
  l.emplace_back("interface", interface_);
  l.emplace_back("queue", std::to_string(queue_));
  metrics.stats("afxdp", af_stats_, l);
  XskKernelStats k;
  if (kernelStats(k)) {
    metrics.counter("tapflow_afxdp_kernel_rx_dropped_total",
                    "Packets the kernel dropped for this socket: no free frame, too long, ... (XDP_STATISTICS)", l,
                    k.rx_dropped);
    metrics.counter("tapflow_afxdp_kernel_rx_invalid_descs_total",
                    "Packets dropped because of an invalid fill ring descriptor (XDP_STATISTICS)", l,
                    k.rx_invalid_descs);
    metrics.counter("tapflow_afxdp_kernel_rx_ring_full_total",
                    "Packets dropped because the RX ring was full: tapflow fell behind (XDP_STATISTICS)", l,
                    k.rx_ring_full);
    metrics.counter("tapflow_afxdp_kernel_rx_fill_ring_empty_descs_total",
                    "Times the kernel found no free frame in the fill ring (XDP_STATISTICS)", l,
                    k.rx_fill_ring_empty_descs);
  }
  metrics.gauge("tapflow_afxdp_free_frames", "UMEM frames in the fill ring, free for the kernel to receive into", l,
                double(fillRingFrames()));
  metrics.gauge("tapflow_afxdp_rx_ring_frames", "Received frames in the RX ring, waiting for the capture thread", l,
                double(rxRingFrames()));
  MetricLabels info = l;
  info.emplace_back("zero_copy", zero_copy_ ? "true" : "false");
  info.emplace_back("xdp_mode", xdpAttachModeName(program_->mode()));
  metrics.gauge("tapflow_afxdp_info", "One per AF_XDP socket: whether it runs zero-copy and the XDP attach mode",
                info, 1);
  if (reports_program_) program_->collectMetrics(metrics, {});
}

std::vector<std::unique_ptr<PacketSource>> makeAfXdpSources(const CaptureConfig& config) {
  if (config.interfaces.empty()) throw CaptureSetupError("AF_XDP capture needs an interface (capture.interfaces)");
  checkAfXdpConfig(config.afxdp);

  struct InterfacePlan {
    std::string interface;
    std::vector<uint32_t> queues;
  };
  std::vector<InterfacePlan> plans;
  uint64_t sockets = 0;
  for (const std::string& interface : config.interfaces) {
    if (if_nametoindex(interface.c_str()) == 0) {
      throw CaptureSetupError("interface " + interface + " does not exist (in this network namespace)");
    }
    const uint32_t count = rxQueueCount(interface);
    InterfacePlan plan{interface, config.queues};
    if (plan.queues.empty()) {
      for (uint32_t q = 0; q < std::max<uint32_t>(count, 1); ++q) plan.queues.push_back(q);
    }
    std::set<uint32_t> seen;
    for (uint32_t q : plan.queues) {
      if (count > 0 && q >= count) {
        throw CaptureSetupError("interface " + interface + " has " + std::to_string(count) + " RX queue" +
                                (count == 1 ? "" : "s") + ", capture.queues lists queue " + std::to_string(q));
      }
      if (q >= TAPFLOW_XDP_MAX_QUEUES) {
        throw CaptureSetupError("capture.queues: queue " + std::to_string(q) + " is beyond the " +
                                std::to_string(TAPFLOW_XDP_MAX_QUEUES) + " queues tapflow's XDP program serves");
      }
      if (!seen.insert(q).second) throw CaptureSetupError("capture.queues lists queue " + std::to_string(q) + " twice");
    }
    sockets += plan.queues.size();
    plans.push_back(std::move(plan));
  }

  raiseMemlockFor(sockets * config.afxdp.frames * config.afxdp.frame_size);
  CaptureConfig as_afxdp = config;
  as_afxdp.source = "afxdp";
  checkCapturePreconditions(as_afxdp);  // capabilities and memlock room, named
  checkAfXdpSupport();
  const std::string object = resolveXdpObjectPath(config.afxdp.program);

  std::vector<std::unique_ptr<PacketSource>> sources;
  for (const InterfacePlan& plan : plans) {
    auto program = std::make_shared<XdpProgram>(plan.interface, object, config.filter);
    std::string copy_reason;
    size_t copy_mode = 0;
    for (size_t i = 0; i < plan.queues.size(); ++i) {
      auto source = std::make_unique<AfXdpSource>(program, plan.queues[i], config.afxdp, config.snaplen, i == 0);
      if (!source->zeroCopy()) {
        ++copy_mode;
        if (copy_reason.empty()) copy_reason = source->copyModeReason();
      }
      sources.push_back(std::move(source));
    }
    // Every socket is in the XSK map: from the program's first packet on, no
    // matching packet lands on a queue without its socket.
    program->attach(config.afxdp.xdp_mode);
    if (copy_mode > 0 && config.afxdp.zero_copy != "off") {
      logWarn("AF_XDP zero-copy not available: copy mode (one copy per packet in the kernel)",
              {{"interface", plan.interface},
               {"queues", std::to_string(copy_mode) + " of " + std::to_string(plan.queues.size())},
               {"reason", copy_reason}});
    }
    logInfo("AF_XDP capture ready", {{"interface", plan.interface},
                                     {"queues", std::to_string(plan.queues.size())},
                                     {"xdp_mode", xdpAttachModeName(program->mode())},
                                     {"zero_copy", copy_mode == 0 ? "true" : "false"},
                                     {"umem_bytes_per_queue", std::to_string(uint64_t(config.afxdp.frames) *
                                                                             config.afxdp.frame_size)}});
  }
  return sources;
}

size_t updateAfXdpTargets(const std::vector<std::unique_ptr<PacketSource>>& sources,
                          const CaptureFilterConfig& filter) {
  parseXdpTargets(filter);  // refuse a bad entry before any program changes
  std::set<XdpProgram*> done;
  for (const auto& source : sources) {
    XdpProgram* program = source->xdpProgram();
    if (program == nullptr || !done.insert(program).second) continue;
    program->updateTargets(filter);
  }
  return done.size();
}

}  // namespace tapflow
