// A worker thread: takes packet batches from its inbox, runs the FlowEngine,
// returns the batches to their capture thread and publishes flow records and
// analyzer events.
// Shared-nothing: everything it writes is its own.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <concurrentqueue.h>

#include "export/event_output.h"
#include "k8s/cluster_state.h"
#include "worker/flow_engine.h"
#include "worker/packet_batch.h"

namespace tapflow {

#define TF_WORKER_STATS(C)                                         \
  C(batches, "Packet batches processed")                           \
  C(packets, "Packets processed")                                  \
  C(events, "Events queued for an output (one per output that takes the event)") \
  C(events_dropped, "Events an output refused (its queue was full)")

struct WorkerStats {
  TF_WORKER_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_WORKER_STATS(TF_VISIT_COUNTER)
  }
};

class Worker : private FlowRecordSink, private EventPublisher {
 public:
  // `analyzers` null: flow records only, no TCP reassembly or analyzers.
  Worker(uint32_t id, const FlowTableConfig& flows, const DefragConfig& defrag, const AppLayerConfig* analyzers,
         const std::vector<EventOutput*>& outputs, size_t inbox_capacity);
  ~Worker() override;

  uint32_t id() const { return id_; }
  moodycamel::ConcurrentQueue<PacketBatch*>& inbox() { return inbox_; }

  // Live sources: when no packet arrives for a while, timeouts run on the
  // wall clock so idle flows are still reported. Off for files (packet time only).
  void setLiveClock(bool live) { live_clock_ = live; }

  // Enrich events from `state` (before start()). `complete` says whether the
  // cluster view is whole (every resource listed, every watch connected);
  // events encoded while it is not are counted.
  void setKubernetes(ClusterState* state, const std::atomic<bool>* complete);

  // core < 0: not pinned.
  void start(int core);

  // All capture threads are done: drain the inbox, end open flows with
  // `reason` after expiring what was due at `final_time`, then stop.
  void finishInput(Timestamp final_time, FlowEndReason reason);
  void join();

  size_t inboxDepth() const { return inbox_.size_approx(); }
  const WorkerStats& stats() const { return stats_; }
  uint64_t eventsUnenriched() const { return kube_unenriched_.value(); }
  const FlowEngine& engine() const { return engine_; }
  const AppLayer* app() const { return app_.get(); }

 private:
  void run();
  void drain();
  // Runs `fn` with the cluster snapshot pinned and handed to the encoders.
  template <typename Fn>
  void withCluster(Fn&& fn);
  void onFlowRecord(const Flow& flow, FlowEndReason reason, bool final) override;
  void publish(EventType type, std::string_view key, std::string& json,
               std::unique_ptr<HepMessage> hep) override;
  bool wantsHep() const override { return wants_hep_; }
  const ClusterSnapshot* cluster() const override { return cluster_; }

  uint32_t id_;
  std::unique_ptr<AppLayer> app_;
  FlowEngine engine_;
  std::vector<EventOutput*> outputs_;
  std::vector<std::unique_ptr<moodycamel::ProducerToken>> output_tokens_;
  moodycamel::ConcurrentQueue<PacketBatch*> inbox_;
  std::atomic<bool> input_done_{false};
  std::atomic<Timestamp> final_time_{0};
  std::atomic<uint8_t> final_reason_{0};
  bool live_clock_ = false;
  bool wants_hep_ = false;
  std::thread thread_;
  std::string event_;  // flow records' encoding buffer (swapped into the published event)
  EventPool event_pool_;
  std::unique_ptr<ClusterState::Reader> kube_reader_;
  const std::atomic<bool>* kube_complete_ = nullptr;
  const ClusterSnapshot* cluster_ = nullptr;  // pinned while a batch is processed (flow records and AppLayer)
  Counter kube_unenriched_;
  WorkerStats stats_;
};

// Pins the calling thread; returns false (and leaves it unpinned) on failure.
bool pinThisThread(int core);

}  // namespace tapflow
