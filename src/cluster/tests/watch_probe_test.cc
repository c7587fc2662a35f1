// WatchLagProbe's freshness bound (the committed-read gate of DESIGN §7): fresh while probes come back, lagging as
// soon as none has come back for longer than the bound (a store that does not answer counts as lagging too), fresh
// again once they do; and live_streams_at, the topics' streams at one revision (garbage collection's live set).
#include <gtest/gtest.h>

#include <atomic>

#include "cluster/cluster_image.h"
#include "cluster/tests/cluster_fixture.h"
#include "cluster/topic_catalog.h"
#include "cluster/watch_probe.h"
#include "meta/meta_store.h"
#include "meta/tests/test_support.h"

namespace floe::cluster {
namespace {

using namespace std::chrono_literals;
using testing::ClusterFixture;
using Clock = std::chrono::steady_clock;

// Forwards to `inner`; put() first waits hang_ms (a store that does not answer the probe's writes).
class HangingPuts final : public meta::MetaStore {
 public:
  explicit HangingPuts(meta::MetaStore& inner) : inner_(inner) {}
  std::atomic<int> hang_ms{0};

  asio::awaitable<meta::Result<meta::RangeResponse>> range(meta::RangeRequest r) override {
    return inner_.range(std::move(r));
  }
  asio::awaitable<meta::Result<meta::PutResponse>> put(meta::PutRequest r) override {
    if (int hang = hang_ms.load(); hang > 0) co_await meta::testing::sleep_for(std::chrono::milliseconds(hang));
    co_return co_await inner_.put(std::move(r));
  }
  asio::awaitable<meta::Result<meta::DeleteResponse>> del(meta::DeleteRequest r) override { return inner_.del(std::move(r)); }
  asio::awaitable<meta::Result<meta::TxnResponse>> txn(meta::TxnRequest r) override { return inner_.txn(std::move(r)); }
  asio::awaitable<meta::Result<meta::LeaseGrantResponse>> lease_grant(int64_t ttl, int64_t id) override {
    return inner_.lease_grant(ttl, id);
  }
  asio::awaitable<meta::Result<int64_t>> lease_keepalive(int64_t id) override { return inner_.lease_keepalive(id); }
  asio::awaitable<std::error_code> lease_revoke(int64_t id) override { return inner_.lease_revoke(id); }
  asio::awaitable<std::error_code> compact(int64_t revision) override { return inner_.compact(revision); }
  std::unique_ptr<meta::Watch> watch(meta::WatchRequest r) override { return inner_.watch(std::move(r)); }
  void shutdown() override {}

 private:
  meta::MetaStore& inner_;
};

class WatchProbeTest : public ClusterFixture {};

TEST_F(WatchProbeTest, FreshnessFollowsTheProbesAndAProbeThatNeverReturnsCountsAsLagging) {
  auto image = open_image();
  ASSERT_TRUE(image);
  HangingPuts store(*meta_);
  store.hang_ms = 1500;  // the first probe does not come back for a while
  WatchLagProbeConfig config;
  config.broker_id = 1;
  config.interval = 50ms;
  config.timeout = 2s;
  auto probe = WatchLagProbe::start(io_.executor(), store, *image, config);
  const auto bound = 300ms;
  EXPECT_FALSE(probe->staleness().has_value()) << "no probe back yet";
  EXPECT_FALSE(probe->fresh_within(bound)) << "unknown counts as lagging";
  store.hang_ms = 0;
  ASSERT_TRUE(eventually([&] { return probe->fresh_within(bound); }, 5s));

  // The store stops answering the probe's writes: within about the bound the image counts as lagging.
  store.hang_ms = 2000;
  const auto hung = Clock::now();
  ASSERT_TRUE(eventually([&] { return !probe->fresh_within(bound); }, 3s));
  EXPECT_GE(Clock::now() - hung, bound - 100ms) << "not before the newest applied probe is older than the bound";
  EXPECT_LT(Clock::now() - hung, bound + 1s);
  ASSERT_TRUE(probe->staleness().has_value());
  EXPECT_GT(*probe->staleness(), bound);

  // It answers again: fresh once a probe comes back.
  store.hang_ms = 0;
  ASSERT_TRUE(eventually([&] { return probe->fresh_within(bound); }, 6s));
  run(probe->stop());
  run(image->close());
}

TEST_F(WatchProbeTest, LiveStreamsAtARevisionAreTheTopicsThen) {
  auto catalog = run(TopicCatalog::load(*meta_, root_));
  ASSERT_TRUE(catalog.ok());
  auto a = run((*catalog)->create("a", 2, {}));
  auto b = run((*catalog)->create("b", 1, {}));
  ASSERT_TRUE(a.ok() && b.ok());
  auto before = run(meta_->get(root_ + "topics/b"));
  ASSERT_TRUE(before.ok() && *before);
  const int64_t with_b = (*before)->mod_revision;
  ASSERT_TRUE(run((*catalog)->remove("b")).ok());
  auto now = run(meta_->get(root_ + "topics/a"));
  ASSERT_TRUE(now.ok());

  auto then = run(live_streams_at(*meta_, root_, with_b));
  ASSERT_TRUE(then.ok()) << then.error().message;
  ASSERT_TRUE(then->has_value());
  const std::set<uint64_t> expected_then{stream_id_of(a->id, 0), stream_id_of(a->id, 1), stream_id_of(b->id, 0)};
  EXPECT_EQ(**then, expected_then);

  // After the delete: b's stream is no longer live (a re-created "b" would get a new id, hence new streams).
  auto range = run(meta_->range(meta::RangeRequest{.key = root_ + "topics/a"}));
  ASSERT_TRUE(range.ok());
  auto after = run(live_streams_at(*meta_, root_, range->revision));
  ASSERT_TRUE(after.ok() && after->has_value());
  const std::set<uint64_t> expected_after{stream_id_of(a->id, 0), stream_id_of(a->id, 1)};
  EXPECT_EQ(**after, expected_after);

  // An undecodable topic record: the live set is unknown (nothing may be treated as deleted).
  meta::PutRequest junk;
  junk.key = root_ + "topics/junk";
  junk.value = "x";
  auto put = run(meta_->put(junk));
  ASSERT_TRUE(put.ok());
  auto unknown = run(live_streams_at(*meta_, root_, put->revision));
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
}

}  // namespace
}  // namespace floe::cluster
