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

// A level one thread changes and others read (a table's size, bytes held):
// relaxed loads and stores, plain moves on x86, so the metrics thread's reads
// are not data races. Reads and writes look like the integer's own.
template <typename T>
class Gauge {
 public:
  Gauge(T value = 0) : value_(value) {}  // NOLINT: converts like the integer it stands for
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  operator T() const { return value_.load(std::memory_order_relaxed); }  // NOLINT
  Gauge& operator=(T value) {
    value_.store(value, std::memory_order_relaxed);
    return *this;
  }
  Gauge& operator+=(T n) { return *this = T(*this + n); }
  Gauge& operator-=(T n) { return *this = T(*this - n); }
  Gauge& operator++() { return *this += 1; }
  Gauge& operator--() { return *this -= 1; }
  T operator++(int) {
    const T before = *this;
    *this = T(before + 1);
    return before;
  }

 private:
  std::atomic<T> value_;
};

// Expands a TF_*_STATS(C) list into Counter members: C(name, "help text").
#define TF_DECLARE_COUNTER(name, help) ::tapflow::Counter name;

// Calls fn(name, help, counter) for every counter of a stats struct, so the
// /metrics renderer and tests walk the same list the struct was built from.
#define TF_VISIT_COUNTER(name, help) fn(#name, help, stats.name);

}  // namespace tapflow
