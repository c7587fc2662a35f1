// The metrics wiring over real stores: the collectors' families and values, and the stored-objects gauge's paging.
#include "app/metrics_wiring.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <random>
#include <string>

#include "meta/embedded_store.h"
#include "meta/tests/test_support.h"
#include "objstore/file_store.h"
#include "stream/file_wal.h"
#include "stream/object_ranges.h"

namespace floe::app {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("floe-metrics-wiring-" + std::to_string(rd()) + std::to_string(::getpid()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path(const std::string& sub) const { return (path_ / sub).string(); }

 private:
  fs::path path_;
};

// The value of the sample line `series` (name and labels exactly as rendered), or -1 when absent.
double sample_value(const std::string& text, const std::string& series) {
  const std::string needle = "\n" + series + " ";
  const auto at = ("\n" + text).find(needle);
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + needle.size() - 1, nullptr);
}

TEST(MetricsWiring, Log2HistogramBecomesCumulativeBucketsInUnits) {
  metrics::Registry r;
  Log2Histogram h;
  h.record(uint64_t{0});     // bucket 0: le 1 us
  h.record(uint64_t{3});     // bucket 2: le 4 us
  h.record(uint64_t{1000});  // bucket 10: le 1024 us
  r.add_collector([&h](metrics::Exposition& e) {
    e.family("floe_t_seconds", "t", metrics::Type::histogram);
    expose_log2_histogram(e, {{"op", "x"}}, h.snapshot(), 1e-6);
  });
  const std::string text = r.render();
  EXPECT_EQ(sample_value(text, "floe_t_seconds_bucket{op=\"x\",le=\"1e-06\"}"), 1) << text;
  EXPECT_EQ(sample_value(text, "floe_t_seconds_bucket{op=\"x\",le=\"2e-06\"}"), 1) << text;
  EXPECT_EQ(sample_value(text, "floe_t_seconds_bucket{op=\"x\",le=\"4e-06\"}"), 2) << text;
  EXPECT_EQ(sample_value(text, "floe_t_seconds_bucket{op=\"x\",le=\"0.001024\"}"), 3) << text;
  EXPECT_EQ(sample_value(text, "floe_t_seconds_bucket{op=\"x\",le=\"+Inf\"}"), 3) << text;
  EXPECT_EQ(sample_value(text, "floe_t_seconds_count{op=\"x\"}"), 3) << text;
  EXPECT_DOUBLE_EQ(sample_value(text, "floe_t_seconds_sum{op=\"x\"}"), 0.001003) << text;
}

TEST(MetricsWiring, FileWalCollectorCountsAppendsGroupCommitsAndLatency) {
  TempDir dir;
  metrics::Registry r;
  add_file_wal_collector(r);
  const std::string before = r.render();  // process-wide figures: compare deltas
  auto wal = stream::FileWal::open(stream::FileWalOptions{.dir = dir.path("wal"), .segment_bytes = 1 << 20, .max_entry_bytes = 64 << 10},
                                   [](const stream::WalEntry&) {});
  ASSERT_TRUE(wal) << wal.error().message;
  std::vector<std::promise<void>> done(5);
  const std::vector<uint8_t> payload(100, 7);
  for (auto& d : done) (*wal)->append(payload, [&d](std::error_code, uint64_t) { d.set_value(); });
  for (auto& d : done) ASSERT_EQ(d.get_future().wait_for(10s), std::future_status::ready);
  (*wal)->close();
  const std::string after = r.render();
  auto delta = [&](const std::string& series) { return sample_value(after, series) - sample_value(before, series); };
  EXPECT_EQ(delta("floe_wal_appends_total"), 5) << after;
  EXPECT_EQ(delta("floe_wal_append_bytes_total"), 500) << after;
  EXPECT_EQ(delta("floe_wal_append_duration_seconds_count"), 5) << after;
  const double syncs = delta("floe_wal_syncs_total");
  EXPECT_GE(syncs, 1);
  EXPECT_LE(syncs, 5);
  EXPECT_EQ(delta("floe_wal_sync_duration_seconds_count"), syncs) << after;
  EXPECT_EQ(delta("floe_wal_group_commit_appends_sum"), 5) << after;  // every append is in exactly one commit
  EXPECT_EQ(delta("floe_wal_group_commit_bytes_sum"), 5 * (100 + 24)) << after;  // frames: 24-byte header
  EXPECT_EQ(sample_value(after, "floe_wal_pending_bytes"), 0) << after;
}

TEST(MetricsWiring, ObjectStoreCollectorExportsPerOperationAccounting) {
  TempDir dir;
  auto store = objstore::FileStore::open(dir.path("objects"));
  ASSERT_TRUE(store.ok());
  metrics::Registry r;
  add_object_store_collector(r, *store.value);
  meta::testing::IoThreads io(1);
  const auto deadline = objstore::Clock::now() + 10s;
  ASSERT_TRUE(io.run(store.value->put("a/b", std::string(1000, 'x'), deadline)).ok());
  ASSERT_TRUE(io.run(store.value->get("a/b", std::nullopt, deadline)).ok());
  ASSERT_FALSE(io.run(store.value->get("missing", std::nullopt, deadline)).ok());
  const std::string text = r.render();
  EXPECT_EQ(sample_value(text, "floe_objstore_requests_total{op=\"put\"}"), 1) << text;
  EXPECT_EQ(sample_value(text, "floe_objstore_requests_total{op=\"get\"}"), 2) << text;
  EXPECT_EQ(sample_value(text, "floe_objstore_errors_total{op=\"get\"}"), 1) << text;
  EXPECT_EQ(sample_value(text, "floe_objstore_sent_bytes_total{op=\"put\"}"), 1000) << text;
  EXPECT_EQ(sample_value(text, "floe_objstore_received_bytes_total{op=\"get\"}"), 1000) << text;
  EXPECT_EQ(sample_value(text, "floe_objstore_retries_total{op=\"list\"}"), 0) << text;
  EXPECT_EQ(sample_value(text, "floe_objstore_request_duration_seconds_count{op=\"get\"}"), 2) << text;
  EXPECT_EQ(sample_value(text, "floe_objstore_request_duration_seconds_bucket{op=\"put\",le=\"+Inf\"}"), 1) << text;
}

// 1005 committed-object records in the embedded store: the gauge sums their sizes over more than one range page,
// ignores other keys, and the metadata collector counts the requests it made.
TEST(MetricsWiring, StoredObjectsGaugeSumsEveryPageAndMetaRequestsAreCounted) {
  TempDir dir;
  meta::testing::IoThreads io(2);
  auto meta = meta::EmbeddedStore::open(io.executor(), meta::EmbeddedConfig{.dir = dir.path("meta")});
  ASSERT_TRUE(meta) << meta.error().message();
  uint64_t expected_bytes = 0;
  constexpr int kObjects = 1005;
  for (int batch = 0; batch * 100 < kObjects; ++batch) {
    meta::TxnRequest txn;
    for (int i = batch * 100; i < std::min(kObjects, (batch + 1) * 100); ++i) {
      stream::ObjectRanges ranges;
      ranges.key = "data/" + std::to_string(1000000 + i);
      ranges.object_size = 1000 + static_cast<uint64_t>(i);
      expected_bytes += ranges.object_size;
      txn.success.push_back(meta::PutRequest{.key = "/floe/objects/" + ranges.key,
                                             .value = stream::encode_object_ranges(ranges)});
    }
    auto r = io.run((*meta)->txn(txn));
    ASSERT_TRUE(r && r->succeeded);
  }
  ASSERT_TRUE(io.run((*meta)->put(meta::PutRequest{.key = "/floe/objectsX", .value = "not an object"})));
  ASSERT_TRUE(io.run((*meta)->put(meta::PutRequest{.key = "/floe/topics/t", .value = "x"})));

  StoredObjectsGauge gauge(io.executor(), **meta, "/floe/objects/", 1h, 1h);
  EXPECT_FALSE(gauge.known());
  io.run(gauge.refresh());
  EXPECT_TRUE(gauge.known());
  EXPECT_EQ(gauge.objects(), uint64_t{kObjects});
  EXPECT_EQ(gauge.bytes(), expected_bytes);

  metrics::Registry reg;
  add_meta_store_collector(reg, **meta);
  const std::string text = reg.render();
  EXPECT_EQ(sample_value(text, "floe_meta_requests_total{op=\"txn\"}"), 13) << text;  // 11 txns + 2 puts
  EXPECT_EQ(sample_value(text, "floe_meta_requests_total{op=\"range\"}"), 2) << text;  // two pages of 1000
  EXPECT_EQ(sample_value(text, "floe_meta_request_duration_seconds_count{op=\"txn\"}"), 13) << text;
  (*meta)->shutdown();
}

}  // namespace
}  // namespace floe::app
