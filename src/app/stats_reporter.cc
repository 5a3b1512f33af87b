#include "app/stats_reporter.h"

#include <chrono>
#include <string_view>

#include "export/event_common.h"
#include "export/json_writer.h"

namespace tapflow {
namespace {

// Families that count something lost or refused, by any stage.
bool isLossFamily(std::string_view family) {
  static constexpr std::string_view kWords[] = {"dropped", "malformed", "lost", "failed", "errors"};
  for (std::string_view word : kWords) {
    if (family.find(word) != std::string_view::npos) return true;
  }
  return false;
}

// "tapflow_handoff_dropped_total" with reason "queue_full" -> "handoff_dropped.queue_full".
std::string lossKey(std::string_view family, const MetricLabels& labels) {
  if (family.substr(0, 8) == "tapflow_") family.remove_prefix(8);
  if (family.size() > 6 && family.substr(family.size() - 6) == "_total") family.remove_suffix(6);
  std::string key(family);
  for (const auto& [name, value] : labels) {
    if (name == "reason" || name == "error") key += "." + value;
  }
  return key;
}

std::string labelValue(const MetricLabels& labels, std::string_view name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return "";
}

}  // namespace

StatsReporter::StatsReporter(const MetricsRegistry& registry, std::string node_name)
    : registry_(registry), node_name_(std::move(node_name)) {}

StatsReporter::~StatsReporter() { stop(); }

void StatsReporter::addOutput(EventOutput* output, Duration interval) {
  outputs_.push_back(Target{output, interval, output->makeProducer()});
}

void StatsReporter::start() {
  if (outputs_.empty()) return;
  const Timestamp now = wallClockNow();
  for (Target& t : outputs_) t.last = now;
  thread_ = std::thread([this] { run(); });
}

void StatsReporter::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  const Timestamp now = wallClockNow();
  for (Target& t : outputs_) publish(t, now);
}

void StatsReporter::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    const Timestamp now = wallClockNow();
    Timestamp next = now + 3600 * kNanosPerSecond;
    for (Target& t : outputs_) {
      if (now - t.last >= t.interval) publish(t, now);
      next = std::min(next, t.last + t.interval);
    }
    wake_.wait_for(lock, std::chrono::nanoseconds(std::max<Duration>(next - wallClockNow(), 1'000'000)));
  }
}

void StatsReporter::publish(Target& target, Timestamp now) {
  MetricsWriter samples;
  registry_.collect(samples);
  EventPtr event = EventPtr::make();
  event.exclusive()->type = EventType::kStats;
  event.exclusive()->json = encode(samples, target.last, now, node_name_, target.previous);
  target.last = now;
  target.output->publish(*target.producer, std::move(event));
}

std::string StatsReporter::encode(const MetricsWriter& samples, Timestamp start, Timestamp end,
                                  const std::string& node_name, std::map<std::string, double>& previous) {
  std::map<std::string, double> totals;  // counters since start-up, summed over workers and captures
  double flows_active = 0, worker_batches = 0;
  std::map<std::string, double> output_depth;
  samples.forEachSample([&](const std::string& family, const MetricLabels& labels, double value, bool counter) {
    if (counter) {
      if (isLossFamily(family)) {
        totals["loss:" + lossKey(family, labels)] += value;
      } else {
        totals[family] += value;
      }
    } else if (family == "tapflow_flow_active") {
      flows_active += value;
    } else if (family == "tapflow_worker_queue_batches") {
      worker_batches += value;
    } else if (family == "tapflow_output_queue_events") {
      output_depth[labelValue(labels, "output")] = value;
    }
  });
  auto delta = [&](const std::string& key) -> uint64_t {
    const auto it = totals.find(key);
    const double now = it == totals.end() ? 0 : it->second;
    const double before = previous.count(key) ? previous[key] : 0;
    return now > before ? uint64_t(now - before) : 0;
  };

  std::string out;
  JsonWriter w(out);
  beginEvent(w, "stats", start, end);
  w.endObject();
  w.beginObject("observer").textField("hostname", node_name).endObject();
  w.beginObject("stats");
  w.field("packets", delta("tapflow_capture_packets_total"));
  w.field("bytes", delta("tapflow_capture_bytes_total"));
  w.beginObject("flows")
      .field("created", delta("tapflow_flow_flows_created_total"))
      .field("records", delta("tapflow_flow_records_total"))
      .field("active", uint64_t(flows_active))
      .endObject();
  w.beginObject("events")
      .field("published", delta("tapflow_worker_events_total"))
      .field("dropped", delta("tapflow_worker_events_dropped_total"))
      .endObject();
  w.beginObject("drops");
  for (const auto& [key, value] : totals) {
    if (key.substr(0, 5) == "loss:") w.field(std::string_view(key).substr(5), delta(key));
  }
  w.endObject();
  w.beginObject("queues").field("worker_batches", uint64_t(worker_batches));
  w.beginArray("outputs");
  for (const auto& [name, depth] : output_depth) {
    w.beginObjectElement().textField("name", name).field("events", uint64_t(depth)).endObject();
  }
  w.endArray().endObject();
  w.endObject();
  w.endObject();
  previous = std::move(totals);
  return out;
}

}  // namespace tapflow
