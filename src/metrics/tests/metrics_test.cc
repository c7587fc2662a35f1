#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace floe::metrics {
namespace {

TEST(Metrics, CounterConcurrentIncrementsAreExact) {
  Registry r;
  auto& fam = r.counter("t_requests_total", "requests", {"api"});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads look the series up every time (the shared-lock path), half keep the reference.
      Counter& cached = fam.with({"Metadata"});
      for (int i = 0; i < kPerThread; ++i) {
        if (t % 2) fam.with({"Metadata"}).inc();
        else cached.inc();
        fam.with({t % 4 == 0 ? "Produce" : "Fetch"}).inc(2);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(fam.with({"Metadata"}).value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(fam.with({"Produce"}).value(), uint64_t{2} * kPerThread * 2);  // threads 0 and 4, 2 each
  EXPECT_EQ(fam.with({"Fetch"}).value(), uint64_t{6} * kPerThread * 2);
  EXPECT_EQ(fam.size(), 3u);
}

TEST(Metrics, HistogramConcurrentObservationsAreExact) {
  Registry r;
  auto& h = r.histogram("t_latency_seconds", "latency", {}, latency_buckets()).get();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) h.observe(i % 2 ? 0.001 : 2.0);
    });
  }
  for (auto& th : threads) th.join();
  auto s = h.snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kPerThread);
  // 0.001 falls in le=0.001 (index 4); 2.0 in le=2.5 (index 14).
  EXPECT_EQ(s.cumulative[3], 0u);
  EXPECT_EQ(s.cumulative[4], s.count / 2);
  EXPECT_EQ(s.cumulative[13], s.count / 2);
  EXPECT_EQ(s.cumulative[14], s.count);
  EXPECT_NEAR(s.sum, kThreads * (kPerThread / 2) * 2.001, 1e-3);
}

TEST(Metrics, HistogramBucketEdgesAreInclusiveUpperBounds) {
  const double bounds[] = {1, 2, 4};
  Histogram h(bounds);
  for (double v : {-5.0, 0.0, 1.0, std::nextafter(1.0, 2.0), 2.0, 3.999, 4.0, std::nextafter(4.0, 5.0), 1e300,
                   std::numeric_limits<double>::infinity()}) {
    h.observe(v);
  }
  h.observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  auto s = h.snapshot();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 3u);   // -5, 0, 1
  EXPECT_EQ(s.cumulative[1], 5u);   // + 1.0000001, 2
  EXPECT_EQ(s.cumulative[2], 7u);   // + 3.999, 4
  EXPECT_EQ(s.cumulative[3], 10u);  // + just above 4, 1e300, +Inf
  EXPECT_EQ(s.count, 10u);
}

TEST(Metrics, FixedBucketSetsCoverTheirRanges) {
  auto lat = latency_buckets();
  EXPECT_DOUBLE_EQ(lat.front(), 50e-6);
  EXPECT_DOUBLE_EQ(lat.back(), 60);
  auto size = size_buckets();
  EXPECT_EQ(size.front(), 64);
  EXPECT_EQ(size.back(), 128.0 * 1024 * 1024);
  for (auto b : {lat, size}) {
    for (std::size_t i = 1; i < b.size(); ++i) {
      EXPECT_LT(b[i - 1], b[i]);
      EXPECT_LE(b[i] / b[i - 1], 2.5 + 1e-9) << "log-scale steps of at most 2.5x";
    }
  }
  Histogram h(lat);
  h.observe(std::chrono::microseconds(50));
  h.observe(std::chrono::microseconds(51));
  h.observe(std::chrono::seconds(61));
  auto s = h.snapshot();
  EXPECT_EQ(s.cumulative[0], 1u);
  EXPECT_EQ(s.cumulative[1], 2u);
  EXPECT_EQ(s.cumulative[lat.size() - 1], 2u);
  EXPECT_EQ(s.count, 3u);
}

