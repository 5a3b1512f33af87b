#include "worker/flow_engine.h"

#include <algorithm>

#include "packet/decoder.h"

namespace tapflow {

FlowEngine::FlowEngine(const FlowTableConfig& flows, const DefragConfig& defrag, FlowRecordSink& sink,
                       AppLayer* app)
    : sink_(sink), app_(app), flows_(flows, *this), defrag_(defrag) {}

void FlowEngine::onFlowRecord(const Flow& flow, FlowEndReason reason, bool final) {
  // The analyzers' last events (pending transactions) go out before the
  // flow's final record. The flow is being ended: its app fields are ours.
  if (final && app_) app_->onFlowEnd(const_cast<Flow&>(flow));
  sink_.onFlowRecord(flow, reason, final);
}

void FlowEngine::process(const DecodedPacket* packets, size_t count) {
  count = std::min(count, kMaxBurst);
  // Pass 1: keys and hashes, prefetching each flow's bucket so that pass 2
  // finds it in cache (the table is far larger than the caches).
  for (size_t i = 0; i < count; ++i) {
    const DecodedPacket& p = packets[i];
    if (p.is_fragment) continue;
    forward_[i] = makeFlowKey(p, flows_.vlanInKey(), keys_[i]);
    hashes_[i] = flowKeyHash(keys_[i]);
    flows_.prefetch(hashes_[i]);
  }
  // Pass 2: account, in arrival order. Timeouts run once per kExpiryTick of
  // packet time, before the packet that reaches the tick, and never at a
  // burst's end: where bursts end depends on how the capture thread cut its
  // batches (on timing), and results must not.
  for (size_t i = 0; i < count; ++i) {
    const DecodedPacket& p = packets[i];
    if (p.ts >= next_expiry_) advanceTime(p.ts);
    now_ = std::max(now_, p.ts);
    if (p.is_fragment) {
      processFragment(p);
    } else {
      Flow& flow = flows_.update(p, keys_[i], forward_[i], hashes_[i], 1, p.ip_total_len);
      if (app_) app_->onPacket(flow, p, forward_[i]);
    }
  }
}

void FlowEngine::processFragment(const DecodedPacket& fragment) {
  ReassembledDatagram datagram;
  if (defrag_.add(fragment, datagram) != DefragResult::kComplete) return;

  DecodedPacket whole;
  if (decodePacket(datagram.bytes, datagram.len, datagram.len, fragment.ts, LinkType::kRaw, whole,
                   reassembled_decode_stats_) != DecodeResult::kOk) {
    return;  // counted by reason in reassembled_decode_stats_
  }
  // The datagram was the inner packet of a tunnel: keep the outer attributes.
  if (fragment.tunnel.type != TunnelType::kNone) {
    whole.tunnel = fragment.tunnel;
    whole.tunnel_depth = uint8_t(fragment.tunnel_depth + whole.tunnel_depth);
  }
  whole.vlan_count = fragment.vlan_count;
  whole.vlan_ids[0] = fragment.vlan_ids[0];
  whole.vlan_ids[1] = fragment.vlan_ids[1];
  if (whole.is_fragment) {
    // A fragment inside a fragmented tunnel packet: a second round of
    // reassembly is not followed (bounded work per packet), only counted.
    stats_.nested_fragments_dropped.add();
    return;
  }
  FlowKey key;
  bool forward = makeFlowKey(whole, flows_.vlanInKey(), key);
  Flow& flow = flows_.update(whole, key, forward, flowKeyHash(key), datagram.fragment_count,
                             datagram.fragment_ip_bytes, datagram.first_ts);
  if (app_) app_->onPacket(flow, whole, forward);
}

void FlowEngine::advanceTime(Timestamp now) {
  now_ = std::max(now_, now);
  next_expiry_ = now_ + kExpiryTick;
  flows_.expire(now_);
  defrag_.expire(now_);
  if (app_) app_->advanceTime(now_);
}

void FlowEngine::finish(Timestamp final_time, FlowEndReason reason) {
  advanceTime(final_time);
  flows_.flushAll(reason);
  if (app_) app_->finish(final_time);
}

}  // namespace tapflow
