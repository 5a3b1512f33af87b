// What a worker does to each packet: defragment, find the flow, account it,
// and hand it to the application layer (TCP streams and analyzers) when there
// is one. Single-threaded; the Worker wraps it with a thread and queues, and
// the benchmark drives it directly.
#pragma once

#include <cstddef>

#include "flow/flow_table.h"
#include "packet/decode_stats.h"
#include "reassembly/ip_defrag.h"
#include "worker/app_layer.h"

namespace tapflow {

#define TF_ENGINE_STATS(C) \
  C(nested_fragments_dropped, "Reassembled datagrams that were themselves fragments of a tunnelled packet, dropped")

struct EngineStats {
  TF_ENGINE_STATS(TF_DECLARE_COUNTER)

  template <typename Fn>
  void forEach(Fn&& fn) const {
    const auto& stats = *this;
    TF_ENGINE_STATS(TF_VISIT_COUNTER)
  }
};

class FlowEngine : private FlowRecordSink {
 public:
  static constexpr size_t kMaxBurst = 256;
  // How often, in packet time, process() runs the timeouts: records come at
  // most this much (packet time) after their timeout.
  static constexpr Duration kExpiryTick = kNanosPerSecond / 1000;

  // `app` (may be null: flows only) sees every packet after its flow is
  // accounted, and every flow's end before `sink` gets its final record.
  FlowEngine(const FlowTableConfig& flows, const DefragConfig& defrag, FlowRecordSink& sink,
             AppLayer* app = nullptr);

  // Processes a burst of decoded packets (at most kMaxBurst) in arrival order.
  void process(const DecodedPacket* packets, size_t count);

  // Runs timeouts at `now` (packet time); cheap when nothing is due. process()
  // calls it every kExpiryTick; idle live workers call it on the wall clock.
  void advanceTime(Timestamp now);

  // End of input: expire what was due by `final_time`, then end every open
  // flow with `reason`.
  void finish(Timestamp final_time, FlowEndReason reason);

  Timestamp now() const { return now_; }
  const FlowTable& flows() const { return flows_; }
  const IpDefragmenter& defrag() const { return defrag_; }
  // Decoding of reassembled datagrams (the capture thread decoded the rest).
  const DecodeStats& reassembledDecodeStats() const { return reassembled_decode_stats_; }
  const EngineStats& stats() const { return stats_; }

 private:
  void processFragment(const DecodedPacket& fragment);
  void onFlowRecord(const Flow& flow, FlowEndReason reason, bool final) override;

  FlowRecordSink& sink_;
  AppLayer* app_;
  FlowTable flows_;
  IpDefragmenter defrag_;
  DecodeStats reassembled_decode_stats_;
  EngineStats stats_;
  Timestamp now_ = 0;
  Timestamp next_expiry_ = 0;  // packet time at which process() runs the timeouts next
  FlowKey keys_[kMaxBurst];
  uint64_t hashes_[kMaxBurst];
  bool forward_[kMaxBurst];
};

}  // namespace tapflow
