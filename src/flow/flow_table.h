// The per-worker flow table: a fixed pool of flows, a chained hash index and
// two recency lists (active, closing) that make timeouts and eviction O(1).
// Nothing is allocated after construction. Ended flows go to a FlowRecordSink.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <type_traits>
#include <vector>

#include "flow/flow.h"
#include "ops/counter.h"

namespace tapflow {

struct FlowTableConfig {
  uint32_t max_flows = 262144;
  Duration idle_timeout = 60 * kNanosPerSecond;
  Duration active_timeout = 300 * kNanosPerSecond;  // 0: no interim records
  Duration closed_timeout = 5 * kNanosPerSecond;
  bool vlan_in_key = true;
};

#define TF_FLOW_STATS(C)                                                             \
  C(packets, "Packets accounted to flows (each IP fragment counts)")                 \
  C(flows_created, "Flows created")                                                  \
  C(records, "Flow records emitted, interim ones included")                          \
  C(ended_fin, "Flows ended by FIN from both sides")                                 \
  C(ended_rst, "Flows ended by RST")                                                 \
  C(ended_idle_timeout, "Flows ended by the idle timeout")                           \
  C(ended_evicted, "Flows evicted because the table was full (flows.max_flows)")     \
  C(ended_end_of_input, "Flows still open when the input ended")                     \
  C(ended_shutdown, "Flows still open when tapflow stopped")                         \
  C(interim_records, "Interim records of long flows (flows.active_timeout)")

struct FlowStats {
  TF_FLOW_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_FLOW_STATS(TF_VISIT_COUNTER)
  }
};

class FlowRecordSink {
 public:
  virtual ~FlowRecordSink() = default;
  // `flow` holds the counters since its previous record; `final` is false for
  // interim records. Called on the worker thread; must not keep the reference.
  virtual void onFlowRecord(const Flow& flow, FlowEndReason reason, bool final) = 0;
};

class FlowTable {
 public:
  FlowTable(const FlowTableConfig& config, FlowRecordSink& sink);

  bool vlanInKey() const { return config_.vlan_in_key; }

  // Hints the CPU to fetch the bucket of a key about to be updated.
  void prefetch(uint64_t hash) const { __builtin_prefetch(&buckets_[hash & bucket_mask_]); }

  // Accounts a packet to its flow, creating the flow if needed. A reassembled
  // datagram stands for `packets` wire packets of `bytes` IP bytes, the first
  // of which arrived at `earliest` (0: pkt.ts). Returns the flow, valid until
  // the next call that can end flows.
  Flow& update(const DecodedPacket& pkt, const FlowKey& key, bool forward, uint64_t hash, uint32_t packets,
              uint64_t bytes, Timestamp earliest = 0);

  // Ends flows idle (or closed) for longer than their timeout at `now`.
  void expire(Timestamp now);

  // Ends every remaining flow with `reason` (end of input, shutdown).
  void flushAll(FlowEndReason reason);

  uint32_t size() const { return size_; }
  const FlowStats& stats() const { return stats_; }

 private:
  static constexpr uint32_t kNoFlow = 0xFFFFFFFF;

  struct List {
    uint32_t head = kNoFlow;
    uint32_t tail = kNoFlow;
  };

  uint32_t allocate();
  void initFlow(Flow& flow, const DecodedPacket& pkt, const FlowKey& key, bool forward, uint64_t hash,
                Timestamp earliest);
  void account(Flow& flow, const DecodedPacket& pkt, bool forward, uint32_t packets, uint64_t bytes);
  void trackTcp(Flow& flow, const DecodedPacket& pkt, uint8_t d);
  void emit(Flow& flow, FlowEndReason reason, bool final);
  void end(uint32_t index, FlowEndReason reason);
  void unlinkHash(uint32_t index);
  void listRemove(List& list, uint32_t index);
  void listAppend(List& list, uint32_t index);
  List& listOf(const Flow& flow) { return flow.state == FlowState::kActive ? active_ : closing_; }
  Duration timeoutOf(const Flow& flow) const {
    return flow.state == FlowState::kActive ? config_.idle_timeout : config_.closed_timeout;
  }

  // Raw storage, constructed slot by slot as flows are created: the pool's
  // pages are only touched (and only cost RSS) once that many flows exist, and
  // start-up does not pay for zeroing max_flows records.
  struct RawDelete {
    void operator()(Flow* p) const { std::free(p); }
  };
  static Flow* allocatePool(uint32_t capacity);
  static_assert(std::is_trivially_destructible_v<Flow>, "flows are recycled without destructor calls");

  FlowTableConfig config_;
  FlowRecordSink& sink_;
  uint32_t capacity_;
  std::unique_ptr<Flow[], RawDelete> pool_;
  std::vector<uint32_t> buckets_;
  uint64_t bucket_mask_ = 0;
  uint32_t free_head_ = kNoFlow;  // recycled slots
  uint32_t never_used_ = 0;       // slots [never_used_, capacity_) were never constructed
  Gauge<uint32_t> size_ = 0;  // read by the metrics thread
  List active_;   // by last packet time, oldest first
  List closing_;  // after FIN from both sides or RST, oldest first
  FlowStats stats_;
};

}  // namespace tapflow
