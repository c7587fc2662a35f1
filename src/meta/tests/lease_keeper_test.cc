// LeaseKeeper against a real backend. Built twice, like the conformance suite: floe_meta_lease_test on the embedded
// store (FLOE_META_BACKEND_EMBEDDED), floe_meta_lease_etcd_test on a real etcd started per test (FLOE_META_BACKEND_ETCD).
// Failures are injected by FlakyStore, a MetaStore that forwards to the real one and fails keep-alives on demand.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "meta/embedded_store.h"
#include "meta/etcd_store.h"
#include "meta/lease_keeper.h"
#include "meta/tests/etcd_process.h"
#include "meta/tests/test_support.h"

namespace floe::meta {
namespace {

using namespace std::chrono_literals;
using testing::IoThreads;
using testing::sleep_for;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds ms(Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); }

// Forwards everything to `inner`; lease_keepalive fails with Errc::unavailable while `fail_keepalive` is set.
class FlakyStore final : public MetaStore {
 public:
  explicit FlakyStore(MetaStore& inner) : inner_(inner) {}
  std::atomic<bool> fail_keepalive{false};
  std::atomic<int> keepalives{0};  // calls, failed ones included
  std::atomic<int> hang_ms{0};     // lease_keepalive first waits this long (a store that does not answer)

  asio::awaitable<Result<RangeResponse>> range(RangeRequest r) override { return inner_.range(std::move(r)); }
  asio::awaitable<Result<PutResponse>> put(PutRequest r) override { return inner_.put(std::move(r)); }
  asio::awaitable<Result<DeleteResponse>> del(DeleteRequest r) override { return inner_.del(std::move(r)); }
  asio::awaitable<Result<TxnResponse>> txn(TxnRequest r) override { return inner_.txn(std::move(r)); }
  asio::awaitable<Result<LeaseGrantResponse>> lease_grant(int64_t ttl, int64_t id) override {
    return inner_.lease_grant(ttl, id);
  }
  asio::awaitable<Result<int64_t>> lease_keepalive(int64_t id) override {
    keepalives.fetch_add(1);
    if (int hang = hang_ms.load(); hang > 0) co_await testing::sleep_for(std::chrono::milliseconds(hang));
    if (fail_keepalive.load()) co_return Errc::unavailable;
    co_return co_await inner_.lease_keepalive(id);
  }
  asio::awaitable<std::error_code> lease_revoke(int64_t id) override { return inner_.lease_revoke(id); }
  asio::awaitable<std::error_code> compact(int64_t revision) override { return inner_.compact(revision); }
  std::unique_ptr<Watch> watch(WatchRequest r) override { return inner_.watch(std::move(r)); }
  void shutdown() override { inner_.shutdown(); }