TEST(Metrics, ExpositionGoldenText) {
  Registry r;
  auto& req = r.counter("floe_t_requests_total", "Requests by API\\version\nsecond line", {"api", "version"});
  req.with({"Metadata", "12"}).inc(3);
  req.with({"ApiVersions", "3"}).inc();
  req.with({"we\"ird\\na\nme", ""}).inc(0);
  r.gauge("floe_t_open", "Open things").get().set(2.5);
  const double bounds[] = {0.001, 0.5};
  auto& lat = r.histogram("floe_t_seconds", "Latency", {"api"}, bounds);
  lat.with({"Metadata"}).observe(0.0005);
  lat.with({"Metadata"}).observe(0.5);
  lat.with({"Metadata"}).observe(7);
  r.counter("floe_t_empty_total", "No series yet", {"x"});
  auto id = r.add_collector([](Exposition& e) {
    e.family("floe_t_conn", "Connections", Type::gauge);
    e.sample({{"listener", "kafka"}}, 4);
    e.sample({{"listener", "http"}}, 1);
    e.family("floe_t_open", "duplicate of a registered family: skipped", Type::gauge);
    e.sample({}, 99);
    e.family("bad name", "invalid: skipped", Type::counter);
    e.sample({}, 1);
  });
  const std::string expected =
      "# HELP floe_t_empty_total No series yet\n"
      "# TYPE floe_t_empty_total counter\n"
      "# HELP floe_t_open Open things\n"
      "# TYPE floe_t_open gauge\n"
      "floe_t_open 2.5\n"
      "# HELP floe_t_requests_total Requests by API\\\\version\\nsecond line\n"
      "# TYPE floe_t_requests_total counter\n"
      "floe_t_requests_total{api=\"ApiVersions\",version=\"3\"} 1\n"
      "floe_t_requests_total{api=\"Metadata\",version=\"12\"} 3\n"
      "floe_t_requests_total{api=\"we\\\"ird\\\\na\\nme\",version=\"\"} 0\n"
      "# HELP floe_t_seconds Latency\n"
      "# TYPE floe_t_seconds histogram\n"
      "floe_t_seconds_bucket{api=\"Metadata\",le=\"0.001\"} 1\n"
      "floe_t_seconds_bucket{api=\"Metadata\",le=\"0.5\"} 2\n"
      "floe_t_seconds_bucket{api=\"Metadata\",le=\"+Inf\"} 3\n"
      "floe_t_seconds_sum{api=\"Metadata\"} 7.5005\n"
      "floe_t_seconds_count{api=\"Metadata\"} 3\n"
      "# HELP floe_metrics_series_dropped_total Lookups of new label sets refused by a metric family's series bound\n"
      "# TYPE floe_metrics_series_dropped_total counter\n"
      "# HELP floe_t_conn Connections\n"
      "# TYPE floe_t_conn gauge\n"
      "floe_t_conn{listener=\"kafka\"} 4\n"
      "floe_t_conn{listener=\"http\"} 1\n";
  EXPECT_EQ(r.render(), expected);
  r.remove_collector(id);
  EXPECT_EQ(r.render().find("floe_t_conn"), std::string::npos);
}

TEST(Metrics, CollectorHistogramIsCumulativeWithSumAndCount) {
  Registry r;
  r.add_collector([](Exposition& e) {
    const double bounds[] = {0.001, 0.01};
    const uint64_t counts[] = {2, 0, 3};  // per bucket, +Inf last
    const uint64_t wrong_size[] = {1, 1};
    e.family("floe_t_wal_seconds", "WAL latency", Type::histogram);
    e.histogram({{"op", "append"}}, bounds, counts, 0.5);
    e.histogram({{"op", "bad"}}, bounds, wrong_size, 1);  // skipped: one count per bound plus +Inf
    e.sample({{"op", "x"}}, 1);                            // skipped: not a histogram series
    e.family("floe_t_gauge", "a gauge", Type::gauge);
    e.histogram({}, bounds, counts, 1);  // skipped: not a histogram family
    e.sample({}, 3);
  });
  const std::string expected =
      "# HELP floe_metrics_series_dropped_total Lookups of new label sets refused by a metric family's series bound\n"
      "# TYPE floe_metrics_series_dropped_total counter\n"
      "# HELP floe_t_wal_seconds WAL latency\n"
      "# TYPE floe_t_wal_seconds histogram\n"
      "floe_t_wal_seconds_bucket{op=\"append\",le=\"0.001\"} 2\n"
      "floe_t_wal_seconds_bucket{op=\"append\",le=\"0.01\"} 2\n"
      "floe_t_wal_seconds_bucket{op=\"append\",le=\"+Inf\"} 5\n"
      "floe_t_wal_seconds_sum{op=\"append\"} 0.5\n"
      "floe_t_wal_seconds_count{op=\"append\"} 5\n"
      "# HELP floe_t_gauge a gauge\n"
      "# TYPE floe_t_gauge gauge\n"
      "floe_t_gauge 3\n";
  EXPECT_EQ(r.render(), expected);
}

