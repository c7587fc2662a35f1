// A lock-free histogram of unsigned values in power-of-two buckets, for read-only stats that modules keep without
// depending on the metrics registry (the WAL's latencies and group-commit sizes, metadata request latencies).
// Bucket i counts the values v with bit_width(v) == i, i.e. 2^(i-1) <= v < 2^i (bucket 0: v == 0); the last
// bucket also takes everything larger. A latency is recorded in microseconds, so bucket i holds latencies below
// 2^i us. The metrics wiring turns a snapshot into a Prometheus histogram with `le` = 2^i units.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace floe {

inline constexpr std::size_t kLog2Buckets = 32;

struct Log2HistogramSnapshot {
  std::array<uint64_t, kLog2Buckets> buckets{};  // not cumulative
  uint64_t sum = 0;                              // of the recorded values (microseconds for latencies)
  uint64_t count() const {
    uint64_t n = 0;
    for (uint64_t b : buckets) n += b;
    return n;
  }
};

class Log2Histogram {
 public:
  void record(uint64_t value) noexcept {
    std::size_t i = static_cast<std::size_t>(std::bit_width(value));
    if (i >= kLog2Buckets) i = kLog2Buckets - 1;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }
  void record(std::chrono::steady_clock::duration latency) noexcept {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
    record(us <= 0 ? uint64_t{0} : static_cast<uint64_t>(us));
  }
  Log2HistogramSnapshot snapshot() const noexcept {
    Log2HistogramSnapshot s;
    for (std::size_t i = 0; i < kLog2Buckets; ++i) s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kLog2Buckets> buckets_{};
  std::atomic<uint64_t> sum_{0};
};

}  // namespace floe
