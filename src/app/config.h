// tapflow's configuration: one YAML file, one struct per section.
// Loading refuses unknown keys, wrong types and out-of-range values with the
// file, line, column and key path, before anything starts.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "packet/timestamp.h"
#include "reassembly/ip_defrag.h"

namespace tapflow {

struct CaptureConfig {
  std::string source = "pcap";  // only "pcap" so far; live sources come with the live-capture issue
  std::string pcap_path;        // capture.pcap.path: pcap or pcapng file
  uint32_t snaplen = 65535;     // bytes kept of each packet
  std::vector<int> cores;       // capture thread pinning; empty: unpinned
};

struct WorkerConfig {
  uint32_t count = 2;
  std::vector<int> cores;            // one per worker when given
  uint32_t queue_batches = 64;       // batches in flight per (capture thread, worker)
  uint32_t batch_packets = 64;       // packets per hand-off batch
  uint32_t batch_bytes = 256 * 1024; // packet bytes per hand-off batch
};

struct FlowConfig {
  uint32_t max_flows = 262144;             // per worker
  Duration idle_timeout = 60 * kNanosPerSecond;
  Duration active_timeout = 300 * kNanosPerSecond;
  Duration closed_timeout = 5 * kNanosPerSecond;  // kept after FIN/RST to absorb the last ACKs
  bool vlan_in_key = true;                 // VLAN id is part of the flow key (Suricata's default)
};

struct OutputConfig {
  std::string type = "jsonl";  // jsonl
  std::string path = "-";      // "-" is stdout
  uint32_t queue_events = 65536;  // events buffered between workers and this output
};

struct MetricsConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:9108";  // /metrics, /healthz, /readyz
};

struct LoggingConfig {
  std::string level = "info";  // debug, info, warn, error
};

struct Config {
  std::string source_file;  // where it was loaded from, "" for defaults
  CaptureConfig capture;
  WorkerConfig workers;
  FlowConfig flows;
  DefragConfig defrag;
  std::vector<OutputConfig> outputs{OutputConfig{}};
  MetricsConfig metrics;
  LoggingConfig logging;
};

// Thrown at start-up only; what() reads "FILE:LINE:COLUMN: KEY.PATH: message"
// (LINE and COLUMN 1-based). Errors about the document as a whole have no
// KEY.PATH; a file that cannot be read gives "FILE: message".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// kCheck validates the file alone, so an empty file yields the defaults
// (check-config, and `read`, which takes its input from the command line).
// kRun also demands what a run cannot do without: capture.pcap.path when the
// source is pcap, reported at the file's capture section.
enum class ConfigUse : uint8_t { kCheck, kRun };

// Relative paths in the file (capture.pcap.path, outputs[].path) resolve
// against the folder of `path`; for loadConfigString, against the folder part
// of `name_for_errors` (none: left relative to the working directory).
Config loadConfigFile(const std::string& path, ConfigUse use = ConfigUse::kCheck);
Config loadConfigString(const std::string& yaml, const std::string& name_for_errors,
                        ConfigUse use = ConfigUse::kCheck);

}  // namespace tapflow
