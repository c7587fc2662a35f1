#include "drill/windows.h"

#include <algorithm>
#include <cmath>

#include "drill/stats.h"

namespace floe::drill {
namespace {

// Who acked the ack at `t`: the last entry starting at or before it; -1 when unknown.
int32_t broker_at(const std::vector<AckLeader>& leaders, int64_t t) {
  auto it = std::upper_bound(leaders.begin(), leaders.end(), t,
                             [](int64_t v, const AckLeader& l) { return v < static_cast<int64_t>(l.from_ms); });
  return it == leaders.begin() ? -1 : std::prev(it)->broker;
}

// The first ack at or after `t` (index into acks).
std::size_t first_at_or_after(const std::vector<int32_t>& acks, int64_t t) {
  return static_cast<std::size_t>(std::lower_bound(acks.begin(), acks.end(), t,
                                                   [](int32_t a, int64_t v) { return static_cast<int64_t>(a) < v; }) -
                                  acks.begin());
}

// Graceful moves among acks[from, ...] up to end_ms: an ack whose broker differs from the previous ack's (both
// known). The window starts at max(previous ack, floor_ms).
void collect_moves(const std::vector<int32_t>& acks, const std::vector<AckLeader>& leaders, std::size_t from,
                   int64_t floor_ms, int64_t end_ms, std::vector<double>* out) {
  if (from == 0) from = 1;  // a move needs a previous ack
  for (std::size_t i = from; i < acks.size() && acks[i] <= end_ms; ++i) {
    const int32_t before = broker_at(leaders, acks[i - 1]);
    const int32_t now = broker_at(leaders, acks[i]);
    if (before < 0 || now < 0 || before == now) continue;
    const int64_t start = std::max<int64_t>(acks[i - 1], floor_ms);
    out->push_back(static_cast<double>(acks[i] - start));
  }
}

}  // namespace

WindowStats summarize_windows(const std::vector<double>& windows_ms, int partitions, int timed_out) {
  WindowStats s;
  s.partitions = partitions;
  s.samples = static_cast<int>(windows_ms.size());
  s.timed_out = timed_out;
  s.p50_ms = percentile(windows_ms, 0.5);
  s.p99_ms = percentile(windows_ms, 0.99);
  s.max_ms = windows_ms.empty() ? 0 : *std::max_element(windows_ms.begin(), windows_ms.end());
  return s;
}

MoveSummary summarize_moves(const std::vector<std::vector<int32_t>>& acks,
                            const std::vector<std::vector<AckLeader>>& leaders, const WindowSpec& spec) {
  MoveSummary out;
  static const std::vector<AckLeader> kNone;
  const bool failure = spec.victim >= 0;
  // A window with no end inside the timeout (and inside the scenario) counts as the timeout.
  const int64_t horizon = std::min(spec.end_ms, spec.fault_ms + spec.timeout_ms);
  std::vector<double> moved, unmoved, later;
  int moved_partitions = 0, unmoved_partitions = 0, later_partitions = 0;
  int moved_timeouts = 0, unmoved_timeouts = 0;
  for (std::size_t p = 0; p < acks.size(); ++p) {
    const auto& a = acks[p];
    const auto& l = p < leaders.size() ? leaders[p] : kNone;
    const std::size_t first = first_at_or_after(a, spec.fault_ms);
    const int32_t before = first == 0 ? -1 : broker_at(l, a[first - 1]);
    if (first == 0) ++out.unknown_leader;
    if (failure) {
      const bool lost_leader = before >= 0 && before == spec.victim;
      // The first ack that shows the partition writable again.
      std::size_t back = first;
      while (lost_leader && back < a.size() && a[back] <= horizon && a[back] < spec.victim_back_ms &&
             broker_at(l, a[back]) == spec.victim) {
        ++back;
      }
      const bool recovered = back < a.size() && a[back] <= horizon;
      const double window = static_cast<double>(recovered ? a[back] - spec.fault_ms : spec.timeout_ms);
      (lost_leader ? moved : unmoved).push_back(window);
      (lost_leader ? moved_partitions : unmoved_partitions)++;
      if (!recovered) (lost_leader ? moved_timeouts : unmoved_timeouts)++;
      if (recovered) {
        const std::size_t n = later.size();
        collect_moves(a, l, back + 1, a[back], spec.end_ms, &later);
        if (later.size() > n) ++later_partitions;
      }
      continue;
    }
    const std::size_t n = moved.size();
    collect_moves(a, l, first, spec.fault_ms, spec.end_ms, &moved);
    if (moved.size() > n) {
      ++moved_partitions;
      continue;
    }
    // Not moved: the longest interval without an ack inside [fault, end].
    int64_t prev = spec.fault_ms;
    double gap = 0;
    for (std::size_t i = first; i < a.size() && a[i] <= spec.end_ms; ++i) {
      gap = std::max(gap, static_cast<double>(a[i] - prev));
      prev = a[i];
    }
    gap = std::max(gap, static_cast<double>(spec.end_ms - prev));
    if (gap > static_cast<double>(spec.timeout_ms)) {
      gap = static_cast<double>(spec.timeout_ms);
      ++unmoved_timeouts;
    }
    unmoved.push_back(gap);
    ++unmoved_partitions;
  }
  out.moved = summarize_windows(moved, moved_partitions, moved_timeouts);
  out.unmoved = summarize_windows(unmoved, unmoved_partitions, unmoved_timeouts);
  out.later_moves = summarize_windows(later, later_partitions, 0);
  return out;
}

LatencyBaseline summarize_latency(const std::vector<LatencySample>& samples, int64_t from_ms, int64_t to_ms) {
  LatencyBaseline b;
  b.from_ms = from_ms;
  b.to_ms = to_ms;
  std::vector<double> v;
  for (const auto& s : samples) {
    if (s.t_ms >= from_ms && s.t_ms < to_ms) v.push_back(s.latency_ms);
  }
  b.acks = static_cast<int64_t>(v.size());
  b.p50_ms = percentile(v, 0.5);
  b.p99_ms = percentile(v, 0.99);
  return b;
}

BucketQuantiles bucket_quantiles(const std::map<double, double>& cumulative) {
  BucketQuantiles q;
  if (cumulative.empty()) return q;
  q.count = cumulative.rbegin()->second;  // the +Inf (largest) bucket holds every observation
  if (q.count <= 0) return q;
  const auto at = [&](double fraction) {
    const double rank = std::ceil(fraction * q.count);
    for (const auto& [le, n] : cumulative) {
      if (n >= rank) return le;
    }
    return cumulative.rbegin()->first;
  };
  q.p50 = at(0.5);
  q.p99 = at(0.99);
  q.max = at(1.0);
  return q;
}

int64_t lease_ttl_ms(int64_t session_timeout_ms) { return std::max<int64_t>(2, session_timeout_ms / 1000) * 1000; }

}  // namespace floe::drill
