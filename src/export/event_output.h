// Where events go after the workers: one bounded queue and writer thread per
// configured output, so a slow output never blocks a worker for long and a
// full queue is a counted drop (live) or a short wait (offline, lossless).
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <concurrentqueue.h>

#include "ops/counter.h"

namespace tapflow {

#define TF_OUTPUT_STATS(C)                                                              \
  C(events_written, "Events written by the output")                                     \
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

// Writes events somewhere. Called only from its output's writer thread.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual bool write(std::string_view event) = 0;
  virtual bool flush() = 0;
};

// JSON lines to a file or stdout ("-").
class JsonLinesSink : public EventSink {
 public:
  // Throws std::runtime_error naming the path when it cannot be opened.
  explicit JsonLinesSink(const std::string& path);
  ~JsonLinesSink() override;
  bool write(std::string_view event) override;
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

  // Takes the event (false when it was dropped, which is counted).
  bool publish(moodycamel::ProducerToken& producer, std::string&& event);

  void start();
  // Writes everything queued, flushes and stops the writer thread.
  void stop();

  const std::string& name() const { return name_; }
  size_t depth() const { return depth_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }
  const OutputStats& stats() const { return stats_; }

 private:
  void run();

  std::string name_;
  std::unique_ptr<EventSink> sink_;
  size_t capacity_;
  FullQueuePolicy policy_;
  moodycamel::ConcurrentQueue<std::string> queue_;
  std::atomic<size_t> depth_{0};
  std::atomic<bool> stopping_{false};
  std::thread writer_;
  OutputStats stats_;  // events_dropped_queue_full is bumped by producers (addShared)
};

}  // namespace tapflow
