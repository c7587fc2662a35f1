// Fetch for a partition this broker is opening (right after a failover or a move): it waits for the open at the
// OpenGate, bounded by its max wait, instead of answering NOT_LEADER_OR_FOLLOWER at once; the gate counts the wait.
// handle_fetch on real parts: a StreamStore over the file:// object store and the embedded metadata store.
#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <chrono>
#include <filesystem>
#include <stdexcept>

#include "cluster/topic_catalog.h"
#include "kafka/append_waiters.h"
#include "kafka/errors.h"
#include "kafka/fetch.h"
#include "kafka/leadership.h"
#include "kafka/open_gate.h"
#include "kafka/producer_states.h"
#include "kafka/request_context.h"
#include "kafka/services.h"
#include "meta/embedded_store.h"
#include "net/request_handler.h"
#include "objstore/file_store.h"
#include "producer/producer_id_allocator.h"
#include "protocol/record/batch_builder.h"
#include "stream/stream_store.h"

namespace floe::kafka {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Leads every partition at leader epoch 0; local only once the test says the open is done.
class OpeningLeadership final : public Leadership {
 public:
  explicit OpeningLeadership(OpenGateOptions o) : gate_(o) {}
  PartitionLeader leader(const cluster::TopicInfo&, int32_t) const override { return {1, 0, local_.load()}; }
  std::vector<BrokerEndpoint> brokers() const override { return {BrokerEndpoint{1, "127.0.0.1", 9092, {}}}; }
  std::optional<BrokerEndpoint> broker(int32_t) const override { return BrokerEndpoint{1, "127.0.0.1", 9092, {}}; }
  int32_t controller_id() const override { return 1; }
  OpenGate* open_gate() override { return &gate_; }
  std::atomic<bool> local_{false};
  OpenGate gate_;
};

class TestConnection : public net::ConnectionContext {
 public:
  TestConnection() : net::ConnectionContext(1, "127.0.0.1:5555", 9092) {}
};

class FetchOpenWaitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("floe-fetchwait-" + std::to_string(getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto objects = objstore::FileStore::open((root_ / "bucket").string());
    ASSERT_TRUE(objects.ok());
    objects_ = std::move(objects.value);
    meta::EmbeddedConfig mc;
    mc.dir = (root_ / "meta").string();
    auto m = meta::EmbeddedStore::open(io_.get_executor(), mc);
    ASSERT_TRUE(m) << m.error().message();
    meta_ = std::move(*m);
    stream::StreamStoreConfig sc;
    sc.wal_dir = (root_ / "wal").string();
    sc.upload_interval = std::chrono::hours(1);
    sc.upload_on_close = false;
    sc.epoch = 1;
    auto s = run(stream::StreamStore::open(io_.get_executor(), sc, *objects_, *meta_));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    auto catalog = run(cluster::TopicCatalog::load(*meta_, "/floe/"));
    ASSERT_TRUE(catalog) << catalog.error().message;
    catalog_ = std::move(*catalog);
    auto topic = run(catalog_->create("t", 1, {}));
    ASSERT_TRUE(topic) << topic.error().message;
    stream_ = cluster::stream_id_of(topic->id, 0);
    ids_ = std::make_unique<producer::ProducerIdAllocator>(*meta_);
    states_ = std::make_unique<ProducerStates>(ProducerStatesConfig{}, *store_, *meta_, 1);
  }
  void TearDown() override {
    states_.reset();
    if (store_) run(store_->close());
    store_.reset();
    if (meta_) meta_->shutdown();
    fs::remove_all(root_);
  }

  template <typename T>
  T run(asio::awaitable<T> op) {
    auto fut = asio::co_spawn(io_, std::move(op), asio::use_future);
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (fut.wait_for(0s) != std::future_status::ready) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("operation did not complete in 60 s");
      io_.run_one_for(20ms);
    }
    return fut.get();
  }
  void run_for(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }

