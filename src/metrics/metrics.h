// A small metrics registry: counters, gauges and histograms with labels, rendered in the Prometheus text
// exposition format 0.0.4. See README.md for the design and why not prometheus-cpp.
//
// Hot path: Counter::inc, Gauge::set/add and Histogram::observe are single relaxed atomic operations (a histogram:
// one binary search over at most a few dozen bounds, then two atomics); they never lock. Looking a series up by its
// label values (Family::with) takes the family's own shared lock (never a registry-wide one); callers on a hot path
// look a series up once and keep the reference. References stay valid as long as the Registry lives.
//
// Label cardinality is bounded per family (max_series): a label set beyond the bound gets the family's single
// overflow series (every label value "__overflow__") and counts one in floe_metrics_series_dropped_total{family}.
//
// Programming errors (an invalid metric or label name, re-registering a name with another type or labels, the wrong
// number of label values) throw std::invalid_argument; they are found by the first test that touches the code.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace floe::metrics {

enum class Type { counter, gauge, histogram };

// Upper bounds (le) of the fixed bucket sets. Both log-scale; +Inf is implicit.
// Latencies in seconds: 50 us .. 60 s in 1-2.5-5 steps (19 bounds).
std::span<const double> latency_buckets();
// Sizes in bytes: 64 B .. 128 MiB in powers of two (22 bounds).
std::span<const double> size_buckets();

// Longest label value kept; longer values are cut (at a UTF-8 boundary) so that memory per series is bounded.
inline constexpr std::size_t kMaxLabelValueBytes = 256;
inline constexpr std::size_t kDefaultMaxSeries = 1000;
inline constexpr std::string_view kOverflowLabelValue = "__overflow__";

class alignas(64) Counter {
 public:
  void inc(uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class alignas(64) Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

class Histogram {
 public:
  // `bounds` ascending, finite, non-empty (checked by Registry::histogram).
  explicit Histogram(std::span<const double> bounds);

  // Counts `v` in the first bucket whose bound is >= v (Prometheus `le`). NaN is ignored.
  void observe(double v) noexcept;
  void observe(std::chrono::nanoseconds d) noexcept { observe(static_cast<double>(d.count()) * 1e-9); }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    uint64_t count = 0;                // == cumulative.back()
    double sum = 0;
  };
  Snapshot snapshot() const;
  std::span<const double> bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (the last is +Inf), not cumulative
  std::atomic<double> sum_{0.0};
};

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names, std::size_t max_series);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  Type type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  std::size_t max_series() const { return max_series_; }
  // Lookups of new label sets refused by the cardinality bound (each went to the overflow series).
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // Appends this family (HELP, TYPE, samples sorted by label values) to `out`.
  virtual void render(std::string& out) const = 0;
  // Series with their own label set (not counting the overflow series).
  virtual std::size_t size() const = 0;

 protected:
  // Label values, sanitised (valid UTF-8, cut to kMaxLabelValueBytes); throws on a wrong count.
  std::vector<std::string> key_of(std::span<const std::string_view> values) const;

  std::string name_;
  std::string help_;
  Type type_;
  std::vector<std::string> label_names_;
  std::size_t max_series_;
  std::atomic<uint64_t> dropped_{0};
};

// A metric family of one type: one series per distinct label-value set.
template <typename S>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<S>()>;
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names, std::size_t max_series,
         Factory make);

  // The series for these label values (one per label name, in order), created on first use.
  S& with(std::span<const std::string_view> values);
  S& with(std::initializer_list<std::string_view> values) { return with(std::span(values.begin(), values.size())); }
  // The series of a family without labels.
  S& get() { return with(std::span<const std::string_view>{}); }

  void render(std::string& out) const override;
  std::size_t size() const override;

 private:
  struct KeyLess {
    using is_transparent = void;
    bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const { return a < b; }
  };
  Factory make_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<S>, KeyLess> series_;
  std::unique_ptr<S> overflow_;
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// What a collector writes at scrape time: whole families of computed values (e.g. a server's connection counts).
class Exposition {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;
  // Starts a family. A name that is invalid or already rendered skips the family's samples.
  void family(std::string_view name, std::string_view help, Type type);
  // One series of a counter or gauge family (ignored in a histogram family).
  void sample(Labels labels, double value);
  // One series of a histogram family (ignored in others): `counts` per bucket, not cumulative, one per bound plus
  // the +Inf bucket last (a size mismatch or bounds not ascending skip the series); `sum` of the observed values.
  void histogram(Labels labels, std::span<const double> bounds, std::span<const uint64_t> counts, double sum);

 private:
  friend class Registry;
  explicit Exposition(std::string& out, std::vector<std::string>& seen) : out_(out), seen_(seen) {}
  std::string& out_;
  std::vector<std::string>& seen_;
  std::string current_;
  Type current_type_ = Type::counter;
  bool skipping_ = true;
};

class Registry {
 public:
  using Collector = std::function<void(Exposition&)>;
  using CollectorId = uint64_t;

  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family, or returns the existing one of the same name, type and labels.
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> labels = {},
                           std::size_t max_series = kDefaultMaxSeries);
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels = {},
                       std::size_t max_series = kDefaultMaxSeries);
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> labels,
                               std::span<const double> buckets, std::size_t max_series = kDefaultMaxSeries);

  // Collectors run on the scraping thread, after the registered families, in the order added. A collector must
  // not call add_collector/remove_collector. remove_collector waits for a scrape in progress to finish, so after it
  // returns the collector's captures may be destroyed.
  CollectorId add_collector(Collector fn);
  void remove_collector(CollectorId id);

  // The whole registry in the Prometheus text format 0.0.4.
  std::string render() const;

 private:
  FamilyBase& add(std::unique_ptr<FamilyBase> family, std::span<const double> buckets);

  mutable std::mutex families_mu_;  // registration and the family list; never taken by an increment
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;
  std::map<std::string, std::vector<double>> histogram_bounds_;
  mutable std::mutex collectors_mu_;
  std::vector<std::pair<CollectorId, Collector>> collectors_;
  CollectorId next_collector_ = 1;
};

// The text format's content type.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Formatting helpers (exposed for tests and other renderers).
std::string format_value(double v);         // integers without a fraction, shortest round-trip otherwise, NaN, +Inf
std::string escape_label_value(std::string_view v);  // \ " and newline
std::string escape_help(std::string_view v);         // \ and newline
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);
// Valid UTF-8 (invalid bytes become '?'), at most `max_bytes`, cut at a character boundary.
std::string sanitize_label_value(std::string_view v, std::size_t max_bytes = kMaxLabelValueBytes);

}  // namespace floe::metrics
