#include "metrics/metrics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace floe::metrics {
namespace {

constexpr std::array<double, 19> kLatencyBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                   0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1,
                                                   2.5,     5,      10,      25,     60};

constexpr std::array<double, 22> kSizeBuckets = [] {
  std::array<double, 22> b{};
  double v = 64;
  for (auto& x : b) {
    x = v;
    v *= 2;
  }
  return b;
}();

const char* type_name(Type t) {
  switch (t) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
  }
  return "untyped";
}

void append_header(std::string& out, std::string_view name, std::string_view help, Type type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escape_help(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type_name(type);
  out += '\n';
}

// name{a="x",b="y"[,extra_name="extra_value"]} value
void append_sample(std::string& out, std::string_view name, const std::vector<std::string>& label_names,
                   const std::vector<std::string>& values, std::string_view extra_name, std::string_view extra_value,
                   const std::string& value) {
  out += name;
  if (!label_names.empty() || !extra_name.empty()) {
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < label_names.size(); ++i) {
      if (!first) out += ',';
      first = false;
      out += label_names[i];
      out += "=\"";
      out += escape_label_value(values[i]);
      out += '"';
    }
    if (!extra_name.empty()) {
      if (!first) out += ',';
      out += extra_name;
      out += "=\"";
      out += extra_value;  // numbers only (le)
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

void render_series(std::string& out, const FamilyBase& f, const std::vector<std::string>& values, const Counter& c) {
  append_sample(out, f.name(), f.label_names(), values, {}, {}, std::to_string(c.value()));
}

void render_series(std::string& out, const FamilyBase& f, const std::vector<std::string>& values, const Gauge& g) {
  append_sample(out, f.name(), f.label_names(), values, {}, {}, format_value(g.value()));
}

void render_series(std::string& out, const FamilyBase& f, const std::vector<std::string>& values, const Histogram& h) {
  const Histogram::Snapshot s = h.snapshot();
  const std::string bucket = f.name() + "_bucket";
  const auto bounds = h.bounds();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    append_sample(out, bucket, f.label_names(), values, "le", format_value(bounds[i]), std::to_string(s.cumulative[i]));
  }
  append_sample(out, bucket, f.label_names(), values, "le", "+Inf", std::to_string(s.count));
  append_sample(out, f.name() + "_sum", f.label_names(), values, {}, {}, format_value(s.sum));
  append_sample(out, f.name() + "_count", f.label_names(), values, {}, {}, std::to_string(s.count));
}

void check_bounds(std::span<const double> b) {
  if (b.empty()) throw std::invalid_argument("histogram needs at least one bucket bound");
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(b[i])) throw std::invalid_argument("histogram bucket bounds must be finite");
    if (i > 0 && !(b[i - 1] < b[i])) throw std::invalid_argument("histogram bucket bounds must ascend");
  }
}

}  // namespace

std::span<const double> latency_buckets() { return kLatencyBuckets; }
std::span<const double> size_buckets() { return kSizeBuckets; }

// ---- formatting ------------------------------------------------------------------------------------------------

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {  // 2^53: exactly representable integers
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, p) : std::string("NaN");
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

bool valid_metric_name(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(std::string_view n) {
  if (n.empty() || n.starts_with("__")) return false;  // __ is reserved for Prometheus itself
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string sanitize_label_value(std::string_view v, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(v.size(), max_bytes));
  std::size_t i = 0;
  while (i < v.size()) {
    const auto b0 = static_cast<unsigned char>(v[i]);
    std::size_t len = 0;
    uint32_t cp = 0;
    if (b0 < 0x80) len = 1, cp = b0;
    else if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F;
    else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F;
    else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07;
    bool ok = len > 0 && i + len <= v.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(v[i + k]);
      ok = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid too.
    if (ok) {
      ok = !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) && !(len == 4 && cp < 0x10000) &&
           !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF;
    }
    if (!ok) len = 1;
    if (out.size() + (ok ? len : 1) > max_bytes) break;
    if (ok) out.append(v.substr(i, len));
    else out += '?';
    i += len;
  }
  return out;
}

