// tapflow's configuration: one YAML file, one struct per section.
// Loading refuses unknown keys, wrong types and out-of-range values with the
// file, line, column and key path, before anything starts.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "export/event.h"
#include "k8s/cluster_state.h"
#include "packet/timestamp.h"
#include "reassembly/ip_defrag.h"
#include "worker/app_layer.h"

namespace tapflow {

// capture.afxdp: one AF_XDP socket per RX queue (libxdp/libbpf).
struct AfXdpConfig {
  std::string xdp_mode = "auto";   // auto (native, else generic/SKB) | native | generic
  std::string zero_copy = "auto";  // auto (zero-copy, else copy) | on | off
  uint32_t frame_size = 4096;      // UMEM frame bytes: 2048 or 4096
  uint32_t frames = 4096;          // UMEM frames per queue (power of two)
  uint32_t rx_ring = 2048;         // RX ring descriptors (power of two)
  uint32_t fill_ring = 4096;       // fill ring descriptors (power of two)
  uint32_t batch = 64;             // descriptors taken per poll
  bool need_wakeup = true;
  bool busy_poll = false;          // SO_PREFER_BUSY_POLL + SO_BUSY_POLL_BUDGET
  uint32_t busy_poll_budget = 64;
  std::string program;             // XDP object file; "": the one built with tapflow (xdp/)
};

// capture.afpacket: TPACKET_V3 ring with fanout, for hosts without XDP.
struct AfPacketConfig {
  uint32_t threads = 1;              // sockets (capture threads) per interface, joined by fanout
  uint32_t block_size = 1 << 20;     // ring block bytes (multiple of the page size)
  uint32_t block_count = 64;
  Duration block_timeout = 10 * 1'000'000;  // a partly filled block is handed over after this
  std::string fanout = "hash";       // hash (flow-symmetric) | cpu | lb
};

// capture.dpdk: NICs (or virtual devices) owned by DPDK.
struct DpdkConfig {
  std::vector<std::string> eal_args;  // e.g. [--no-huge, -m, "256", --vdev, "net_pcap0,rx_pcap=x.pcap"]
  std::vector<uint32_t> ports;        // DPDK port ids; empty: every port
  uint32_t rx_queues = 1;             // per port, one capture thread each, symmetric RSS
  uint32_t rx_descriptors = 1024;
  uint32_t mbufs = 8191;              // mbuf pool size per port
  uint32_t mbuf_cache = 256;
  uint32_t burst = 32;
};

// capture.mirror: clone the node's own interfaces into a tapflow veth pair.
struct MirrorConfig {
  std::vector<std::string> interfaces;  // names or shell patterns: eth0, cali*, veth*, lxc*
  std::string veth_name = "tapflow0";   // pair: <name> (clone target) and <name>c (captured end)
  Duration rescan_interval = 2 * kNanosPerSecond;  // how often new interfaces are looked for
  std::string capture = "afxdp";        // how the far end is captured: afxdp | afpacket
};

// capture.filter: what the XDP program lets reach user space; empty lists match everything.
struct CaptureFilterConfig {
  std::vector<std::string> cidrs;      // IPv4/IPv6 addresses or CIDRs (either end of a packet)
  std::vector<uint32_t> ports;         // TCP/UDP/SCTP ports (either end)
  std::vector<std::string> protocols;  // tcp, udp, sctp, icmp, ipv6-icmp, or a number
  // Not from the file: targets that select no pod. Nothing is captured, as
  // empty lists would mean everything.
  bool match_nothing = false;
};

struct CaptureConfig {
  std::string source = "pcap";  // pcap | afxdp | afpacket | mirror | dpdk
  std::string pcap_path;        // capture.pcap.path: pcap or pcapng file
  std::vector<std::string> interfaces;  // afxdp, afpacket: interfaces to capture
  std::vector<uint32_t> queues;         // afxdp: RX queues; empty: all of each interface
  uint32_t snaplen = 65535;     // bytes kept of each packet
  std::vector<int> cores;       // capture thread pinning, one per capture thread; empty: unpinned
  AfXdpConfig afxdp;
  AfPacketConfig afpacket;
  DpdkConfig dpdk;
  MirrorConfig mirror;
  CaptureFilterConfig filter;
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

// A secret (password, key) named by where it is read from, never written in
// the file itself. `value` is read when a run loads the file (ConfigUse::kRun)
// and is never logged, printed or put in an error.
struct SecretRef {
  std::string file;  // read whole, one trailing newline trimmed
  std::string env;   // an environment variable
  std::string where;  // "FILE:LINE:COLUMN: KEY.PATH", for errors
  std::string value;
};

// outputs[].type kafka: one topic per event type, keyed by Community ID.
struct KafkaOutputConfig {
  std::vector<std::string> brokers;  // HOST:PORT each
  std::string topic_prefix;
  // By EventType: flow, http, sip, sip_call, dns, tls, stats.
  std::array<std::string, kEventTypeCount> topics{"flows", "http", "sip", "sip", "dns", "tls", "stats"};
  std::vector<std::pair<std::string, std::string>> properties;       // librdkafka properties, as written
  std::vector<std::pair<std::string, SecretRef>> secret_properties;  // librdkafka properties read from secrets
  bool block_when_full = false;                // queue_full: drop | block
  Duration block_timeout = 100'000'000;        // 100ms
  uint32_t queue_messages = 100000;            // librdkafka's queue.buffering.max.messages
  Duration shutdown_grace = 10 * kNanosPerSecond;
  Duration stats_interval = 10 * kNanosPerSecond;  // stats events; 0: none
};

// One HEP receiver, from hep://HOST:PORT (UDP), hep+tcp:// or hep+tls://.
struct HepEndpoint {
  std::string transport;  // udp | tcp | tls
  std::string host;
  uint16_t port = 0;
};

// outputs[].type hep: SIP messages as HEP v3 to HOMER.
struct HepOutputConfig {
  std::vector<HepEndpoint> destinations;
  uint32_t agent_id = 0;
  bool has_auth_key = false;
  SecretRef auth_key;
  bool allow_auth_key_over_udp = false;
  std::string node_name;  // "": $NODE_NAME, else the host name (resolved by loading for a run)
  uint32_t buffer_bytes = 8u << 20;
  Duration reconnect_min = 100'000'000;  // 100ms
  Duration reconnect_max = 5 * kNanosPerSecond;
  std::string tls_ca_file;
  bool tls_verify = true;
  std::string tls_server_name;
  Duration shutdown_grace = 5 * kNanosPerSecond;
};

struct OutputConfig {
  std::string type = "jsonl";  // jsonl | kafka | hep
  std::string path = "-";      // jsonl: "-" is stdout
  uint32_t queue_events = 65536;  // events buffered between workers and this output
  KafkaOutputConfig kafka;
  HepOutputConfig hep;

