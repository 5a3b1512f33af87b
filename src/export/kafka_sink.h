// Kafka output: one librdkafka producer per output, one topic per event type,
// keyed by Community ID. Every event is either acknowledged or counted as lost
// with its reason (queue full, produce error, or librdkafka's delivery error).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "export/event.h"
#include "export/event_output.h"
#include "ops/counter.h"
#include "ops/metrics.h"
#include "packet/timestamp.h"

// librdkafka's handles, so this header does not pull in rdkafka.h.
struct rd_kafka_s;
struct rd_kafka_topic_s;
struct rd_kafka_message_s;

namespace tapflow {

struct KafkaSinkConfig {
  std::string brokers;       // bootstrap.servers, "host:port[,host:port...]"
  std::string topic_prefix;  // prepended to every topic name ("" by default)
  // By EventType: flow, http, sip, sip_call, dns, tls, stats.
  std::array<std::string, kEventTypeCount> topics{"flows", "http", "sip", "sip", "dns", "tls", "stats"};
  // Any librdkafka property, applied after tapflow's defaults, in order.
  std::vector<std::pair<std::string, std::string>> properties;
  // Names (among `properties`) whose values are secrets: never logged or printed.
  std::vector<std::string> secret_properties;
  enum class QueueFullPolicy : uint8_t { kDrop, kBlock } queue_full = QueueFullPolicy::kDrop;
  Duration block_timeout = 100 * 1'000'000;  // kBlock: longest wait for room in librdkafka's queue, then drop
  uint32_t queue_messages = 100000;          // queue.buffering.max.messages
};

// /metrics: tapflow_kafka_produced_total, tapflow_kafka_delivered_total and
// tapflow_kafka_dropped_total{reason="queue_full"|"produce_error"}.
#define TF_KAFKA_STATS(C)                                                      \
  C(produced, "Events handed to librdkafka")                                   \
  C(delivered, "Events the brokers acknowledged")                              \
  C(dropped_queue_full, "Events not handed to librdkafka: its queue was full") \
  C(dropped_produce_error, "Events not handed to librdkafka: it refused them")

struct KafkaSinkStats {
  TF_KAFKA_STATS(TF_DECLARE_COUNTER)
  Counter failed;  // delivery failures, all errors together (by error: failedByError())

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_KAFKA_STATS(TF_VISIT_COUNTER)
  }

  uint64_t dropped() const { return dropped_queue_full.value() + dropped_produce_error.value(); }
  // Delivery failures by librdkafka's error name (rd_kafka_err2name, e.g. "_MSG_TIMED_OUT").
  std::vector<std::pair<std::string, uint64_t>> failedByError() const;
  uint64_t failedWith(std::string_view error_name) const;

  // Called from whichever thread serves delivery reports (one at a time).
  void addFailed(int error_code, uint64_t n = 1);

 private:
  mutable std::mutex failed_mutex_;          // delivery-report thread writes, /metrics reads
  std::map<int, uint64_t> failed_by_error_;  // by rd_kafka_resp_err_t
};

class KafkaSink : public EventSink {
 public:
  // offline (tapflow read): a full queue waits for room without limit (nothing is dropped) whatever the policy.
  // Throws std::runtime_error naming the bad property (never a secret's value) when librdkafka refuses the config.
  KafkaSink(const KafkaSinkConfig& config, std::string output_name, bool offline);
  ~KafkaSink() override;
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  bool write(const Event& event) override;
  bool flush() override;
  // Flushes for up to `grace` (kWaitForever: until librdkafka has delivered or
  // timed out everything), purges the rest as failed, logs the totals. After
  // it, stats().produced == delivered + failed.
  void close(Duration grace) override;
  void collectMetrics(MetricsWriter& m, const MetricLabels& labels) const override;

  const KafkaSinkStats& stats() const { return stats_; }  // for tests

 private:
  static void onDelivery(rd_kafka_s* rk, const rd_kafka_message_s* message, void* opaque);
  static void onLog(const rd_kafka_s* rk, int level, const char* facility, const char* text);
  // `text` with every secret value replaced by "[redacted]".
  std::string redact(std::string text) const;
  void pollLoop();
  void destroy();

  std::string name_;
  bool offline_;
  KafkaSinkConfig::QueueFullPolicy queue_full_;
  Duration block_timeout_;
  std::vector<std::string> secrets_;  // the secret values, for redaction
  rd_kafka_s* rk_ = nullptr;
  std::vector<rd_kafka_topic_s*> topics_;                           // one per distinct name, owned
  std::array<rd_kafka_topic_s*, kEventTypeCount> topic_by_type_{};  // into topics_
  std::thread poller_;
  std::atomic<bool> stop_polling_{false};
  bool closed_ = false;
  bool logged_produce_error_ = false;
  KafkaSinkStats stats_;
};

}  // namespace tapflow
