#include "flow/flow_table.h"

#include <algorithm>
#include <bit>
#include <new>

#include <sys/mman.h>

namespace tapflow {
namespace {

bool seqBefore(uint32_t a, uint32_t b) { return int32_t(a - b) < 0; }

// Ports that mark the server side when the handshake was not seen.
bool isServicePort(uint16_t port) {
  if (port != 0 && port < 1024) return true;
  switch (port) {
    case 1433: case 1521: case 2049: case 2379: case 2380: case 3306: case 3389: case 4789:
    case 5060: case 5061: case 5432: case 5672: case 6379: case 6443: case 8080: case 8443:
    case 9092: case 9200: case 10250: case 11211: case 27017:
      return true;
    default:
      return false;
  }
}

bool isIcmpRequest(uint8_t proto, uint8_t type) {
  if (proto == 1) return type == 8 || type == 13 || type == 15 || type == 10 || type == 17;
  return type == 128 || type == 130 || type == 133 || type == 135 || type == 139 || type == 144;
}

bool isIcmpResponse(uint8_t proto, uint8_t type) {
  if (proto == 1) return type == 0 || type == 14 || type == 16 || type == 9 || type == 18;
  return type == 129 || type == 131 || type == 134 || type == 136 || type == 140 || type == 145;
}

void resetCounters(FlowDirection& d) {
  d.packets = 0;
  d.bytes = 0;
  d.tcp_flags = 0;
  d.retransmissions = 0;
  d.out_of_order = 0;
  d.zero_windows = 0;
}

}  // namespace

const char* flowEndReasonName(FlowEndReason reason) {
  switch (reason) {
    case FlowEndReason::kFin: return "fin";
    case FlowEndReason::kRst: return "rst";
    case FlowEndReason::kIdleTimeout: return "idle_timeout";
    case FlowEndReason::kActiveTimeout: return "active_timeout";
    case FlowEndReason::kEvicted: return "evicted";
    case FlowEndReason::kEndOfInput: return "end_of_input";
    case FlowEndReason::kShutdown: return "shutdown";
  }
  return "unknown";
}

FlowTable::FlowTable(const FlowTableConfig& config, FlowRecordSink& sink)
    : config_(config),
      sink_(sink),
      capacity_(std::max<uint32_t>(config.max_flows, 1)),
      pool_(allocatePool(capacity_)) {
  uint64_t buckets = std::bit_ceil(uint64_t(capacity_));
  buckets_.assign(buckets, kNoFlow);
  bucket_mask_ = buckets - 1;
}

// A table of more than a few flows is read at random: in 4 KiB pages, each
// flow of a busy table costs a TLB miss (a page walk) on top of its cache
// miss. Transparent huge pages, asked for where the system leaves them to
// madvise (Debian's default), cover 2 MiB per TLB entry. Pages are still
// only touched as flows are created, now 2 MiB at a time.
Flow* FlowTable::allocatePool(uint32_t capacity) {
  constexpr size_t kHugePage = size_t(2) << 20;
  const size_t bytes = sizeof(Flow) * size_t(capacity);
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  const size_t rounded = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) madvise(p, rounded, MADV_HUGEPAGE);  // a hint: refused, it changes nothing
#endif
  return static_cast<Flow*>(p);
}

Flow& FlowTable::update(const DecodedPacket& pkt, const FlowKey& key, bool forward, uint64_t hash, uint32_t packets,
                       uint64_t bytes, Timestamp earliest) {
  stats_.packets.add(packets);
  uint32_t index = buckets_[hash & bucket_mask_];
  while (index != kNoFlow) {
    const Flow& f = pool_[index];
    if (f.hash == hash && f.key == key) break;
    index = f.hash_next;
  }

  if (index != kNoFlow) {
    Flow& flow = pool_[index];
    bool stale = pkt.ts - flow.last_ts > timeoutOf(flow);
    bool new_connection = flow.state == FlowState::kClosing && pkt.ip_proto == 6 &&
                          (pkt.tcp.flags & (tcp_flags::kSyn | tcp_flags::kAck)) == tcp_flags::kSyn;
    if (stale || new_connection) {
      end(index, flow.state == FlowState::kClosing ? flow.close_reason : FlowEndReason::kIdleTimeout);
      index = kNoFlow;
    } else if (config_.active_timeout > 0 && pkt.ts - flow.record_start >= config_.active_timeout) {
      emit(flow, FlowEndReason::kActiveTimeout, false);
      stats_.interim_records.add();
      resetCounters(flow.dir[0]);
      resetCounters(flow.dir[1]);
      flow.record_start = pkt.ts;
    }
  }

  if (index == kNoFlow) {
    index = allocate();
    initFlow(pool_[index], pkt, key, forward, hash, earliest != 0 ? std::min(earliest, pkt.ts) : pkt.ts);
  } else {
    List& list = listOf(pool_[index]);
    if (list.tail != index) {
      listRemove(list, index);
      listAppend(list, index);
    }
  }
  account(pool_[index], pkt, forward, packets, bytes);
  return pool_[index];
}

