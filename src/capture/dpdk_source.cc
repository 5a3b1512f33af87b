// The only translation unit that includes DPDK headers: it is built in a
// library of its own with DPDK's compile flags (see the top-level meson.build).
#include "capture/dpdk_source.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "ops/log.h"
#include "packet/decoder.h"

namespace tapflow {
namespace {

namespace fs = std::filesystem;

constexpr uint8_t kDefaultRssKeySize = 40;  // the Toeplitz key of most NICs; some take 52 (hash_key_size)
constexpr uint32_t kJumboMtu = 9000;
constexpr uint16_t kTxDescriptors = 64;  // tapflow never sends; some PMDs need TX queues paired with RX
// An idle queue spins this many empty polls (rte_pause), then sleeps, each
// sleep twice the last up to the maximum: a busy queue never sleeps, an idle
// one costs ~2000 wake-ups a second. A burst after an idle spell waits in the
// RX descriptors for at most the longest sleep.
constexpr uint32_t kSpinPolls = 1000;
constexpr long kIdleSleepMinNs = 10'000;
constexpr long kIdleSleepMaxNs = 500'000;
constexpr Duration kStatsInterval = kNanosPerSecond;
constexpr const char* kPrefixStem = "tapflow-";

// ---- DPDK's log, routed into tapflow's JSON log ------------------------------
//
// EAL writes its log to stdout by default, which would mix into the JSON lines
// of `-o -`. A cookie stream turns each DPDK message into one tapflow log line,
// and keeps the first errors so a setup failure can quote what DPDK said.

std::mutex g_dpdk_log_mutex;
std::string g_dpdk_log_pending;          // a message written in pieces
std::vector<std::string> g_dpdk_errors;  // messages at ERR level or worse since clearDpdkErrors()
constexpr size_t kDpdkErrorsKept = 4;

LogLevel tapflowLevel(int dpdk_level) {
  if (dpdk_level <= int(RTE_LOG_ERR)) return LogLevel::kError;
  if (dpdk_level == int(RTE_LOG_WARNING)) return LogLevel::kWarn;
  if (dpdk_level == int(RTE_LOG_NOTICE)) return LogLevel::kInfo;
  // EAL's INFO is chatter about the machine (lcores, NUMA, IOVA mode).
  return LogLevel::kDebug;
}

// Warnings DPDK prints on every start that ask nothing of the operator.
bool isRoutineWarning(std::string_view line) {
  // Telemetry's pre-20.05 socket; the current one (dpdk-telemetry.py) works.
  return line.rfind("TELEMETRY: No legacy callbacks", 0) == 0;
}

ssize_t writeDpdkLog(void* /*cookie*/, const char* buffer, size_t size) {
  // rte_vlog() sets the message's level for this thread before it writes.
  const LogLevel dpdk_level = tapflowLevel(rte_log_cur_msg_loglevel());
  std::lock_guard<std::mutex> lock(g_dpdk_log_mutex);
  g_dpdk_log_pending.append(buffer, size);
  size_t end;
  while ((end = g_dpdk_log_pending.find('\n')) != std::string::npos) {
    std::string line = g_dpdk_log_pending.substr(0, end);
    g_dpdk_log_pending.erase(0, end + 1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (line.empty()) continue;
    const LogLevel level = isRoutineWarning(line) ? LogLevel::kDebug : dpdk_level;
    if (level == LogLevel::kError && g_dpdk_errors.size() < kDpdkErrorsKept) g_dpdk_errors.push_back(line);
    logMessage(level, line, {{"component", "dpdk"}});
  }
  return static_cast<ssize_t>(size);
}

void routeDpdkLog() {
  // Never closed: DPDK may log from its own threads until the process ends.
  static FILE* stream = [] {
    cookie_io_functions_t io{};
    io.write = writeDpdkLog;
    FILE* f = fopencookie(nullptr, "w", io);
    if (f != nullptr) setvbuf(f, nullptr, _IOLBF, 0);
    return f;
  }();
  if (stream != nullptr) rte_openlog_stream(stream);
}

void clearDpdkErrors() {
  std::lock_guard<std::mutex> lock(g_dpdk_log_mutex);
  g_dpdk_errors.clear();
}

// Appends what DPDK logged as errors since the last clear: the first one
// usually names the cause ("Couldn't open x.pcap", "Cannot get hugepage information").
std::string withDpdkSaid(std::string message) {
  std::lock_guard<std::mutex> lock(g_dpdk_log_mutex);
  for (size_t i = 0; i < g_dpdk_errors.size(); ++i) message += (i == 0 ? " (DPDK: " : "; ") + g_dpdk_errors[i];
  if (!g_dpdk_errors.empty()) message += ")";
  return message;
}

std::string rteError(int code) { return rte_strerror(code < 0 ? -code : code); }

// ---- EAL arguments and its runtime directory ---------------------------------

bool hasArg(const std::vector<std::string>& args, std::string_view name) {
  for (const std::string& a : args) {
    if (a == name || (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=')) {
      return true;
    }
  }
  return false;
}

std::string joinArgs(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

// Where EAL keeps a prefix's runtime files (eal_create_runtime_dir()).
fs::path dpdkRuntimeBase() {
  if (getuid() == 0) return "/var/run/dpdk";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  return fs::path(xdg != nullptr ? xdg : "/tmp") / "dpdk";
}

// A runtime directory some process may still use: its EAL primary holds a
// lock on `config` for its whole life (absent with --no-shconf), and between
// creating the directory and taking that lock, its pid is alive.
bool runtimeDirInUse(const fs::path& dir, pid_t pid) {
  if (kill(pid, 0) == 0 || errno != ESRCH) return true;
  int fd = open((dir / "config").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 0;
  probe.l_len = 0;  // the whole file
  // A pid from another pid namespace looks dead here; its lock does not.
  bool in_use = fcntl(fd, F_GETLK, &probe) != 0 || probe.l_type != F_UNLCK;
  close(fd);
  return in_use;
}

// Runtime directories of tapflow runs that crashed: replaced instead of piling up.
void removeStaleRuntimeDirs() {
  std::error_code ec;
  fs::path base = dpdkRuntimeBase();
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefixStem, 0) != 0 || !entry.is_directory(ec)) continue;
    const std::string digits = name.substr(std::strlen(kPrefixStem));
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::strtol(digits.c_str(), nullptr, 10));
    // Our own prefix (pid 1 again, in a restarted container) EAL takes over itself.
    if (pid <= 0 || pid == getpid()) continue;
    if (!runtimeDirInUse(entry.path(), pid)) {
      fs::remove_all(entry.path(), ec);
      if (!ec) logInfo("removed a stale DPDK runtime directory", {{"path", entry.path().string()}});
    }
  }
}

// Free hugepages of any size; EAL's own error for none is "Permission denied".
bool hugepagesFree() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/kernel/mm/hugepages", ec)) {
    std::ifstream in(entry.path() / "free_hugepages");
    uint64_t free_pages = 0;
    if (in >> free_pages && free_pages > 0) return true;
  }
  return false;
}

