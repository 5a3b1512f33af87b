#include "worker/handoff.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "flow/flow_key.h"

namespace tapflow {

Handoff::Handoff(const HandoffConfig& config, const std::vector<Worker*>& workers)
    : config_(config),
      workers_(workers),
      pool_(uint32_t(config.batches_per_worker * workers.size()), config.batch_packets, config.batch_bytes),
      open_(workers.size(), nullptr),
      drops_(new Counter[workers.size()]) {
  for (Worker* w : workers_) tokens_.push_back(std::make_unique<moodycamel::ProducerToken>(w->inbox()));
}

bool Handoff::openBatch(size_t worker) {
  PacketBatch* b = pool_.tryTake();
  while (b == nullptr && config_.wait_when_full) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    b = pool_.tryTake();
  }
  open_[worker] = b;
  return b != nullptr;
}

void Handoff::send(size_t worker) {
  PacketBatch* b = open_[worker];
  open_[worker] = nullptr;
  // The pool bounds the batches in flight, so the inbox stops growing once
  // warmed up; enqueue (not try_enqueue) so a batch is never lost here.
  workers_[worker]->inbox().enqueue(*tokens_[worker], b);
}

PacketBatch* Handoff::batchFor(const DecodedPacket& pkt, uint32_t bytes) {
  const size_t worker = workers_.size() == 1 ? 0 : workerHash(pkt) % workers_.size();
  PacketBatch* b = open_[worker];
  if (b != nullptr && (b->count == b->capacity_packets || b->bytes_used + bytes > b->capacity_bytes)) {
    send(worker);
    b = nullptr;
  }
  if (b == nullptr) {
    if (!openBatch(worker)) {
      drops_[worker].add();
      return nullptr;
    }
    b = open_[worker];
  }
  return b;
}

bool Handoff::push(const DecodedPacket& pkt) {
  const uint32_t len = pkt.cap_len;
  if (len > config_.batch_bytes) {
    // Config keeps batch_bytes >= snaplen, so only a source that ignored its
    // snap length gets here; its decoded offsets would not fit a cut copy.
    oversize_.add();
    return false;
  }
  PacketBatch* b = batchFor(pkt, len);
  if (b == nullptr) return false;
  uint8_t* copy = b->buffer + b->bytes_used;
  std::memcpy(copy, pkt.data, len);
  DecodedPacket& slot = b->packets[b->count++];
  slot = pkt;
  slot.data = copy;
  b->bytes_used += len;
  return true;
}

bool Handoff::pushInPlace(const DecodedPacket& pkt) {
  PacketBatch* b = batchFor(pkt, 0);
  if (b == nullptr) return false;
  b->packets[b->count++] = pkt;
  return true;
}

void Handoff::flush() {
  const bool pool_low = pool_.freeApprox() * 2 < pool_.size();
  for (size_t w = 0; w < open_.size(); ++w) {
    PacketBatch* b = open_[w];
    if (b == nullptr || b->count == 0) continue;
    if (pool_low && b->count * 4 < b->capacity_packets) continue;
    send(w);
  }
}

void Handoff::flushAll() {
  for (size_t w = 0; w < open_.size(); ++w) {
    if (open_[w] != nullptr && open_[w]->count > 0) send(w);
  }
}

}  // namespace tapflow
