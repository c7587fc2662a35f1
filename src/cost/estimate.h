// `floe cost`'s arithmetic: from brokers' /metrics scrapes to a monthly cost estimate (issue 8).
//
// Per broker, the billed figures over a window: object-store requests by operation (floe_objstore_requests_total),
// client traffic (floe_topic_bytes_in_total + floe_topic_bytes_out_total), and the bytes stored
// (floe_objstore_stored_bytes, a gauge). The window is either the broker's uptime (one scrape: counters since
// floe_process_start_time_seconds) or the interval between two scrapes (deltas). Rates over the window are
// extrapolated to a month of Prices::hours_per_month.
//
// Request classes follow S3 billing: put, multipart (each part and the create/complete POSTs) and list are the
// PUT/COPY/POST/LIST class; get and head the GET class; delete is its own (free on S3). An operation the table does
// not know is priced as GET (S3: "GET, SELECT, and all other requests").
//
// Storage: the metadata store is shared by a cluster's brokers, so each reports the cluster's total; the estimate
// takes the largest report per cluster id (floe_broker_info) and adds clusters. It prices today's size for the whole
// month (no growth model).
//
// Cross-zone traffic: clients' produce and fetch bytes that cross an availability zone. Brokers do not know their
// clients' zones, so the share is an assumption: with brokers in Z > 1 zones and clients spread evenly without zone
// affinity, (Z - 1) / Z of the traffic crosses; with one zone (or none set), none. --cross-zone-fraction overrides.
// Object-store traffic within a region is free and not counted; nor is Kafka protocol overhead.
#pragma once

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "base/result.h"
#include "cost/prices.h"
#include "cost/prom_text.h"

namespace floe::cost {

enum class RequestClass { put, get, del };
RequestClass request_class(const std::string& op);

struct BrokerFigures {
  std::string target;         // where it was scraped (host:port)
  std::string cluster_id;     // from floe_broker_info ("" if absent)
  std::string zone;           // from floe_broker_info ("" if none)
  double window_seconds = 0;  // what the counts below cover
  std::map<std::string, double> requests_by_op;  // object-store requests in the window
  double client_bytes = 0;    // topic bytes in + out in the window
  double stored_bytes = 0;    // at the (last) scrape
};

// Counters since the broker started: the window is `now_unix_seconds` - floe_process_start_time_seconds.
Result<BrokerFigures> figures_since_start(const std::string& target, const Scrape& scrape, double now_unix_seconds);
// The deltas between two scrapes `seconds` apart (counters that went down, after a restart, are an error).
Result<BrokerFigures> figures_between(const std::string& target, const Scrape& first, const Scrape& second,
                                      double seconds);

struct LineItem {
  std::string item;
  double quantity = 0;  // per month
  std::string unit;
  double unit_price = 0;
  double usd = 0;       // per month
};

struct Estimate {
  std::vector<BrokerFigures> brokers;
  double cross_zone_fraction = 0;
  std::string cross_zone_reason;
  std::map<RequestClass, double> requests_in_windows;  // summed over brokers
  std::vector<LineItem> items;  // compute, storage, PUT, GET, DELETE, cross-zone
  double total_usd = 0;
};

Estimate estimate(std::vector<BrokerFigures> brokers, const Prices& prices,
                  std::optional<double> cross_zone_fraction);
void print_estimate(const Estimate& estimate, const Prices& prices, std::ostream& out);

}  // namespace floe::cost
