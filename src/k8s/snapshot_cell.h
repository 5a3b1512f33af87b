// Publishes an immutable object (the cluster snapshot) to worker threads that read
// it lock-free, with epoch-based reclamation: a reader pins the current epoch once
// per burst (one store to its own cache line), the writer swaps a pointer and frees
// an old object only once no reader can still be using it.
//
// Why not std::atomic<std::shared_ptr>: libstdc++ 12 implements it with a lock
// bit, its load() increments a reference count every reader shares (a contended
// cache line per burst), and it releases that lock with a relaxed store after
// reading the pointer, which ThreadSanitizer reports as a race with store().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tapflow {

template <typename T>
class SnapshotCell {
 public:
  static constexpr size_t kMaxReaders = 128;

  // One per reading thread; not shared between threads. Pins are not nested.
  class Reader {
   public:
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    ~Reader() {
      slot_.pinned.store(0, std::memory_order_release);
      slot_.in_use.store(false, std::memory_order_release);
    }

    // The current object, valid until unpin(). No allocation, no lock: two
    // sequentially consistent operations (the pin must be visible before the
    // pointer is read, or the writer could free what this reader then reads).
    const T& pin() {
      slot_.pinned.store(cell_.epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
      return *cell_.current_.load(std::memory_order_seq_cst);
    }
    void unpin() { slot_.pinned.store(0, std::memory_order_release); }

   private:
    friend class SnapshotCell;
    struct alignas(64) Slot {
      std::atomic<uint64_t> pinned{0};  // 0: not reading; else the epoch pinned
      std::atomic<bool> in_use{false};
    };
    Reader(SnapshotCell& cell, Slot& slot) : cell_(cell), slot_(slot) {}
    SnapshotCell& cell_;
    Slot& slot_;
  };

  // Pins for a scope: `auto guard = cell.read(reader); guard->lookup(...)`.
  class Guard {
   public:
    explicit Guard(Reader& reader) : reader_(reader), object_(reader.pin()) {}
    ~Guard() { reader_.unpin(); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    const T& operator*() const { return object_; }
    const T* operator->() const { return &object_; }

   private:
    Reader& reader_;
    const T& object_;
  };

  explicit SnapshotCell(std::shared_ptr<const T> initial) {
    current_.store(initial.get(), std::memory_order_seq_cst);
    latest_ = std::move(initial);
  }

  // Throws std::runtime_error when all kMaxReaders slots are taken (start-up only).
  std::unique_ptr<Reader> makeReader() {
    for (auto& slot : slots_) {
      bool expected = false;
      if (slot.in_use.compare_exchange_strong(expected, true)) return std::unique_ptr<Reader>(new Reader(*this, slot));
    }
    throw std::runtime_error("snapshot readers: all " + std::to_string(kMaxReaders) + " slots in use");
  }

  // Writer side (one thread at a time; serialised by writer_mutex_).
  void publish(std::shared_ptr<const T> next) {
    std::lock_guard lock(writer_mutex_);
    current_.store(next.get(), std::memory_order_seq_cst);
    // Readers that pin the new epoch (or later) started after the store above
    // and read `next`; only readers pinned at an older epoch may hold the old one.
    const uint64_t retire_epoch = epoch_.fetch_add(1, std::memory_order_seq_cst) + 1;
    retired_.emplace_back(std::move(latest_), retire_epoch);
    latest_ = std::move(next);
    reclaimLocked();
  }

  // Frees retired objects no reader can hold any more. Also called by publish();
  // call it now and then when nothing is published for a while.
  void reclaim() {
    std::lock_guard lock(writer_mutex_);
    reclaimLocked();
  }

  // The latest object, for threads off the data path (a shared_ptr copy).
  std::shared_ptr<const T> latest() const {
    std::lock_guard lock(writer_mutex_);
    return latest_;
  }
  size_t retiredCount() const {
    std::lock_guard lock(writer_mutex_);
    return retired_.size();
  }

 private:
  void reclaimLocked() {
    uint64_t oldest_pinned = UINT64_MAX;
    for (const auto& slot : slots_) {
      const uint64_t pinned = slot.pinned.load(std::memory_order_seq_cst);
      if (pinned != 0 && pinned < oldest_pinned) oldest_pinned = pinned;
    }
    std::erase_if(retired_, [&](const auto& entry) { return entry.second <= oldest_pinned; });
  }

  std::atomic<const T*> current_{nullptr};
  std::atomic<uint64_t> epoch_{1};
  std::array<typename Reader::Slot, kMaxReaders> slots_;
  mutable std::mutex writer_mutex_;
  std::shared_ptr<const T> latest_;
  // (object, epoch at which it stopped being current)
  std::vector<std::pair<std::shared_ptr<const T>, uint64_t>> retired_;
};

}  // namespace tapflow