 private:
  MetaStore& inner_;
};

// What the callback saw, with when.
class Recorder {
 public:
  struct Change {
    LeaseState state;
    std::error_code error;
    Clock::time_point at;
  };
  LeaseKeeper::Callback callback() {
    return [this](LeaseState s, std::error_code ec) {
      std::lock_guard lock(mu_);
      changes_.push_back({s, ec, Clock::now()});
    };
  }
  std::vector<Change> changes() const {
    std::lock_guard lock(mu_);
    return changes_;
  }
  // Waits (polling, bounded) until `state` was reported; returns its change.
  std::optional<Change> wait_for(LeaseState state, std::chrono::milliseconds timeout) const {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      for (const auto& c : changes()) {
        if (c.state == state) return c;
      }
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Change> changes_;
};

class LeaseKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(FLOE_META_BACKEND_EMBEDDED)
    std::string tmpl = (std::filesystem::temp_directory_path() / "floe-lease-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    EmbeddedConfig config;
    config.dir = dir_;
    config.lease_check_interval = 20ms;
    auto store = EmbeddedStore::open(io_.executor(), config);
    ASSERT_TRUE(store.ok()) << store.error().message();
    inner_ = std::move(*store);
#else
    std::string error;
    ASSERT_TRUE(etcd_.start(&error)) << error;
    EtcdConfig config;
    config.endpoints = {etcd_.endpoint()};
    config.request_timeout = 500ms;  // below TTL/3, as lease_keeper.h asks
    auto store = EtcdStore::create(io_.executor(), config);
    ASSERT_TRUE(store.ok()) << store.error().message();
    inner_ = std::move(*store);
#endif
    store_ = std::make_unique<FlakyStore>(*inner_);
  }
  void TearDown() override {
    keeper_.reset();
    if (inner_) inner_->shutdown();
    io_.stop();
    store_.reset();
    inner_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  template <typename T>
  T run(asio::awaitable<T> aw, std::chrono::milliseconds timeout = 20s) {
    return io_.run(std::move(aw), timeout);
  }
  std::optional<KeyValue> get(const std::string& key) {
    auto r = run(inner_->get(key));
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r ? *r : std::nullopt;
  }

  // Grants a lease (1 s asked; etcd may round it up), puts `key` under it and starts a keeper on the flaky store.
  void start(const std::string& key, LeaseKeeperConfig config = {}) {
    const auto before = Clock::now();
    auto lease = run(inner_->lease_grant(1));
    ASSERT_TRUE(lease.ok()) << lease.error().message();
    lease_id_ = lease->id;
    ttl_ = std::chrono::seconds(lease->ttl);
    ASSERT_TRUE(run(inner_->put(PutRequest{key, "v", lease_id_, false})).ok());
    auto keeper = LeaseKeeper::start(io_.executor(), *store_, lease_id_, lease->ttl, before, config,
                                     recorder_.callback());
    ASSERT_TRUE(keeper.ok()) << keeper.error().message();
    keeper_ = std::move(*keeper);
  }

  // Polls `key` until it is gone (bounded); on every miss the keeper must already say the lease is not alive:
  // its local deadline is never later than the server's expiry.
  bool wait_gone(const std::string& key, std::chrono::milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      if (!get(key).has_value()) {
        EXPECT_FALSE(keeper_->alive()) << "the key vanished while the keeper still called the lease alive";
        return true;
      }
      run(sleep_for(20ms));
    }
    return false;
  }

  IoThreads io_;
  std::string dir_;
  testing::EtcdProcess etcd_;
  std::unique_ptr<MetaStore> inner_;
  std::unique_ptr<FlakyStore> store_;
  Recorder recorder_;
  std::unique_ptr<LeaseKeeper> keeper_;
  int64_t lease_id_ = 0;
  Clock::duration ttl_{};
};

TEST_F(LeaseKeeperTest, RejectsBadArguments) {
  EXPECT_EQ(LeaseKeeper::start(io_.executor(), *store_, 0, 1, Clock::now()).error(), Errc::invalid_argument);
  EXPECT_EQ(LeaseKeeper::start(io_.executor(), *store_, 7, 0, Clock::now()).error(), Errc::invalid_argument);
  LeaseKeeperConfig bad;
  bad.danger_fraction = 1.5;
  EXPECT_EQ(LeaseKeeper::start(io_.executor(), *store_, 7, 1, Clock::now(), bad).error(), Errc::invalid_argument);
}

TEST_F(LeaseKeeperTest, HealthyRenewalsKeepTheKeyPastSeveralTtls) {
  start("keep/a");
  const auto until = Clock::now() + 3 * ttl_ + 500ms;
  while (Clock::now() < until) {
    ASSERT_TRUE(keeper_->alive());
    const auto left = keeper_->deadline() - Clock::now();
    EXPECT_GT(left, Clock::duration::zero());
    EXPECT_LE(left, ttl_);
    ASSERT_TRUE(get("keep/a").has_value());
    run(sleep_for(100ms));
  }
  EXPECT_EQ(keeper_->state(), LeaseState::healthy);
  EXPECT_TRUE(recorder_.changes().empty()) << "first change: " << to_string(recorder_.changes()[0].state);
  // About one keep-alive per TTL/3 (plus the first, sent at once).
  const int expected = static_cast<int>((3 * ttl_ + 500ms) / (ttl_ / 3));
  EXPECT_GE(store_->keepalives.load(), expected - 2);
  EXPECT_LE(store_->keepalives.load(), expected + 3);

  const auto before = Clock::now();
  EXPECT_FALSE(run(keeper_->stop(/*revoke=*/true)));
  EXPECT_LT(Clock::now() - before, 2s);
  EXPECT_EQ(keeper_->state(), LeaseState::stopped);
  EXPECT_FALSE(keeper_->alive());
  EXPECT_FALSE(get("keep/a").has_value());
}

TEST_F(LeaseKeeperTest, FailingKeepAlivesGiveInDangerThenLostWithinTtl) {
  start("fail/a");
  run(sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(ttl_ / 2)));
  ASSERT_EQ(keeper_->state(), LeaseState::healthy);
  const auto last_deadline = keeper_->deadline();
  const auto failing_since = Clock::now();
  store_->fail_keepalive = true;

