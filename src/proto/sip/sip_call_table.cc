// The per-worker SIP call table (see sip_call_table.h).
#include "proto/sip/sip_call_table.h"

namespace tapflow {

SipCallTable::SipCallTable(uint32_t max_calls, uint64_t hash_seed)
    : capacity_(max_calls),
      hash_seed_(hash_seed),
      // Default-initialized on purpose (no value-init): pages are committed on first use.
      records_(new SipCallRecord[max_calls == 0 ? 1 : max_calls]) {
  size_t buckets = 1;
  while (buckets < max_calls) buckets <<= 1;
  buckets_.assign(buckets, kNone);
}

uint64_t SipCallTable::hash(std::string_view call_id) const {
  // FNV-1a with a per-table seed, so chains cannot be lengthened by Call-IDs chosen offline.
  uint64_t h = 0xcbf29ce484222325ull ^ hash_seed_;
  for (char c : call_id) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h ^ (h >> 29);
}

SipCallTable::List SipCallTable::listOf(SipCallRecord::State state) {
  switch (state) {
    case SipCallRecord::State::kSetup: return List::kSetup;
    case SipCallRecord::State::kEstablished: return List::kEstablished;
    case SipCallRecord::State::kChallenged:
    case SipCallRecord::State::kEnded: return List::kLingering;
  }
  return List::kLingering;
}

SipCallRecord* SipCallTable::find(std::string_view call_id) {
  const uint64_t h = hash(call_id);
  for (uint32_t i = buckets_[h & (buckets_.size() - 1)]; i != kNone; i = records_[i].hash_next) {
    SipCallRecord& call = records_[i];
    if (call.id_hash == h && call.call_id.matches(call_id)) return &call;
  }
  return nullptr;
}

SipCallRecord* SipCallTable::create(std::string_view call_id, Timestamp ts, bool& truncated) {
  uint32_t index = kNone;
  if (free_head_ != kNone) {
    index = free_head_;
    free_head_ = records_[index].next;
  } else if (never_used_ < capacity_) {
    index = never_used_++;
  } else {
    return nullptr;
  }
  SipCallRecord& call = records_[index];
  call.state = SipCallRecord::State::kSetup;
  call.cancel_seen = false;
  call.final_status = 0;
  call.invite_cseq = 0;
  call.invite_ts = ts;
  call.ringing_ts = 0;
  call.answer_ts = 0;
  call.end_ts = 0;
  call.last_ts = ts;
  call.state_since = ts;
  call.id_hash = hash(call_id);
  truncated = !call.call_id.assign(call_id);
  call.from_uri.assign({});
  call.to_uri.assign({});
  call.from_tag.assign({});
  uint32_t& bucket = buckets_[call.id_hash & (buckets_.size() - 1)];
  call.hash_next = bucket;
  bucket = index;
  link(call);
  ++size_;
  return &call;
}

void SipCallTable::link(SipCallRecord& call) {
  ListHead& list = lists_[static_cast<size_t>(listOf(call.state))];
  const uint32_t index = indexOf(call);
  call.prev = list.tail;
  call.next = kNone;
  if (list.tail != kNone) {
    records_[list.tail].next = index;
  } else {
    list.head = index;
  }
  list.tail = index;
}

void SipCallTable::unlink(SipCallRecord& call) {
  ListHead& list = lists_[static_cast<size_t>(listOf(call.state))];
  if (call.prev != kNone) {
    records_[call.prev].next = call.next;
  } else {
    list.head = call.next;
  }
  if (call.next != kNone) {
    records_[call.next].prev = call.prev;
  } else {
    list.tail = call.prev;
  }
}

void SipCallTable::setState(SipCallRecord& call, SipCallRecord::State state, Timestamp ts) {
  unlink(call);
  call.state = state;
  call.state_since = ts;
  link(call);
}

void SipCallTable::touch(SipCallRecord& call, Timestamp ts) {
  // Packet time can step back a little between sources; a call's clock never does.
  if (ts > call.last_ts) call.last_ts = ts;
  if (call.state == SipCallRecord::State::kEstablished && call.next != kNone) {
    unlink(call);
    link(call);
  }
}

void SipCallTable::release(SipCallRecord& call) {
  unlink(call);
  const uint32_t index = indexOf(call);
  uint32_t* link_to = &buckets_[call.id_hash & (buckets_.size() - 1)];
  while (*link_to != kNone && *link_to != index) link_to = &records_[*link_to].hash_next;
  if (*link_to == index) *link_to = call.hash_next;
  call.next = free_head_;
  free_head_ = index;
  --size_;
}

SipCallRecord* SipCallTable::oldest(List list) {
  const uint32_t head = lists_[static_cast<size_t>(list)].head;
  return head == kNone ? nullptr : &records_[head];
}

}  // namespace tapflow
