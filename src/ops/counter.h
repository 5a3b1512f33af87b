// Single-writer counters for per-core statistics.
// A worker or capture thread owns its counters and bumps them without a locked
// instruction; the metrics thread only reads them (relaxed loads are enough for
// monotonically increasing totals).
#pragma once

#include <atomic>
#include <cstdint>

namespace tapflow {

class Counter {
 public:
  void add(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  // For the rare counters several threads bump (drops at a shared output).
  void addShared(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Expands a TF_*_STATS(C) list into Counter members: C(name, "help text").
#define TF_DECLARE_COUNTER(name, help) ::tapflow::Counter name;

// Calls fn(name, help, counter) for every counter of a stats struct, so the
// /metrics renderer and tests walk the same list the struct was built from.
#define TF_VISIT_COUNTER(name, help) fn(#name, help, stats.name);

}  // namespace tapflow
