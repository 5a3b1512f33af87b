// Periodic operational events (type "stats") for the outputs that ask for
// them (a Kafka output's stats topic), as the Honeycomb agent's stats dataset
// was: a summary of /metrics per interval, so a central pipeline sees each
// node's packets, drops by stage, flows and queue depths next to its events.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "export/event_output.h"
#include "ops/metrics.h"

namespace tapflow {

// Counters in a stats event are per interval (the difference since the
// output's previous stats event); gauges are their value at the end of it.
class StatsReporter {
 public:
  StatsReporter(const MetricsRegistry& registry, std::string node_name);
  ~StatsReporter();

  void addOutput(EventOutput* output, Duration interval);
  bool empty() const { return outputs_.empty(); }
  void start();
  // Publishes a last event to every output (the tail of the final interval), then stops.
  void stop();

  // The stats event for `samples`, as the difference from `previous` (which it updates).
  static std::string encode(const MetricsWriter& samples, Timestamp start, Timestamp end,
                            const std::string& node_name, std::map<std::string, double>& previous);

 private:
  struct Target {
    EventOutput* output;
    Duration interval;
    std::unique_ptr<moodycamel::ProducerToken> producer;
    Timestamp last = 0;
    std::map<std::string, double> previous;  // counter totals at the last event
  };
  void run();
  void publish(Target& target, Timestamp now);

  const MetricsRegistry& registry_;
  std::string node_name_;
  std::vector<Target> outputs_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tapflow
