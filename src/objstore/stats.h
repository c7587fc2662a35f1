// Request accounting per operation kind: requests, bytes, errors, retries and a latency histogram. Thread-safe
// (relaxed atomics); a snapshot is a plain copy for metrics and cost reports.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace floe::objstore {

// For S3 one "request" is one billed HTTP request: a multipart upload counts its parts separately.
enum class Op { put, get, head, list, remove, multipart, count_ };
constexpr std::size_t kOpCount = static_cast<std::size_t>(Op::count_);
std::string_view op_name(Op op);

// Latency buckets: bucket i counts latencies below 2^i microseconds (bucket 0: < 1 us); the last one is open.
constexpr std::size_t kLatencyBuckets = 32;

struct OpSnapshot {
  uint64_t requests = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t errors = 0;   // requests that failed (after retries for the whole call; each failed try is a retry)
  uint64_t retries = 0;
  std::array<uint64_t, kLatencyBuckets> latency{};
  uint64_t latency_sum_us = 0;  // of every recorded latency (a histogram's _sum)
  // Upper bound of the bucket holding quantile q (0..1) of the latencies, in microseconds; 0 when empty.
  uint64_t latency_quantile_us(double q) const;
};

struct StatsSnapshot {
  std::array<OpSnapshot, kOpCount> ops{};
  const OpSnapshot& operator[](Op op) const { return ops[static_cast<std::size_t>(op)]; }
};

class Stats {
 public:
  void record(Op op, std::chrono::steady_clock::duration latency, uint64_t sent, uint64_t received, bool error);
  void retry(Op op) { at(op).retries.fetch_add(1, std::memory_order_relaxed); }
  StatsSnapshot snapshot() const;

 private:
  struct Counters {
    std::atomic<uint64_t> requests{0}, bytes_sent{0}, bytes_received{0}, errors{0}, retries{0};
    std::array<std::atomic<uint64_t>, kLatencyBuckets> latency{};
    std::atomic<uint64_t> latency_sum_us{0};
  };
  Counters& at(Op op) { return ops_[static_cast<std::size_t>(op)]; }
  std::array<Counters, kOpCount> ops_{};
};

}  // namespace floe::objstore
