// Prometheus metrics: modules register collectors that read their per-thread
// counters; rendering groups samples by family in the text exposition format.
// Runs on the control thread only (the /metrics handler), never on the data path.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tapflow {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricsWriter {
 public:
  void counter(std::string family, std::string_view help, MetricLabels labels, uint64_t value);
  void gauge(std::string family, std::string_view help, MetricLabels labels, double value);

  // Adds every counter of a TF_*_STATS struct as tapflow_<module>_<name>_total.
  // Counters named malformed_X, dropped_X or ended_X become one family
  // (tapflow_<module>_malformed_total, ...) with a `reason="X"` label.
  template <typename Stats>
  void stats(std::string_view module, const Stats& s, const MetricLabels& labels) {
    s.forEach([&](const char* name, const char* help, const auto& c) { statsCounter(module, name, help, labels, c.value()); });
  }

  std::string render() const;

  // Every sample as (family, labels, value, is_counter), in collection order.
  template <typename Fn>
  void forEachSample(Fn&& fn) const {
    for (const Sample& s : samples_) fn(s.family, s.labels, s.value, s.is_counter);
  }

 private:
  struct Sample {
    std::string family;
    std::string help;
    bool is_counter;
    MetricLabels labels;
    double value;
  };
  void statsCounter(std::string_view module, std::string_view name, std::string_view help,
                    const MetricLabels& labels, uint64_t value);

  std::vector<Sample> samples_;
};

class MetricsRegistry {
 public:
  using Collector = std::function<void(MetricsWriter&)>;

  void add(Collector collector);
  std::string render() const;
  // Runs every collector into `out` (for summaries such as the stats events).
  void collect(MetricsWriter& out) const;

 private:
  mutable std::mutex mutex_;
  std::vector<Collector> collectors_;
};

}  // namespace tapflow
