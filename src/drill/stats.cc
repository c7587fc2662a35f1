#include "drill/stats.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace floe::drill {

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank: the smallest value with at least q of the values at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[rank == 0 ? 0 : rank - 1];
}

RecoverySummary summarize_recovery(const std::vector<std::vector<int32_t>>& ack_ms, int64_t fault_ms, int64_t end_ms) {
  RecoverySummary s;
  s.partitions = static_cast<int>(ack_ms.size());
  std::vector<double> rtos, gaps;
  std::vector<int32_t> all;  // every ack inside the window, for the whole-producer stall
  rtos.reserve(ack_ms.size());
  gaps.reserve(ack_ms.size());
  for (const auto& acks : ack_ms) {
    auto it = std::lower_bound(acks.begin(), acks.end(), fault_ms,
                               [](int32_t t, int64_t v) { return static_cast<int64_t>(t) < v; });
    int64_t prev = fault_ms;
    double gap = 0;
    bool recovered = false;
    for (; it != acks.end() && *it <= end_ms; ++it) {
      if (!recovered) {
        rtos.push_back(static_cast<double>(*it - fault_ms));
        recovered = true;
      }
      gap = std::max(gap, static_cast<double>(*it - prev));
      prev = *it;
      all.push_back(*it);
    }
    gap = std::max(gap, static_cast<double>(end_ms - prev));
    gaps.push_back(gap);
    if (!recovered) {
      ++s.unrecovered;
      rtos.push_back(static_cast<double>(end_ms - fault_ms));  // a lower bound: it counts in max, not hidden
    }
  }
  s.rto_p50_ms = percentile(rtos, 0.5);
  s.rto_p99_ms = percentile(rtos, 0.99);
  s.rto_max_ms = rtos.empty() ? 0 : *std::max_element(rtos.begin(), rtos.end());
  s.gap_p50_ms = percentile(gaps, 0.5);
  s.gap_p99_ms = percentile(gaps, 0.99);
  s.gap_max_ms = gaps.empty() ? 0 : *std::max_element(gaps.begin(), gaps.end());
  std::sort(all.begin(), all.end());
  int64_t prev = fault_ms;
  for (int32_t t : all) {
    s.stall_ms = std::max(s.stall_ms, static_cast<double>(t - prev));
    prev = t;
  }
  s.stall_ms = std::max(s.stall_ms, static_cast<double>(end_ms - prev));
  return s;
}

LagSummary summarize_lag(const std::vector<LagSample>& samples, int64_t fault_ms, int64_t end_ms, int64_t baseline_ms) {
  LagSummary s;
  int64_t peak_t = fault_ms;
  bool any = false;
  for (const auto& x : samples) {
    if (x.t_ms >= fault_ms - baseline_ms && x.t_ms < fault_ms) s.baseline = std::max(s.baseline, x.lag);
    if (x.t_ms >= fault_ms && x.t_ms <= end_ms && (!any || x.lag > s.peak)) {
      s.peak = x.lag;
      peak_t = x.t_ms;
      any = true;
    }
  }
  if (!any || s.peak <= s.baseline) {
    s.catch_up_ms = 0.0;  // the lag never rose above what it was before the fault
    return s;
  }
  for (const auto& x : samples) {
    if (x.t_ms > peak_t && x.t_ms <= end_ms && x.lag <= s.baseline) {
      s.catch_up_ms = static_cast<double>(x.t_ms - fault_ms);
      break;
    }
  }
  return s;
}

VerifySummary verify_sequences(const std::vector<SeqState>& states, const std::vector<uint8_t>& seen) {
  VerifySummary v;
  for (std::size_t seq = 0; seq < states.size(); ++seq) {
    const uint8_t n = seq < seen.size() ? seen[seq] : 0;
    if (n > 1) v.duplicates += n - 1;
    if (states[seq] == SeqState::acked) {
      ++v.acked;
      if (n == 0) {
        if (v.first_lost_seq < 0) v.first_lost_seq = static_cast<int64_t>(seq);
        ++v.acked_lost;
      }
    } else if (states[seq] == SeqState::failed && n > 0) {
      ++v.failed_but_present;
    }
  }
  return v;
}

double counter_increase(double before, double after) { return after >= before ? after - before : after; }

namespace {

// The integer after `"key":` at or after `from` and before `limit`; 0 when absent.
int64_t int_field(std::string_view json, std::string_view key, std::size_t from, std::size_t limit) {
  const std::string needle = "\"" + std::string(key) + "\":";
  const std::size_t at = json.find(needle, from);
  if (at == std::string_view::npos || at >= limit) return 0;
  std::size_t p = at + needle.size();
  while (p < json.size() && json[p] == ' ') ++p;
  int64_t v = 0;
  std::from_chars(json.data() + p, json.data() + std::min(limit, json.size()), v);
  return v;
}

}  // namespace

std::vector<BrokerErrorCounters> producer_errors_from_stats(std::string_view json) {
  std::vector<BrokerErrorCounters> out;
  const std::size_t brokers = json.find("\"brokers\":");
  if (brokers == std::string_view::npos) return out;
  std::size_t end = json.find("\"topics\":", brokers);
  if (end == std::string_view::npos) end = json.size();
  constexpr std::string_view kName = "\"name\":\"";
  std::size_t at = json.find(kName, brokers);
  while (at != std::string_view::npos && at < end) {
    const std::size_t name_start = at + kName.size();
    const std::size_t name_end = json.find('"', name_start);
    if (name_end == std::string_view::npos) break;
    std::size_t next = json.find(kName, name_end);
    const std::size_t limit = (next == std::string_view::npos || next > end) ? end : next;
    BrokerErrorCounters b;
    b.name = json.substr(name_start, name_end - name_start);
    b.errors = int_field(json, "txerrs", name_end, limit) + int_field(json, "txretries", name_end, limit) +
               int_field(json, "req_timeouts", name_end, limit);
    out.push_back(b);
    at = next;
  }
  return out;
}

}  // namespace floe::drill