std::string ealFailureHint(int code, bool no_huge) {
  switch (code) {
    case EACCES:
      return no_huge ? "permission denied: DPDK needs root (or CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_IPC_LOCK)"
                     : "hugepages unusable: mount hugetlbfs and reserve hugepages, or add --no-huge -m 256 to "
                       "capture.dpdk.eal_args; or DPDK lacks root privileges";
    case EINVAL: return "invalid EAL arguments in capture.dpdk.eal_args";
    case ENOMEM: return "not enough memory: raise -m or reserve more hugepages";
    case ENODEV: return "a DPDK bus scan failed";
    case ENOTSUP: return "probing the devices failed (a --vdev or -a argument names a device DPDK cannot open)";
    case EALREADY: return "EAL already initialised in this process";
    default: return rteError(code);
  }
}

// ---- Ports and the EAL's lifetime --------------------------------------------

struct DpdkPort {
  uint16_t id = 0;
  std::string device;  // rte_eth_dev_get_name_by_port: "net_pcap0", "0000:3b:00.0"
  std::string driver;
  uint16_t rx_queues = 0;
  rte_mempool* pool = nullptr;
  // ethdev keeps a pointer to the key, and drivers read it again when they
  // restart a port after a reset: it lives as long as the port.
  std::vector<uint8_t> rss_key;
  bool configured = false;
  bool started = false;
  // Written by the capture thread of queue 0, read by the metrics thread.
  DpdkPortStats stats;
  Counter mbufs_available;  // a gauge
  std::vector<std::string> xstat_names;  // fixed once the port started
  std::unique_ptr<Counter[]> xstat_values;
  std::vector<rte_eth_xstat> xstat_buffer;  // capture thread of queue 0 only
};

