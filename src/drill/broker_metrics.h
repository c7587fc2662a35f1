// The brokers' /metrics counters the drill reports, accumulated per broker over the whole run: a counter that drops
// means the process behind it started again (a restart, or a sealed broker that re-executed itself), so what it
// shows then is all new increase (counter_increase). Increments a broker made after its last scrape and before a
// kill -9 are lost; the drill scrapes every broker right before each fault and every second in between.
//
// What is summed (every broker process that ran):
//   floe_topic_bytes_in_total{topic}, floe_topic_records_in_total{topic}: log data appended from Produce
//   floe_topic_bytes_out_total{topic}: log data sent in Fetch responses
//   floe_objstore_received_bytes_total{op="get"}: bytes read from the object store
//   floe_objstore_requests_total{op}: object-store requests (each billed HTTP request once)
//   floe_cluster_partition_handoff_seconds_bucket{cause,le}: partitions opened after a change of owner
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "drill/report.h"

namespace floe::drill {

class MetricsLedger {
 public:
  explicit MetricsLedger(std::string topic) : topic_(std::move(topic)) {}

  // Adds one /metrics text of broker `node_id`'s process number `instance` (the drill counts its starts); false
  // when it does not parse.
  bool add_scrape(int node_id, int instance, std::string_view metrics_text);
  // Scrapes http_host_port/metrics (bounded); false when the broker did not answer.
  bool scrape(int node_id, int instance, const std::string& http_host_port);

  // The sums so far.
  StorageFigures totals() const;

 private:
  struct Counters {
    std::map<std::string, double> last;   // value at the last scrape, per series key
    std::map<std::string, double> accum;  // increase over the run, per series key
    bool objstore = false;
  };
  std::string topic_;
  std::map<std::pair<int, int>, Counters> brokers_;  // (node id, instance)
};

// b - a, field by field (a window's figures from two totals).
StorageFigures difference(const StorageFigures& a, const StorageFigures& b);

}  // namespace floe::drill
