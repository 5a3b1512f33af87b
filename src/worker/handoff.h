// The capture side of the hand-off: a capture thread copies each decoded
// packet into the open batch of the worker that owns its flow (symmetric hash)
// and enqueues full batches with try_enqueue_bulk-style token operations. A
// source whose bytes stay put (a mapped file) hands packets over in place.
// Running out of batches means the workers are behind: a live source drops and
// counts; an offline source waits, since a file can.
#pragma once

#include <memory>
#include <vector>

#include "ops/counter.h"
#include "worker/packet_batch.h"
#include "worker/worker.h"

namespace tapflow {

struct HandoffConfig {
  uint32_t batches_per_worker = 64;
  uint32_t batch_packets = 64;
  uint32_t batch_bytes = 256 * 1024;
  bool wait_when_full = false;  // offline sources
};

class Handoff {
 public:
  Handoff(const HandoffConfig& config, const std::vector<Worker*>& workers);

  // Copies `pkt` (whose bytes `pkt.data` points at) to its worker's batch.
  // Returns false when the packet was dropped (counted per worker).
  bool push(const DecodedPacket& pkt);
  // The same without the copy: `pkt.data` must stay valid and unchanged
  // until the workers have finished (a file mapped for the whole run).
  bool pushInPlace(const DecodedPacket& pkt);

  // End of a capture burst: sends the partly filled batches. While the pool
  // runs low (a worker is behind or descheduled), batches under a quarter
  // full keep filling instead, so a trickle of one-packet bursts cannot use up
  // every batch and turn into drops.
  void flush();

  // Sends every partly filled batch (the source is done).
  void flushAll();

  size_t workerCount() const { return workers_.size(); }
  uint64_t drops(size_t worker) const { return drops_[worker].value(); }
  uint64_t oversize() const { return oversize_.value(); }

 private:
  // The open batch of `pkt`'s worker with room for a packet of `bytes`
  // (0: in place); nullptr when it was dropped (counted).
  PacketBatch* batchFor(const DecodedPacket& pkt, uint32_t bytes);
  bool openBatch(size_t worker);
  void send(size_t worker);

  HandoffConfig config_;
  std::vector<Worker*> workers_;
  BatchPool pool_;
  std::vector<std::unique_ptr<moodycamel::ProducerToken>> tokens_;
  std::vector<PacketBatch*> open_;
  std::unique_ptr<Counter[]> drops_;
  Counter oversize_;  // packets longer than a whole batch, dropped
};

}  // namespace tapflow
