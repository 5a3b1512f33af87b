// KafkaSink against librdkafka's in-process mock cluster, read back with a
// real consumer: routing, keys, delivery accounting when brokers go away, the
// queue-full policies, and that secrets never reach an error or a log line.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "export/kafka_sink.h"
#include "ops/log.h"
#include "ops/metrics.h"

using namespace tapflow;

namespace {

constexpr int kPartitions = 3;

// A mock cluster of three brokers on loopback, owned by a throwaway client.
class MockCluster {
 public:
  MockCluster() {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));  // its own client has nothing to say
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    REQUIRE(rk_ != nullptr);
    cluster_ = rd_kafka_mock_cluster_new(rk_, 3);
    REQUIRE(cluster_ != nullptr);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void createTopic(const std::string& name) {
    REQUIRE(rd_kafka_mock_topic_create(cluster_, name.c_str(), kPartitions, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void setAllDown() { REQUIRE(rd_kafka_mock_broker_set_down(cluster_, -1) == RD_KAFKA_RESP_ERR_NO_ERROR); }
  void setAllUp() { REQUIRE(rd_kafka_mock_broker_set_up(cluster_, -1) == RD_KAFKA_RESP_ERR_NO_ERROR); }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

struct Consumed {
  std::string topic;
  int32_t partition;
  int64_t offset;
  std::optional<std::string> key;  // nullopt: a null key
  std::string value;
};

// Reads every partition of `topics` from the beginning until `expected`
// messages have arrived, then a little longer so duplicates would show.
std::vector<Consumed> consumeAll(const std::string& bootstraps, const std::vector<std::string>& topics,
                                 size_t expected) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK);
  REQUIRE(rd_kafka_conf_set(conf, "group.id", "kafka-sink-test", errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK);
  REQUIRE(rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  REQUIRE(consumer != nullptr);
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(int(topics.size()) * kPartitions);
  for (const std::string& topic : topics) {
    for (int32_t p = 0; p < kPartitions; ++p) {
      rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  REQUIRE(rd_kafka_assign(consumer, assignment) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(assignment);

  std::vector<Consumed> out;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::optional<std::chrono::steady_clock::time_point> linger_until;
  while (std::chrono::steady_clock::now() < give_up) {
    if (out.size() >= expected && !linger_until) {
      linger_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    }
    if (linger_until && std::chrono::steady_clock::now() >= *linger_until) break;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 50);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Consumed c{rd_kafka_topic_name(m->rkt), m->partition, m->offset, std::nullopt,
                 std::string(static_cast<const char*>(m->payload), m->len)};
      if (m->key != nullptr) c.key = std::string(static_cast<const char*>(m->key), m->key_len);
      out.push_back(std::move(c));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return out;
}

// Quick failure detection, so each case stays within a few seconds.
KafkaSinkConfig testConfig(const MockCluster& cluster, std::string prefix = "") {
  KafkaSinkConfig config;
  config.brokers = cluster.bootstraps();
  config.topic_prefix = std::move(prefix);
  config.properties = {{"message.timeout.ms", "10000"},
                       {"reconnect.backoff.ms", "50"},
                       {"reconnect.backoff.max.ms", "200"},
                       {"socket.timeout.ms", "2000"},
                       {"linger.ms", "5"}};
  return config;
}

Event makeEvent(EventType type, std::string key, int n) {
  Event e;
  e.type = type;
  e.key = std::move(key);
  e.json = "{\"type\":\"" + std::string(eventTypeName(type)) + "\",\"n\":" + std::to_string(n) + "}";
  return e;
}

void waitFor(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string renderMetrics(const KafkaSink& sink) {
  MetricsWriter m;
  sink.collectMetrics(m, {{"output", "k"}});
  return m.render();
}

// Sends fd 2 to a file while alive, to see every log line (ours and librdkafka's).
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    char name[] = "/tmp/kafka_sink_test_stderr_XXXXXX";
    fd_ = mkstemp(name);
    REQUIRE(fd_ >= 0);
    path_ = name;
    saved_ = dup(2);
    dup2(fd_, 2);
  }
  ~StderrCapture() {
    restore();
    ::close(fd_);
    unlink(path_.c_str());
  }
  std::string text() {
    restore();
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  int fd_ = -1;
  int saved_ = -1;
  std::string path_;
};

}  // namespace

TEST_CASE("every event arrives once on its type's topic with the flow's key, and a flow's events in order") {
  MockCluster cluster;
  const std::vector<std::string> topics = {"t.flows", "t.http", "t.sip", "t.dns", "t.tls", "t.stats"};
  for (const auto& t : topics) cluster.createTopic(t);

  // (topic, key, value) -> how many times it must arrive
  std::map<std::tuple<std::string, std::optional<std::string>, std::string>, int> expected;
  size_t written = 0;
  {
    KafkaSink sink(testConfig(cluster, "t."), "k", false);
    const char* topic_of[kEventTypeCount] = {"t.flows", "t.http", "t.sip", "t.sip", "t.dns", "t.tls", "t.stats"};
    int n = 0;
    for (size_t type = 0; type < kEventTypeCount; ++type) {
      for (int i = 0; i < 10; ++i, ++n) {
        // Stats events have no flow: no key. Others: a few flows, several events each.
        std::string key = EventType(type) == EventType::kStats ? "" : "1:flow" + std::to_string(i % 4) + "=";
        Event e = makeEvent(EventType(type), key, n);
        std::optional<std::string> want_key;
        if (!key.empty()) want_key = key;
        ++expected[{topic_of[type], want_key, e.json}];
        CHECK(sink.write(e));
        ++written;
      }
    }
    sink.close(EventSink::kWaitForever);
    CHECK(sink.stats().produced.value() == written);
    CHECK(sink.stats().delivered.value() == written);
    CHECK(sink.stats().failed.value() == 0);
    CHECK(sink.stats().dropped() == 0);
  }

  std::vector<Consumed> got = consumeAll(cluster.bootstraps(), topics, written);
  REQUIRE(got.size() == written);
  std::map<std::tuple<std::string, std::optional<std::string>, std::string>, int> arrived;
  for (const Consumed& c : got) ++arrived[{c.topic, c.key, c.value}];
  CHECK(arrived == expected);

  // One flow's events share a partition, in the order they were written ("n" rises).
  std::map<std::pair<std::string, std::string>, std::vector<const Consumed*>> by_flow;
  for (const Consumed& c : got) {
    if (c.key) by_flow[{c.topic, *c.key}].push_back(&c);
  }
  CHECK(by_flow.size() == 4 * 5);  // 4 flows on each of flows, http, sip (sip + sip_call), dns, tls
  for (auto& [flow, events] : by_flow) {
    std::sort(events.begin(), events.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < events.size(); ++i) {
      CHECK(events[i]->partition == events[0]->partition);
      const int prev = std::stoi(events[i - 1]->value.substr(events[i - 1]->value.find("\"n\":") + 4));
      const int cur = std::stoi(events[i]->value.substr(events[i]->value.find("\"n\":") + 4));
      CHECK(prev < cur);
    }
  }
}

TEST_CASE("brokers down past the message timeout: every loss is a counted delivery failure") {
  MockCluster cluster;
  cluster.createTopic("flows");
  KafkaSinkConfig config = testConfig(cluster);
  config.properties.emplace_back("message.timeout.ms", "1500");  // later properties win
  KafkaSink sink(config, "k", false);

  // One delivery first, so the producer is fully up (producer id acquired).
  CHECK(sink.write(makeEvent(EventType::kFlow, "1:a=", 0)));
  waitFor([&] { return sink.stats().delivered.value() == 1; }, std::chrono::seconds(10));
  REQUIRE(sink.stats().delivered.value() == 1);

  cluster.setAllDown();
  for (int i = 1; i <= 20; ++i) CHECK(sink.write(makeEvent(EventType::kFlow, "1:a=", i)));
  sink.close(EventSink::kWaitForever);

  const KafkaSinkStats& s = sink.stats();
  CHECK(s.produced.value() == 21);
  CHECK(s.delivered.value() == 1);
  CHECK(s.failed.value() == 20);
  CHECK(s.failedWith("_MSG_TIMED_OUT") == 20);
  CHECK(s.produced.value() == s.delivered.value() + s.failed.value());
  CHECK(s.dropped() == 0);

  const std::string metrics = renderMetrics(sink);
  CHECK(metrics.find("tapflow_kafka_produced_total{output=\"k\"} 21\n") != std::string::npos);
  CHECK(metrics.find("tapflow_kafka_delivered_total{output=\"k\"} 1\n") != std::string::npos);
  CHECK(metrics.find("tapflow_kafka_delivery_failed_total{output=\"k\",error=\"_MSG_TIMED_OUT\"} 20\n") !=
        std::string::npos);
  CHECK(metrics.find("tapflow_kafka_dropped_total{output=\"k\",reason=\"queue_full\"} 0\n") != std::string::npos);
  CHECK(metrics.find("tapflow_kafka_dropped_total{output=\"k\",reason=\"produce_error\"} 0\n") != std::string::npos);
  CHECK(metrics.find("tapflow_kafka_queue_messages{output=\"k\"} 0\n") != std::string::npos);
}

TEST_CASE("brokers down for a while then back: nothing lost, nothing duplicated") {
  MockCluster cluster;
  cluster.createTopic("flows");
  constexpr int kBefore = 50, kDuring = 100, kAfter = 50;
  size_t written = 0;
  {
    KafkaSink sink(testConfig(cluster), "k", false);
    for (int i = 0; i < kBefore; ++i, ++written) {
      sink.write(makeEvent(EventType::kFlow, "1:f" + std::to_string(i % 7), int(written)));
    }
    waitFor([&] { return sink.stats().delivered.value() == written; }, std::chrono::seconds(10));
    REQUIRE(sink.stats().delivered.value() == written);

    cluster.setAllDown();
    // A steady stream while the brokers are away: some batches are cut off in flight and retried.
    for (int i = 0; i < kDuring; ++i, ++written) {
      sink.write(makeEvent(EventType::kFlow, "1:f" + std::to_string(i % 7), int(written)));
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
    }
    cluster.setAllUp();
    const auto up = std::chrono::steady_clock::now();
    for (int i = 0; i < kAfter; ++i, ++written) {
      sink.write(makeEvent(EventType::kFlow, "1:f" + std::to_string(i % 7), int(written)));
    }
    waitFor([&] { return sink.stats().delivered.value() == written; }, std::chrono::seconds(10));
    const auto resumed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - up).count();
    MESSAGE("all delivered " << resumed_ms << " ms after the brokers came back (reconnect.backoff.max.ms=200)");
    sink.close(EventSink::kWaitForever);
    CHECK(sink.stats().produced.value() == written);
    CHECK(sink.stats().delivered.value() == written);
    CHECK(sink.stats().failed.value() == 0);
  }
  std::vector<Consumed> got = consumeAll(cluster.bootstraps(), {"flows"}, written);
  CHECK(got.size() == written);
  std::map<std::string, int> copies;
  for (const Consumed& c : got) ++copies[c.value];
  CHECK(copies.size() == written);
  for (const auto& [value, n] : copies) CHECK_MESSAGE(n == 1, value);
}

TEST_CASE("drop policy: a full librdkafka queue drops exactly the excess and counts it") {
  MockCluster cluster;
  cluster.setAllDown();  // nothing leaves the queue
  KafkaSinkConfig config = testConfig(cluster);
  config.queue_messages = 10;
  KafkaSink sink(config, "k", false);
  for (int i = 0; i < 25; ++i) CHECK(sink.write(makeEvent(EventType::kDns, "1:d=", i)));
  CHECK(sink.stats().produced.value() == 10);
  CHECK(sink.stats().dropped_queue_full.value() == 15);
  CHECK(sink.stats().dropped_produce_error.value() == 0);
  const std::string metrics = renderMetrics(sink);
  INFO(metrics);
  CHECK(metrics.find("tapflow_kafka_queue_messages{output=\"k\"} 10\n") != std::string::npos);

  sink.close(0);  // no grace: what is queued is purged and reported failed
  CHECK(sink.stats().delivered.value() == 0);
  CHECK(sink.stats().failed.value() == 10);
  CHECK(sink.stats().failedWith("_PURGE_QUEUE") == 10);
  CHECK(renderMetrics(sink).find("tapflow_kafka_dropped_total{output=\"k\",reason=\"queue_full\"} 15\n") !=
        std::string::npos);
}

TEST_CASE("block policy: a full queue waits block_timeout for room, then drops and counts") {
  MockCluster cluster;
  cluster.setAllDown();
  KafkaSinkConfig config = testConfig(cluster);
  config.queue_messages = 10;
  config.queue_full = KafkaSinkConfig::QueueFullPolicy::kBlock;
  config.block_timeout = 50 * 1'000'000;
  KafkaSink sink(config, "k", false);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 13; ++i) CHECK(sink.write(makeEvent(EventType::kDns, "1:d=", i)));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(sink.stats().produced.value() == 10);
  CHECK(sink.stats().dropped_queue_full.value() == 3);
  CHECK(waited >= std::chrono::milliseconds(3 * 50));  // each excess event waited its full block_timeout
  sink.close(0);
  CHECK(sink.stats().failed.value() == 10);
}

TEST_CASE("offline: a full queue waits for room, so nothing is dropped") {
  MockCluster cluster;
  cluster.createTopic("http");
  KafkaSinkConfig config = testConfig(cluster);
  config.queue_messages = 10;  // drop policy: offline must ignore it
  KafkaSink sink(config, "k", true);
  for (int i = 0; i < 300; ++i) CHECK(sink.write(makeEvent(EventType::kHttp, "1:h=", i)));
  sink.close(EventSink::kWaitForever);
  CHECK(sink.stats().produced.value() == 300);
  CHECK(sink.stats().delivered.value() == 300);
  CHECK(sink.stats().dropped() == 0);
}

TEST_CASE("a property librdkafka does not know is refused, naming it") {
  KafkaSinkConfig config;
  config.brokers = "127.0.0.1:1";
  config.properties = {{"linger.ms", "5"}, {"no.such.property", "1"}};
  try {
    KafkaSink sink(config, "central", false);
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what.find("kafka output central: property no.such.property:") == 0);
  }
}

TEST_CASE("a refused secret property is named but its value never appears in the error or the log") {
  const std::string canary = "canary-7f3a9c1e";
  KafkaSinkConfig config;
  config.brokers = "127.0.0.1:1";
  // librdkafka quotes the value it refuses: here that value is the secret.
  config.properties = {{"sasl.password", canary}, {"ssl.key.password", canary + "-key"}, {"security.protocol", canary}};
  config.secret_properties = {"sasl.password", "ssl.key.password", "security.protocol"};
  StderrCapture captured;
  std::string what;
  try {
    KafkaSink sink(config, "central", false);
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  const std::string log = captured.text();
  CHECK(what.find("kafka output central: property security.protocol:") == 0);
  CHECK(what.find("[redacted]") != std::string::npos);
  CHECK(what.find("canary") == std::string::npos);
  CHECK(log.find("canary") == std::string::npos);
}

TEST_CASE("secrets never appear in librdkafka's log lines, ours, or the metrics") {
  const std::string canary = "canary-5d2b8e40";
  MockCluster cluster;
  cluster.createTopic("flows");
  KafkaSinkConfig config = testConfig(cluster);
  // client.id is not secret to librdkafka, which prints it in its configuration
  // dump (debug=conf): marked secret here, it shows the dump is redacted.
  config.properties.insert(config.properties.end(), {{"client.id", "tapflow-" + canary},
                                                     {"sasl.password", canary + "-pass"},
                                                     {"ssl.key.password", canary + "-key"},
                                                     {"debug", "conf,generic,broker,security"}});
  config.secret_properties = {"client.id", "sasl.password", "ssl.key.password"};
  setLogLevel(LogLevel::kDebug);  // librdkafka's debug lines are tapflow debug lines
  StderrCapture captured;
  std::string metrics;
  {
    KafkaSink sink(config, "central", false);
    sink.write(makeEvent(EventType::kFlow, "1:a=", 0));
    sink.close(EventSink::kWaitForever);
    CHECK(sink.stats().delivered.value() == 1);
    metrics = renderMetrics(sink);
  }
  const std::string log = captured.text();
  setLogLevel(LogLevel::kInfo);
  CHECK(log.find("\"msg\":\"librdkafka\"") != std::string::npos);
  CHECK(log.find("[redacted]") != std::string::npos);  // the client.id in the dump, at least
  CHECK(log.find("\"msg\":\"kafka output closed\"") != std::string::npos);
  CHECK(log.find("canary") == std::string::npos);
  CHECK(metrics.find("canary") == std::string::npos);
}
