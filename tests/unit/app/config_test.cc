#include "app/config.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace tapflow {
namespace {

constexpr Duration kMs = 1'000'000;

// The message a load fails with, or "" when it loads.
std::string errorOf(const std::string& yaml, const std::string& name = "bad.yaml",
                    ConfigUse use = ConfigUse::kCheck) {
  try {
    loadConfigString(yaml, name, use);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

Config load(const std::string& yaml, ConfigUse use = ConfigUse::kCheck) {
  return loadConfigString(yaml, "test.yaml", use);
}

void checkDefaults(const Config& c) {
  const Config d;
  CHECK(c.capture.source == d.capture.source);
  CHECK(c.capture.snaplen == d.capture.snaplen);
  CHECK(c.capture.cores == d.capture.cores);
  CHECK(c.capture.interfaces == d.capture.interfaces);
  CHECK(c.capture.queues == d.capture.queues);
  CHECK(c.capture.afxdp.xdp_mode == d.capture.afxdp.xdp_mode);
  CHECK(c.capture.afxdp.zero_copy == d.capture.afxdp.zero_copy);
  CHECK(c.capture.afxdp.frame_size == d.capture.afxdp.frame_size);
  CHECK(c.capture.afxdp.frames == d.capture.afxdp.frames);
  CHECK(c.capture.afxdp.rx_ring == d.capture.afxdp.rx_ring);
  CHECK(c.capture.afxdp.fill_ring == d.capture.afxdp.fill_ring);
  CHECK(c.capture.afxdp.batch == d.capture.afxdp.batch);
  CHECK(c.capture.afxdp.need_wakeup == d.capture.afxdp.need_wakeup);
  CHECK(c.capture.afxdp.busy_poll == d.capture.afxdp.busy_poll);
  CHECK(c.capture.afxdp.busy_poll_budget == d.capture.afxdp.busy_poll_budget);
  CHECK(c.capture.afxdp.program == d.capture.afxdp.program);
  CHECK(c.capture.afpacket.threads == d.capture.afpacket.threads);
  CHECK(c.capture.afpacket.block_size == d.capture.afpacket.block_size);
  CHECK(c.capture.afpacket.block_count == d.capture.afpacket.block_count);
  CHECK(c.capture.afpacket.block_timeout == d.capture.afpacket.block_timeout);
  CHECK(c.capture.afpacket.fanout == d.capture.afpacket.fanout);
  CHECK(c.capture.dpdk.eal_args == d.capture.dpdk.eal_args);
  CHECK(c.capture.dpdk.ports == d.capture.dpdk.ports);
  CHECK(c.capture.dpdk.rx_queues == d.capture.dpdk.rx_queues);
  CHECK(c.capture.dpdk.rx_descriptors == d.capture.dpdk.rx_descriptors);
  CHECK(c.capture.dpdk.mbufs == d.capture.dpdk.mbufs);
  CHECK(c.capture.dpdk.mbuf_cache == d.capture.dpdk.mbuf_cache);
  CHECK(c.capture.dpdk.burst == d.capture.dpdk.burst);
  CHECK(c.capture.mirror.interfaces == d.capture.mirror.interfaces);
  CHECK(c.capture.mirror.veth_name == d.capture.mirror.veth_name);
  CHECK(c.capture.mirror.rescan_interval == d.capture.mirror.rescan_interval);
  CHECK(c.capture.mirror.capture == d.capture.mirror.capture);
  CHECK(c.capture.filter.cidrs == d.capture.filter.cidrs);
  CHECK(c.capture.filter.ports == d.capture.filter.ports);
  CHECK(c.capture.filter.protocols == d.capture.filter.protocols);
  CHECK(c.workers.count == d.workers.count);
  CHECK(c.workers.cores == d.workers.cores);
  CHECK(c.workers.queue_batches == d.workers.queue_batches);
  CHECK(c.workers.batch_packets == d.workers.batch_packets);
  CHECK(c.workers.batch_bytes == d.workers.batch_bytes);
  CHECK(c.flows.max_flows == d.flows.max_flows);
  CHECK(c.flows.idle_timeout == d.flows.idle_timeout);
  CHECK(c.flows.active_timeout == d.flows.active_timeout);
  CHECK(c.flows.closed_timeout == d.flows.closed_timeout);
  CHECK(c.flows.vlan_in_key == d.flows.vlan_in_key);
  CHECK(c.defrag.max_datagrams == d.defrag.max_datagrams);
  CHECK(c.defrag.max_bytes == d.defrag.max_bytes);
  CHECK(c.defrag.max_fragments_per_datagram == d.defrag.max_fragments_per_datagram);
  CHECK(c.defrag.timeout == d.defrag.timeout);
  REQUIRE(c.outputs.size() == d.outputs.size());
  for (size_t i = 0; i < c.outputs.size(); ++i) {
    CHECK(c.outputs[i].type == d.outputs[i].type);
    CHECK(c.outputs[i].path == d.outputs[i].path);
    CHECK(c.outputs[i].queue_events == d.outputs[i].queue_events);
  }
  CHECK(c.metrics.enabled == d.metrics.enabled);
  CHECK(c.metrics.listen == d.metrics.listen);
  CHECK(c.logging.level == d.logging.level);
}

// A file of its own under /tmp, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tapflow-config-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::filesystem::path file = path_ / name;
    std::ofstream(file) << text;
    return file.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("an empty file or one with only comments yields the defaults") {
  for (const char* yaml : {"", "# nothing here\n\n   # still nothing\n", "---\n", "~\n"}) {
    CAPTURE(yaml);
    const Config c = load(yaml);
    checkDefaults(c);
    CHECK(c.source_file == "test.yaml");
    CHECK(c.capture.pcap_path.empty());
  }
}

TEST_CASE("a section with nothing under it keeps its defaults") {
  checkDefaults(load("capture:\nworkers:\nflows:\ndefrag:\nmetrics:\nlogging:\n"));
}

TEST_CASE("running needs the pcap path, checking does not") {
  CHECK(errorOf("", "empty.yaml", ConfigUse::kRun) ==
        "empty.yaml:1:1: capture.pcap.path: required when capture.source is pcap");
  CHECK(errorOf("workers:\n  count: 1\ncapture:\n  snaplen: 1500\n", "x.yaml", ConfigUse::kRun) ==
        "x.yaml:4:3: capture.pcap.path: required when capture.source is pcap");
  CHECK(errorOf("capture:\n  pcap: {}\n", "x.yaml", ConfigUse::kRun) ==
        "x.yaml:2:9: capture.pcap.path: required when capture.source is pcap");
  CHECK(errorOf("capture:\n  snaplen: 1500\n", "x.yaml", ConfigUse::kCheck) == "");
}

TEST_CASE("every file in config/ loads for a run") {
  const std::filesystem::path dir = std::filesystem::path(TAPFLOW_SOURCE_DIR) / "config";
  REQUIRE(std::filesystem::is_directory(dir));
  int loaded = 0;
  std::set<std::string> sources;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string extension = entry.path().extension().string();
    if (!entry.is_regular_file() || (extension != ".yaml" && extension != ".yml")) continue;
    CAPTURE(entry.path().string());
    std::string error;
    try {
      const Config c = loadConfigFile(entry.path().string(), ConfigUse::kRun);
      CHECK(c.source_file == entry.path().string());
      if (c.capture.source == "pcap") CHECK_FALSE(c.capture.pcap_path.empty());
      if (c.capture.source == "afxdp" || c.capture.source == "afpacket") CHECK_FALSE(c.capture.interfaces.empty());
      // Mirror mode needs interfaces unless targets choose them.
      if (c.capture.source == "mirror") CHECK_FALSE((c.capture.mirror.interfaces.empty() && c.targets.empty()));
      sources.insert(c.capture.source);
    } catch (const ConfigError& e) {
      error = e.what();
    }
    CHECK(error == "");
    ++loaded;
  }
  // tapflow.yaml and the examples at least: a wrong folder must not pass by finding nothing.
  CHECK(loaded >= 7);
  // An example of every source, each of which loads for a run.
  CHECK(sources == std::set<std::string>{"pcap", "afxdp", "afpacket", "mirror", "dpdk"});
}

TEST_CASE("the shipped tapflow.yaml spells out exactly the defaults") {
  const std::string path = std::string(TAPFLOW_SOURCE_DIR) + "/config/tapflow.yaml";
  const Config c = loadConfigFile(path);
  checkDefaults(c);
  CHECK(c.capture.pcap_path == std::string(TAPFLOW_SOURCE_DIR) + "/config/demo.pcap");
}

TEST_CASE("every key is read into its field") {
  const Config c = load(R"(
capture:
  source: pcap
  pcap:
    path: /data/in.pcapng
  snaplen: 1514
  cores: [3]
workers:
  count: 4
  cores: [4, 5, 6, 7]
  queue_batches: 128
  batch_packets: 32
  batch_bytes: 128KiB
flows:
  max_flows: 1000000
  idle_timeout: 30s
  active_timeout: 0
  closed_timeout: 2s
  vlan_in_key: false
defrag:
  max_datagrams: 8192
  max_bytes: 64MiB
  max_fragments_per_datagram: 128
  timeout: 15s
outputs:
  - type: jsonl
    path: /var/log/tapflow/events.jsonl
    queue_events: 1024
  - type: jsonl
    path: "-"
metrics:
  enabled: false
  listen: "[::1]:9200"
logging:
  level: debug
)");
  CHECK(c.capture.source == "pcap");
  CHECK(c.capture.pcap_path == "/data/in.pcapng");
  CHECK(c.capture.snaplen == 1514);
  CHECK(c.capture.cores == std::vector<int>{3});
  CHECK(c.workers.count == 4);
  CHECK(c.workers.cores == std::vector<int>{4, 5, 6, 7});
  CHECK(c.workers.queue_batches == 128);
  CHECK(c.workers.batch_packets == 32);
  CHECK(c.workers.batch_bytes == 128 * 1024);
  CHECK(c.flows.max_flows == 1000000);
  CHECK(c.flows.idle_timeout == 30 * kNanosPerSecond);
  CHECK(c.flows.active_timeout == 0);
  CHECK(c.flows.closed_timeout == 2 * kNanosPerSecond);
  CHECK_FALSE(c.flows.vlan_in_key);
  CHECK(c.defrag.max_datagrams == 8192);
  CHECK(c.defrag.max_bytes == 64ull << 20);
  CHECK(c.defrag.max_fragments_per_datagram == 128);
  CHECK(c.defrag.timeout == 15 * kNanosPerSecond);
  REQUIRE(c.outputs.size() == 2);
  CHECK(c.outputs[0].type == "jsonl");
  CHECK(c.outputs[0].path == "/var/log/tapflow/events.jsonl");
  CHECK(c.outputs[0].queue_events == 1024);
  CHECK(c.outputs[1].path == "-");
  CHECK(c.outputs[1].queue_events == 65536);
  CHECK_FALSE(c.metrics.enabled);
  CHECK(c.metrics.listen == "[::1]:9200");
  CHECK(c.logging.level == "debug");
}

TEST_CASE("durations take seconds as numbers or a unit from ns to h") {
  const std::pair<const char*, Duration> cases[] = {
      {"60", 60 * kNanosPerSecond},
      {"1.5", 1500 * kMs},
      {"250000ms", 250 * kNanosPerSecond},
      {"1.5s", 1500 * kMs},
      {"5m", 300 * kNanosPerSecond},
      {"2h", 7200 * kNanosPerSecond},
      {"1500000us", 1500 * kMs},
      {"2000000000ns", 2 * kNanosPerSecond},
      {"\"30s\"", 30 * kNanosPerSecond},
      {"10 s", 10 * kNanosPerSecond},
  };
  for (const auto& c : cases) {
    CAPTURE(c.first);
    CHECK(load(std::string("flows:\n  idle_timeout: ") + c.first + "\n").flows.idle_timeout == c.second);
  }
  // closed_timeout has no floor, so it shows the small end.
  CHECK(load("flows:\n  closed_timeout: 0\n").flows.closed_timeout == 0);
  CHECK(load("flows:\n  closed_timeout: 0.25\n").flows.closed_timeout == 250 * kMs);
  CHECK(load("flows:\n  closed_timeout: 500ms\n").flows.closed_timeout == 500 * kMs);
  CHECK(load("flows:\n  closed_timeout: 1500ns\n").flows.closed_timeout == 1500);
  CHECK(load("flows:\n  closed_timeout: .5s\n").flows.closed_timeout == 500 * kMs);
  // 5.4ns and 5.5ns: rounded to the nearest nanosecond.
  CHECK(load("flows:\n  closed_timeout: 0.0000000000015h\n").flows.closed_timeout == 5);
  CHECK(load("flows:\n  closed_timeout: 0.0000055ms\n").flows.closed_timeout == 6);
}

TEST_CASE("sizes take bytes as numbers or a binary or decimal unit") {
  const std::pair<const char*, uint64_t> cases[] = {
      {"65536", 65536},
      {"64KiB", 64ull << 10},
      {"32MiB", 32ull << 20},
      {"16GiB", 16ull << 30},
      {"1.5MiB", 1536ull << 10},
      {"100KB", 100'000},
      {"2MB", 2'000'000},
      {"1GB", 1'000'000'000},
      {"70000B", 70000},
      {"\"1 MiB\"", 1ull << 20},
  };
  for (const auto& c : cases) {
    CAPTURE(c.first);
    CHECK(load(std::string("defrag:\n  max_bytes: ") + c.first + "\n").defrag.max_bytes == c.second);
  }
}

TEST_CASE("relative paths resolve against the config file's folder") {
  const Config c = loadConfigString(
      "capture:\n  pcap:\n    path: in/a.pcap\noutputs:\n  - type: jsonl\n    path: out.jsonl\n"
      "  - type: jsonl\n    path: \"-\"\n",
      "/etc/tapflow/tapflow.yaml");
  CHECK(c.capture.pcap_path == "/etc/tapflow/in/a.pcap");
  CHECK(c.outputs[0].path == "/etc/tapflow/out.jsonl");
  CHECK(c.outputs[1].path == "-");
  CHECK(loadConfigString("capture:\n  pcap:\n    path: /abs/a.pcap\n", "/etc/tapflow/t.yaml")
            .capture.pcap_path == "/abs/a.pcap");
  // No folder in the name: relative to the working directory, as given.
  CHECK(load("capture:\n  pcap:\n    path: a.pcap\n").capture.pcap_path == "a.pcap");
}

TEST_CASE("an out-of-range value names file, line, column, key path and the range") {
  CHECK(errorOf("# workers\nworkers:\n  count: 0\n") ==
        "bad.yaml:3:10: workers.count: must be between 1 and 256, got 0");
  CHECK(errorOf("capture:\n  snaplen: 300000\n") ==
        "bad.yaml:2:12: capture.snaplen: must be between 64 and 262144, got 300000");
  CHECK(errorOf("workers:\n  count: 99999999999999999999999\n") ==
        "bad.yaml:2:10: workers.count: must be between 1 and 256, got 99999999999999999999999");
  CHECK(errorOf("workers:\n  cores: [0, 1024]\n") ==
        "bad.yaml:2:14: workers.cores[1]: must be between 0 and 1023, got 1024");
  CHECK(errorOf("capture:\n  cores:\n    - -1\n") ==
        "bad.yaml:3:7: capture.cores[0]: must be between 0 and 1023, got -1");
  CHECK(errorOf("defrag:\n  max_bytes: 1KiB\n") ==
        "bad.yaml:2:14: defrag.max_bytes: must be between 64KiB and 16GiB, got 1KiB");
  CHECK(errorOf("defrag:\n  timeout: 301s\n") ==
        "bad.yaml:2:12: defrag.timeout: must be between 1s and 5m, got 301s");
  CHECK(errorOf("flows:\n  active_timeout: 500ms\n") ==
        "bad.yaml:2:19: flows.active_timeout: must be 0 (no interim records) or between 1s and 24h, "
        "got 500ms");
  CHECK(errorOf("outputs:\n  - type: jsonl\n    queue_events: 8\n") ==
        "bad.yaml:3:19: outputs[0].queue_events: must be between 16 and 16777216, got 8");
}

TEST_CASE("unparsable durations and sizes are refused with what was written") {
  const std::string duration_help =
      "expected a number of seconds or a number with a unit (ns, us, ms, s, m, h) such as 250ms or 5m, got ";
  CHECK(errorOf("flows:\n  idle_timeout: 5 minutes\n") ==
        "bad.yaml:2:17: flows.idle_timeout: " + duration_help + "5 minutes");
  CHECK(errorOf("flows:\n  idle_timeout: \"60\"\n") ==
        "bad.yaml:2:17: flows.idle_timeout: " + duration_help + "\"60\"");
  CHECK(errorOf("flows:\n  idle_timeout: 1e3\n") ==
        "bad.yaml:2:17: flows.idle_timeout: " + duration_help + "1e3");
  CHECK(errorOf("flows:\n  idle_timeout: 1.2.3s\n") ==
        "bad.yaml:2:17: flows.idle_timeout: " + duration_help + "1.2.3s");
  CHECK(errorOf("flows:\n  idle_timeout: 5.s\n") ==
        "bad.yaml:2:17: flows.idle_timeout: " + duration_help + "5.s");
  CHECK(errorOf("flows:\n  idle_timeout: -5s\n") ==
        "bad.yaml:2:17: flows.idle_timeout: must not be negative, got -5s");
  CHECK(errorOf("flows:\n  idle_timeout: 99999999999999999999h\n") ==
        "bad.yaml:2:17: flows.idle_timeout: " + duration_help + "99999999999999999999h");
  const std::string size_help =
      "expected a number of bytes or a number with a unit (B, KiB, MiB, GiB, KB, MB, GB) such as "
      "256KiB, got ";
  CHECK(errorOf("workers:\n  batch_bytes: 256kb\n") ==
        "bad.yaml:2:16: workers.batch_bytes: " + size_help + "256kb");
  CHECK(errorOf("workers:\n  batch_bytes: [1]\n") ==
        "bad.yaml:2:16: workers.batch_bytes: " + size_help + "a list");
  CHECK(errorOf("workers:\n  batch_bytes: 100000.5\n") ==
        "bad.yaml:2:16: workers.batch_bytes: is not a whole number of bytes: 100000.5");
}

TEST_CASE("an unknown key is refused at any depth, with a suggestion when it is a typo") {
  CHECK(errorOf("workers:\n  count: 2\n  cuont: 3\n") ==
        "bad.yaml:3:3: workers.cuont: unknown key; did you mean count?");
  CHECK(errorOf("capture:\n  pcap:\n    path: a.pcap\n    filter: tcp\n") ==
        "bad.yaml:4:5: capture.pcap.filter: unknown key; expected one of path");
  CHECK(errorOf("outputs:\n  - type: jsonl\n    brokers: k:9092\n") ==
        "bad.yaml:3:5: outputs[0].brokers: unknown key; expected one of type, path, queue_events");
  CHECK(errorOf("metrics: {enabled: true}\nkafka:\n  brokers: x\n") ==
        "bad.yaml:2:1: kafka: unknown key; expected one of capture, workers, flows, defrag, tcp_reassembly, "
        "analyzers, outputs, kubernetes, targets, metrics, logging");
}

TEST_CASE("a key given twice is refused at the second one") {
  CHECK(errorOf("workers:\n  count: 2\n  count: 3\n") ==
        "bad.yaml:3:3: workers.count: given twice (first on line 2)");
}

TEST_CASE("a value of the wrong type names what was expected and what was found") {
  CHECK(errorOf("workers:\n  count: two\n") == "bad.yaml:2:10: workers.count: expected an integer, got two");
  CHECK(errorOf("workers:\n  count: \"2\"\n") ==
        "bad.yaml:2:10: workers.count: expected an integer, got the string \"2\" (drop the quotes)");
  CHECK(errorOf("workers:\n  count: 2.5\n") == "bad.yaml:2:10: workers.count: expected an integer, got 2.5");
  CHECK(errorOf("workers:\n  count: +-2\n") == "bad.yaml:2:10: workers.count: expected an integer, got +-2");
  CHECK(load("workers:\n  count: +8\n").workers.count == 8);
  CHECK(errorOf("workers:\n  count:\n  queue_batches: 4\n") ==
        "bad.yaml:2:3: workers.count: expected an integer, got nothing");
  CHECK(errorOf("workers:\n  cores:\n    a: 1\n") ==
        "bad.yaml:3:5: workers.cores: expected a list of core numbers such as [0, 1], got a map");
  CHECK(errorOf("workers: [1, 2]\n") ==
        "bad.yaml:1:10: workers: expected a map of worker settings, got a list");
  CHECK(errorOf("flows:\n  vlan_in_key: yes\n") ==
        "bad.yaml:2:16: flows.vlan_in_key: expected true or false, got yes");
  CHECK(errorOf("outputs:\n  type: jsonl\n") ==
        "bad.yaml:2:3: outputs: expected a list of outputs (- type: jsonl ...), got a map");
  CHECK(errorOf("outputs:\n  - jsonl\n") ==
        "bad.yaml:2:5: outputs[0]: expected a map with a type (jsonl, kafka or hep), got jsonl");
  CHECK(errorOf("logging:\n  level: {a: b}\n") == "bad.yaml:2:10: logging.level: expected a string, got a map");
}

TEST_CASE("a top level that is not a map is refused") {
  CHECK(errorOf("- capture\n- workers\n") ==
        "bad.yaml:1:1: expected a map of sections (capture, workers, flows, defrag, tcp_reassembly, "
        "analyzers, outputs, kubernetes, targets, metrics, logging), got a list");
  CHECK(errorOf("just text\n") ==
        "bad.yaml:1:1: expected a map of sections (capture, workers, flows, defrag, tcp_reassembly, "
        "analyzers, outputs, kubernetes, targets, metrics, logging), got just text");
}

TEST_CASE("a YAML syntax error carries the parser's line and column") {
  CHECK(errorOf("workers:\n  cores: [0, 1\n") ==
        "bad.yaml:3:1: invalid YAML: end of sequence flow not found");
  CHECK(errorOf("workers:\n  count: 2\n cores: []\n") == "bad.yaml:3:2: invalid YAML: end of map not found");
  CHECK(errorOf("logging: {level: debug}\nworkers: count: 2\n") ==
        "bad.yaml:2:15: invalid YAML: illegal map value");
  CHECK(errorOf("workers:\n  count: *n\n") ==
        "bad.yaml:2:10: invalid YAML: the referenced anchor is not defined");
  CHECK(errorOf("workers:\n  count: 2\n---\nflows: {}\n") ==
        "bad.yaml:4:1: a second YAML document; a config file holds one");
  CHECK(errorOf("workers:\n  count: 2\n---\n") == "");
}

TEST_CASE("enumerated values list the choices") {
  CHECK(errorOf("capture:\n  source: tape\n") ==
        "bad.yaml:2:11: capture.source: must be one of pcap, afxdp, afpacket, mirror, dpdk, got tape");
  CHECK(errorOf("capture:\n  afxdp:\n    xdp_mode: skb\n") ==
        "bad.yaml:3:15: capture.afxdp.xdp_mode: must be one of auto, native, generic, got skb");
  CHECK(errorOf("capture:\n  afpacket:\n    fanout: rollover\n") ==
        "bad.yaml:3:13: capture.afpacket.fanout: must be one of hash, cpu, lb, got rollover");
  CHECK(errorOf("capture:\n  mirror:\n    capture: dpdk\n") ==
        "bad.yaml:3:14: capture.mirror.capture: must be one of afxdp, afpacket, got dpdk");
  CHECK(errorOf("outputs:\n  - type: syslog\n") ==
        "bad.yaml:2:11: outputs[0].type: must be one of jsonl, kafka, hep, got syslog");
  CHECK(errorOf("outputs:\n  - path: x.jsonl\n") == "bad.yaml:2:5: outputs[0].type: required: jsonl, kafka or hep");
  CHECK(errorOf("logging:\n  level: verbose\n") ==
        "bad.yaml:2:10: logging.level: must be one of debug, info, warn, error, got verbose");
}

TEST_CASE("cross-field checks point at the key that breaks them") {
  CHECK(errorOf("capture:\n  snaplen: 9000\nworkers:\n  batch_bytes: 8KiB\n") ==
        "bad.yaml:4:16: workers.batch_bytes: must be at least capture.snaplen (9000B) so that one "
        "packet fits, got 8KiB");
  CHECK(errorOf("workers:\n  count: 3\n  cores: [0, 1]\n") ==
        "bad.yaml:3:10: workers.cores: lists 2 cores for 3 workers (workers.count); give one core per "
        "worker, or none");
  CHECK(errorOf("capture:\n  cores: [0, 1]\n") ==
        "bad.yaml:2:10: capture.cores: lists 2 cores, but a pcap source reads with one thread; list one "
        "core or none");
  CHECK(errorOf("workers:\n  cores: [2, 2]\n") ==
        "bad.yaml:2:14: workers.cores[1]: core 2 is already listed at workers.cores[0]");
  CHECK(errorOf("outputs:\n  - type: jsonl\n  - type: jsonl\n") ==
        "bad.yaml:3:5: outputs[1].path: \"-\" is already the path of outputs[0]");
  CHECK(errorOf("outputs: []\n") == "bad.yaml:1:10: outputs: must list at least one output");
}

TEST_CASE("the metrics address must be HOST:PORT with a valid port") {
  for (const char* good :
       {"127.0.0.1:9108", "0.0.0.0:1", "[::1]:9108", "[::]:65535", "localhost:9108", "127.0.0.1:0"}) {
    CAPTURE(good);
    CHECK(errorOf(std::string("metrics:\n  listen: \"") + good + "\"\n") == "");
  }
  CHECK(errorOf("metrics:\n  listen: 127.0.0.1:70000\n") ==
        "bad.yaml:2:11: metrics.listen: port must be between 0 (any free port) and 65535, got 70000");
  CHECK(errorOf("metrics:\n  listen: \"127.0.0.1:\"\n") ==
        "bad.yaml:2:11: metrics.listen: must be HOST:PORT (IPv6 as [::1]:9108), got \"127.0.0.1:\"");
  CHECK(errorOf("metrics:\n  listen: 127.0.0.1\n") ==
        "bad.yaml:2:11: metrics.listen: must be HOST:PORT (IPv6 as [::1]:9108), got \"127.0.0.1\"");
  CHECK(errorOf("metrics:\n  listen: \"::1:9108\"\n") ==
        "bad.yaml:2:11: metrics.listen: IPv6 addresses go in brackets, as in [::1]:9108");
  CHECK(errorOf("metrics:\n  listen: 300.1.1.1:9108\n") ==
        "bad.yaml:2:11: metrics.listen: \"300.1.1.1\" is not an IPv4 address");
  CHECK(errorOf("metrics:\n  listen: metrics_host:9108\n") ==
        "bad.yaml:2:11: metrics.listen: \"metrics_host\" is not a host name or address");
  CHECK(errorOf("metrics:\n  listen: \"[fe80::zz]:9108\"\n") ==
        "bad.yaml:2:11: metrics.listen: \"fe80::zz\" is not an IPv6 address");
}

TEST_CASE("a file that cannot be read is named with the reason") {
  CHECK_THROWS_WITH_AS(loadConfigFile("/nonexistent-tapflow-dir/missing.yaml"),
                       "/nonexistent-tapflow-dir/missing.yaml: cannot read: No such file or directory",
                       ConfigError);
  TempDir dir;
  const std::string folder = dir.path().string();
  CHECK_THROWS_WITH_AS(loadConfigFile(folder), (folder + ": cannot read: Is a directory").c_str(),
                       ConfigError);
}

TEST_CASE("a file over 1MiB is refused before it is parsed") {
  TempDir dir;
  const std::string big = dir.write("big.yaml", "# " + std::string(1 << 20, 'x') + "\n");
  CHECK_THROWS_WITH_AS(loadConfigFile(big), (big + ": cannot read: larger than 1MiB, not a config file").c_str(),
                       ConfigError);
}

TEST_CASE("errors in a loaded file carry its path and relative paths resolve beside it") {
  TempDir dir;
  const std::string bad = dir.write("bad.yaml", "workers:\n  count: 0\n");
  CHECK_THROWS_WITH_AS(loadConfigFile(bad), (bad + ":2:10: workers.count: must be between 1 and 256, got 0").c_str(),
                       ConfigError);
  const std::string good = dir.write("good.yaml", "capture:\n  pcap:\n    path: in.pcap\n");
  CHECK(loadConfigFile(good).capture.pcap_path == (dir.path() / "in.pcap").string());
}

TEST_CASE("every live capture key is read into its field") {
  const Config c = load(R"(
capture:
  source: afxdp
  interfaces: [eth0, ens1f1]
  queues: [0, 2, 3]
  cores: [1, 2, 3, 4, 5, 6]
  afxdp:
    xdp_mode: native
    zero_copy: off
    frame_size: 2048
    frames: 16384
    rx_ring: 4096
    fill_ring: 8192
    batch: 128
    need_wakeup: false
    busy_poll: true
    busy_poll_budget: 256
    program: /opt/tapflow/xdp_filter.o
  afpacket:
    threads: 4
    block_size: 4MiB
    block_count: 128
    block_timeout: 5ms
    fanout: cpu
  dpdk:
    eal_args: [--no-huge, -m, 256, --vdev, "net_pcap0,rx_pcap=/x.pcap"]
    ports: [0, 1]
    rx_queues: 4
    rx_descriptors: 2048
    mbufs: 65535
    mbuf_cache: 512
    burst: 64
  mirror:
    interfaces: [eth0, "cali*", "lxc*"]
    veth_name: tfmirror
    rescan_interval: 500ms
    capture: afpacket
  filter:
    cidrs: [10.0.0.0/8, 192.168.1.7, "fd00:77::/64", "2001:db8::1"]
    ports: [80, 443, 5060]
    protocols: [tcp, udp, sctp, icmp, ipv6-icmp, 47, +050]
)");
  const CaptureConfig& k = c.capture;
  CHECK(k.source == "afxdp");
  CHECK(k.interfaces == std::vector<std::string>{"eth0", "ens1f1"});
  CHECK(k.queues == std::vector<uint32_t>{0, 2, 3});
  CHECK(k.cores == std::vector<int>{1, 2, 3, 4, 5, 6});
  CHECK(k.afxdp.xdp_mode == "native");
  CHECK(k.afxdp.zero_copy == "off");
  CHECK(k.afxdp.frame_size == 2048);
  CHECK(k.afxdp.frames == 16384);
  CHECK(k.afxdp.rx_ring == 4096);
  CHECK(k.afxdp.fill_ring == 8192);
  CHECK(k.afxdp.batch == 128);
  CHECK_FALSE(k.afxdp.need_wakeup);
  CHECK(k.afxdp.busy_poll);
  CHECK(k.afxdp.busy_poll_budget == 256);
  CHECK(k.afxdp.program == "/opt/tapflow/xdp_filter.o");
  CHECK(k.afpacket.threads == 4);
  CHECK(k.afpacket.block_size == 4u << 20);
  CHECK(k.afpacket.block_count == 128);
  CHECK(k.afpacket.block_timeout == 5 * kMs);
  CHECK(k.afpacket.fanout == "cpu");
  CHECK(k.dpdk.eal_args ==
        std::vector<std::string>{"--no-huge", "-m", "256", "--vdev", "net_pcap0,rx_pcap=/x.pcap"});
  CHECK(k.dpdk.ports == std::vector<uint32_t>{0, 1});
  CHECK(k.dpdk.rx_queues == 4);
  CHECK(k.dpdk.rx_descriptors == 2048);
  CHECK(k.dpdk.mbufs == 65535);
  CHECK(k.dpdk.mbuf_cache == 512);
  CHECK(k.dpdk.burst == 64);
  CHECK(k.mirror.interfaces == std::vector<std::string>{"eth0", "cali*", "lxc*"});
  CHECK(k.mirror.veth_name == "tfmirror");
  CHECK(k.mirror.rescan_interval == 500 * kMs);
  CHECK(k.mirror.capture == "afpacket");
  CHECK(k.filter.cidrs == std::vector<std::string>{"10.0.0.0/8", "192.168.1.7", "fd00:77::/64", "2001:db8::1"});
  CHECK(k.filter.ports == std::vector<uint32_t>{80, 443, 5060});
  // Numbers are kept in plain decimal, names as written.
  CHECK(k.filter.protocols ==
        std::vector<std::string>{"tcp", "udp", "sctp", "icmp", "ipv6-icmp", "47", "50"});
  // The other sources load the same way.
  CHECK(load("capture:\n  source: afpacket\n  interfaces: [eth1]\n", ConfigUse::kRun).capture.source ==
        "afpacket");
  CHECK(load("capture:\n  source: mirror\n  mirror:\n    interfaces: [\"veth*\"]\n", ConfigUse::kRun)
            .capture.source == "mirror");
  CHECK(load("capture:\n  source: dpdk\n", ConfigUse::kRun).capture.source == "dpdk");
}

TEST_CASE("a relative XDP program path resolves beside the config file, and empty means the built-in one") {
  CHECK(loadConfigString("capture:\n  afxdp:\n    program: xdp/f.o\n", "/etc/tapflow/t.yaml")
            .capture.afxdp.program == "/etc/tapflow/xdp/f.o");
  CHECK(load("capture:\n  afxdp:\n    program: \"\"\n").capture.afxdp.program.empty());
}

TEST_CASE("queues take a list of queue numbers or all, which means every queue") {
  CHECK(load("capture:\n  source: afxdp\n  interfaces: [eth0]\n  queues: all\n").capture.queues.empty());
  CHECK(load("capture:\n  source: afxdp\n  queues: [7]\n").capture.queues == std::vector<uint32_t>{7});
  CHECK(errorOf("capture:\n  source: afxdp\n  queues: []\n") ==
        "bad.yaml:3:11: capture.queues: an empty list would capture no queue; write all for every queue "
        "of each interface");
  CHECK(errorOf("capture:\n  source: afxdp\n  queues: some\n") ==
        "bad.yaml:3:11: capture.queues: expected a list of RX queue numbers such as [0, 1], or all, got some");
  CHECK(errorOf("capture:\n  source: afxdp\n  queues: [0, 1024]\n") ==
        "bad.yaml:3:15: capture.queues[1]: must be between 0 and 1023, got 1024");
  CHECK(errorOf("capture:\n  source: afxdp\n  queues: [1, 1]\n") ==
        "bad.yaml:3:15: capture.queues[1]: queue 1 is already listed at capture.queues[0]");
}

TEST_CASE("a live source without interfaces is refused for a run, at the capture section") {
  CHECK(errorOf("capture:\n  source: afxdp\n", "x.yaml", ConfigUse::kRun) ==
        "x.yaml:2:11: capture.interfaces: required when capture.source is afxdp: list the interfaces to "
        "capture, such as [eth0]");
  CHECK(errorOf("capture:\n  source: afpacket\n  interfaces: []\n", "x.yaml", ConfigUse::kRun) ==
        "x.yaml:3:15: capture.interfaces: required when capture.source is afpacket: list the interfaces to "
        "capture, such as [eth0]");
  CHECK(errorOf("capture:\n  source: mirror\n  mirror:\n    veth_name: tfm\n", "x.yaml", ConfigUse::kRun) ==
        "x.yaml:4:5: capture.mirror.interfaces: required when capture.source is mirror without targets: list the "
        "interfaces or patterns to mirror, such as [eth0, \"cali*\"], or give targets");
  // Checking the file alone accepts them: `run -i IFACE` can give the interfaces.
  CHECK(errorOf("capture:\n  source: afxdp\n", "x.yaml", ConfigUse::kCheck) == "");
  CHECK(errorOf("capture:\n  source: mirror\n", "x.yaml", ConfigUse::kCheck) == "");
  // DPDK's ports come from the EAL, and a live run needs no pcap path.
  CHECK(errorOf("capture:\n  source: dpdk\n", "x.yaml", ConfigUse::kRun) == "");
  CHECK(errorOf("capture:\n  source: afxdp\n  interfaces: [eth0]\n", "x.yaml", ConfigUse::kRun) == "");
}

TEST_CASE("a capture key that the chosen source would ignore is refused") {
  CHECK(errorOf("capture:\n  source: mirror\n  interfaces: [eth0]\n") ==
        "bad.yaml:3:15: capture.interfaces: not used by the mirror source: list the interfaces to mirror under "
        "capture.mirror.interfaces");
  CHECK(errorOf("capture:\n  interfaces: [eth0]\n") ==
        "bad.yaml:2:15: capture.interfaces: not used by the pcap source: it reads capture.pcap.path; set "
        "capture.source to afxdp or afpacket to capture them");
  CHECK(errorOf("capture:\n  source: dpdk\n  interfaces: [eth0]\n") ==
        "bad.yaml:3:15: capture.interfaces: not used by the dpdk source: DPDK takes its ports from "
        "capture.dpdk.eal_args (-a PCI address, --vdev) and capture.dpdk.ports");
  CHECK(errorOf("capture:\n  source: afpacket\n  interfaces: [eth0]\n  queues: [0]\n") ==
        "bad.yaml:4:11: capture.queues: only the afxdp source captures chosen RX queues (capture.source is "
        "afpacket); write all or leave it out");
  CHECK(errorOf("capture:\n  source: afpacket\n  interfaces: [eth0]\n  queues: all\n") == "");
  // Only the XDP program filters: any other source would silently capture everything.
  CHECK(errorOf("capture:\n  source: afpacket\n  filter:\n    ports: [80]\n") ==
        "bad.yaml:4:12: capture.filter.ports: only tapflow's XDP program applies the filter (capture.source afxdp, "
        "or mirror with capture.mirror.capture afxdp); the afpacket source would capture everything");
  CHECK(errorOf("capture:\n  source: mirror\n  mirror:\n    capture: afpacket\n  filter:\n    protocols: [udp]\n") ==
        "bad.yaml:6:16: capture.filter.protocols: only tapflow's XDP program applies the filter (capture.source "
        "afxdp, or mirror with capture.mirror.capture afxdp); the mirror source with capture.mirror.capture "
        "afpacket would capture everything");
  CHECK(errorOf("capture:\n  filter:\n    cidrs: [10.0.0.0/8]\n") ==
        "bad.yaml:3:12: capture.filter.cidrs: only tapflow's XDP program applies the filter (capture.source afxdp, "
        "or mirror with capture.mirror.capture afxdp); the pcap source would capture everything");
  CHECK(errorOf("capture:\n  source: mirror\n  filter:\n    ports: [80]\n") == "");
  CHECK(errorOf("capture:\n  source: dpdk\n  filter:\n    ports: []\n") == "");
}

TEST_CASE("ring and UMEM sizes must be powers of two within their range") {
  CHECK(errorOf("capture:\n  afxdp:\n    rx_ring: 1000\n") ==
        "bad.yaml:3:14: capture.afxdp.rx_ring: must be a power of two between 64 and 65536, got 1000");
  CHECK(errorOf("capture:\n  afxdp:\n    fill_ring: 32\n") ==
        "bad.yaml:3:16: capture.afxdp.fill_ring: must be a power of two between 64 and 65536, got 32");
  CHECK(errorOf("capture:\n  afxdp:\n    frames: 3000\n") ==
        "bad.yaml:3:13: capture.afxdp.frames: must be a power of two between 512 and 1048576, got 3000");
  CHECK(errorOf("capture:\n  afxdp:\n    frames: 2097152\n") ==
        "bad.yaml:3:13: capture.afxdp.frames: must be a power of two between 512 and 1048576, got 2097152");
  CHECK(errorOf("capture:\n  afxdp:\n    frame_size: 3072\n") ==
        "bad.yaml:3:17: capture.afxdp.frame_size: must be 2048 or 4096, got 3072");
  CHECK(errorOf("capture:\n  afxdp:\n    frame_size: 1024\n") ==
        "bad.yaml:3:17: capture.afxdp.frame_size: must be 2048 or 4096, got 1024");
  CHECK(errorOf("capture:\n  dpdk:\n    rx_descriptors: 1000\n") ==
        "bad.yaml:3:21: capture.dpdk.rx_descriptors: must be a power of two between 64 and 65536, got 1000");
  CHECK(errorOf("capture:\n  afxdp:\n    rx_ring: \"1024\"\n") ==
        "bad.yaml:3:14: capture.afxdp.rx_ring: expected an integer, got the string \"1024\" (drop the quotes)");
}

TEST_CASE("an unknown key under a capture section is refused with a suggestion") {
  CHECK(errorOf("capture:\n  afxdp:\n    frame_szie: 2048\n") ==
        "bad.yaml:3:5: capture.afxdp.frame_szie: unknown key; did you mean frame_size?");
  CHECK(errorOf("capture:\n  afxdp:\n    umem: 1\n") ==
        "bad.yaml:3:5: capture.afxdp.umem: unknown key; expected one of xdp_mode, zero_copy, frame_size, "
        "frames, rx_ring, fill_ring, batch, need_wakeup, busy_poll, busy_poll_budget, program");
  CHECK(errorOf("capture:\n  afpacket:\n    thread: 2\n") ==
        "bad.yaml:3:5: capture.afpacket.thread: unknown key; did you mean threads?");
  CHECK(errorOf("capture:\n  dpdk:\n    eal: []\n") ==
        "bad.yaml:3:5: capture.dpdk.eal: unknown key; expected one of eal_args, ports, rx_queues, "
        "rx_descriptors, mbufs, mbuf_cache, burst");
  CHECK(errorOf("capture:\n  mirror:\n    interface: [eth0]\n") ==
        "bad.yaml:3:5: capture.mirror.interface: unknown key; did you mean interfaces?");
  CHECK(errorOf("capture:\n  filter:\n    port: [80]\n") ==
        "bad.yaml:3:5: capture.filter.port: unknown key; did you mean ports?");
  CHECK(errorOf("capture:\n  interface: [eth0]\n") ==
        "bad.yaml:2:3: capture.interface: unknown key; did you mean interfaces?");
  CHECK(errorOf("capture:\n  afxdp: [1]\n") ==
        "bad.yaml:2:10: capture.afxdp: expected a map of AF_XDP settings, got a list");
}

TEST_CASE("filter cidrs are IPv4 or IPv6 addresses or CIDRs with a prefix in range and no host bits") {
  CHECK(errorOf("capture:\n  filter:\n    cidrs: [10.0.0.0/8, 10.1.2.300/32]\n") ==
        "bad.yaml:3:25: capture.filter.cidrs[1]: \"10.1.2.300/32\" is not an IPv4 or IPv6 address or CIDR "
        "(such as 10.0.0.0/8 or fd00::/64)");
  CHECK(errorOf("capture:\n  filter:\n    cidrs: [10.0.0.0/33]\n") ==
        "bad.yaml:3:13: capture.filter.cidrs[0]: prefix length must be between 0 and 32 for IPv4, got 33");
  CHECK(errorOf("capture:\n  filter:\n    cidrs: [\"fd00::/129\"]\n") ==
        "bad.yaml:3:13: capture.filter.cidrs[0]: prefix length must be between 0 and 128 for IPv6, got 129");
  CHECK(errorOf("capture:\n  filter:\n    cidrs: [10.0.0.0/]\n") ==
        "bad.yaml:3:13: capture.filter.cidrs[0]: \"10.0.0.0/\" is not an IPv4 or IPv6 address or CIDR (such "
        "as 10.0.0.0/8 or fd00::/64)");
  CHECK(errorOf("capture:\n  filter:\n    cidrs: [10.0.0.0/-1]\n") ==
        "bad.yaml:3:13: capture.filter.cidrs[0]: \"10.0.0.0/-1\" is not an IPv4 or IPv6 address or CIDR (such "
        "as 10.0.0.0/8 or fd00::/64)");
  CHECK(errorOf("capture:\n  filter:\n    cidrs: [pods]\n") ==
        "bad.yaml:3:13: capture.filter.cidrs[0]: \"pods\" is not an IPv4 or IPv6 address or CIDR (such as "
        "10.0.0.0/8 or fd00::/64)");
  CHECK(errorOf("capture:\n  filter:\n    cidrs: [10.1.2.3/8]\n") ==
        "bad.yaml:3:13: capture.filter.cidrs[0]: \"10.1.2.3/8\" has host bits set; did you mean 10.0.0.0/8?");
  CHECK(errorOf("capture:\n  filter:\n    cidrs: [\"fd00:77::1/64\"]\n") ==
        "bad.yaml:3:13: capture.filter.cidrs[0]: \"fd00:77::1/64\" has host bits set; did you mean fd00:77::/64?");
  CHECK(errorOf("capture:\n  filter:\n    cidrs: [10.0.0.0/8, 10.0.0.0/08]\n") ==
        "bad.yaml:3:25: capture.filter.cidrs[1]: 10.0.0.0/08 is already listed at capture.filter.cidrs[0]");
  CHECK(errorOf("capture:\n  filter:\n    cidrs: 10.0.0.0/8\n") ==
        "bad.yaml:3:12: capture.filter.cidrs: expected a list of addresses or CIDRs such as [10.0.0.0/8, "
        "fd00::/64], got 10.0.0.0/8");
  // The edges of the prefix range.
  CHECK(errorOf("capture:\n  source: afxdp\n  filter:\n"
                "    cidrs: [0.0.0.0/0, \"::/0\", 10.1.2.3/32, \"fd00::1/128\"]\n") == "");
}

TEST_CASE("filter ports are 1..65535 and protocols are names or numbers 0..255") {
  CHECK(errorOf("capture:\n  filter:\n    ports: [80, 0]\n") ==
        "bad.yaml:3:17: capture.filter.ports[1]: must be between 1 and 65535, got 0");
  CHECK(errorOf("capture:\n  filter:\n    ports: [65536]\n") ==
        "bad.yaml:3:13: capture.filter.ports[0]: must be between 1 and 65535, got 65536");
  CHECK(errorOf("capture:\n  filter:\n    ports: [http]\n") ==
        "bad.yaml:3:13: capture.filter.ports[0]: expected an integer, got http");
  CHECK(errorOf("capture:\n  filter:\n    ports: [53, 53]\n") ==
        "bad.yaml:3:17: capture.filter.ports[1]: port 53 is already listed at capture.filter.ports[0]");
  CHECK(errorOf("capture:\n  filter:\n    protocols: [tcp, gre]\n") ==
        "bad.yaml:3:22: capture.filter.protocols[1]: must be tcp, udp, sctp, icmp, ipv6-icmp or a protocol "
        "number 0..255, got gre");
  CHECK(errorOf("capture:\n  filter:\n    protocols: [256]\n") ==
        "bad.yaml:3:17: capture.filter.protocols[0]: protocol number must be between 0 and 255, got 256");
  CHECK(errorOf("capture:\n  filter:\n    protocols: [TCP]\n") ==
        "bad.yaml:3:17: capture.filter.protocols[0]: must be tcp, udp, sctp, icmp, ipv6-icmp or a protocol "
        "number 0..255, got TCP");
  CHECK(errorOf("capture:\n  filter:\n    protocols: [udp, 17]\n") ==
        "bad.yaml:3:22: capture.filter.protocols[1]: 17 (protocol 17) is already listed at "
        "capture.filter.protocols[0]");
  CHECK(load("capture:\n  source: afxdp\n  filter:\n    protocols: [0, 255]\n").capture.filter.protocols ==
        std::vector<std::string>{"0", "255"});
}

TEST_CASE("interface names follow the kernel's rules, and mirror patterns may be longer") {
  CHECK(errorOf("capture:\n  source: afxdp\n  interfaces: [averyveryverylongname]\n") ==
        "bad.yaml:3:16: capture.interfaces[0]: \"averyveryverylongname\" is longer than 15 characters, the "
        "kernel's limit for interface names");
  CHECK(errorOf("capture:\n  source: afxdp\n  interfaces: [\"eth0:1\"]\n") ==
        "bad.yaml:3:16: capture.interfaces[0]: \"eth0:1\" is not an interface name (no '/', ':', spaces or "
        "control characters)");
  CHECK(errorOf("capture:\n  source: afxdp\n  interfaces: [\"\"]\n") ==
        "bad.yaml:3:16: capture.interfaces[0]: must not be empty");
  CHECK(errorOf("capture:\n  source: afxdp\n  interfaces: [eth0, eth0]\n") ==
        "bad.yaml:3:22: capture.interfaces[1]: eth0 is already listed at capture.interfaces[0]");
  CHECK(errorOf("capture:\n  source: afxdp\n  interfaces: eth0\n") ==
        "bad.yaml:3:15: capture.interfaces: expected a list of interface names such as [eth0, eth1], got eth0");
  // A pattern is not a name: a bracket expression may be longer than what it matches.
  CHECK(load("capture:\n  mirror:\n    interfaces: [\"[abcdefghijklmnop]eth*\"]\n").capture.mirror.interfaces ==
        std::vector<std::string>{"[abcdefghijklmnop]eth*"});
  CHECK(errorOf("capture:\n  mirror:\n    interfaces: [\"cali *\"]\n") ==
        "bad.yaml:3:18: capture.mirror.interfaces[0]: \"cali *\" is not an interface name (no '/', ':', "
        "spaces or control characters)");
  CHECK(errorOf("capture:\n  mirror:\n    veth_name: tapflowmirror01\n") ==
        "bad.yaml:3:16: capture.mirror.veth_name: \"tapflowmirror01\" is longer than 14 characters; the pair's "
        "other end adds a \"c\" within the kernel's 15");
  CHECK(load("capture:\n  mirror:\n    veth_name: tapflowmirror0\n").capture.mirror.veth_name == "tapflowmirror0");
  CHECK(errorOf("capture:\n  mirror:\n    veth_name: \"tf*\"\n") ==
        "bad.yaml:3:16: capture.mirror.veth_name: must be a name, not a pattern");
}

TEST_CASE("afpacket, dpdk and mirror values are range-checked") {
  CHECK(errorOf("capture:\n  afpacket:\n    block_size: 6000\n") ==
        "bad.yaml:3:17: capture.afpacket.block_size: must be a multiple of 4KiB (the page size), got 6000");
  CHECK(errorOf("capture:\n  afpacket:\n    block_size: 128MiB\n") ==
        "bad.yaml:3:17: capture.afpacket.block_size: must be between 4KiB and 64MiB, got 128MiB");
  CHECK(errorOf("capture:\n  afpacket:\n    block_count: 0\n") ==
        "bad.yaml:3:18: capture.afpacket.block_count: must be between 1 and 65536, got 0");
  CHECK(errorOf("capture:\n  afpacket:\n    threads: 65\n") ==
        "bad.yaml:3:14: capture.afpacket.threads: must be between 1 and 64, got 65");
  CHECK(errorOf("capture:\n  afpacket:\n    block_timeout: 1500us\n") ==
        "bad.yaml:3:20: capture.afpacket.block_timeout: must be a whole number of milliseconds, got 1500us");
  CHECK(errorOf("capture:\n  afpacket:\n    block_timeout: 0\n") ==
        "bad.yaml:3:20: capture.afpacket.block_timeout: must be between 1ms and 10s, got 0");
  CHECK(errorOf("capture:\n  dpdk:\n    rx_queues: 65\n") ==
        "bad.yaml:3:16: capture.dpdk.rx_queues: must be between 1 and 64, got 65");
  CHECK(errorOf("capture:\n  dpdk:\n    burst: 513\n") ==
        "bad.yaml:3:12: capture.dpdk.burst: must be between 1 and 512, got 513");
  CHECK(errorOf("capture:\n  dpdk:\n    mbufs: 1000\n") ==
        "bad.yaml:3:12: capture.dpdk.mbufs: must be between 1023 and 4194304, got 1000");
  CHECK(errorOf("capture:\n  dpdk:\n    mbuf_cache: 1024\n") ==
        "bad.yaml:3:17: capture.dpdk.mbuf_cache: must be between 0 and 512, got 1024");
  CHECK(errorOf("capture:\n  dpdk:\n    ports: [0, 0]\n") ==
        "bad.yaml:3:16: capture.dpdk.ports[1]: port 0 is already listed at capture.dpdk.ports[0]");
  CHECK(errorOf("capture:\n  dpdk:\n    eal_args: [--no-huge, {a: 1}]\n") ==
        "bad.yaml:3:27: capture.dpdk.eal_args[1]: expected a string, got a map");
  CHECK(errorOf("capture:\n  mirror:\n    rescan_interval: 50ms\n") ==
        "bad.yaml:3:22: capture.mirror.rescan_interval: must be between 100ms and 1h, got 50ms");
  CHECK(errorOf("capture:\n  afxdp:\n    batch: 0\n") ==
        "bad.yaml:3:12: capture.afxdp.batch: must be between 1 and 1024, got 0");
  CHECK(errorOf("capture:\n  afxdp:\n    zero_copy: true\n") ==
        "bad.yaml:3:16: capture.afxdp.zero_copy: must be one of auto, on, off, got true");
  CHECK(errorOf("capture:\n  afxdp:\n    busy_poll: on\n") ==
        "bad.yaml:3:16: capture.afxdp.busy_poll: expected true or false, got on");
}

TEST_CASE("cross-field checks of the live sections point at the key that was written") {
  CHECK(errorOf("capture:\n  afxdp:\n    fill_ring: 8192\n") ==
        "bad.yaml:3:16: capture.afxdp.fill_ring: capture.afxdp.fill_ring (8192) is more than "
        "capture.afxdp.frames (4096): the fill ring could never be kept full; lower fill_ring or raise frames");
  CHECK(errorOf("capture:\n  afxdp:\n    frames: 2048\n") ==
        "bad.yaml:3:13: capture.afxdp.frames: capture.afxdp.fill_ring (4096) is more than "
        "capture.afxdp.frames (2048): the fill ring could never be kept full; lower fill_ring or raise frames");
  CHECK(errorOf("capture:\n  afxdp:\n    rx_ring: 64\n    batch: 128\n") ==
        "bad.yaml:4:12: capture.afxdp.batch: capture.afxdp.batch (128) is more than capture.afxdp.rx_ring "
        "(64): one poll cannot take more than the ring holds");
  CHECK(errorOf("capture:\n  dpdk:\n    rx_queues: 8\n") ==
        "bad.yaml:3:16: capture.dpdk.rx_queues: capture.dpdk.mbufs (8191) cannot fill 8 RX queue(s) × "
        "(1024 descriptors + a burst of 32) = 8448 mbufs; raise mbufs or lower rx_queues, rx_descriptors or "
        "burst");
  CHECK(errorOf("capture:\n  dpdk:\n    rx_queues: 8\n    mbufs: 16383\n") == "");
  CHECK(errorOf("capture:\n  afpacket:\n    block_size: 64MiB\n    block_count: 128\n") ==
        "bad.yaml:4:18: capture.afpacket.block_count: capture.afpacket.block_size × block_count is 8GiB per "
        "socket, more than 4GiB; lower one of them");
  // A live source may list one core per capture thread; only pcap is known to have one.
  CHECK(errorOf("capture:\n  source: afxdp\n  cores: [0, 1, 2, 3]\n") == "");
}

TEST_CASE("analyzer and TCP reassembly settings load, and bad ones name their key") {
  Config c = load(
      "tcp_reassembly:\n  max_flow_buffered_bytes: 64KiB\n  max_stream_depth: 1MiB\n"
      "analyzers:\n  max_sessions: 1000\n"
      "  http:\n    ports: [80, 8081]\n    url: no_query\n    headers: [X-Request-Id]\n"
      "  sip:\n    user_privacy: hash\n    hash_salt: s3cret\n    call_timeout: 2h\n"
      "  dns:\n    enabled: false\n"
      "  tls:\n    max_hello_bytes: 8KiB\n");
  CHECK(c.analyzers.tcp.max_flow_buffered_bytes == 64 * 1024);
  CHECK(c.analyzers.tcp.max_stream_depth == 1024 * 1024);
  CHECK(c.analyzers.max_sessions == 1000);
  CHECK(c.analyzers.http_ports.ports == std::vector<uint16_t>{80, 8081});
  CHECK(c.analyzers.http.url_mode == HttpConfig::UrlMode::kNoQuery);
  CHECK(c.analyzers.http.headers == std::vector<std::string>{"x-request-id"});
  CHECK(c.analyzers.sip.user_privacy == SipConfig::UserPrivacy::kHash);
  CHECK(c.analyzers.sip.hash_salt == "s3cret");
  CHECK(c.analyzers.sip.call_timeout == 2 * 3600 * kNanosPerSecond);
  CHECK_FALSE(c.analyzers.dns_ports.enabled);
  CHECK(c.analyzers.tls.max_hello_bytes == 8192);

  CHECK(errorOf("analyzers:\n  http:\n    url: short\n") ==
        "bad.yaml:3:10: analyzers.http.url: must be one of full, no_query, drop, got short");
  CHECK(errorOf("analyzers:\n  sip:\n    ports: [5060, 5060]\n") ==
        "bad.yaml:3:19: analyzers.sip.ports[1]: port 5060 is already listed at analyzers.sip.ports[0]");
  CHECK(errorOf("tcp_reassembly:\n  max_buffered_segments: -1\n") ==
        "bad.yaml:2:26: tcp_reassembly.max_buffered_segments: must be between 0 and 67108864, got -1");
}

TEST_CASE("the kubernetes section: every key read, label keys checked as Kubernetes does") {
  const Config c = loadConfigString("kubernetes:\n  enabled: true\n  kubeconfig: kube/config\n  node_name: node-a\n"
                                    "  labels: [app, app.kubernetes.io/name]\n  initial_list_timeout: 2s\n",
                                    "/etc/tapflow/t.yaml");
  CHECK(c.kubernetes.enabled);
  CHECK(c.kubernetes.kubeconfig == "/etc/tapflow/kube/config");
  CHECK(c.kubernetes.node_name == "node-a");
  CHECK(c.kubernetes.labels == std::vector<std::string>{"app", "app.kubernetes.io/name"});
  CHECK(c.kubernetes.initial_list_timeout == 2 * kNanosPerSecond);
  CHECK_FALSE(Config{}.kubernetes.enabled);
  CHECK(load("kubernetes:\n  kubeconfig: \"\"\n").kubernetes.kubeconfig.empty());  // "": in-cluster
  CHECK(errorOf("kubernetes:\n  labels: [app, app]\n") == "bad.yaml:2:17: kubernetes.labels[1]: label app is already "
                                                            "listed at kubernetes.labels[0]");
  CHECK(errorOf("kubernetes:\n  labels: [\"bad key!\"]\n").find("bad.yaml:2:12: kubernetes.labels[0]: ") == 0);
}

}  // namespace tapflow
