#include "cost/estimate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <set>
#include <sstream>

namespace floe::cost {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

Error bad(std::string message) { return Error{std::make_error_code(std::errc::invalid_argument), std::move(message)}; }

struct Totals {
  std::map<std::string, double> requests_by_op;
  double client_bytes = 0;
};

Totals totals_of(const Scrape& s) {
  Totals t;
  for (const std::string& op : s.label_values("floe_objstore_requests_total", "op")) {
    t.requests_by_op[op] = s.sum("floe_objstore_requests_total", {{"op", op}}).value_or(0);
  }
  t.client_bytes = s.sum("floe_topic_bytes_in_total").value_or(0) + s.sum("floe_topic_bytes_out_total").value_or(0);
  return t;
}

void fill_identity(BrokerFigures& f, const Scrape& s) {
  for (const Sample& sample : s.samples()) {
    if (sample.name != "floe_broker_info") continue;
    if (auto it = sample.labels.find("cluster_id"); it != sample.labels.end()) f.cluster_id = it->second;
    if (auto it = sample.labels.find("zone"); it != sample.labels.end()) f.zone = it->second;
  }
  f.stored_bytes = s.sum("floe_objstore_stored_bytes").value_or(0);
}

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

// Money with enough digits that small figures do not print as 0.00.
std::string usd(double v) { return "$" + fixed(v, v != 0 && std::fabs(v) < 0.01 ? 6 : 2); }

// Up to 6 significant digits, no trailing zeros (unit prices and quantities: 0.0004, 730, 676.432).
std::string significant(double v) {
  std::ostringstream os;
  os << std::setprecision(6) << v;
  return os.str();
}

std::string class_name(RequestClass c) {
  switch (c) {
    case RequestClass::put: return "PUT/COPY/POST/LIST";
    case RequestClass::get: return "GET/HEAD";
    case RequestClass::del: return "DELETE";
  }
  return "?";
}

}  // namespace

RequestClass request_class(const std::string& op) {
  if (op == "put" || op == "multipart" || op == "list") return RequestClass::put;
  if (op == "delete") return RequestClass::del;
  return RequestClass::get;
}

Result<BrokerFigures> figures_since_start(const std::string& target, const Scrape& scrape, double now_unix_seconds) {
  const auto start = scrape.sum("floe_process_start_time_seconds");
  if (!start) return bad(target + ": no floe_process_start_time_seconds in /metrics (is it a floe broker?)");
  BrokerFigures f;
  f.target = target;
  f.window_seconds = now_unix_seconds - *start;
  if (!(f.window_seconds > 0)) {
    return bad(target + ": the broker's start time is not in the past (clock skew?); use --interval");
  }
  Totals t = totals_of(scrape);
  f.requests_by_op = std::move(t.requests_by_op);
  f.client_bytes = t.client_bytes;
  fill_identity(f, scrape);
  return f;
}

Result<BrokerFigures> figures_between(const std::string& target, const Scrape& first, const Scrape& second,
                                      double seconds) {
  if (!(seconds > 0)) return bad("the interval must be above 0 seconds");
  if (first.sum("floe_process_start_time_seconds") != second.sum("floe_process_start_time_seconds")) {
    return bad(target + ": the broker restarted between the two scrapes");
  }
  BrokerFigures f;
  f.target = target;
  f.window_seconds = seconds;
  Totals a = totals_of(first), b = totals_of(second);
  for (const auto& [op, n] : b.requests_by_op) f.requests_by_op[op] = n - a.requests_by_op[op];
  f.client_bytes = b.client_bytes - a.client_bytes;
  for (const auto& [op, n] : f.requests_by_op) {
    if (n < 0) return bad(target + ": floe_objstore_requests_total{op=\"" + op + "\"} went down between scrapes");
  }
  if (f.client_bytes < 0) return bad(target + ": the topic byte counters went down between scrapes");
  fill_identity(f, second);
  return f;
}

