// A batch of decoded packets with their bytes, the unit capture threads hand
// to workers. Batches come from a fixed pool per capture thread and go back to
// it once the worker is done, so the hand-off never allocates.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <concurrentqueue.h>

#include "packet/decoded_packet.h"

namespace tapflow {

struct PacketBatch {
  uint32_t count = 0;
  uint32_t bytes_used = 0;
  uint32_t capacity_packets = 0;
  uint32_t capacity_bytes = 0;
  DecodedPacket* packets = nullptr;
  uint8_t* buffer = nullptr;
  moodycamel::ConcurrentQueue<PacketBatch*>* home = nullptr;  // free list it returns to
};

// The fixed set of batches one capture thread fills.
class BatchPool {
 public:
  BatchPool(uint32_t batches, uint32_t packets_per_batch, uint32_t bytes_per_batch)
      : packets_(size_t(batches) * packets_per_batch),
        // Not zeroed: pages are touched as batches are filled, and never by
        // a source that hands packets over in place.
        bytes_(std::make_unique_for_overwrite<uint8_t[]>(size_t(batches) * bytes_per_batch)),
        batches_(batches),
        free_(batches) {
    for (uint32_t i = 0; i < batches; ++i) {
      PacketBatch& b = batches_[i];
      b.capacity_packets = packets_per_batch;
      b.capacity_bytes = bytes_per_batch;
      b.packets = packets_.data() + size_t(i) * packets_per_batch;
      b.buffer = bytes_.get() + size_t(i) * bytes_per_batch;
      b.home = &free_;
      free_.enqueue(&b);
    }
  }
  BatchPool(const BatchPool&) = delete;
  BatchPool& operator=(const BatchPool&) = delete;

  PacketBatch* tryTake() {
    PacketBatch* b = nullptr;
    return free_.try_dequeue(b) ? b : nullptr;
  }

  // Called by workers when they are done with a batch.
  static void giveBack(PacketBatch* b) {
    b->count = 0;
    b->bytes_used = 0;
    b->home->enqueue(b);
  }

  size_t size() const { return batches_.size(); }
  size_t freeApprox() const { return free_.size_approx(); }

 private:
  std::vector<DecodedPacket> packets_;
  std::unique_ptr<uint8_t[]> bytes_;
  std::vector<PacketBatch> batches_;
  moodycamel::ConcurrentQueue<PacketBatch*> free_;
};

}  // namespace tapflow