uint32_t FlowTable::allocate() {
  if (free_head_ == kNoFlow && never_used_ < capacity_) {
    uint32_t index = never_used_++;
    new (&pool_[index]) Flow();
    ++size_;
    stats_.flows_created.add();
    return index;
  }
  if (free_head_ == kNoFlow) {
    // Full: the least recently seen flow makes room. Closing flows go first:
    // they are finished and only waited for stray ACKs.
    if (closing_.head != kNoFlow) {
      end(closing_.head, pool_[closing_.head].close_reason);
    } else {
      end(active_.head, FlowEndReason::kEvicted);
    }
  }
  uint32_t index = free_head_;
  free_head_ = pool_[index].hash_next;
  ++size_;
  stats_.flows_created.add();
  return index;
}

void FlowTable::initFlow(Flow& flow, const DecodedPacket& pkt, const FlowKey& key, bool forward, uint64_t hash,
                         Timestamp earliest) {
  flow = Flow{};
  flow.key = key;
  flow.hash = hash;
  flow.first_ts = flow.record_start = earliest;
  flow.last_ts = pkt.ts;
  flow.vlan_count = pkt.vlan_count;
  flow.vlan_ids[0] = pkt.vlan_ids[0];
  flow.vlan_ids[1] = pkt.vlan_ids[1];
  flow.tunnel = pkt.tunnel;

  uint8_t sender = forward ? 0 : 1;
  uint8_t receiver = sender ^ 1;
  flow.client = sender;
  if (pkt.ip_proto == 6 && (pkt.tcp.flags & tcp_flags::kSyn)) {
    flow.client = (pkt.tcp.flags & tcp_flags::kAck) ? receiver : sender;
    flow.client_from_syn = true;
  } else if (pkt.ip_proto == 1 || pkt.ip_proto == 58) {
    flow.icmp_type = uint8_t(pkt.src_port);
    flow.icmp_code = uint8_t(pkt.dst_port);
    if (isIcmpResponse(pkt.ip_proto, flow.icmp_type)) flow.client = receiver;
  } else if (isServicePort(pkt.src_port) && !isServicePort(pkt.dst_port)) {
    flow.client = receiver;
  }

  uint32_t index = uint32_t(&flow - pool_.get());
  uint32_t& bucket = buckets_[hash & bucket_mask_];
  flow.hash_next = bucket;
  bucket = index;
  listAppend(active_, index);
}

// Inlined into update(): per-packet work, and the calls cost a tenth of it.
[[gnu::always_inline]] inline void FlowTable::account(Flow& flow, const DecodedPacket& pkt, bool forward,
                                                      uint32_t packets, uint64_t bytes) {
  uint8_t d = forward ? 0 : 1;
  flow.dir[d].packets += packets;
  flow.dir[d].bytes += bytes;
  flow.last_ts = std::max(flow.last_ts, pkt.ts);
  if (pkt.ip_proto == 1 || pkt.ip_proto == 58) {
    // Report the request's type when the flow began with its response.
    if (isIcmpRequest(pkt.ip_proto, uint8_t(pkt.src_port)) && !isIcmpRequest(pkt.ip_proto, flow.icmp_type)) {
      flow.icmp_type = uint8_t(pkt.src_port);
      flow.icmp_code = uint8_t(pkt.dst_port);
    }
  }
  if (pkt.ip_proto == 6 && pkt.l4_offset != 0) trackTcp(flow, pkt, d);
}

