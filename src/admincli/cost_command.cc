#include "admincli/cost_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "cost/estimate.h"
#include "cost/http_get.h"
#include "cost/prices.h"
#include "cost/prom_text.h"

namespace floe::admincli {
namespace {

constexpr const char* kDefaultHttp = "127.0.0.1:9644";
constexpr double kMaxIntervalSeconds = 3600;

const char* const kUsage =
    "usage: floe cost [--http H:P]... [--interval S] [--prices FILE] [--PRICE-KEY USD]... [options]\n"
    "\n"
    "Reads each broker's /metrics and prints a monthly cost estimate: compute, object storage (GB-month),\n"
    "object-store requests (PUT/COPY/POST/LIST and GET/HEAD per 1,000) and cross-zone traffic, with the\n"
    "request counts it used. Rates come from the counters over each broker's uptime, or, with --interval,\n"
    "from two scrapes S seconds apart.\n"
    "\n"
    "options:\n"
    "  --http H:P               a broker's admin endpoint; repeat for several (default FLOE_HTTP, else\n"
    "                           127.0.0.1:9644)\n"
    "  --interval S             scrape twice, S seconds apart (0 < S <= 3600), and use the difference\n"
    "  --prices FILE            price file: 'key = value' lines (keys below, and 'source = TEXT')\n"
    "  --compute-per-hour USD   one broker's instance per hour (default 0.096: EC2 m6i.large, us-east-1)\n"
    "  --storage-per-gb-month USD   object storage (default 0.023: S3 Standard)\n"
    "  --put-per-1000 USD       PUT/COPY/POST/LIST requests (default 0.005)\n"
    "  --get-per-1000 USD       GET/HEAD requests (default 0.0004)\n"
    "  --delete-per-1000 USD    DELETE requests (default 0: free on S3)\n"
    "  --cross-zone-per-gb USD  inter-zone transfer per GB and direction (default 0.01)\n"
    "  --hours-per-month H      (default 730)\n"
    "  --cross-zone-fraction F  share of client traffic crossing zones, 0..1 (default: from the brokers' zones)\n"
    "  --timeout-ms N           bound on each scrape (default 10000)\n"
    "Flags override the price file, which overrides the defaults (AWS us-east-1 list prices; docs/cost.md).\n";

struct CostOptions {
  std::vector<std::string> targets;
  std::optional<double> interval_s;
  std::optional<std::string> prices_file;
  std::vector<std::pair<std::string, std::string>> price_flags;  // key (file spelling), value
  std::optional<double> cross_zone_fraction;
  int timeout_ms = 10000;
  bool help = false;
};

std::optional<double> parse_number(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Returns an error message for a usage error, "" when fine.
std::string parse_args(const std::vector<std::string>& args, CostOptions& o) {
  static const char* const kPriceFlags[] = {"compute-per-hour", "storage-per-gb-month", "put-per-1000",
                                            "get-per-1000", "delete-per-1000", "cross-zone-per-gb",
                                            "hours-per-month"};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
      return "";
    }
    if (a.rfind("--", 0) != 0) return "unexpected argument '" + a + "'";
    std::string name = a, value;
    if (auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) return name + " needs a value";
      value = args[++i];
    }
    const std::string key = name.substr(2);
    if (key == "http") {
      o.targets.push_back(value);
    } else if (key == "interval") {
      auto v = parse_number(value);
      if (!v || *v <= 0 || *v > kMaxIntervalSeconds) return "bad --interval '" + value + "': expected 0 < S <= 3600";
      o.interval_s = v;
    } else if (key == "prices") {
      o.prices_file = value;
    } else if (key == "cross-zone-fraction") {
      auto v = parse_number(value);
      if (!v || *v < 0 || *v > 1) return "bad --cross-zone-fraction '" + value + "': expected 0..1";
      o.cross_zone_fraction = v;
    } else if (key == "timeout-ms") {
      auto v = parse_number(value);
      if (!v || *v < 1 || *v > 3600000 || *v != std::floor(*v)) {
        return "bad --timeout-ms '" + value + "': expected milliseconds, 1-3600000";
      }
      o.timeout_ms = static_cast<int>(*v);
    } else if (std::find(std::begin(kPriceFlags), std::end(kPriceFlags), key) != std::end(kPriceFlags)) {
      std::string file_key = key;
      std::replace(file_key.begin(), file_key.end(), '-', '_');
      o.price_flags.emplace_back(file_key, value);
    } else {
      return "unknown option '" + name + "'";
    }
  }
  return "";
}