std::atomic<bool> g_eal_started{false};

class DpdkRuntime {
 public:
  DpdkRuntime() = default;
  DpdkRuntime(const DpdkRuntime&) = delete;
  DpdkRuntime& operator=(const DpdkRuntime&) = delete;

  ~DpdkRuntime() {
    for (auto& port : ports_) {
      if (port->started) {
        int rc = rte_eth_dev_stop(port->id);
        if (rc != 0) logWarn("cannot stop DPDK port", {{"port", std::to_string(port->id)}, {"error", rteError(rc)}});
      }
      if (port->configured) rte_eth_dev_close(port->id);
    }
    // Pools outlive the ports that took mbufs from them.
    for (auto& port : ports_) {
      if (port->pool != nullptr) rte_mempool_free(port->pool);
    }
    if (eal_initialised_) rte_eal_cleanup();
    if (!runtime_dir_.empty()) {
      std::error_code ec;
      fs::remove_all(runtime_dir_, ec);
      if (ec) logWarn("cannot remove the DPDK runtime directory", {{"path", runtime_dir_}, {"error", ec.message()}});
    }
    if (eal_initialised_) logInfo("DPDK stopped", {{"ports", std::to_string(ports_.size())}});
  }

  void initEal(const DpdkConfig& config) {
    if (g_eal_started.load()) {
      throw CaptureSetupError(
          "DPDK's EAL was already started in this process and cannot be started twice: restart tapflow to change "
          "capture.dpdk");
    }
    std::vector<std::string> args{"tapflow"};
    args.insert(args.end(), config.eal_args.begin(), config.eal_args.end());
    const bool no_huge = hasArg(args, "--no-huge");
    if (!hasArg(args, "--file-prefix")) {
      // One prefix per run, so two tapflows (or a tapflow and another DPDK
      // application) never share runtime files.
      const std::string prefix = kPrefixStem + std::to_string(getpid());
      args.push_back("--file-prefix");
      args.push_back(prefix);
      removeStaleRuntimeDirs();
      runtime_dir_ = (dpdkRuntimeBase() / prefix).string();  // also what a failed init leaves
    }
    if (!no_huge && !hasArg(args, "--huge-unlink") && !hasArg(args, "--in-memory")) {
      // Hugepage files vanish once mapped, so a crashed run leaves none behind
      // (the price: no secondary processes; give --huge-unlink=never for them).
      args.push_back("--huge-unlink");
    }
    if (!no_huge && !hugepagesFree()) {
      throw CaptureSetupError(
          "DPDK needs hugepages and none is free (/sys/kernel/mm/hugepages/*/free_hugepages): reserve some, e.g. "
          "echo 1024 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages with hugetlbfs mounted, or add "
          "--no-huge -m 256 to capture.dpdk.eal_args to run without them (virtual devices, tests)");
    }

    routeDpdkLog();
    clearDpdkErrors();
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // EAL pins the calling thread to its main lcore; the workers and capture
    // threads tapflow starts next would inherit that one CPU.
    cpu_set_t affinity;
    const bool have_affinity = pthread_getaffinity_np(pthread_self(), sizeof(affinity), &affinity) == 0;
    logInfo("starting DPDK", {{"eal_args", joinArgs(args)}});
    g_eal_started.store(true);  // from here on, even a failed init cannot be retried
    // EAL prints its usage on stdout after a bad argument; stdout carries
    // events (`-o -`), so it goes to stderr while EAL starts (no other thread
    // writes yet: outputs start after the sources).
    std::fflush(stdout);
    const int saved_stdout = dup(STDOUT_FILENO);
    if (saved_stdout >= 0) dup2(STDERR_FILENO, STDOUT_FILENO);
    int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
    const int err = rte_errno;
    if (saved_stdout >= 0) {
      std::fflush(stdout);
      dup2(saved_stdout, STDOUT_FILENO);
      close(saved_stdout);
    }
    if (have_affinity) pthread_setaffinity_np(pthread_self(), sizeof(affinity), &affinity);
    if (rc < 0) {
      throw CaptureSetupError(withDpdkSaid("DPDK EAL initialisation failed: " + ealFailureHint(err, no_huge) +
                                           " [" + rteError(err) + "; arguments: " + joinArgs(args) + "]"));
    }
    eal_initialised_ = true;
    // A secondary process shares its primary's directory: that one is not ours to remove.
    runtime_dir_ = rte_eal_process_type() == RTE_PROC_PRIMARY ? rte_eal_get_runtime_dir() : "";
  }

