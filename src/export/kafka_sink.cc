// Kafka output over librdkafka's C API: tapflow's data-keeping defaults, then
// the user's properties; delivery reports served on the sink's own thread and
// counted by result; secrets scrubbed from everything librdkafka says.
#include "export/kafka_sink.h"

#include <librdkafka/rdkafka.h>
#include <syslog.h>

#include <chrono>
#include <climits>
#include <stdexcept>

#include "ops/log.h"

namespace tapflow {
namespace {

constexpr char kRedacted[] = "[redacted]";
// After a purge librdkafka only has delivery reports left to hand back: this
// bounds that last flush, which normally takes milliseconds.
constexpr int kAfterPurgeFlushMs = 5000;
// A full queue frees room as delivery reports are served (by the poll thread):
// look again this often while waiting.
constexpr auto kQueueFullRetry = std::chrono::microseconds(500);

LogLevel logLevelOf(int syslog_level) {
  if (syslog_level <= LOG_ERR) return LogLevel::kError;
  if (syslog_level == LOG_WARNING) return LogLevel::kWarn;
  if (syslog_level <= LOG_INFO) return LogLevel::kInfo;
  return LogLevel::kDebug;
}

int toTimeoutMs(Duration grace) {
  if (grace < 0) return -1;  // librdkafka: wait without limit
  const Duration ms = (grace + 999'999) / 1'000'000;
  return ms > INT_MAX ? INT_MAX : int(ms);
}

}  // namespace

std::vector<std::pair<std::string, uint64_t>> KafkaSinkStats::failedByError() const {
  std::lock_guard<std::mutex> lock(failed_mutex_);
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(failed_by_error_.size());
  for (const auto& [code, n] : failed_by_error_) out.emplace_back(rd_kafka_err2name(rd_kafka_resp_err_t(code)), n);
  return out;
}

uint64_t KafkaSinkStats::failedWith(std::string_view error_name) const {
  for (const auto& [name, n] : failedByError()) {
    if (name == error_name) return n;
  }
  return 0;
}

void KafkaSinkStats::addFailed(int error_code, uint64_t n) {
  {
    std::lock_guard<std::mutex> lock(failed_mutex_);
    failed_by_error_[error_code] += n;
  }
  failed.add(n);
}

KafkaSink::KafkaSink(const KafkaSinkConfig& config, std::string output_name, bool offline)
    : name_(std::move(output_name)),
      offline_(offline),
      queue_full_(config.queue_full),
      block_timeout_(config.block_timeout) {
  for (const auto& [property, value] : config.properties) {
    for (const std::string& secret_name : config.secret_properties) {
      if (property == secret_name && !value.empty()) secrets_.push_back(value);
    }
  }

  const std::string context = "kafka output " + name_;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  auto set = [&](const std::string& property, const std::string& value) {
    if (rd_kafka_conf_set(conf, property.c_str(), value.c_str(), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(context + ": property " + property + ": " + redact(errstr));
    }
  };
  // Defaults that keep data: idempotence implies acks=all and ordered,
  // duplicate-free retries; the queue bound is what the user sized.
  set("bootstrap.servers", config.brokers);
  set("client.id", "tapflow");
  set("enable.idempotence", "true");
  set("queue.buffering.max.messages", std::to_string(config.queue_messages));
  for (const auto& [property, value] : config.properties) set(property, value);

  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSink::onDelivery);
  rd_kafka_conf_set_log_cb(conf, &KafkaSink::onLog);

  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(context + ": " + redact(errstr));
  }
  // rk_ owns conf from here on.

  // One handle per distinct topic, so write() never looks a name up.
  std::vector<std::string> names;
  for (size_t type = 0; type < kEventTypeCount; ++type) {
    const std::string name = config.topic_prefix + config.topics[type];
    size_t i = 0;
    while (i < names.size() && names[i] != name) ++i;
    if (i == names.size()) {
      rd_kafka_topic_t* topic = rd_kafka_topic_new(rk_, name.c_str(), nullptr);
      if (topic == nullptr) {
        const std::string reason = rd_kafka_err2str(rd_kafka_last_error());
        destroy();
        throw std::runtime_error(context + ": topic " + name + ": " + redact(reason));
      }
      names.push_back(name);
      topics_.push_back(topic);
    }
    topic_by_type_[type] = topics_[i];
  }

