// tapflow's command line: run (the daemon), read (offline pcap), check-config.
// Exit codes: 0 success, 1 configuration or usage error, 2 runtime failure.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "app/config.h"
#include "app/pipeline.h"
#include "ops/log.h"

namespace {

using namespace tapflow;

constexpr int kExitOk = 0;
constexpr int kExitConfig = 1;

const char* kUsage = R"(tapflow — packet capture appliance for Kubernetes nodes

Usage:
  tapflow read FILE.pcap [-c CONFIG] [-o OUTPUT]... [--workers N]
      Process a pcap or pcapng file and write one JSON event per line.
  tapflow run -c CONFIG [-o OUTPUT]...
      Run as a daemon with the configured source, serving /metrics,
      /healthz and /readyz, until SIGTERM or SIGINT.
  tapflow check-config CONFIG
      Load and validate a configuration file, then exit.
  tapflow --version | --help

Options:
  -c, --config FILE   YAML configuration (docs/config.md); read works without one
  -o, --output OUT    "-" (stdout) or a file path for JSON lines; repeat for
                      several outputs; replaces the config's outputs
  --workers N         number of worker threads (overrides workers.count)

Exit codes: 0 success, 1 configuration or usage error, 2 runtime failure.
)";

struct CommandLine {
  std::string command;
  std::string positional;
  std::string config_path;
  std::vector<std::string> outputs;
  long workers = 0;
};

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
  signal(SIGPIPE, SIG_IGN);
}

bool loadConfig(const std::string& path, ConfigUse use, Config& config) {
  try {
    config = path.empty() ? Config{} : loadConfigFile(path, use);
    return true;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "tapflow: configuration error: %s\n", e.what());
    return false;
  }
}

void applyOverrides(const CommandLine& cl, Config& config) {
  if (!cl.outputs.empty()) {
    OutputConfig base = config.outputs.empty() ? OutputConfig{} : config.outputs.front();
    config.outputs.clear();
    for (const auto& path : cl.outputs) {
      OutputConfig o = base;
      o.type = "jsonl";
      o.path = path;
      config.outputs.push_back(o);
    }
  }
  if (cl.workers > 0) {
    config.workers.count = uint32_t(cl.workers);
    config.workers.cores.clear();  // a pinning list for another count no longer applies
  }
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

  if (cl.command == "check-config") {
    std::string path = !cl.positional.empty() ? cl.positional : cl.config_path;
    if (path.empty()) return usageError("check-config needs a configuration file");
    Config config;
    if (!loadConfig(path, ConfigUse::kCheck, config)) return kExitConfig;
    std::printf("%s: ok\n", path.c_str());
    return kExitOk;
  }

  if (cl.command != "read" && cl.command != "run") return usageError("unknown command " + cl.command);
  if (cl.command == "run" && cl.config_path.empty()) return usageError("run needs -c CONFIG");

  Config config;
  if (!loadConfig(cl.config_path, cl.command == "run" ? ConfigUse::kRun : ConfigUse::kCheck, config)) {
    return kExitConfig;
  }
  for (size_t i = 0; i < cl.outputs.size(); ++i) {
    for (size_t j = i + 1; j < cl.outputs.size(); ++j) {
      if (cl.outputs[i] == cl.outputs[j]) return usageError("output " + cl.outputs[i] + " given twice");
    }
  }
  applyOverrides(cl, config);
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