  // The ports to capture: those named, else every port DPDK found.
  std::vector<uint16_t> choosePorts(const DpdkConfig& config) const {
    std::vector<uint16_t> available;
    uint16_t id;
    RTE_ETH_FOREACH_DEV(id) { available.push_back(id); }
    auto describe = [&available] {
      std::string out;
      for (uint16_t p : available) {
        char name[RTE_ETH_NAME_MAX_LEN] = {};
        rte_eth_dev_get_name_by_port(p, name);
        out += (out.empty() ? "" : ", ") + std::to_string(p) + " (" + name + ")";
      }
      return out.empty() ? std::string("none") : out;
    };
    if (available.empty()) {
      throw CaptureSetupError(withDpdkSaid(
          "DPDK found no ports: bind a NIC to vfio-pci and allow it with -a <PCI address> in capture.dpdk.eal_args, "
          "or add a virtual device, e.g. --vdev net_af_packet0,iface=eth0"));
    }
    if (config.ports.empty()) return available;
    std::vector<uint16_t> chosen;
    for (uint32_t p : config.ports) {
      if (p > UINT16_MAX || !rte_eth_dev_is_valid_port(static_cast<uint16_t>(p))) {
        throw CaptureSetupError(withDpdkSaid("DPDK port " + std::to_string(p) +
                                             " (capture.dpdk.ports) does not exist; DPDK's ports: " + describe()));
      }
      chosen.push_back(static_cast<uint16_t>(p));
    }
    return chosen;
  }

  DpdkPort& setupPort(uint16_t id, const DpdkConfig& config) {
    ports_.push_back(std::make_unique<DpdkPort>());
    DpdkPort& port = *ports_.back();
    port.id = id;
    clearDpdkErrors();
    const std::string label = "DPDK port " + std::to_string(id);
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(id, name);
    port.device = name;

    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(id, &info); rc != 0) {
      throw CaptureSetupError(label + " (" + port.device + "): cannot read device information: " + rteError(rc));
    }
    port.driver = info.driver_name != nullptr ? info.driver_name : "";
    const std::string what = label + " (" + port.device + ", " + port.driver + ")";
    if (config.rx_queues > info.max_rx_queues) {
      throw CaptureSetupError(what + " has at most " + std::to_string(info.max_rx_queues) +
                              " RX queue(s), capture.dpdk.rx_queues is " + std::to_string(config.rx_queues) +
                              " (virtual devices take a queue count: net_af_packet qpairs=N, net_af_xdp "
                              "queue_count=N, net_pcap one rx_pcap/rx_iface per queue)");
    }
    port.rx_queues = static_cast<uint16_t>(config.rx_queues);
    // af_xdp refuses RX queues without TX partners; others accept either.
    const uint16_t tx_queues = std::min<uint16_t>(port.rx_queues, info.max_tx_queues);

