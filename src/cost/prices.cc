#include "cost/prices.h"

#include <cmath>
#include <cstdlib>

namespace floe::cost {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

Error bad(std::string message) { return Error{std::make_error_code(std::errc::invalid_argument), std::move(message)}; }

}  // namespace

Status Prices::set(std::string_view key, std::string_view value) {
  if (key == "source") {
    source = std::string(value);
    return ok_status();
  }
  double* field = key == "compute_per_hour"       ? &compute_per_hour
                  : key == "storage_per_gb_month" ? &storage_per_gb_month
                  : key == "put_per_1000"         ? &put_per_1000
                  : key == "get_per_1000"         ? &get_per_1000
                  : key == "delete_per_1000"      ? &delete_per_1000
                  : key == "cross_zone_per_gb"    ? &cross_zone_per_gb
                  : key == "hours_per_month"      ? &hours_per_month
                                                  : nullptr;
  if (!field) return bad("unknown price '" + std::string(key) + "'");
  const std::string text(value);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < 0) {
    return bad(std::string(key) + ": '" + text + "' is not a non-negative number");
  }
  if (key == "hours_per_month" && v == 0) return bad("hours_per_month: must be above 0");
  *field = v;
  return ok_status();
}

Status apply_price_file(std::string_view text, Prices& prices) {
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) return bad("line " + std::to_string(line_no) + ": expected key = value");
    if (Status st = prices.set(trim(line.substr(0, eq)), trim(line.substr(eq + 1))); !st) {
      return bad("line " + std::to_string(line_no) + ": " + st.error().message);
    }
  }
  return ok_status();
}

}  // namespace floe::cost
