#include "drill/producers.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace floe::drill {

int default_producer_count(int partitions) {
  const int n = (std::max(partitions, 1) + kPartitionsPerProducer - 1) / kPartitionsPerProducer;
  return std::clamp(n, 1, kMaxDefaultProducers);
}

std::vector<int32_t> producer_slice(int partitions, int producers, int index) {
  std::vector<int32_t> slice;
  if (producers <= 0 || index < 0 || index >= producers) return slice;
  for (int p = index; p < partitions; p += producers) slice.push_back(p);
  return slice;
}

int64_t slice_sequence(const std::vector<int32_t>& slice, int partitions, int64_t local) {
  const auto size = static_cast<int64_t>(slice.size());
  return (local / size) * partitions + slice[static_cast<std::size_t>(local % size)];
}

std::vector<SeqState> merge_producer_states(const std::vector<std::vector<int32_t>>& slices,
                                            const std::vector<std::vector<SeqState>>& states, int partitions) {
  int64_t end = 0;  // one past the highest sequence number produced
  for (std::size_t k = 0; k < slices.size() && k < states.size(); ++k) {
    if (!states[k].empty()) {
      end = std::max(end, slice_sequence(slices[k], partitions, static_cast<int64_t>(states[k].size()) - 1) + 1);
    }
  }
  std::vector<SeqState> merged(static_cast<std::size_t>(end), SeqState::not_produced);
  for (std::size_t k = 0; k < slices.size() && k < states.size(); ++k) {
    for (std::size_t local = 0; local < states[k].size(); ++local) {
      merged[static_cast<std::size_t>(slice_sequence(slices[k], partitions, static_cast<int64_t>(local)))] =
          states[k][local];
    }
  }
  return merged;
}

namespace {

// The number after `"key":` at or after `from` and before `limit`; 0 when absent.
double number_field(std::string_view json, std::string_view key, std::size_t from, std::size_t limit) {
  const std::string needle = "\"" + std::string(key) + "\":";
  const std::size_t at = json.find(needle, from);
  if (at == std::string_view::npos || at >= limit) return 0;
  std::size_t p = at + needle.size();
  while (p < json.size() && json[p] == ' ') ++p;
  double v = 0;
  std::from_chars(json.data() + p, json.data() + std::min(limit, json.size()), v);
  return v;
}

// A librdkafka latency histogram object (`"key": {... "p50": us, "p99": us ...}`) inside [from, limit).
struct Histogram {
  double p50_ms = 0, p99_ms = 0;
};
Histogram histogram_field(std::string_view json, std::string_view key, std::size_t from, std::size_t limit) {
  const std::string needle = "\"" + std::string(key) + "\":";
  const std::size_t at = json.find(needle, from);
  if (at == std::string_view::npos || at >= limit) return {};
  const std::size_t close = std::min(json.find('}', at), limit);
  return Histogram{number_field(json, "p50", at, close) / 1000, number_field(json, "p99", at, close) / 1000};
}

}  // namespace

ClientLatency client_latency_from_stats(std::string_view json) {
  ClientLatency c;
  const std::size_t brokers = json.find("\"brokers\":");
  if (brokers == std::string_view::npos) return c;
  c.present = true;
  c.queued = static_cast<int64_t>(number_field(json, "msg_cnt", 0, brokers));  // the top-level count
  std::size_t end = json.find("\"topics\":", brokers);
  if (end == std::string_view::npos) end = json.size();
  constexpr std::string_view kName = "\"name\":\"";
  std::size_t at = json.find(kName, brokers);
  while (at != std::string_view::npos && at < end) {
    const std::size_t name_end = json.find('"', at + kName.size());
    if (name_end == std::string_view::npos) break;
    const std::size_t next = json.find(kName, name_end);
    const std::size_t limit = (next == std::string_view::npos || next > end) ? end : next;
    if (json.find("\"nodeid\":", name_end) < limit && number_field(json, "nodeid", name_end, limit) >= 0) {
      const Histogram queue = histogram_field(json, "int_latency", name_end, limit);
      const Histogram outbuf = histogram_field(json, "outbuf_latency", name_end, limit);
      const Histogram rtt = histogram_field(json, "rtt", name_end, limit);
      c.int_latency_p50_ms = std::max(c.int_latency_p50_ms, queue.p50_ms);
      c.int_latency_p99_ms = std::max(c.int_latency_p99_ms, queue.p99_ms);
      c.outbuf_latency_p99_ms = std::max(c.outbuf_latency_p99_ms, outbuf.p99_ms);
      c.rtt_p50_ms = std::max(c.rtt_p50_ms, rtt.p50_ms);
      c.rtt_p99_ms = std::max(c.rtt_p99_ms, rtt.p99_ms);
      c.in_flight += static_cast<int64_t>(number_field(json, "waitresp_cnt", name_end, limit));
    }
    at = next;
  }
  return c;
}

ClientLatency worst_client_latency(const std::vector<ClientLatency>& per_producer) {
  ClientLatency w;
  for (const auto& c : per_producer) {
    if (!c.present) continue;
    w.present = true;
    w.int_latency_p50_ms = std::max(w.int_latency_p50_ms, c.int_latency_p50_ms);
    w.int_latency_p99_ms = std::max(w.int_latency_p99_ms, c.int_latency_p99_ms);
    w.outbuf_latency_p99_ms = std::max(w.outbuf_latency_p99_ms, c.outbuf_latency_p99_ms);
    w.rtt_p50_ms = std::max(w.rtt_p50_ms, c.rtt_p50_ms);
    w.rtt_p99_ms = std::max(w.rtt_p99_ms, c.rtt_p99_ms);
    w.in_flight = std::max(w.in_flight, c.in_flight);
    w.queued = std::max(w.queued, c.queued);
  }
  return w;
}

}  // namespace floe::drill