    rte_eth_conf conf{};
    const uint64_t rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_SCTP) & info.flow_type_rss_offloads;
    const bool rss = port.rx_queues > 1 && rss_hf != 0;
    if (rss) {
      port.rss_key = symmetricRssKey(info.hash_key_size != 0 ? info.hash_key_size : kDefaultRssKeySize);
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_key = port.rss_key.data();
      conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(port.rss_key.size());
      conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    } else if (port.rx_queues > 1) {
      logWarn("DPDK port has no RSS: its driver spreads packets over the queues its own way (net_af_packet: "
              "kernel fanout; net_af_xdp: the interface's queues)",
              {{"port", std::to_string(id)}, {"device", port.device}, {"driver", port.driver}});
    }
    // Mirrored traffic may carry jumbo frames, which a port at DPDK's default
    // MTU (1500) drops. Where the driver can chain mbufs (scattered RX), take
    // frames up to a 9000-byte MTU; the chains are linearised when decoded.
    const bool jumbo = (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) != 0 && info.max_mtu > RTE_ETHER_MTU;
    if (jumbo) {
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
      conf.rxmode.mtu = std::min<uint32_t>(info.max_mtu, kJumboMtu);
    }
    int rc = rte_eth_dev_configure(id, port.rx_queues, tx_queues, &conf);
    if (rc != 0 && jumbo) {
      logWarn("DPDK port refused a jumbo MTU with scattered RX: it keeps the default MTU and drops larger frames",
              {{"port", std::to_string(id)}, {"device", port.device}, {"error", rteError(rc)}});
      conf.rxmode.offloads &= ~RTE_ETH_RX_OFFLOAD_SCATTER;
      conf.rxmode.mtu = 0;
      rc = rte_eth_dev_configure(id, port.rx_queues, tx_queues, &conf);
    }
    if (rc != 0) {
      throw CaptureSetupError(withDpdkSaid(what + ": rte_eth_dev_configure with " + std::to_string(port.rx_queues) +
                                           " RX queue(s)" + (rss ? " and symmetric RSS" : "") +
                                           " failed: " + rteError(rc)));
    }
    port.configured = true;
    uint16_t mtu = 0;
    rte_eth_dev_get_mtu(id, &mtu);

    uint16_t rx_descriptors = static_cast<uint16_t>(std::min<uint32_t>(config.rx_descriptors, UINT16_MAX));
    uint16_t tx_descriptors = kTxDescriptors;
    if (rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rx_descriptors, &tx_descriptors); rc != 0) {
      throw CaptureSetupError(what + ": cannot fit " + std::to_string(config.rx_descriptors) +
                              " RX descriptors to the device's limits: " + rteError(rc));
    }
    if (rx_descriptors != config.rx_descriptors) {
      logWarn("DPDK port takes another number of RX descriptors than capture.dpdk.rx_descriptors",
              {{"port", std::to_string(id)}, {"configured", std::to_string(config.rx_descriptors)},
               {"used", std::to_string(rx_descriptors)}});
    }

    int socket = rte_eth_dev_socket_id(id);
    if (socket < 0) socket = SOCKET_ID_ANY;  // a virtual device, or NUMA unknown
    warnIfPoolSmall(port, config, rx_descriptors);
    const std::string pool_name = "tapflow_rx_" + std::to_string(id);
    port.pool = rte_pktmbuf_pool_create(pool_name.c_str(), config.mbufs, config.mbuf_cache, 0,
                                        RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (port.pool == nullptr) {
      const int err = rte_errno;
      throw CaptureSetupError(withDpdkSaid(
          what + ": cannot create a pool of " + std::to_string(config.mbufs) + " mbufs (capture.dpdk.mbufs, cache " +
          std::to_string(config.mbuf_cache) + "): " + rteError(err) +
          (err == ENOMEM ? "; give DPDK more memory (-m, or more hugepages) or lower capture.dpdk.mbufs" : "")));
    }
    for (uint16_t q = 0; q < port.rx_queues; ++q) {
      if (rc = rte_eth_rx_queue_setup(id, q, rx_descriptors, static_cast<unsigned>(socket), nullptr, port.pool);
          rc != 0) {
        throw CaptureSetupError(withDpdkSaid(what + ": cannot set up RX queue " + std::to_string(q) + " with " +
                                             std::to_string(rx_descriptors) + " descriptors: " + rteError(rc)));
      }
    }
    for (uint16_t q = 0; q < tx_queues; ++q) {
      if (rc = rte_eth_tx_queue_setup(id, q, tx_descriptors, static_cast<unsigned>(socket), nullptr); rc != 0) {
        throw CaptureSetupError(withDpdkSaid(what + ": cannot set up TX queue " + std::to_string(q) + ": " +
                                             rteError(rc)));
      }
    }
    if (rc = rte_eth_dev_start(id); rc != 0) {
      throw CaptureSetupError(withDpdkSaid(what + ": cannot start: " + rteError(rc) +
                                           (rc == -ENOMEM ? "; raise capture.dpdk.mbufs" : "")));
    }
    port.started = true;
    // A capture port receives traffic addressed to anyone (SPAN, TAP, mirror).
    if (rc = rte_eth_promiscuous_enable(id); rc != 0) {
      logWarn("DPDK port cannot enter promiscuous mode: it receives only its own and broadcast traffic",
              {{"port", std::to_string(id)}, {"device", port.device}, {"error", rteError(rc)}});
    }

    const int count = rte_eth_xstats_get_names(id, nullptr, 0);
    if (count > 0) {
      std::vector<rte_eth_xstat_name> names(static_cast<size_t>(count));
      const int got = rte_eth_xstats_get_names(id, names.data(), static_cast<unsigned>(count));
      for (int i = 0; i < std::min(got, count); ++i) port.xstat_names.emplace_back(names[size_t(i)].name);
    }
    port.xstat_values = std::make_unique<Counter[]>(port.xstat_names.size());
    port.xstat_buffer.resize(port.xstat_names.size());
    port.mbufs_available.set(rte_mempool_avail_count(port.pool));

    logInfo("DPDK port started",
            {{"port", std::to_string(id)}, {"device", port.device}, {"driver", port.driver},
             {"rx_queues", std::to_string(port.rx_queues)}, {"rx_descriptors", std::to_string(rx_descriptors)},
             {"rss", rss ? "symmetric" : "off"}, {"mtu", std::to_string(mtu)}, {"mbufs", std::to_string(config.mbufs)},
             {"socket", std::to_string(socket)}, {"xstats", std::to_string(port.xstat_names.size())}});
    return port;
  }

 private:
  // Every RX descriptor holds an mbuf; each capture thread's cache and the
  // main thread's (which filled the rings at start) keep up to 1.5 × cache.
  static void warnIfPoolSmall(const DpdkPort& port, const DpdkConfig& config, uint16_t rx_descriptors) {
    const uint64_t cache = uint64_t(config.mbuf_cache) * 3 / 2;
    const uint64_t needed = uint64_t(port.rx_queues) * (rx_descriptors + config.burst + cache) + cache;
    if (config.mbufs < needed) {
      logWarn("capture.dpdk.mbufs is smaller than the RX rings, bursts and per-thread caches hold: expect rx_nombuf "
              "drops",
              {{"port", std::to_string(port.id)}, {"mbufs", std::to_string(config.mbufs)},
               {"needed", std::to_string(needed)}});
    }
  }

  bool eal_initialised_ = false;
  std::string runtime_dir_;
  std::vector<std::unique_ptr<DpdkPort>> ports_;
};

