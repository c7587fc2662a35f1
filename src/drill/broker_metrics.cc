#include "drill/broker_metrics.h"

#include <chrono>
#include <cstdlib>

#include "cost/http_get.h"
#include "cost/prom_text.h"
#include "drill/stats.h"

namespace floe::drill {
namespace {

constexpr std::string_view kRequestsPrefix = "objstore_requests/";
constexpr std::string_view kHandoffPrefix = "handoff/";  // handoff/<cause>/<le>
constexpr std::string_view kHandoffBuckets = "floe_cluster_partition_handoff_seconds_bucket";

}  // namespace

bool MetricsLedger::add_scrape(int node_id, int instance, std::string_view text) {
  auto parsed = cost::Scrape::parse(text);
  if (!parsed) return false;
  const cost::Scrape& s = *parsed;
  std::map<std::string, double> now;
  const std::map<std::string, std::string> topic{{"topic", topic_}};
  now["appended_bytes"] = s.sum("floe_topic_bytes_in_total", topic).value_or(0);
  now["appended_records"] = s.sum("floe_topic_records_in_total", topic).value_or(0);
  now["served_bytes"] = s.sum("floe_topic_bytes_out_total", topic).value_or(0);
  now["objstore_read_bytes"] = s.sum("floe_objstore_received_bytes_total", {{"op", "get"}}).value_or(0);
  Counters& c = brokers_[{node_id, instance}];
  for (const auto& op : s.label_values("floe_objstore_requests_total", "op")) {
    c.objstore = true;
    now[std::string(kRequestsPrefix) + op] = s.sum("floe_objstore_requests_total", {{"op", op}}).value_or(0);
  }
  for (const auto& cause : s.label_values(kHandoffBuckets, "cause")) {
    for (const auto& le : s.label_values(kHandoffBuckets, "le")) {
      if (auto v = s.sum(kHandoffBuckets, {{"cause", cause}, {"le", le}})) {
        now[std::string(kHandoffPrefix) + cause + "/" + le] = *v;
      }
    }
  }
  // One restart check for the whole scrape: if any counter dropped, the process is new and every counter starts
  // from 0 (a per-series check would miss a counter that happens to have grown past its old value).
  bool restarted = false;
  for (const auto& [key, v] : now) {
    auto it = c.last.find(key);
    if (it != c.last.end() && v < it->second) restarted = true;
  }
  for (const auto& [key, v] : now) {
    const double before = restarted ? 0 : (c.last.count(key) ? c.last[key] : 0);
    c.accum[key] += counter_increase(before, v);
    c.last[key] = v;
  }
  return true;
}

bool MetricsLedger::scrape(int node_id, int instance, const std::string& http_host_port) {
  auto got = cost::http_get(http_host_port, "/metrics", std::chrono::milliseconds(2000));
  if (!got || got->status != 200) return false;
  return add_scrape(node_id, instance, got->body);
}

StorageFigures MetricsLedger::totals() const {
  StorageFigures f;
  for (const auto& [key_, c] : brokers_) {
    f.objstore_metrics = f.objstore_metrics || c.objstore;
    for (const auto& [key, v] : c.accum) {
      if (key == "appended_bytes")
        f.appended_bytes += v;
      else if (key == "appended_records")
        f.appended_records += v;
      else if (key == "served_bytes")
        f.served_bytes += v;
      else if (key == "objstore_read_bytes")
        f.objstore_read_bytes += v;
      else if (key.starts_with(kRequestsPrefix))
        f.objstore_requests[key.substr(kRequestsPrefix.size())] += v;
      else if (key.starts_with(kHandoffPrefix)) {
        const std::string rest = key.substr(kHandoffPrefix.size());
        const std::size_t slash = rest.find('/');
        if (slash == std::string::npos) continue;
        const double le = std::strtod(rest.c_str() + slash + 1, nullptr);  // "+Inf" parses as infinity
        f.handoff_buckets[rest.substr(0, slash)][le] += v;
      }
    }
  }
  return f;
}

StorageFigures difference(const StorageFigures& a, const StorageFigures& b) {
  StorageFigures d;
  d.appended_bytes = b.appended_bytes - a.appended_bytes;
  d.appended_records = b.appended_records - a.appended_records;
  d.served_bytes = b.served_bytes - a.served_bytes;
  d.objstore_read_bytes = b.objstore_read_bytes - a.objstore_read_bytes;
  d.objstore_metrics = b.objstore_metrics;
  for (const auto& [cause, buckets] : b.handoff_buckets) {
    const auto before = a.handoff_buckets.find(cause);
    for (const auto& [le, v] : buckets) {
      double was = 0;
      if (before != a.handoff_buckets.end()) {
        const auto it = before->second.find(le);
        if (it != before->second.end()) was = it->second;
      }
      d.handoff_buckets[cause][le] = v - was;
    }
  }
  for (const auto& [op, v] : b.objstore_requests) {
    const auto it = a.objstore_requests.find(op);
    d.objstore_requests[op] = v - (it == a.objstore_requests.end() ? 0 : it->second);
  }
  return d;
}

}  // namespace floe::drill
