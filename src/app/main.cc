// tapflow's command line: run (the daemon), read (offline pcap), check-config.
// Exit codes: 0 success, 1 configuration or usage error, 2 runtime failure.
#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "app/config.h"
#include "app/pipeline.h"
#include "app/target_keeper.h"
#include "ops/log.h"

namespace {

using namespace tapflow;

constexpr int kExitOk = 0;
constexpr int kExitConfig = 1;

const char* kUsage = R"(tapflow — packet capture appliance for Kubernetes nodes

Usage:
  tapflow read FILE.pcap [-c CONFIG] [-o OUTPUT]... [--workers N]
      Process a pcap or pcapng file and write one JSON event per line.
  tapflow run -c CONFIG [-o OUTPUT]... [--workers N]
      Run as a daemon with the configured source, serving /metrics,
      /healthz and /readyz, until SIGTERM or SIGINT.
  tapflow run -i IFACE [-i IFACE]... [--mode MODE] [-c CONFIG] [-o OUTPUT]...
      Capture live from the interfaces, with or without a config file (as
      tcpdump does): AF_XDP on every RX queue and JSON lines on stdout unless
      told otherwise. Stops cleanly on SIGTERM or SIGINT (Ctrl-C).
  tapflow check-config CONFIG
      Load and validate a configuration file, then exit.
  tapflow --version | --help

Options:
  -c, --config FILE    YAML configuration (docs/config.md); read works without
                       one, and so does run when given -i
  -o, --output OUT     where events go; repeat for several; replaces the
                       config's outputs:
                         - | PATH            JSON lines (stdout, a file)
                         kafka://BROKER[,BROKER...][/TOPIC_PREFIX]
                         hep://HOST:PORT     HEP v3 over UDP (HOMER)
                         hep+tcp://HOST:PORT | hep+tls://HOST:PORT
                       kafka and hep take their other settings from the
                       config's first output of that type, if any
  -i, --interface IF   capture this interface (repeat for several); replaces
                       the config's interfaces. With --mode mirror, an
                       interface or shell pattern to mirror ('cali*'); with
                       --mode dpdk, a kernel interface (opened with DPDK's
                       net_af_packet) or a PCI address (-a for the EAL)
  --mode MODE          afxdp (the default), afpacket, mirror or dpdk;
                       replaces capture.source
  --workers N          number of worker threads (overrides workers.count)

Without -c, every setting is its default (docs/config.md), except that
/metrics listens on a free port of 127.0.0.1 (logged) so that a run from the
shell never collides with a running daemon.

Exit codes: 0 success, 1 configuration or usage error, 2 runtime failure
(a missing interface, capability or kernel feature, named on stderr).
)";

struct CommandLine {
  std::string command;
  std::string positional;
  std::string config_path;
  std::vector<std::string> outputs;
  std::vector<std::string> interfaces;  // -i
  std::string mode;                     // --mode
  long workers = 0;

  bool capturesLive() const { return !interfaces.empty() || !mode.empty(); }
};

constexpr const char* kLiveModes[] = {"afxdp", "afpacket", "mirror", "dpdk"};

int usageError(const std::string& message) {
  std::fprintf(stderr, "tapflow: %s\nRun 'tapflow --help' for usage.\n", message.c_str());
  return kExitConfig;
}

// Returns -1 on success, else the exit code.
int parseCommandLine(int argc, char** argv, CommandLine& cl) {
  if (argc < 2) return usageError("missing command");
  cl.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)name;
      return argv[++i];
    };
    if (arg == "-c" || arg == "--config") {
      const char* v = value("--config");
      if (!v) return usageError(arg + " needs a file");
      cl.config_path = v;
    } else if (arg == "-o" || arg == "--output") {
      const char* v = value("--output");
      if (!v) return usageError(arg + " needs an output");
      cl.outputs.push_back(v);
    } else if (arg == "-i" || arg == "--interface") {
      const char* v = value("--interface");
      if (!v || *v == '\0') return usageError(arg + " needs an interface");
      for (const auto& earlier : cl.interfaces) {
        if (earlier == v) return usageError(std::string("interface ") + v + " given twice");
      }
      cl.interfaces.push_back(v);
    } else if (arg == "--mode") {
      const char* v = value("--mode");
      if (!v) return usageError("--mode needs one of afxdp, afpacket, mirror, dpdk");
      bool known = false;
      for (const char* m : kLiveModes) known = known || std::strcmp(m, v) == 0;
      if (!known) return usageError(std::string("unknown mode ") + v + "; use afxdp, afpacket, mirror or dpdk");
      cl.mode = v;
    } else if (arg == "--workers") {
      const char* v = value("--workers");
      char* end = nullptr;
      if (!v || (cl.workers = std::strtol(v, &end, 10), *end != '\0') || cl.workers < 1 || cl.workers > 256) {
        return usageError("--workers needs a number between 1 and 256");
      }
    } else if (!arg.empty() && arg[0] == '-' && arg != "-") {
      return usageError("unknown option " + arg);
    } else if (cl.positional.empty()) {
      cl.positional = arg;
    } else {
      return usageError("unexpected argument " + arg);
    }
  }
  return -1;
}