  // The next keep-alive (at most TTL/3 away) fails: in_danger at once, with the store's error.
  auto danger = recorder_.wait_for(LeaseState::in_danger, ms(ttl_) + 1s);
  ASSERT_TRUE(danger.has_value());
  EXPECT_LE(danger->at - failing_since, ttl_ / 3 + 200ms);
  EXPECT_EQ(danger->error, Errc::unavailable);
  EXPECT_TRUE(keeper_->alive());  // in danger, not lost: the deadline still holds

  // Lost when the local deadline passes (not before), within TTL + a small margin of the failures' start.
  auto lost = recorder_.wait_for(LeaseState::lost, ms(ttl_) + 2s);
  ASSERT_TRUE(lost.has_value());
  EXPECT_GE(lost->at, last_deadline);
  EXPECT_LE(lost->at - failing_since, ttl_ + 200ms) << ms(lost->at - failing_since).count() << " ms";
  EXPECT_EQ(lost->error, Errc::timeout);
  EXPECT_EQ(keeper_->state(), LeaseState::lost);
  EXPECT_FALSE(keeper_->alive());
  EXPECT_LE(keeper_->deadline(), Clock::now());

  // Bounded retries: nothing is sent once lost.
  const int sent = store_->keepalives.load();
  EXPECT_LE(sent, 40) << "retries are bounded by the TTL";
  run(sleep_for(300ms));
  EXPECT_EQ(store_->keepalives.load(), sent);

  // The server lets the lease go too (etcd checks expiry about every 500 ms).
  EXPECT_TRUE(wait_gone("fail/a", 3s));
  const auto changes = recorder_.changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].state, LeaseState::in_danger);
  EXPECT_EQ(changes[1].state, LeaseState::lost);
}

TEST_F(LeaseKeeperTest, AHangingKeepAliveDelaysNeitherDangerNorLost) {
  start("hang/a");
  run(sleep_for(100ms));
  ASSERT_EQ(keeper_->state(), LeaseState::healthy);
  const auto last_deadline = keeper_->deadline();
  const auto hanging_since = Clock::now();
  store_->hang_ms = static_cast<int>(ms(ttl_).count()) + 500;  // the next keep-alive answers after the deadline

  // in_danger from the clock alone (half the TTL without success), lost at the local deadline: the watchdog does
  // not wait for the keep-alive in flight.
  auto danger = recorder_.wait_for(LeaseState::in_danger, ms(ttl_) + 1s);
  ASSERT_TRUE(danger.has_value());
  EXPECT_EQ(danger->error, Errc::timeout);
  EXPECT_LE(danger->at - hanging_since, ttl_ / 2 + 200ms);
  auto lost = recorder_.wait_for(LeaseState::lost, ms(ttl_) + 2s);
  ASSERT_TRUE(lost.has_value());
  EXPECT_GE(lost->at, last_deadline);
  EXPECT_LE(lost->at - last_deadline, 200ms);
  EXPECT_EQ(lost->error, Errc::timeout);
  EXPECT_GE(store_->keepalives.load(), 1);

  // stop() waits for the hanging keep-alive, which the store bounds (here: the hang).
  const auto before = Clock::now();
  EXPECT_FALSE(run(keeper_->stop(false), ms(ttl_) + 2s));
  EXPECT_LT(Clock::now() - before, ttl_ + 1s);
  EXPECT_EQ(keeper_->state(), LeaseState::lost);
}