[[gnu::always_inline]] inline void FlowTable::trackTcp(Flow& flow, const DecodedPacket& pkt, uint8_t d) {
  FlowDirection& fd = flow.dir[d];
  const uint8_t f = pkt.tcp.flags;
  fd.tcp_flags |= f;
  // As Wireshark counts them, so the figures compare: FIN, SYN and RST segments are not window updates.
  if (pkt.tcp.window == 0 && !(f & (tcp_flags::kSyn | tcp_flags::kFin | tcp_flags::kRst))) fd.zero_windows++;

  const uint8_t syn_ack = f & (tcp_flags::kSyn | tcp_flags::kAck);
  if (syn_ack == tcp_flags::kSyn) {
    if (flow.syn_ts == 0) flow.syn_ts = pkt.ts;
  } else if (syn_ack == (tcp_flags::kSyn | tcp_flags::kAck)) {
    if (flow.synack_ts == 0 && flow.syn_ts != 0) flow.synack_ts = pkt.ts;
  } else if ((f & tcp_flags::kAck) && d == flow.client && flow.synack_ts != 0 && flow.handshake_ack_ts == 0) {
    flow.handshake_ack_ts = pkt.ts;
  }

  const uint32_t seg_len = pkt.payload_len + ((f & tcp_flags::kSyn) ? 1 : 0) + ((f & tcp_flags::kFin) ? 1 : 0);
  const uint32_t seq = pkt.tcp.seq;
  const uint32_t seg_end = seq + seg_len;
  if (!fd.seq_known || (f & tcp_flags::kSyn)) {
    fd.seq_known = true;
    fd.next_seq = seg_end;
    fd.hole_start = fd.hole_end = 0;
  } else if (seg_len > 0 && !(f & tcp_flags::kRst)) {
    if (seqBefore(fd.next_seq, seq)) {
      // Jumped ahead: remember the hole so its late filler counts as out-of-order.
      fd.hole_start = fd.next_seq;
      fd.hole_end = seq;
      fd.next_seq = seg_end;
    } else if (seqBefore(fd.next_seq, seg_end)) {
      fd.next_seq = seg_end;
    } else if (fd.hole_start != fd.hole_end && !seqBefore(seq, fd.hole_start) && !seqBefore(fd.hole_end, seg_end)) {
      fd.out_of_order++;
      if (seq == fd.hole_start) {
        fd.hole_start = seg_end;
      } else {
        fd.hole_end = seq;
      }
    } else {
      fd.retransmissions++;
    }
  }
  if (f & tcp_flags::kFin) fd.fin_seen = true;

  if (flow.state == FlowState::kActive) {
    bool rst = f & tcp_flags::kRst;
    if (rst || (flow.dir[0].fin_seen && flow.dir[1].fin_seen)) {
      uint32_t index = uint32_t(&flow - pool_.get());
      listRemove(active_, index);
      flow.state = FlowState::kClosing;
      flow.close_reason = rst ? FlowEndReason::kRst : FlowEndReason::kFin;
      listAppend(closing_, index);
    }
  }
}

void FlowTable::expire(Timestamp now) {
  while (active_.head != kNoFlow && now - pool_[active_.head].last_ts > config_.idle_timeout) {
    end(active_.head, FlowEndReason::kIdleTimeout);
  }
  while (closing_.head != kNoFlow && now - pool_[closing_.head].last_ts > config_.closed_timeout) {
    end(closing_.head, pool_[closing_.head].close_reason);
  }
}

void FlowTable::flushAll(FlowEndReason reason) {
  while (closing_.head != kNoFlow) end(closing_.head, pool_[closing_.head].close_reason);
  while (active_.head != kNoFlow) end(active_.head, reason);
}

void FlowTable::emit(Flow& flow, FlowEndReason reason, bool final) {
  sink_.onFlowRecord(flow, reason, final);
  stats_.records.add();
  flow.sequence++;
}

void FlowTable::end(uint32_t index, FlowEndReason reason) {
  Flow& flow = pool_[index];
  emit(flow, reason, true);
  switch (reason) {
    case FlowEndReason::kFin: stats_.ended_fin.add(); break;
    case FlowEndReason::kRst: stats_.ended_rst.add(); break;
    case FlowEndReason::kIdleTimeout: stats_.ended_idle_timeout.add(); break;
    case FlowEndReason::kEvicted: stats_.ended_evicted.add(); break;
    case FlowEndReason::kEndOfInput: stats_.ended_end_of_input.add(); break;
    case FlowEndReason::kShutdown: stats_.ended_shutdown.add(); break;
    case FlowEndReason::kActiveTimeout: break;
  }
  unlinkHash(index);
  listRemove(listOf(flow), index);
  flow.hash_next = free_head_;
  free_head_ = index;
  --size_;
}

void FlowTable::unlinkHash(uint32_t index) {
  uint32_t* link = &buckets_[pool_[index].hash & bucket_mask_];
  while (*link != index) link = &pool_[*link].hash_next;
  *link = pool_[index].hash_next;
}

void FlowTable::listRemove(List& list, uint32_t index) {
  Flow& f = pool_[index];
  if (f.list_prev != kNoFlow) {
    pool_[f.list_prev].list_next = f.list_next;
  } else {
    list.head = f.list_next;
  }
  if (f.list_next != kNoFlow) {
    pool_[f.list_next].list_prev = f.list_prev;
  } else {
    list.tail = f.list_prev;
  }
}

void FlowTable::listAppend(List& list, uint32_t index) {
  Flow& f = pool_[index];
  f.list_prev = list.tail;
  f.list_next = kNoFlow;
  if (list.tail != kNoFlow) {
    pool_[list.tail].list_next = index;
  } else {
    list.head = index;
  }
  list.tail = index;
}

}  // namespace tapflow
