#include "worker/worker.h"

#include <pthread.h>
#include <sched.h>

#include <chrono>

#include "export/flow_event.h"
#include "ops/log.h"

namespace tapflow {

bool pinThisThread(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

Worker::Worker(uint32_t id, const FlowTableConfig& flows, const DefragConfig& defrag,
               const AppLayerConfig* analyzers, const std::vector<EventOutput*>& outputs, size_t inbox_capacity)
    : id_(id),
      app_(analyzers ? std::make_unique<AppLayer>(*analyzers, static_cast<EventPublisher&>(*this)) : nullptr),
      engine_(flows, defrag, *this, app_.get()),
      outputs_(outputs),
      inbox_(inbox_capacity) {
  for (EventOutput* o : outputs_) output_tokens_.push_back(o->makeProducer());
  event_.reserve(2048);
}

Worker::~Worker() { join(); }

void Worker::start(int core) {
  thread_ = std::thread([this, core] {
    std::string name = "tf-worker" + std::to_string(id_);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    if (core >= 0 && !pinThisThread(core)) {
      logWarn("cannot pin worker thread", {{"worker", std::to_string(id_)}, {"core", std::to_string(core)}});
    }
    run();
  });
}

void Worker::finishInput(Timestamp final_time, FlowEndReason reason) {
  final_time_.store(final_time, std::memory_order_relaxed);
  final_reason_.store(uint8_t(reason), std::memory_order_relaxed);
  input_done_.store(true, std::memory_order_release);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::drain() {
  constexpr size_t kBulk = 16;
  PacketBatch* batches[kBulk];
  size_t n;
  while ((n = inbox_.try_dequeue_bulk(batches, kBulk)) > 0) {
    for (size_t i = 0; i < n; ++i) {
      PacketBatch* b = batches[i];
      // A batch holds at most batch_packets (<= 1024); the engine takes bursts.
      for (uint32_t off = 0; off < b->count; off += FlowEngine::kMaxBurst) {
        engine_.process(b->packets + off, std::min<size_t>(FlowEngine::kMaxBurst, b->count - off));
      }
      stats_.batches.add();
      stats_.packets.add(b->count);
      BatchPool::giveBack(b);
    }
  }
}

void Worker::run() {
  int idle_rounds = 0;
  for (;;) {
    size_t before = stats_.batches.value();
    drain();
    if (stats_.batches.value() != before) {
      idle_rounds = 0;
      continue;
    }
    if (input_done_.load(std::memory_order_acquire)) {
      drain();  // anything enqueued before the flag was set
      engine_.finish(final_time_.load(std::memory_order_relaxed),
                     FlowEndReason(final_reason_.load(std::memory_order_relaxed)));
      return;
    }
    // Idle: spin briefly, then back off so an idle worker costs no CPU.
    if (++idle_rounds < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      // About every 100 ms of idleness, let live timeouts run on the wall clock.
      if (live_clock_ && idle_rounds % 512 == 0) engine_.advanceTime(wallClockNow());
    }
  }
}

void Worker::onFlowRecord(const Flow& flow, FlowEndReason reason, bool final) {
  // Encode into the reused buffer, then hand each output an exact-size copy
  // (one small allocation per record, none per packet).
  event_.clear();
  encodeFlowEvent(flow, reason, final, event_);
  publish(event_);
}

void Worker::publish(const std::string& event) {
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i]->publish(*output_tokens_[i], std::string(event))) {
      stats_.events.add();
    } else {
      stats_.events_dropped.add();
    }
  }
}

}  // namespace tapflow