TEST_F(LeaseKeeperTest, TransientFailuresRecoverToHealthy) {
  LeaseKeeperConfig config;
  config.retry_min = 20ms;
  start("flap/a", config);
  store_->fail_keepalive = true;
  ASSERT_TRUE(recorder_.wait_for(LeaseState::in_danger, ms(ttl_)).has_value());
  store_->fail_keepalive = false;
  // Retries back off from 20 ms up to TTL/3: the next one succeeds well before the deadline.
  auto healthy = recorder_.wait_for(LeaseState::healthy, ms(ttl_ / 3) + 300ms);
  ASSERT_TRUE(healthy.has_value());
  EXPECT_TRUE(keeper_->alive());
  run(sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(ttl_)));
  EXPECT_EQ(keeper_->state(), LeaseState::healthy);
  EXPECT_TRUE(get("flap/a").has_value());
  EXPECT_FALSE(run(keeper_->stop(true)));
}

TEST_F(LeaseKeeperTest, RevokeElsewhereGivesLostOnTheNextKeepAlive) {
  start("revoked/a");
  run(sleep_for(100ms));
  ASSERT_EQ(keeper_->state(), LeaseState::healthy);
  // An owner waiting on changed() wakes up with the news.
  auto waiter = [keeper = keeper_.get()]() -> asio::awaitable<LeaseState> {
    co_return co_await keeper->changed(LeaseState::healthy);
  };
  auto future = asio::co_spawn(io_.io(), waiter(), asio::use_future);
  const auto revoked_at = Clock::now();
  ASSERT_FALSE(run(inner_->lease_revoke(lease_id_)));
  EXPECT_FALSE(get("revoked/a").has_value());

  auto lost = recorder_.wait_for(LeaseState::lost, ms(ttl_ / 3) + 1s);
  ASSERT_TRUE(lost.has_value());
  EXPECT_LE(lost->at - revoked_at, ttl_ / 3 + 200ms);
  EXPECT_EQ(lost->error, Errc::lease_not_found);
  ASSERT_EQ(future.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(future.get(), LeaseState::lost);
  EXPECT_FALSE(keeper_->alive());
  EXPECT_EQ(recorder_.changes().size(), 1u);  // straight to lost: no in_danger on the way
  // Stopping a lost keeper keeps it lost; revoking again says the lease is gone.
  EXPECT_EQ(run(keeper_->stop(true)), Errc::lease_not_found);
  EXPECT_EQ(keeper_->state(), LeaseState::lost);
}

TEST_F(LeaseKeeperTest, StopEndsTheLoopPromptly) {
  start("stop/a");
  run(sleep_for(200ms));
  auto waiter = [keeper = keeper_.get()]() -> asio::awaitable<LeaseState> {
    co_return co_await keeper->changed(LeaseState::healthy);
  };
  auto future = asio::co_spawn(io_.io(), waiter(), asio::use_future);
  const auto before = Clock::now();
  EXPECT_FALSE(run(keeper_->stop(/*revoke=*/false), 2s));
  EXPECT_LT(Clock::now() - before, 1s);
  EXPECT_EQ(keeper_->state(), LeaseState::stopped);
  ASSERT_EQ(future.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(future.get(), LeaseState::stopped);
  const auto changes = recorder_.changes();
  ASSERT_EQ(changes.size(), 1u);  // the callback has run by the time stop() completes
  EXPECT_EQ(changes[0].state, LeaseState::stopped);

  // No keep-alive after stop: the lease runs out on the server (not revoked), and the keeper stays quiet.
  const int sent = store_->keepalives.load();
  EXPECT_TRUE(wait_gone("stop/a", ms(ttl_) + 3s));
  EXPECT_EQ(store_->keepalives.load(), sent);
  EXPECT_EQ(recorder_.changes().size(), 1u);
}

TEST_F(LeaseKeeperTest, DestroyingAKeeperStopsIt) {
  start("drop/a");
  run(sleep_for(100ms));
  keeper_.reset();
  run(sleep_for(50ms));
  const int sent = store_->keepalives.load();
  run(sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(ttl_ / 3 + 200ms)));
  EXPECT_EQ(store_->keepalives.load(), sent);
  EXPECT_TRUE(recorder_.changes().empty());  // silenced: the owner may be gone
}

}  // namespace
}  // namespace floe::meta