Result<cost::Scrape> scrape(const std::string& target, int timeout_ms) {
  auto r = cost::http_get(target, "/metrics", std::chrono::milliseconds(timeout_ms));
  if (!r) return r.error();
  if (r->status != 200) {
    return Error{std::make_error_code(std::errc::protocol_error),
                 target + ": /metrics answered HTTP " + std::to_string(r->status)};
  }
  auto parsed = cost::Scrape::parse(r->body);
  if (!parsed) return Error{parsed.error().code, target + ": /metrics: " + parsed.error().message};
  return parsed;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

int run_cost(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env) {
  CostOptions o;
  if (std::string usage = parse_args(args, o); !usage.empty()) {
    err << "floe cost: " << usage << " (see floe cost --help)\n";
    return kExitUsage;
  }
  if (o.help) {
    out << kUsage;
    return kExitOk;
  }
  if (o.targets.empty()) o.targets.push_back(env("FLOE_HTTP").value_or(kDefaultHttp));

  cost::Prices prices;
  std::vector<std::string> overridden;
  if (o.prices_file) {
    std::ifstream in(*o.prices_file);
    if (!in) {
      err << "floe cost: --prices: cannot read " << *o.prices_file << "\n";
      return kExitUsage;
    }
    std::stringstream text;
    text << in.rdbuf();
    if (Status st = cost::apply_price_file(text.str(), prices); !st) {
      err << "floe cost: --prices " << *o.prices_file << ": " << st.error().message << "\n";
      return kExitUsage;
    }
    overridden.push_back("price file " + *o.prices_file);
  }
  for (const auto& [key, value] : o.price_flags) {
    if (Status st = prices.set(key, value); !st) {
      err << "floe cost: " << st.error().message << " (see floe cost --help)\n";
      return kExitUsage;
    }
    overridden.push_back(key + " = " + value);
  }
  if (!overridden.empty()) {
    std::string note = prices.source + "; overridden: ";
    for (size_t i = 0; i < overridden.size(); ++i) note += (i ? ", " : "") + overridden[i];
    prices.source = note;
  }

  std::vector<cost::Scrape> first;
  for (const std::string& t : o.targets) {
    auto s = scrape(t, o.timeout_ms);
    if (!s) {
      err << "floe cost: " << s.error().message << "\n";
      return kExitBroker;
    }
    first.push_back(std::move(*s));
  }
  std::vector<cost::BrokerFigures> figures;
  if (o.interval_s) {
    const auto started = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(*o.interval_s));
    for (size_t i = 0; i < o.targets.size(); ++i) {
      auto s = scrape(o.targets[i], o.timeout_ms);
      if (!s) {
        err << "floe cost: " << s.error().message << "\n";
        return kExitBroker;
      }
      // The window is the time between this broker's two scrapes as this process saw it.
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      auto f = cost::figures_between(o.targets[i], first[i], *s, seconds);
      if (!f) {
        err << "floe cost: " << f.error().message << "\n";
        return kExitBroker;
      }
      figures.push_back(std::move(*f));
    }
  } else {
    const double now = unix_now();
    for (size_t i = 0; i < o.targets.size(); ++i) {
      auto f = cost::figures_since_start(o.targets[i], first[i], now);
      if (!f) {
        err << "floe cost: " << f.error().message << "\n";
        return kExitBroker;
      }
      figures.push_back(std::move(*f));
    }
  }
  const cost::Estimate e = cost::estimate(std::move(figures), prices, o.cross_zone_fraction);
  cost::print_estimate(e, prices, out);
  return kExitOk;
}

}  // namespace floe::admincli