  void append_one() {
    record::BatchBuilder b(record::BatchOptions{});
    const std::string value = "value";
    record::NewRecord rec;
    rec.value = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()), value.size());
    ASSERT_EQ(b.add(rec), record::RecordError::ok);
    auto bytes = b.build();
    ASSERT_TRUE(bytes.ok());
    auto r = run(store_->append(stream_, std::move(bytes).value(), 0));
    ASSERT_TRUE(r) << r.error().message;
  }

  // Fetch v12 of partition 0 from offset 0, waiting up to `max_wait_ms` for at least one byte.
  asio::awaitable<proto::FetchResponse> fetch(Services& services, int32_t max_wait_ms) {
    proto::RequestFrame frame;
    frame.header.request_api_version = 12;
    TestConnection conn;
    BrokerIdentity identity;
    RequestContext ctx{frame, conn, identity, &services};
    proto::FetchRequest req;
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    auto& t = req.topics.emplace_back();
    t.topic = "t";
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.fetch_offset = 0;
    p.partition_max_bytes = 1 << 20;
    co_return co_await handle_fetch(ctx, req);
  }
  static int16_t error_of(const proto::FetchResponse& r) { return r.responses.at(0).partitions.at(0).error_code; }

  fs::path root_;
  asio::io_context io_;
  std::unique_ptr<objstore::ObjectStore> objects_;
  std::unique_ptr<meta::MetaStore> meta_;
  std::unique_ptr<stream::StreamStore> store_;
  std::unique_ptr<cluster::TopicCatalog> catalog_;
  std::unique_ptr<producer::ProducerIdAllocator> ids_;
  std::unique_ptr<ProducerStates> states_;
  AppendWaiters appends_;
  uint64_t stream_ = 0;
};

TEST_F(FetchOpenWaitTest, AFetchWaitsForTheOpenAndThenReadsTheRecords) {
  append_one();
  OpeningLeadership leadership{OpenGateOptions{}};
  Services services{*catalog_, *store_, appends_, *ids_, *states_, leadership, BrokerSettings{}};
  leadership.gate_.opening(stream_);
  auto fut = asio::co_spawn(io_, fetch(services, 3000), asio::use_future);
  run_for(150ms);
  // Still opening: not answered NOT_LEADER_OR_FOLLOWER, waiting at the gate.
  ASSERT_NE(fut.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(leadership.gate_.waiting(stream_), 1u);
  EXPECT_EQ(leadership.gate_.stats().waiting, 1u);
  leadership.local_ = true;
  leadership.gate_.opened(stream_);
  run_for(200ms);
  ASSERT_EQ(fut.wait_for(0s), std::future_status::ready);
  const proto::FetchResponse r = fut.get();
  EXPECT_EQ(error_of(r), 0);
  EXPECT_FALSE(r.responses.at(0).partitions.at(0).records.data.empty());
  EXPECT_EQ(r.responses.at(0).partitions.at(0).high_watermark, 1);
  const OpenGateStats st = leadership.gate_.stats();
  EXPECT_EQ(st.waiting, 0u);
  EXPECT_EQ(st.waits, 1u);
  EXPECT_EQ(st.timeouts + st.refusals + st.closed, 0u);
}

TEST_F(FetchOpenWaitTest, AnOpenThatOutlastsTheFetchesWaitIsNotLeader) {
  append_one();
  OpenGateOptions o;
  o.max_wait = 5000ms;
  OpeningLeadership leadership{o};
  Services services{*catalog_, *store_, appends_, *ids_, *states_, leadership, BrokerSettings{}};
  leadership.gate_.opening(stream_);
  const auto t0 = std::chrono::steady_clock::now();
  const proto::FetchResponse late = run(fetch(services, 200));  // its own max wait bounds the wait
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(error_of(late), code(Errc::not_leader_or_follower));
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 2000ms);
  EXPECT_EQ(leadership.gate_.stats().timeouts, 1u);
  // No time to wait: refused at once. An open that fails: the waiter is released at once, not leader.
  EXPECT_EQ(error_of(run(fetch(services, 0))), code(Errc::not_leader_or_follower));
  EXPECT_EQ(leadership.gate_.stats().refusals, 1u);
  auto fut = asio::co_spawn(io_, fetch(services, 3000), asio::use_future);
  run_for(100ms);
  ASSERT_NE(fut.wait_for(0s), std::future_status::ready);
  leadership.gate_.closed(stream_);
  run_for(100ms);
  ASSERT_EQ(fut.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(error_of(fut.get()), code(Errc::not_leader_or_follower));
  const OpenGateStats st = leadership.gate_.stats();
  EXPECT_EQ(st.closed, 1u);
  EXPECT_EQ(st.waits, 2u);
  EXPECT_EQ(st.waiting, 0u);
  // A partition led elsewhere (no open here) is answered at once.
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of(run(fetch(services, 3000))), code(Errc::not_leader_or_follower));
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 1000ms);
}

}  // namespace
}  // namespace floe::kafka
