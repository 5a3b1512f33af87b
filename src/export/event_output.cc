#include "export/event_output.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace tapflow {

JsonLinesSink::JsonLinesSink(const std::string& path) {
  if (path == "-") {
    file_ = stdout;
    owned_ = false;
  } else {
    file_ = std::fopen(path.c_str(), "w");
    if (file_ == nullptr) {
      throw std::runtime_error("cannot open output file " + path + ": " + std::strerror(errno));
    }
    owned_ = true;
  }
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
}

JsonLinesSink::~JsonLinesSink() {
  if (owned_) {
    std::fclose(file_);
  } else {
    std::fflush(file_);
  }
}

bool JsonLinesSink::write(const Event& event) {
  const std::string& json = event.json;
  return std::fwrite(json.data(), 1, json.size(), file_) == json.size() && std::fputc('\n', file_) != EOF;
}

bool JsonLinesSink::flush() { return std::fflush(file_) == 0; }

EventOutput::EventOutput(std::string name, std::unique_ptr<EventSink> sink, size_t capacity, FullQueuePolicy policy)
    : name_(std::move(name)), sink_(std::move(sink)), capacity_(capacity), policy_(policy), queue_(capacity) {}

EventOutput::~EventOutput() { stop(); }

bool EventOutput::publish(moodycamel::ProducerToken& producer, EventPtr event) {
  while (depth_.load(std::memory_order_relaxed) >= capacity_) {
    if (policy_ == FullQueuePolicy::kDrop) {
      stats_.events_dropped_queue_full.addShared();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  depth_.fetch_add(1, std::memory_order_relaxed);
  queue_.enqueue(producer, std::move(event));
  return true;
}

void EventOutput::start() { writer_ = std::thread([this] { run(); }); }

void EventOutput::stop(Duration grace) {
  if (!writer_.joinable()) return;
  grace_ = grace;
  stopping_.store(true, std::memory_order_release);
  writer_.join();
}

void EventOutput::run() {
  constexpr size_t kBulk = 256;
  EventPtr events[kBulk];
  for (;;) {
    size_t n = queue_.try_dequeue_bulk(events, kBulk);
    for (size_t i = 0; i < n; ++i) {
      if (sink_->write(*events[i])) {
        stats_.events_written.add();
      } else {
        stats_.write_errors.add();
      }
      events[i].reset();
    }
    depth_.fetch_sub(n, std::memory_order_relaxed);
    if (n == 0) {
      sink_->flush();
      if (stopping_.load(std::memory_order_acquire) && depth_.load(std::memory_order_acquire) == 0) break;
      // Sleep rather than wait on the queue's semaphore: its timed wait spins
      // for thousands of iterations every time the queue empties, which cost a
      // fifth of a whole `tapflow read` (perf/README.md). Events are flows,
      // not packets: 200 us of latency is nothing to them.
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  sink_->flush();
  sink_->close(grace_);
}

}  // namespace tapflow