Estimate estimate(std::vector<BrokerFigures> brokers, const Prices& prices,
                  std::optional<double> cross_zone_fraction) {
  Estimate e;
  const double month_seconds = prices.hours_per_month * 3600;
  std::map<RequestClass, double> monthly_requests{{RequestClass::put, 0}, {RequestClass::get, 0},
                                                  {RequestClass::del, 0}};
  for (auto c : {RequestClass::put, RequestClass::get, RequestClass::del}) e.requests_in_windows[c] = 0;
  double monthly_client_bytes = 0;
  std::map<std::string, double> stored_by_cluster;
  std::set<std::string> zones;
  for (const BrokerFigures& b : brokers) {
    const double scale = month_seconds / b.window_seconds;
    for (const auto& [op, n] : b.requests_by_op) {
      e.requests_in_windows[request_class(op)] += n;
      monthly_requests[request_class(op)] += n * scale;
    }
    monthly_client_bytes += b.client_bytes * scale;
    double& stored = stored_by_cluster[b.cluster_id];
    stored = std::max(stored, b.stored_bytes);
    if (!b.zone.empty()) zones.insert(b.zone);
  }
  if (cross_zone_fraction) {
    e.cross_zone_fraction = *cross_zone_fraction;
    e.cross_zone_reason = "set by --cross-zone-fraction";
  } else if (zones.size() > 1) {
    e.cross_zone_fraction = static_cast<double>(zones.size() - 1) / static_cast<double>(zones.size());
    e.cross_zone_reason = "brokers in " + std::to_string(zones.size()) +
                          " zones, clients assumed spread evenly without zone affinity";
  } else {
    e.cross_zone_fraction = 0;
    e.cross_zone_reason = zones.empty() ? "no broker zone set: clients assumed in the brokers' zone"
                                        : "all brokers in one zone: clients assumed in it";
  }
  double stored_bytes = 0;
  for (const auto& [cluster, bytes] : stored_by_cluster) stored_bytes += bytes;

  const double broker_hours = static_cast<double>(brokers.size()) * prices.hours_per_month;
  e.items.push_back({"compute", broker_hours, "broker-hours", prices.compute_per_hour,
                     broker_hours * prices.compute_per_hour});
  const double gb_month = stored_bytes / kGiB;
  e.items.push_back({"object storage", gb_month, "GB-month", prices.storage_per_gb_month,
                     gb_month * prices.storage_per_gb_month});
  const std::pair<RequestClass, double> request_prices[] = {{RequestClass::put, prices.put_per_1000},
                                                            {RequestClass::get, prices.get_per_1000},
                                                            {RequestClass::del, prices.delete_per_1000}};
  for (const auto& [c, price] : request_prices) {
    const double thousands = monthly_requests[c] / 1000;
    e.items.push_back({class_name(c) + " requests", thousands, "x1,000 requests", price, thousands * price});
  }
  const double cross_gb = monthly_client_bytes * e.cross_zone_fraction / kGiB;
  e.items.push_back({"cross-zone traffic", cross_gb, "GB (x2 directions)", prices.cross_zone_per_gb,
                     cross_gb * 2 * prices.cross_zone_per_gb});
  for (const LineItem& item : e.items) e.total_usd += item.usd;
  e.brokers = std::move(brokers);
  return e;
}

void print_estimate(const Estimate& e, const Prices& prices, std::ostream& out) {
  out << "Monthly cost estimate (" << fixed(prices.hours_per_month, 0) << " h) from " << e.brokers.size()
      << " broker(s)\n";
  out << "prices: " << prices.source << "\n\n";
  out << "object-store requests used (counted by the brokers):\n";
  out << std::left << std::setw(24) << "  broker" << std::setw(14) << "window s" << std::setw(12) << "op"
      << std::right << std::setw(14) << "requests" << std::setw(18) << "per month" << "\n";
  for (const BrokerFigures& b : e.brokers) {
    const double scale = prices.hours_per_month * 3600 / b.window_seconds;
    for (const auto& [op, n] : b.requests_by_op) {
      out << std::left << std::setw(24) << ("  " + b.target) << std::setw(14) << fixed(b.window_seconds, 1)
          << std::setw(12) << op << std::right << std::setw(14) << fixed(n, 0) << std::setw(18)
          << fixed(n * scale, 0) << "\n";
    }
  }
  out << "  totals in the windows: PUT/COPY/POST/LIST " << fixed(e.requests_in_windows.at(RequestClass::put), 0)
      << ", GET/HEAD " << fixed(e.requests_in_windows.at(RequestClass::get), 0) << ", DELETE "
      << fixed(e.requests_in_windows.at(RequestClass::del), 0) << "\n";
  out << "cross-zone share of client traffic: " << fixed(e.cross_zone_fraction * 100, 1) << "% ("
      << e.cross_zone_reason << ")\n\n";
  out << std::left << std::setw(30) << "item" << std::right << std::setw(18) << "quantity/month" << "  "
      << std::left << std::setw(20) << "unit" << std::right << std::setw(14) << "unit price" << std::setw(14)
      << "USD/month" << "\n";
  for (const LineItem& i : e.items) {
    out << std::left << std::setw(30) << i.item << std::right << std::setw(18) << significant(i.quantity) << "  "
        << std::left << std::setw(20) << i.unit << std::right << std::setw(14) << ("$" + significant(i.unit_price))
        << std::setw(14) << usd(i.usd) << "\n";
  }
  out << std::left << std::setw(96) << "total" << std::right << std::setw(14) << usd(e.total_usd) << "\n";
}

}  // namespace floe::cost
