// Where events go after the workers: one bounded queue and writer thread per
// configured output, so a slow output never blocks a worker for long and a
// full queue is a counted drop (live) or a short wait (offline, lossless).
// Sinks (JSON lines here; Kafka and HEP in their own files) are called from
// that writer thread only.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <concurrentqueue.h>

#include "export/event.h"
#include "ops/counter.h"
#include "ops/metrics.h"

namespace tapflow {

#define TF_OUTPUT_STATS(C)                                                              \
  C(events_written, "Events the output's sink took (Kafka and HEP count their delivery)") \
  C(events_dropped_queue_full, "Events dropped because the output queue was full")      \
  C(write_errors, "Events lost because the output could not write them")

struct OutputStats {
  TF_OUTPUT_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_OUTPUT_STATS(TF_VISIT_COUNTER)
  }
};

// Writes events somewhere. Called only from its output's writer thread,
// except accepts(), which producers call.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Whether this sink takes the event at all (HEP takes only what it forwards).
  virtual bool accepts(const Event& event) const {
    (void)event;
    return true;
  }
  // Whether the sink sends Event::hep: workers copy raw messages only if one does.
  virtual bool forwardsHep() const { return false; }
  // false: the event is lost, and the output counts it as a write error. A
  // sink that delivers asynchronously (Kafka) counts later losses itself.
  virtual bool write(const Event& event) = 0;
  // The queue is empty for now: push out what is buffered.
  virtual bool flush() = 0;
  // After the last write: deliver what is pending within `grace`, then report
  // (log and count) what could not be. Offline runs pass kWaitForever.
  static constexpr Duration kWaitForever = -1;
  virtual void close(Duration grace) { (void)grace; }
  // The sink's own counters and gauges, labelled with its output.
  virtual void collectMetrics(MetricsWriter& m, const MetricLabels& labels) const {
    (void)m;
    (void)labels;
  }
};

// JSON lines to a file or stdout ("-").
class JsonLinesSink : public EventSink {
 public:
  // Throws std::runtime_error naming the path when it cannot be opened.
  explicit JsonLinesSink(const std::string& path);
  ~JsonLinesSink() override;
  bool write(const Event& event) override;
  bool flush() override;

 private:
  FILE* file_;
  bool owned_;
};

enum class FullQueuePolicy : uint8_t {
  kDrop,  // live capture: never hold a worker back; count the drop
  kWait,  // offline: the input can wait, so nothing is lost
};

class EventOutput {
 public:
  EventOutput(std::string name, std::unique_ptr<EventSink> sink, size_t capacity, FullQueuePolicy policy);
  ~EventOutput();

  // One per producing thread; tokens make bulk hand-off allocation-free.
  std::unique_ptr<moodycamel::ProducerToken> makeProducer() {
    return std::make_unique<moodycamel::ProducerToken>(queue_);
  }

  bool accepts(const Event& event) const { return sink_->accepts(event); }
  bool forwardsHep() const { return sink_->forwardsHep(); }
  // Queues the event (false when it was dropped, which is counted).
  bool publish(moodycamel::ProducerToken& producer, EventPtr event);

  void start();
  // Writes everything queued, then closes the sink within `grace`
  // (EventSink::kWaitForever: until it has delivered or failed everything).
  void stop(Duration grace = EventSink::kWaitForever);

  const std::string& name() const { return name_; }
  size_t depth() const { return depth_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }
  const OutputStats& stats() const { return stats_; }
  const EventSink& sink() const { return *sink_; }

 private:
  void run();

  std::string name_;
  std::unique_ptr<EventSink> sink_;
  size_t capacity_;
  FullQueuePolicy policy_;
  moodycamel::ConcurrentQueue<EventPtr> queue_;
  std::atomic<size_t> depth_{0};
  std::atomic<bool> stopping_{false};
  Duration grace_ = EventSink::kWaitForever;
  std::thread writer_;
  OutputStats stats_;  // events_dropped_queue_full is bumped by producers (addShared)
};

}  // namespace tapflow