TEST(Metrics, CardinalityCapUsesOneOverflowSeries) {
  Registry r;
  auto& fam = r.counter("t_topic_bytes_total", "bytes", {"topic", "partition"}, 3);
  for (int i = 0; i < 10; ++i) fam.with({"topic-" + std::to_string(i), "0"}).inc(10);
  fam.with({"topic-1", "0"}).inc();  // existing series are still found
  EXPECT_EQ(fam.size(), 3u);
  EXPECT_EQ(fam.dropped(), 7u);
  EXPECT_EQ(fam.with({"topic-1", "0"}).value(), 11u);
  Counter& overflow = fam.with({"topic-99", "0"});
  EXPECT_EQ(&overflow, &fam.with({"topic-98", "1"}));
  EXPECT_EQ(overflow.value(), 70u);
  const std::string text = r.render();
  EXPECT_NE(text.find("t_topic_bytes_total{topic=\"__overflow__\",partition=\"__overflow__\"} 70\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("floe_metrics_series_dropped_total{family=\"t_topic_bytes_total\"} 9\n"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("topic-5"), std::string::npos);
}

TEST(Metrics, LabelValuesAreSanitisedAndBounded) {
  EXPECT_EQ(sanitize_label_value("plain"), "plain");
  EXPECT_EQ(sanitize_label_value("h\xC3\xA9llo"), "h\xC3\xA9llo");           // é
  EXPECT_EQ(sanitize_label_value("a\xFF" "b"), "a?b");                     // invalid byte
  EXPECT_EQ(sanitize_label_value("a\xC3"), "a?");                           // truncated sequence
  EXPECT_EQ(sanitize_label_value("\xC0\xAF"), "??");                         // overlong '/'
  EXPECT_EQ(sanitize_label_value("\xED\xA0\x80"), "???");                    // surrogate
  EXPECT_EQ(sanitize_label_value(std::string(1000, 'x')).size(), kMaxLabelValueBytes);
  EXPECT_EQ(sanitize_label_value("ab\xC3\xA9", 3), "ab");                    // not cut inside a character
  Registry r;
  auto& fam = r.counter("t_total", "t", {"client"});
  fam.with({std::string(1000, 'y')}).inc();
  EXPECT_EQ(&fam.with({std::string(1000, 'y')}), &fam.with({std::string(kMaxLabelValueBytes, 'y')}));
}

TEST(Metrics, ValueFormatting) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(1e15), "1000000000000000");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(5e-05), "5e-05");
  EXPECT_EQ(format_value(1e300), "1e+300");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(Metrics, RegistrationErrorsThrow) {
  Registry r;
  EXPECT_THROW(r.counter("1bad", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "x", {"a", "a"}), std::invalid_argument);
  const double b[] = {1, 1};
  EXPECT_THROW(r.histogram("h", "x", {}, b), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "x", {"le"}, latency_buckets()), std::invalid_argument);
  auto& c = r.counter("ok_total", "x", {"a"});
  EXPECT_EQ(&c, &r.counter("ok_total", "other help is fine", {"a"}));
  EXPECT_THROW(r.counter("ok_total", "x", {"b"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("ok_total", "x", {"a"}), std::invalid_argument);
  EXPECT_THROW(c.with({"1", "2"}), std::invalid_argument);
  auto& h = r.histogram("h2", "x", {}, latency_buckets());
  EXPECT_EQ(&h, &r.histogram("h2", "x", {}, latency_buckets()));
  EXPECT_THROW(r.histogram("h2", "x", {}, size_buckets()), std::invalid_argument);
}

TEST(Metrics, RenderWhileUpdatingAndRegistering) {
  Registry r;
  auto& fam = r.counter("t_total", "t", {"k"}, 50);
  std::thread writer([&] {
    for (int i = 0; i < 20000; ++i) fam.with({std::to_string(i % 100)}).inc();
  });
  std::size_t renders = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string text = r.render();
    EXPECT_EQ(text.rfind("# HELP t_total t\n", 0), 0u);
    ++renders;
  }
  writer.join();
  EXPECT_EQ(fam.size(), 50u);
  EXPECT_EQ(fam.dropped(), 10000u);  // keys 50..99, 200 times each
  EXPECT_EQ(renders, 200u);
}

}  // namespace
}  // namespace floe::metrics
