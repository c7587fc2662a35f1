#include "objstore/stats.h"

#include <bit>

namespace floe::objstore {

std::string_view op_name(Op op) {
  switch (op) {
    case Op::put: return "put";
    case Op::get: return "get";
    case Op::head: return "head";
    case Op::list: return "list";
    case Op::remove: return "delete";
    case Op::multipart: return "multipart";
    case Op::count_: break;
  }
  return "?";
}

uint64_t OpSnapshot::latency_quantile_us(double q) const {
  uint64_t total = 0;
  for (uint64_t n : latency) total += n;
  if (total == 0) return 0;
  const auto rank = static_cast<uint64_t>(q * static_cast<double>(total - 1));
  uint64_t seen = 0;
  for (std::size_t i = 0; i < latency.size(); ++i) {
    seen += latency[i];
    if (seen > rank) return uint64_t{1} << i;
  }
  return uint64_t{1} << (latency.size() - 1);
}

void Stats::record(Op op, std::chrono::steady_clock::duration latency, uint64_t sent, uint64_t received,
                   bool error) {
  Counters& c = at(op);
  c.requests.fetch_add(1, std::memory_order_relaxed);
  c.bytes_sent.fetch_add(sent, std::memory_order_relaxed);
  c.bytes_received.fetch_add(received, std::memory_order_relaxed);
  if (error) c.errors.fetch_add(1, std::memory_order_relaxed);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
  std::size_t bucket = us <= 0 ? 0 : static_cast<std::size_t>(std::bit_width(static_cast<uint64_t>(us)));
  if (bucket >= kLatencyBuckets) bucket = kLatencyBuckets - 1;
  c.latency[bucket].fetch_add(1, std::memory_order_relaxed);
  c.latency_sum_us.fetch_add(us <= 0 ? 0 : static_cast<uint64_t>(us), std::memory_order_relaxed);
}

StatsSnapshot Stats::snapshot() const {
  StatsSnapshot out;
  for (std::size_t i = 0; i < kOpCount; ++i) {
    const Counters& c = ops_[i];
    OpSnapshot& s = out.ops[i];
    s.requests = c.requests.load(std::memory_order_relaxed);
    s.bytes_sent = c.bytes_sent.load(std::memory_order_relaxed);
    s.bytes_received = c.bytes_received.load(std::memory_order_relaxed);
    s.errors = c.errors.load(std::memory_order_relaxed);
    s.retries = c.retries.load(std::memory_order_relaxed);
    for (std::size_t b = 0; b < kLatencyBuckets; ++b) s.latency[b] = c.latency[b].load(std::memory_order_relaxed);
    s.latency_sum_us = c.latency_sum_us.load(std::memory_order_relaxed);
  }
  return out;
}

}  // namespace floe::objstore
