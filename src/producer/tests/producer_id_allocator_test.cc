// ProducerIdAllocator against a real EmbeddedStore: ids are unique across concurrent allocators, blocks survive a
// restart (no id is handed out twice after reopen), lost compare-and-set races are retried, a corrupt counter is an
// error value, and InitProducerId for idempotent producers follows Kafka's rules.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/use_future.hpp>

#include "meta/embedded_store.h"
#include "meta/tests/test_support.h"
#include "producer/producer_id_allocator.h"

namespace floe::producer {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "floe-producer-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A coroutine function, not a capturing lambda: the lambda object would die before the coroutine that uses it.
asio::awaitable<void> take_ids(ProducerIdAllocator& a, int n, std::mutex& mu, std::vector<int64_t>& ids) {
  for (int i = 0; i < n; ++i) {
    auto id = co_await a.next();
    EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().message);
    if (!id) co_return;
    EXPECT_EQ(id->epoch, 0);
    std::lock_guard lock(mu);
    ids.push_back(id->producer_id);
  }
}

class AllocatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<meta::EmbeddedStore> open() {
    meta::EmbeddedConfig config;
    config.dir = dir_.path();
    auto store = meta::EmbeddedStore::open(io_.executor(), config);
    EXPECT_TRUE(store.ok()) << store.error().message();
    return store ? std::move(*store) : nullptr;
  }
  // n ids from `a`, from `tasks` concurrent coroutines.
  std::vector<int64_t> take(ProducerIdAllocator& a, int n, int tasks) {
    std::mutex mu;
    std::vector<int64_t> ids;
    std::vector<std::future<void>> futures;
    for (int t = 0; t < tasks; ++t) {
      futures.push_back(asio::co_spawn(io_.io(), take_ids(a, n / tasks, mu, ids), asio::use_future));
    }
    for (auto& f : futures) {
      EXPECT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
      f.get();
    }
    return ids;
  }

  TempDir dir_;
  meta::testing::IoThreads io_{4};
};

TEST_F(AllocatorTest, ConcurrentAllocatorsNeverHandOutTheSameId) {
  auto store = open();
  ASSERT_TRUE(store);
  AllocatorConfig c;
  c.block_size = 7;  // small blocks: many compare-and-set races between the two allocators
  ProducerIdAllocator a(*store, c);
  ProducerIdAllocator b(*store, c);
  std::vector<int64_t> ids_a, ids_b;
  std::thread ta([&] { ids_a = take(a, 400, 4); });
  std::thread tb([&] { ids_b = take(b, 400, 4); });
  ta.join();
  tb.join();
  ASSERT_EQ(ids_a.size(), 400u);
  ASSERT_EQ(ids_b.size(), 400u);
  std::set<int64_t> all(ids_a.begin(), ids_a.end());
  all.insert(ids_b.begin(), ids_b.end());
  EXPECT_EQ(all.size(), 800u);
  EXPECT_GE(*all.begin(), 0);
  // Blocks are not wasted beyond one per concurrent caller per allocator.
  EXPECT_LE(*all.rbegin(), 800 + 2 * 4 * c.block_size);
  auto counter = io_.run(store->get(c.counter_key));
  ASSERT_TRUE(counter.ok() && counter->has_value());
  EXPECT_EQ(std::stoll((*counter)->value), static_cast<int64_t>(a.blocks_taken() + b.blocks_taken()) * 7);
  store->shutdown();
}

TEST_F(AllocatorTest, NoIdIsReusedAfterReopen) {
  std::set<int64_t> seen;
  for (int round = 0; round < 3; ++round) {
    auto store = open();
    ASSERT_TRUE(store);
    ProducerIdAllocator a(*store, AllocatorConfig{});
    auto ids = take(a, 10, 1);  // uses 10 of a 1000-id block; the rest is skipped after the restart
    ASSERT_EQ(ids.size(), 10u);
    for (auto id : ids) EXPECT_TRUE(seen.insert(id).second) << "id " << id << " reused in round " << round;
    EXPECT_EQ(ids.front(), round * 1000);
    store->shutdown();
  }
}

TEST_F(AllocatorTest, CorruptCounterIsAnErrorValue) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(io_.run(store->put(meta::PutRequest{"/floe/producer-ids/next", "12x"})).ok());
  ProducerIdAllocator a(*store);
  auto r = io_.run(a.next());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, make_error_code(Errc::id_counter_corrupt));
  auto answer = io_.run(a.init_idempotent(-1, -1));
  EXPECT_EQ(answer.error_code, -1);
  EXPECT_EQ(answer.id, (ProducerIdAndEpoch{-1, -1}));
  store->shutdown();
}

TEST_F(AllocatorTest, ExhaustedIdSpaceIsAnErrorValue) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(io_.run(store->put(meta::PutRequest{"/floe/producer-ids/next",
                                                  std::to_string(std::numeric_limits<int64_t>::max() - 10)})).ok());
  ProducerIdAllocator a(*store);
  auto r = io_.run(a.next());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, make_error_code(Errc::id_space_exhausted));
  store->shutdown();
}

TEST_F(AllocatorTest, ClosedStoreIsAnErrorValueAndRetriableForInitProducerId) {
  auto store = open();
  ASSERT_TRUE(store);
  store->shutdown();
  ProducerIdAllocator a(*store);
  auto r = io_.run(a.next());
  ASSERT_FALSE(r.ok());
  auto answer = io_.run(a.init_idempotent(-1, -1));
  EXPECT_EQ(answer.error_code, kafka_error::kCoordinatorLoadInProgress);
}

TEST_F(AllocatorTest, InitProducerIdForIdempotentProducersAlwaysGivesANewIdWithEpochZero) {
  auto store = open();
  ASSERT_TRUE(store);
  ProducerIdAllocator a(*store);
  auto first = io_.run(a.init_idempotent(-1, -1));
  ASSERT_EQ(first.error_code, 0);
  EXPECT_EQ(first.id.epoch, 0);
  // v3+: an existing id and epoch in the request: Kafka still answers a fresh id, epoch 0, for idempotent producers.
  auto second = io_.run(a.init_idempotent(first.id.producer_id, 4));
  ASSERT_EQ(second.error_code, 0);
  EXPECT_NE(second.id.producer_id, first.id.producer_id);
  EXPECT_EQ(second.id.epoch, 0);
  // Only one of the two given: INVALID_REQUEST.
  EXPECT_EQ(io_.run(a.init_idempotent(first.id.producer_id, -1)).error_code, kafka_error::kInvalidRequest);
  EXPECT_EQ(io_.run(a.init_idempotent(-1, 3)).error_code, kafka_error::kInvalidRequest);
  store->shutdown();
}

}  // namespace
}  // namespace floe::producer
