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
  // Raw SIP messages are copied for HEP only when an output takes them.
  Event probe;
  probe.type = EventType::kSip;
  probe.hep = std::make_unique<HepMessage>();
  for (EventOutput* o : outputs_) wants_hep_ = wants_hep_ || (o->accepts(probe) && o->forwardsHep());
  event_.reserve(2048);
}

Worker::~Worker() { join(); }

void Worker::setKubernetes(ClusterState* state, const std::atomic<bool>* complete) {
  kube_reader_ = state->makeReader();
  kube_complete_ = complete;
}

template <typename Fn>
void Worker::withCluster(Fn&& fn) {
  if (!kube_reader_) {
    fn();
    return;
  }
  // One pin per batch: the snapshot cannot be freed while events use it.
  ClusterState::Guard snapshot(*kube_reader_);
  cluster_ = &*snapshot;
  fn();
  cluster_ = nullptr;
}

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
      withCluster([&] {
        for (uint32_t off = 0; off < b->count; off += FlowEngine::kMaxBurst) {
          engine_.process(b->packets + off, std::min<size_t>(FlowEngine::kMaxBurst, b->count - off));
        }
      });
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
      withCluster([&] {
        engine_.finish(final_time_.load(std::memory_order_relaxed),
                       FlowEndReason(final_reason_.load(std::memory_order_relaxed)));
      });
      return;
    }
    // Idle: spin briefly, then back off so an idle worker costs no CPU.
    if (++idle_rounds < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      // About every 100 ms of idleness, let live timeouts run on the wall clock.
      if (live_clock_ && idle_rounds % 512 == 0) withCluster([&] { engine_.advanceTime(wallClockNow()); });
    }
  }
}

void Worker::onFlowRecord(const Flow& flow, FlowEndReason reason, bool final) {
  // The Community ID is both a field and the Kafka key: the flow computes it
  // once, for its analyzer events and its records alike.
  event_.clear();
  encodeFlowEvent(flow, reason, final, event_, cluster_);
  publish(EventType::kFlow, communityIdOf(flow), event_, nullptr);
}

// The encoded JSON moves into a recycled event by a buffer swap, and every
// output that takes the event shares it: once the pool has as many events as
// are ever in flight, publishing allocates nothing (HEP's raw message aside).
void Worker::publish(EventType type, std::string_view key, std::string& json, std::unique_ptr<HepMessage> hep) {
  if (kube_complete_ && !kube_complete_->load(std::memory_order_relaxed)) kube_unenriched_.add();
  EventPtr shared = event_pool_.take(type);
  Event& event = *shared.exclusive();
  event.json.swap(json);
  event.key = key;
  event.hep = std::move(hep);
  // Each output that takes the event gets a shared reference, except the last
  // one, which takes the worker's: one atomic increment and decrement fewer
  // per event (each drains the store buffer the encoding just filled).
  const auto hand = [&](size_t i, EventPtr ref) {
    if (outputs_[i]->publish(*output_tokens_[i], std::move(ref))) {
      stats_.events.add();
    } else {
      stats_.events_dropped.add();
    }
  };
  size_t pending = outputs_.size();  // an output that takes it, not handed yet
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (!outputs_[i]->accepts(event)) continue;
    if (pending != outputs_.size()) hand(pending, shared);
    pending = i;
  }
  if (pending != outputs_.size()) hand(pending, std::move(shared));
}

}  // namespace tapflow