  poller_ = std::thread([this] { pollLoop(); });
}

KafkaSink::~KafkaSink() {
  if (!closed_) close(0);
  destroy();
}

void KafkaSink::destroy() {
  for (rd_kafka_topic_t* topic : topics_) rd_kafka_topic_destroy(topic);
  topics_.clear();
  topic_by_type_ = {};
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

void KafkaSink::pollLoop() {
  while (!stop_polling_.load(std::memory_order_acquire)) rd_kafka_poll(rk_, 100);
}

bool KafkaSink::write(const Event& event) {
  rd_kafka_topic_t* topic = topic_by_type_[size_t(event.type)];
  const void* key = event.key.empty() ? nullptr : event.key.data();
  // Only a live capture with the kBlock policy waits for a bounded time; offline
  // runs wait as long as it takes, live kDrop not at all.
  const bool wait_forever = offline_;
  const bool wait_bounded = !offline_ && queue_full_ == KafkaSinkConfig::QueueFullPolicy::kBlock;
  std::chrono::steady_clock::time_point deadline{};
  bool deadline_set = false;
  for (;;) {
    // RD_KAFKA_MSG_F_COPY: librdkafka copies the payload, so it never writes through this pointer.
    if (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(event.json.data()),
                         event.json.size(), key, event.key.size(), nullptr) == 0) {
      stats_.produced.add();
      return true;
    }
    const rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      stats_.dropped_produce_error.add();
      if (!logged_produce_error_) {  // once: a broken producer refuses every event alike
        logged_produce_error_ = true;
        logError("kafka output refused an event",
                 {{"output", name_}, {"error", rd_kafka_err2name(err)}, {"detail", redact(rd_kafka_err2str(err))}});
      }
      return true;  // counted here, not as the output's write error
    }
    if (!wait_forever && !wait_bounded) break;
    if (wait_bounded) {
      const auto now = std::chrono::steady_clock::now();
      if (!deadline_set) {
        deadline = now + std::chrono::nanoseconds(block_timeout_);
        deadline_set = true;
      } else if (now >= deadline) {
        break;
      }
    }
    std::this_thread::sleep_for(kQueueFullRetry);
  }
  stats_.dropped_queue_full.add();
  return true;  // counted here, not as the output's write error
}

bool KafkaSink::flush() { return true; }  // librdkafka sends batches on its own (linger.ms)

void KafkaSink::close(Duration grace) {
  if (closed_) return;
  closed_ = true;
  // From here on this thread serves the delivery reports, so they are counted
  // by one thread at a time.
  stop_polling_.store(true, std::memory_order_release);
  if (poller_.joinable()) poller_.join();

  const auto started = std::chrono::steady_clock::now();
  rd_kafka_resp_err_t flushed = rd_kafka_flush(rk_, toTimeoutMs(grace));
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Out of time: what is still queued or in flight is reported as failed
    // (_PURGE_QUEUE, _PURGE_INFLIGHT) rather than left unaccounted.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    flushed = rd_kafka_flush(rk_, kAfterPurgeFlushMs);
  }
  const uint64_t produced = stats_.produced.value();
  const uint64_t reported = stats_.delivered.value() + stats_.failed.value();
  if (produced > reported) {
    // librdkafka still holds reports it has not handed back: count them as
    // failed so the totals add up (not seen in practice; logged if it is).
    logWarn("kafka output closed with unreported messages",
            {{"output", name_}, {"unreported", std::to_string(produced - reported)}});
    stats_.addFailed(RD_KAFKA_RESP_ERR__DESTROY, produced - reported);
  }
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();

  std::string failed_by_error;
  for (const auto& [error, n] : stats_.failedByError()) {
    if (!failed_by_error.empty()) failed_by_error += ',';
    failed_by_error += error + "=" + std::to_string(n);
  }
  const bool lost = stats_.failed.value() > 0 || stats_.dropped() > 0;
  logMessage(lost ? LogLevel::kWarn : LogLevel::kInfo, "kafka output closed",
             {{"output", name_},
              {"produced", std::to_string(produced)},
              {"delivered", std::to_string(stats_.delivered.value())},
              {"failed", std::to_string(stats_.failed.value())},
              {"failed_by_error", failed_by_error},
              {"dropped", std::to_string(stats_.dropped())},
              {"dropped_queue_full", std::to_string(stats_.dropped_queue_full.value())},
              {"dropped_produce_error", std::to_string(stats_.dropped_produce_error.value())},
              {"flush_ms", std::to_string(waited)}});
}

void KafkaSink::collectMetrics(MetricsWriter& m, const MetricLabels& labels) const {
  m.stats("kafka", stats_, labels);
  for (const auto& [error, n] : stats_.failedByError()) {
    MetricLabels with_error = labels;
    with_error.emplace_back("error", error);
    m.counter("tapflow_kafka_delivery_failed_total", "Events librdkafka gave up on, by error", std::move(with_error),
              n);
  }
  // Messages handed over and not yet reported on. Not rd_kafka_outq_len(),
  // which also counts librdkafka's pending error and log events. Read in this
  // order, each total no earlier than the ones it must cover, so it is >= 0.
  const uint64_t failed = stats_.failed.value();
  const uint64_t delivered = stats_.delivered.value();
  const uint64_t produced = stats_.produced.value();
  m.gauge("tapflow_kafka_queue_messages", "Messages in librdkafka's queue", labels,
          produced >= delivered + failed ? double(produced - delivered - failed) : 0.0);
}

void KafkaSink::onDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque) {
  (void)rk;
  auto* sink = static_cast<KafkaSink*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    sink->stats_.delivered.add();
  } else {
    sink->stats_.addFailed(message->err);
  }
}

void KafkaSink::onLog(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  // Called from librdkafka's threads; logMessage writes whole lines under a lock.
  const auto* sink = static_cast<const KafkaSink*>(rd_kafka_opaque(rk));
  if (sink == nullptr) return;
  logMessage(logLevelOf(level), "librdkafka",
             {{"output", sink->name_}, {"facility", sink->redact(facility)}, {"detail", sink->redact(text)}});
}

std::string KafkaSink::redact(std::string text) const {
  for (const std::string& secret : secrets_) {
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + sizeof(kRedacted) - 1)) {
      text.replace(at, secret.size(), kRedacted);
    }
  }
  return text;
}

}  // namespace tapflow