// ---- One RX queue ------------------------------------------------------------

class DpdkQueueSource : public PacketSource {
 public:
  DpdkQueueSource(std::shared_ptr<DpdkRuntime> runtime, DpdkPort& port, uint16_t queue, const CaptureConfig& config)
      : runtime_(std::move(runtime)),
        port_(port),
        queue_(queue),
        burst_(static_cast<uint16_t>(std::clamp<uint32_t>(config.dpdk.burst, 1, UINT16_MAX))),
        snaplen_(config.snaplen),
        name_("dpdk:" + std::to_string(port.id) + ":" + std::to_string(queue)),
        mbufs_(burst_, nullptr),
        linear_(config.snaplen, 0) {}

  const std::string& name() const override { return name_; }
  bool isOffline() const override { return false; }
  Timestamp lastTimestamp() const override { return last_ts_; }
  const CaptureStats& stats() const override { return stats_; }
  const DecodeStats& decodeStats() const override { return decode_stats_; }

  void run(Handoff& handoff, const std::atomic<bool>& stop) override {
    // An lcore id gives this thread its own mbuf cache in the pool: the PMD
    // allocates in rx_burst and we free right after, on this thread.
    const bool registered = rte_thread_register() == 0;
    if (!registered) {
      logWarn("capture thread runs without a DPDK lcore id: the mbuf pool's per-thread cache is unused",
              {{"capture", name_}, {"error", rteError(rte_errno)}});
    }
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);  // short idle sleeps stay short (default slack: 50 µs)
    const bool owns_port_stats = queue_ == 0;
    Timestamp next_stats = 0;
    uint32_t idle_polls = 0;
    long idle_sleep_ns = kIdleSleepMinNs;
    rte_mbuf** mbufs = mbufs_.data();
    DecodedPacket pkt;