// ---- Histogram -------------------------------------------------------------------------------------------------

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) noexcept {
  if (std::isnan(v)) return;
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t acc = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    acc += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = acc;
  }
  s.count = acc;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---- families --------------------------------------------------------------------------------------------------

FamilyBase::FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names,
                       std::size_t max_series)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      max_series_(max_series) {}

std::vector<std::string> FamilyBase::key_of(std::span<const std::string_view> values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(name_ + ": " + std::to_string(values.size()) + " label values for " +
                                std::to_string(label_names_.size()) + " labels");
  }
  std::vector<std::string> key;
  key.reserve(values.size());
  for (auto v : values) key.push_back(sanitize_label_value(v));
  return key;
}

template <typename S>
Family<S>::Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
                  std::size_t max_series, Factory make)
    : FamilyBase(std::move(name), std::move(help), type, std::move(label_names), max_series),
      make_(std::move(make)),
      overflow_(make_()) {}

template <typename S>
S& Family<S>::with(std::span<const std::string_view> values) {
  std::vector<std::string> key = key_of(values);
  {
    std::shared_lock lock(mu_);
    if (auto it = series_.find(key); it != series_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  if (auto it = series_.find(key); it != series_.end()) return *it->second;
  if (series_.size() >= max_series_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return *overflow_;
  }
  auto [it, inserted] = series_.emplace(std::move(key), make_());
  return *it->second;
}

template <typename S>
std::size_t Family<S>::size() const {
  std::shared_lock lock(mu_);
  return series_.size();
}

template <typename S>
void Family<S>::render(std::string& out) const {
  append_header(out, name_, help_, type_);
  std::shared_lock lock(mu_);
  for (const auto& [values, series] : series_) render_series(out, *this, values, *series);
  if (dropped() > 0) {
    const std::vector<std::string> overflow(label_names_.size(), std::string(kOverflowLabelValue));
    render_series(out, *this, overflow, *overflow_);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Exposition ------------------------------------------------------------------------------------------------

void Exposition::family(std::string_view name, std::string_view help, Type type) {
  skipping_ = !valid_metric_name(name) || std::find(seen_.begin(), seen_.end(), name) != seen_.end();
  if (skipping_) return;
  current_ = std::string(name);
  current_type_ = type;
  seen_.push_back(current_);
  append_header(out_, name, help, type);
}

void Exposition::sample(Labels labels, double value) {
  if (skipping_ || current_type_ == Type::histogram) return;
  std::vector<std::string> names, values;
  for (const auto& [n, v] : labels) {
    if (!valid_label_name(n)) return;
    names.emplace_back(n);
    values.push_back(sanitize_label_value(v));
  }
  append_sample(out_, current_, names, values, {}, {}, format_value(value));
}

void Exposition::histogram(Labels labels, std::span<const double> bounds, std::span<const uint64_t> counts,
                           double sum) {
  if (skipping_ || current_type_ != Type::histogram || counts.size() != bounds.size() + 1) return;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) return;
  }
  std::vector<std::string> names, values;
  for (const auto& [n, v] : labels) {
    if (!valid_label_name(n) || n == "le") return;
    names.emplace_back(n);
    values.push_back(sanitize_label_value(v));
  }
  const std::string bucket = current_ + "_bucket";
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += counts[i];
    append_sample(out_, bucket, names, values, "le", format_value(bounds[i]), std::to_string(cumulative));
  }
  cumulative += counts.back();
  append_sample(out_, bucket, names, values, "le", "+Inf", std::to_string(cumulative));
  append_sample(out_, current_ + "_sum", names, values, {}, {}, format_value(sum));
  append_sample(out_, current_ + "_count", names, values, {}, {}, std::to_string(cumulative));
}

// ---- Registry --------------------------------------------------------------------------------------------------

Registry::Registry() = default;

namespace {

void check_names(const std::string& name, const std::vector<std::string>& labels, Type type) {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!valid_label_name(labels[i])) throw std::invalid_argument(name + ": invalid label name '" + labels[i] + "'");
    if (type == Type::histogram && labels[i] == "le") throw std::invalid_argument(name + ": label 'le' is reserved");
    for (std::size_t j = 0; j < i; ++j) {
      if (labels[i] == labels[j]) throw std::invalid_argument(name + ": duplicate label '" + labels[i] + "'");
    }
  }
}