  // How logs and metrics name the output: "jsonl:-", "kafka:a:9092,b:9092", "hep:hep+tcp://h:9060".
  std::string name() const;
};

// An output named on the command line (-o): "-", a path, kafka://BROKER[,BROKER...][/TOPIC_PREFIX],
// hep://HOST:PORT, hep+tcp://HOST:PORT or hep+tls://HOST:PORT. Throws ConfigError saying what is wrong.
OutputConfig outputFromCommandLine(const std::string& arg);

struct MetricsConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:9108";  // /metrics, /healthz, /readyz
};

// kubernetes: pod, namespace, node, workload and service of both ends of every event.
struct KubernetesConfig {
  bool enabled = false;
  std::string kubeconfig;          // "": in-cluster (service-account token, KUBERNETES_SERVICE_HOST/PORT)
  std::string node_name;           // "": $NODE_NAME, else the host name
  std::vector<std::string> labels;  // label keys copied into events
  Duration initial_list_timeout = 10 * kNanosPerSecond;  // capture waits this long for the first lists
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
  // tcp_reassembly is analyzers.tcp here: the streams exist for the analyzers.
  AppLayerConfig analyzers;
  std::vector<OutputConfig> outputs{OutputConfig{}};
  KubernetesConfig kubernetes;
  // Pods to capture (namespaces, label selector, ports), resolved to the pods
  // on this node; empty: capture.filter alone decides.
  std::vector<PodTarget> targets;
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
// source is pcap, capture.interfaces for afxdp and afpacket,
// capture.mirror.interfaces for mirror, reported at the file's capture
// section. `run -i IFACE` supplies them from the command line instead.
enum class ConfigUse : uint8_t { kCheck, kRun };

// Relative paths in the file (capture.pcap.path, outputs[].path) resolve
// against the folder of `path`; for loadConfigString, against the folder part
// of `name_for_errors` (none: left relative to the working directory).
Config loadConfigFile(const std::string& path, ConfigUse use = ConfigUse::kCheck);
Config loadConfigString(const std::string& yaml, const std::string& name_for_errors,
                        ConfigUse use = ConfigUse::kCheck);

// Reads every secret the outputs name (a run does, check-config does not):
// throws ConfigError "FILE:LINE:COLUMN: KEY.PATH: what is wrong", which never
// holds a secret's value.
void resolveSecrets(Config& config);

}  // namespace tapflow
