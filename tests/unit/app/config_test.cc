#include "app/config.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
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
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string extension = entry.path().extension().string();
    if (!entry.is_regular_file() || (extension != ".yaml" && extension != ".yml")) continue;
    CAPTURE(entry.path().string());
    std::string error;
    try {
      const Config c = loadConfigFile(entry.path().string(), ConfigUse::kRun);
      CHECK(c.source_file == entry.path().string());
      CHECK_FALSE(c.capture.pcap_path.empty());
    } catch (const ConfigError& e) {
      error = e.what();
    }
    CHECK(error == "");
    ++loaded;
  }
  // tapflow.yaml and the two examples at least: a wrong folder must not pass by finding nothing.
  CHECK(loaded >= 3);
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
        "bad.yaml:2:1: kafka: unknown key; expected one of capture, workers, flows, defrag, outputs, "
        "metrics, logging");
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
        "bad.yaml:2:5: outputs[0]: expected a map with a type (jsonl), got jsonl");
  CHECK(errorOf("logging:\n  level: {a: b}\n") == "bad.yaml:2:10: logging.level: expected a string, got a map");
}

TEST_CASE("a top level that is not a map is refused") {
  CHECK(errorOf("- capture\n- workers\n") ==
        "bad.yaml:1:1: expected a map of sections (capture, workers, flows, defrag, outputs, metrics, "
        "logging), got a list");
  CHECK(errorOf("just text\n") ==
        "bad.yaml:1:1: expected a map of sections (capture, workers, flows, defrag, outputs, metrics, "
        "logging), got just text");
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

TEST_CASE("enumerated values list the choices, and later features say they are not built yet") {
  CHECK(errorOf("capture:\n  source: afxdp\n") ==
        "bad.yaml:2:11: capture.source: afxdp is not available in this build yet (live capture comes "
        "later); use pcap");
  CHECK(errorOf("capture:\n  source: tape\n") ==
        "bad.yaml:2:11: capture.source: unknown source tape; this build reads pcap files (afxdp, "
        "afpacket, dpdk and mirror come later)");
  CHECK(errorOf("outputs:\n  - type: kafka\n    brokers: k:9092\n") ==
        "bad.yaml:2:11: outputs[0].type: kafka is not available in this build yet; use jsonl");
  CHECK(errorOf("outputs:\n  - path: x.jsonl\n") ==
        "bad.yaml:2:5: outputs[0].type: required: jsonl (kafka and hep are not available in this "
        "build yet)");
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

}  // namespace tapflow