template <typename S>
Family<S>& checked_existing(FamilyBase& f, Type type, const std::vector<std::string>& labels) {
  if (f.type() != type || f.label_names() != labels) {
    throw std::invalid_argument("metric '" + f.name() + "' registered again with another type or labels");
  }
  return static_cast<Family<S>&>(f);
}

}  // namespace

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> labels,
                                   std::size_t max_series) {
  check_names(name, labels, Type::counter);
  std::lock_guard lock(families_mu_);
  if (auto it = families_.find(name); it != families_.end()) {
    return checked_existing<Counter>(*it->second, Type::counter, labels);
  }
  auto f = std::make_unique<Family<Counter>>(name, std::move(help), Type::counter, std::move(labels), max_series,
                                             [] { return std::make_unique<Counter>(); });
  auto& ref = *f;
  families_.emplace(std::move(name), std::move(f));
  return ref;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels,
                               std::size_t max_series) {
  check_names(name, labels, Type::gauge);
  std::lock_guard lock(families_mu_);
  if (auto it = families_.find(name); it != families_.end()) {
    return checked_existing<Gauge>(*it->second, Type::gauge, labels);
  }
  auto f = std::make_unique<Family<Gauge>>(name, std::move(help), Type::gauge, std::move(labels), max_series,
                                           [] { return std::make_unique<Gauge>(); });
  auto& ref = *f;
  families_.emplace(std::move(name), std::move(f));
  return ref;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                                       std::span<const double> buckets, std::size_t max_series) {
  check_names(name, labels, Type::histogram);
  check_bounds(buckets);
  std::lock_guard lock(families_mu_);
  if (auto it = families_.find(name); it != families_.end()) {
    auto& existing = checked_existing<Histogram>(*it->second, Type::histogram, labels);
    const auto& b = histogram_bounds_.at(name);
    if (!std::equal(b.begin(), b.end(), buckets.begin(), buckets.end())) {
      throw std::invalid_argument("metric '" + name + "' registered again with other buckets");
    }
    return existing;
  }
  std::vector<double> bounds(buckets.begin(), buckets.end());
  histogram_bounds_[name] = bounds;
  auto f = std::make_unique<Family<Histogram>>(
      name, std::move(help), Type::histogram, std::move(labels), max_series,
      [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
  auto& ref = *f;
  families_.emplace(std::move(name), std::move(f));
  return ref;
}

Registry::CollectorId Registry::add_collector(Collector fn) {
  std::lock_guard lock(collectors_mu_);
  const CollectorId id = next_collector_++;
  collectors_.emplace_back(id, std::move(fn));
  return id;
}

void Registry::remove_collector(CollectorId id) {
  std::lock_guard lock(collectors_mu_);
  std::erase_if(collectors_, [id](const auto& c) { return c.first == id; });
}

std::string Registry::render() const {
  std::string out;
  std::vector<std::string> seen;
  std::vector<std::pair<std::string, uint64_t>> dropped;
  {
    std::lock_guard lock(families_mu_);
    for (const auto& [name, family] : families_) {
      family->render(out);
      seen.push_back(name);
      if (family->type() == Type::histogram) {
        for (const char* suffix : {"_bucket", "_sum", "_count"}) seen.push_back(name + suffix);
      }
      if (const uint64_t d = family->dropped()) dropped.emplace_back(name, d);
    }
  }
  const std::string dropped_name = "floe_metrics_series_dropped_total";
  seen.push_back(dropped_name);
  append_header(out, dropped_name, "Lookups of new label sets refused by a metric family's series bound",
                Type::counter);
  for (const auto& [name, d] : dropped) {
    append_sample(out, dropped_name, {"family"}, {name}, {}, {}, std::to_string(d));
  }
  std::lock_guard lock(collectors_mu_);
  for (const auto& [id, fn] : collectors_) {
    Exposition e(out, seen);
    fn(e);
  }
  return out;
}

}  // namespace floe::metrics