    while (!stop.load(std::memory_order_relaxed)) {
      const uint16_t n = rte_eth_rx_burst(port_.id, queue_, mbufs, burst_);
      if (n == 0) {
        queue_stats_.empty_polls.add();
        if (++idle_polls < kSpinPolls) {
          rte_pause();
          continue;
        }
        const timespec pause{0, idle_sleep_ns};
        nanosleep(&pause, nullptr);
        idle_sleep_ns = std::min(idle_sleep_ns * 2, kIdleSleepMaxNs);
        if (owns_port_stats) {
          const Timestamp now = wallClockNow();
          if (now >= next_stats) {
            refreshPortStats();
            next_stats = now + kStatsInterval;
          }
        }
        continue;
      }
      idle_polls = 0;
      idle_sleep_ns = kIdleSleepMinNs;
      queue_stats_.polls.add();
      const Timestamp now = wallClockNow();  // one clock read per burst
      last_ts_ = now;
      // Packets kPrefetchPackets ahead are on their way while this one is decoded.
      for (uint16_t i = 0; i < n && i < kPrefetchPackets; ++i) {
        prefetchPacket(rte_pktmbuf_mtod(mbufs[i], const uint8_t*));
      }
      for (uint16_t i = 0; i < n; ++i) {
        if (i + kPrefetchPackets < n) prefetchPacket(rte_pktmbuf_mtod(mbufs[i + kPrefetchPackets], const uint8_t*));
        if (decodeMbuf(mbufs[i], now, pkt)) handoff.push(pkt);  // push copies: the mbuf can go
      }
      rte_pktmbuf_free_bulk(mbufs, n);
      handoff.flush();
      if (owns_port_stats && now >= next_stats) {
        refreshPortStats();
        next_stats = now + kStatsInterval;
      }
    }
    handoff.flush();
    if (owns_port_stats) refreshPortStats();  // final values for the last scrape
    if (registered) rte_thread_unregister();
  }

  void collectMetrics(MetricsWriter& metrics, const MetricLabels& labels) const override {
    metrics.stats("dpdk_queue", queue_stats_, labels);
    if (queue_ != 0) return;
    // Port-wide figures once per port, from the source that reads them.
    MetricLabels port_labels{{"port", std::to_string(port_.id)}, {"device", port_.device}};
    metrics.stats("dpdk", port_.stats, port_labels);
    metrics.gauge("tapflow_dpdk_mbufs_available", "Free mbufs in the port's pool (of capture.dpdk.mbufs)",
                  port_labels, double(port_.mbufs_available.value()));
    for (size_t i = 0; i < port_.xstat_names.size(); ++i) {
      MetricLabels xlabels = port_labels;
      xlabels.emplace_back("name", port_.xstat_names[i]);
      metrics.counter("tapflow_dpdk_xstats_total", "The port's extended statistics (rte_eth_xstats), by DPDK's name",
                      std::move(xlabels), port_.xstat_values[i].value());
    }
  }

 private:
  // Decodes one packet (all its segments, up to snaplen). False: not for the workers.
  bool decodeMbuf(rte_mbuf*& m, Timestamp now, DecodedPacket& pkt) {
    if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) [[unlikely]] {
      // The flow key includes the VLAN: put back what the device took off.
      if (rte_vlan_insert(&m) == 0) {
        queue_stats_.vlan_reinserted.add();
      } else {
        queue_stats_.vlan_reinsert_failed.add();
      }
    }
    const uint32_t wire_len = m->pkt_len;
    uint32_t cap_len = std::min(wire_len, snaplen_);
    const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
    if (m->data_len < cap_len) [[unlikely]] {
      // A chained mbuf (jumbo frame, net_pcap): copy the segments into one buffer.
      const void* linear = rte_pktmbuf_read(m, 0, cap_len, linear_.data());
      if (linear != nullptr) {
        data = static_cast<const uint8_t*>(linear);
        queue_stats_.multi_segment.add();
      } else {
        cap_len = m->data_len;  // a chain shorter than pkt_len claims: keep the first segment
      }
    }
    stats_.packets.add();
    stats_.bytes.add(cap_len);
    return decodePacket(data, cap_len, wire_len, now, LinkType::kEthernet, pkt, decode_stats_) == DecodeResult::kOk;
  }

  // On the capture thread: some PMDs gather these with syscalls (af_packet,
  // af_xdp) or from state only the RX path may touch.
  void refreshPortStats() {
    rte_eth_stats s{};
    if (rte_eth_stats_get(port_.id, &s) == 0) {
      port_.stats.rx_packets.set(s.ipackets);
      port_.stats.rx_bytes.set(s.ibytes);
      port_.stats.imissed.set(s.imissed);
      port_.stats.rx_nombuf.set(s.rx_nombuf);
      port_.stats.ierrors.set(s.ierrors);
    }
    const size_t count = port_.xstat_buffer.size();
    if (count > 0) {
      const int got = rte_eth_xstats_get(port_.id, port_.xstat_buffer.data(), static_cast<unsigned>(count));
      for (size_t i = 0; got > 0 && i < std::min(size_t(got), count); ++i) {
        const rte_eth_xstat& x = port_.xstat_buffer[i];
        if (x.id < count) port_.xstat_values[x.id].set(x.value);
      }
    }
    port_.mbufs_available.set(rte_mempool_avail_count(port_.pool));
  }

  std::shared_ptr<DpdkRuntime> runtime_;  // the last source to go takes DPDK down
  DpdkPort& port_;
  const uint16_t queue_;
  const uint16_t burst_;
  const uint32_t snaplen_;
  const std::string name_;
  std::vector<rte_mbuf*> mbufs_;
  std::vector<uint8_t> linear_;  // a chained packet, made contiguous
  Timestamp last_ts_ = 0;
  CaptureStats stats_;
  DecodeStats decode_stats_;
  DpdkQueueStats queue_stats_;
};

}  // namespace

std::vector<std::unique_ptr<PacketSource>> makeDpdkSources(const CaptureConfig& config) {
  // Undone by its destructor if anything below throws.
  auto runtime = std::make_shared<DpdkRuntime>();
  runtime->initEal(config.dpdk);
  std::vector<DpdkPort*> ports;
  for (uint16_t id : runtime->choosePorts(config.dpdk)) ports.push_back(&runtime->setupPort(id, config.dpdk));
  std::vector<std::unique_ptr<PacketSource>> sources;
  for (DpdkPort* port : ports) {
    for (uint16_t q = 0; q < port->rx_queues; ++q) {
      sources.push_back(std::make_unique<DpdkQueueSource>(runtime, *port, q, config));
    }
  }
  return sources;
}

}  // namespace tapflow