void onStopSignal(int) { g_stop_requested.store(true); }

void installSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  struct sigaction reload {};
  reload.sa_handler = [](int) { g_reload_requested.store(true); };
  sigemptyset(&reload.sa_mask);
  sigaction(SIGHUP, &reload, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool loadConfig(const std::string& path, ConfigUse use, Config& config) {
  try {
    // Not a ?: of two temporaries: g++ 12 then warns of an uninitialised string.
    if (path.empty()) {
      config = Config{};
    } else {
      config = loadConfigFile(path, use);
    }
    return true;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "tapflow: configuration error: %s\n", e.what());
    return false;
  }
}

// [DOMAIN:]BUS:DEVICE.FUNCTION in hex, as the EAL's -a takes it.
bool isPciAddress(const std::string& s) {
  size_t i = 0;
  auto hex = [&](size_t n) {
    for (size_t k = 0; k < n; ++k, ++i) {
      if (i >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
  };
  auto sep = [&](char c) { return i < s.size() && s[i++] == c; };
  if (s.size() == 12 && !(hex(4) && sep(':'))) return false;
  return hex(2) && sep(':') && hex(2) && sep('.') && i < s.size() && s[i] >= '0' && s[i] <= '7' && ++i == s.size();
}

// `run --mode dpdk -i DEV`: the named devices become the only ports. The
// config's own device arguments give way; a kernel interface is opened with
// net_af_packet, a PCI address is allowed with -a. When the config gives no
// EAL arguments besides devices and no PCI device is named, DPDK runs
// without hugepages, which virtual devices over kernel interfaces do not need.
void useDpdkDevices(const std::vector<std::string>& devices, DpdkConfig& dpdk) {
  static constexpr const char* kDeviceOptions[] = {"--vdev", "-a", "--allow", "-b", "--block", "-w",
                                                   "--pci-whitelist", "--pci-blacklist"};
  std::vector<std::string> args;
  for (size_t i = 0; i < dpdk.eal_args.size(); ++i) {
    const std::string& a = dpdk.eal_args[i];
    bool device = false;
    for (const char* option : kDeviceOptions) {
      const std::string o = option;
      if (a == o) {
        ++i;  // and its value
        device = true;
      } else if (a.rfind(o + "=", 0) == 0 || (o.size() == 2 && a.size() > 2 && a.rfind(o, 0) == 0)) {
        device = true;
      }
      if (device) break;
    }
    if (!device) args.push_back(a);
  }
  bool any_pci = false;
  uint32_t vdevs = 0;
  std::vector<std::string> device_args;
  for (const std::string& d : devices) {
    if (isPciAddress(d)) {
      device_args.insert(device_args.end(), {"-a", d});
      any_pci = true;
    } else {
      device_args.insert(device_args.end(), {"--vdev", "net_af_packet" + std::to_string(vdevs++) + ",iface=" + d +
                                                           ",qpairs=" + std::to_string(dpdk.rx_queues)});
    }
  }
  if (!any_pci) {
    if (args.empty()) args.insert(args.end(), {"--no-huge", "-m", "256"});
    if (std::find(args.begin(), args.end(), "--no-pci") == args.end()) args.push_back("--no-pci");
  }
  args.insert(args.end(), device_args.begin(), device_args.end());
  dpdk.eal_args = std::move(args);
  dpdk.ports.clear();
}

// -i and --mode over the config: they replace what they name and nothing else.
// Returns -1, else a usage error's exit code.
int applyCaptureOverrides(const CommandLine& cl, Config& config) {
  if (!cl.capturesLive()) return -1;
  CaptureConfig& c = config.capture;
  // Without --mode, a config's own live source stays; a pcap one gives way to the default.
  c.source = !cl.mode.empty() ? cl.mode : (c.source != "pcap" ? c.source : "afxdp");
  if (!cl.interfaces.empty()) {
    if (c.source == "mirror") {
      c.mirror.interfaces = cl.interfaces;
    } else if (c.source == "dpdk") {
      useDpdkDevices(cl.interfaces, c.dpdk);
    } else {
      c.interfaces = cl.interfaces;
    }
  }
  if ((c.source == "afxdp" || c.source == "afpacket") && c.interfaces.empty()) {
    return usageError("--mode " + c.source + " needs -i IFACE, or capture.interfaces in the config");
  }
  if (c.source == "mirror" && c.mirror.interfaces.empty() && config.targets.empty()) {
    return usageError("--mode mirror needs -i IFACE (or a pattern such as 'cali*'), capture.mirror.interfaces "
                      "or targets in the config");
  }
  // The file's filter was checked against the file's source; a mode that
  // cannot apply it would silently capture everything.
  const bool filtered = !c.filter.cidrs.empty() || !c.filter.ports.empty() || !c.filter.protocols.empty();
  const bool xdp = c.source == "afxdp" || (c.source == "mirror" && c.mirror.capture == "afxdp");
  if (!config.targets.empty() && !xdp) {
    return usageError("--mode " + c.source + " cannot apply the config's targets: only the XDP program does "
                      "(afxdp, or mirror with capture.mirror.capture afxdp)");
  }
  if (filtered && !xdp) {
    return usageError("--mode " + c.source + " cannot apply the config's capture.filter: only the XDP program "
                      "does (afxdp, or mirror with capture.mirror.capture afxdp)");
  }
  return -1;
}

// -o replaces the config's outputs. A kafka or hep output named on the
// command line takes its other settings (properties, secrets, agent id...)
// from the config's first output of its type, so the file can hold them.
// Returns -1 on success, else the exit code.
int applyOverrides(const CommandLine& cl, Config& config) {
  if (!cl.outputs.empty()) {
    std::vector<OutputConfig> outputs;
    for (const auto& arg : cl.outputs) {
      OutputConfig o;
      try {
        o = outputFromCommandLine(arg);
      } catch (const ConfigError& e) {
        return usageError(e.what());
      }
      for (const OutputConfig& configured : config.outputs) {
        if (configured.type != o.type) continue;
        OutputConfig merged = configured;
        merged.path = o.path;
        if (o.type == "kafka") {
          merged.kafka.brokers = o.kafka.brokers;
          merged.kafka.topic_prefix = o.kafka.topic_prefix;
        }
        if (o.type == "hep") merged.hep.destinations = o.hep.destinations;
        o = merged;
        break;
      }
      // The file's rule holds for destinations named here too.
      if (o.type == "hep" && o.hep.has_auth_key && !o.hep.allow_auth_key_over_udp) {
        for (const HepEndpoint& e : o.hep.destinations) {
          if (e.transport != "udp") continue;
          return usageError("-o " + arg + ": the config's auth_key would travel in clear text over UDP; use "
                            "hep+tls://, or set allow_auth_key_over_udp: true in the config's hep output");
        }
      }
      outputs.push_back(std::move(o));
    }
    config.outputs = std::move(outputs);
  }
  if (cl.workers > 0) {
    config.workers.count = uint32_t(cl.workers);
    config.workers.cores.clear();  // a pinning list for another count no longer applies
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
                    std::strcmp(argv[1], "help") == 0)) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (argc >= 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("tapflow %s\n", TAPFLOW_VERSION);
    return kExitOk;
  }

  CommandLine cl;
  if (int rc = parseCommandLine(argc, argv, cl); rc >= 0) return rc;

  if (cl.command != "read" && cl.command != "run" && cl.command != "check-config") {
    return usageError("unknown command " + cl.command);
  }
  if (cl.command != "run" && cl.capturesLive()) return usageError("-i and --mode are for run");
  if (cl.command == "check-config") {
    std::string path = !cl.positional.empty() ? cl.positional : cl.config_path;
    if (path.empty()) return usageError("check-config needs a configuration file");
    Config config;
    if (!loadConfig(path, ConfigUse::kCheck, config)) return kExitConfig;
    std::printf("%s: ok\n", path.c_str());
    return kExitOk;
  }

  if (cl.command == "run" && cl.config_path.empty() && !cl.capturesLive()) {
    return usageError("run needs -c CONFIG or -i IFACE");
  }

  // A run given its capture on the command line does not need it in the file.
  const ConfigUse use = cl.command == "run" && !cl.capturesLive() ? ConfigUse::kRun : ConfigUse::kCheck;
  Config config;
  if (!loadConfig(cl.config_path, use, config)) return kExitConfig;
  if (cl.config_path.empty() && cl.command == "run") {
    // From the shell: a free port, never the daemon's.
    config.metrics.listen = "127.0.0.1:0";
  }
  if (int rc = applyCaptureOverrides(cl, config); rc >= 0) return rc;
  for (size_t i = 0; i < cl.outputs.size(); ++i) {
    for (size_t j = i + 1; j < cl.outputs.size(); ++j) {
      if (cl.outputs[i] == cl.outputs[j]) return usageError("output " + cl.outputs[i] + " given twice");
    }
  }
  if (int rc = applyOverrides(cl, config); rc >= 0) return rc;
  try {
    resolveSecrets(config);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "tapflow: configuration error: %s\n", e.what());
    return kExitConfig;
  }
  LogLevel level;
  if (parseLogLevel(config.logging.level, level)) setLogLevel(level);

  RunMode mode = RunMode::kDaemon;
  if (cl.command == "read") {
    if (cl.positional.empty()) return usageError("read needs a pcap file");
    config.capture.source = "pcap";
    config.capture.pcap_path = cl.positional;
    mode = RunMode::kRead;
  } else {
    if (!cl.positional.empty()) return usageError("unexpected argument " + cl.positional);
  }

  installSignalHandlers();
  return runPipeline(config, mode);
}
