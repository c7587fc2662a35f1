// One conformance suite for every MetaStore backend. Built twice: floe_meta_test instantiates it for the embedded
// store (FLOE_META_BACKEND_EMBEDDED), floe_meta_etcd_test for a real etcd (FLOE_META_BACKEND_ETCD), started per test
// process on free ports and stopped by PID.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>

#include "meta/embedded_store.h"
#include "meta/etcd_store.h"
#include "meta/tests/etcd_process.h"
#include "meta/tests/test_support.h"

namespace floe::meta {
namespace {

using namespace std::chrono_literals;
using testing::IoThreads;
using testing::sleep_for;
using Clock = std::chrono::steady_clock;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::unique_ptr<MetaStore> open(asio::any_io_executor ex) = 0;
  // Restarts the server. When this returns true, stores and watches survive it; otherwise the test closes them
  // first and opens new ones after (the embedded store lives in the test process).
  virtual bool restart_keeps_store() const = 0;
  virtual void restart() = 0;
};

class EmbeddedBackend final : public Backend {
 public:
  EmbeddedBackend() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "floe-meta-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) dir_ = tmpl;
  }
  ~EmbeddedBackend() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::unique_ptr<MetaStore> open(asio::any_io_executor ex) override {
    EmbeddedConfig config;
    config.dir = dir_;
    config.snapshot_bytes = 256 * 1024;  // several snapshots during the suite
    auto store = EmbeddedStore::open(ex, config);
    EXPECT_TRUE(store.ok()) << store.error().message();
    return store ? std::move(*store) : nullptr;
  }
  bool restart_keeps_store() const override { return false; }
  void restart() override {}

 private:
  std::string dir_;
};

class EtcdBackend final : public Backend {
 public:
  EtcdBackend() {
    std::string error;
    started_ = etcd_.start(&error);
    EXPECT_TRUE(started_) << error;
  }
  std::unique_ptr<MetaStore> open(asio::any_io_executor ex) override {
    if (!started_) return nullptr;
    EtcdConfig config;
    config.endpoints = {etcd_.endpoint()};
    auto store = EtcdStore::create(ex, config);
    EXPECT_TRUE(store.ok());
    return store ? std::move(*store) : nullptr;
  }
  bool restart_keeps_store() const override { return true; }
  void restart() override {
    etcd_.stop();
    std::string error;
    EXPECT_TRUE(etcd_.start(&error)) << error;
  }

 private:
  testing::EtcdProcess etcd_;
  bool started_ = false;
};

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "embedded") {
      backend_ = std::make_unique<EmbeddedBackend>();
    } else {
      backend_ = std::make_unique<EtcdBackend>();
    }
    store_ = backend_->open(io_.executor());
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    io_.stop();
    backend_.reset();
  }
  template <typename T>
  T run(asio::awaitable<T> aw, std::chrono::milliseconds timeout = 60s) {
    return io_.run(std::move(aw), timeout);
  }

  Result<PutResponse> put(std::string key, std::string value, int64_t lease = 0) {
    PutRequest r{std::move(key), std::move(value), lease, true};
    return run(store_->put(std::move(r)));
  }
  std::optional<KeyValue> get(std::string key) {
    auto r = run(store_->get(std::move(key)));
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r ? *r : std::nullopt;
  }
  Result<RangeResponse> prefix(const std::string& p, int64_t revision = 0, int64_t limit = 0) {
    RangeRequest r;
    r.key = p;
    r.range_end = prefix_end(p);
    r.revision = revision;
    r.limit = limit;
    return run(store_->range(std::move(r)));
  }
  // Waits until the watch has delivered `n` events (or `timeout`), appending them to `out`.
  void collect(Watch& watch, size_t n, std::vector<Event>& out, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = Clock::now() + timeout;
    while (out.size() < n && Clock::now() < deadline) {
      auto batch = run(watch.next(), std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
      ASSERT_TRUE(batch.ok()) << batch.error().message();
      for (auto& e : batch->events) out.push_back(std::move(e));
    }
    ASSERT_GE(out.size(), n);
  }

  IoThreads io_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<MetaStore> store_;
};

TEST_P(Conformance, PutGetDeleteAndRevisions) {
  auto p1 = put("kv/a", "1");
  ASSERT_TRUE(p1.ok()) << p1.error().message();
  EXPECT_FALSE(p1->prev_kv.has_value());
  auto p2 = put("kv/a", "2");
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->revision, p1->revision + 1);
  ASSERT_TRUE(p2->prev_kv.has_value());
  EXPECT_EQ(p2->prev_kv->value, "1");

  auto kv = get("kv/a");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "2");
  EXPECT_EQ(kv->version, 2);
  EXPECT_EQ(kv->create_revision, p1->revision);
  EXPECT_EQ(kv->mod_revision, p2->revision);
  EXPECT_FALSE(get("kv/missing").has_value());

  // Binary keys and values survive the trip (base64 on the etcd gateway).
  std::string binary("\0\xff\n\"\\x", 6);
  ASSERT_TRUE(put("kv/bin", binary).ok());
  EXPECT_EQ(get("kv/bin")->value, binary);

  DeleteRequest d{"kv/a", {}, true};
  auto deleted = run(store_->del(d));
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->deleted, 1);
  ASSERT_EQ(deleted->prev_kvs.size(), 1u);
  EXPECT_EQ(deleted->prev_kvs[0].value, "2");
  EXPECT_FALSE(get("kv/a").has_value());
  // Recreated: a new create revision and version 1.
  auto p3 = put("kv/a", "3");
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(get("kv/a")->version, 1);
  EXPECT_EQ(get("kv/a")->create_revision, p3->revision);
}

TEST_P(Conformance, PrefixRangeLimitAndOlderRevision) {
  int64_t first = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = put("range/k" + std::to_string(i), "v" + std::to_string(i));
    ASSERT_TRUE(r.ok());
    if (i == 0) first = r->revision;
  }
  ASSERT_TRUE(put("rangf", "outside").ok());
  auto all = prefix("range/");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->count, 10);
  ASSERT_EQ(all->kvs.size(), 10u);
  EXPECT_EQ(all->kvs[0].key, "range/k0");
  EXPECT_EQ(all->kvs[9].key, "range/k9");
  EXPECT_FALSE(all->more);

  auto limited = prefix("range/", 0, 3);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->kvs.size(), 3u);
  EXPECT_TRUE(limited->more);
  EXPECT_EQ(limited->count, 10);

  ASSERT_TRUE(put("range/k0", "changed").ok());
  auto old = prefix("range/", first + 2);
  ASSERT_TRUE(old.ok()) << old.error().message();
  ASSERT_EQ(old->kvs.size(), 3u);
  EXPECT_EQ(old->kvs[0].value, "v0");

  auto future = prefix("range/", all->revision + 1000);
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.error(), Errc::future_revision);
}

TEST_P(Conformance, ARangeInATxnReadsAtTheRevisionItNames) {
  auto first = put("txnrev/a", "1");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(put("txnrev/a", "2").ok());
  ASSERT_TRUE(put("txnrev/b", "3").ok());
  // Many reads in one round trip, at one revision (StreamStore::acquire reads the log starts this way).
  TxnRequest t;
  RangeRequest then{"txnrev/a"};
  then.revision = first->revision;
  t.success.emplace_back(then);
  RangeRequest absent_then{"txnrev/b"};
  absent_then.revision = first->revision;
  t.success.emplace_back(absent_then);
  t.success.emplace_back(RangeRequest{"txnrev/a"});
  auto r = run(store_->txn(t));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->succeeded);
  ASSERT_EQ(r->responses.size(), 3u);
  const auto& old = std::get<RangeResponse>(r->responses[0]);
  ASSERT_EQ(old.kvs.size(), 1u);
  EXPECT_EQ(old.kvs[0].value, "1");
  EXPECT_TRUE(std::get<RangeResponse>(r->responses[1]).kvs.empty()) << "txnrev/b did not exist then";
  const auto& now = std::get<RangeResponse>(r->responses[2]);
  ASSERT_EQ(now.kvs.size(), 1u);
  EXPECT_EQ(now.kvs[0].value, "2");
}

TEST_P(Conformance, TxnWhoseCompareFailsChangesNothing) {
  ASSERT_TRUE(put("txn/a", "1").ok());
  ASSERT_TRUE(put("txn/b", "1").ok());
  auto before = prefix("txn/");
  ASSERT_TRUE(before.ok());

  TxnRequest t;
  t.compares.push_back(Compare::value_of("txn/a", Compare::Result::equal, "1"));       // holds
  t.compares.push_back(Compare::version("txn/b", Compare::Result::greater, 5));        // fails
  t.success.emplace_back(PutRequest{"txn/a", "2", 0, false});
  t.success.emplace_back(DeleteRequest{"txn/b", {}, false});
  t.success.emplace_back(PutRequest{"txn/c", "new", 0, false});
  t.failure.emplace_back(RangeRequest{"txn/a"});
  auto r = run(store_->txn(t));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(r->revision, before->revision);  // no write, no new revision
  ASSERT_EQ(r->responses.size(), 1u);
  const auto& got = std::get<RangeResponse>(r->responses[0]);
  ASSERT_EQ(got.kvs.size(), 1u);
  EXPECT_EQ(got.kvs[0].value, "1");

  auto after = prefix("txn/");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->revision, before->revision);
  EXPECT_EQ(after->kvs, before->kvs);
}

TEST_P(Conformance, TxnCompareTargetsAndAtomicBranch) {
  auto a = put("cmp/a", "x");
  ASSERT_TRUE(a.ok());
  auto lease = run(store_->lease_grant(30));
  ASSERT_TRUE(lease.ok()) << lease.error().message();
  ASSERT_TRUE(put("cmp/leased", "y", lease->id).ok());

  using R = Compare::Result;
  struct Case {
    Compare compare;
    bool holds;
  };
  std::vector<Case> cases = {
      {Compare::version("cmp/a", R::equal, 1), true},
      {Compare::version("cmp/a", R::not_equal, 1), false},
      {Compare::version("cmp/missing", R::equal, 0), true},
      {Compare::create_revision("cmp/a", R::equal, a->revision), true},
      {Compare::create_revision("cmp/missing", R::equal, 0), true},
      {Compare::mod_revision("cmp/a", R::less, a->revision + 1), true},
      {Compare::mod_revision("cmp/a", R::greater, a->revision), false},
      {Compare::value_of("cmp/a", R::equal, "x"), true},
      {Compare::value_of("cmp/a", R::greater, "w"), true},
      {Compare::value_of("cmp/a", R::less, "w"), false},
      {Compare::value_of("cmp/missing", R::not_equal, "x"), false},  // a missing key fails every value compare
      {Compare::lease("cmp/leased", R::equal, lease->id), true},
      {Compare::lease("cmp/a", R::equal, 0), true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    TxnRequest t;
    t.compares.push_back(cases[i].compare);
    auto r = run(store_->txn(t));
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().message();
    EXPECT_EQ(r->succeeded, cases[i].holds) << "case " << i;
  }

  // A successful branch applies all its ops at one revision; a range in it sees the earlier ops.
  TxnRequest t;
  t.compares.push_back(Compare::mod_revision("cmp/a", R::equal, a->revision));
  t.success.emplace_back(PutRequest{"cmp/p", "1", 0, false});
  t.success.emplace_back(PutRequest{"cmp/q", "2", 0, false});
  t.success.emplace_back(DeleteRequest{"cmp/a", {}, false});
  t.success.emplace_back(RangeRequest{"cmp/p"});
  auto r = run(store_->txn(t));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->succeeded);
  ASSERT_EQ(r->responses.size(), 4u);
  EXPECT_EQ(std::get<RangeResponse>(r->responses[3]).kvs.size(), 1u);
  EXPECT_EQ(get("cmp/p")->mod_revision, r->revision);
  EXPECT_EQ(get("cmp/q")->mod_revision, r->revision);
  EXPECT_FALSE(get("cmp/a").has_value());
}

TEST_P(Conformance, TxnOverTheLimitsIsAClearError) {
  TxnRequest ok;
  for (int i = 0; i < 128; ++i) ok.success.emplace_back(PutRequest{"lim/" + std::to_string(i), "v", 0, false});
  auto r = run(store_->txn(ok));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(prefix("lim/")->count, 128);

  TxnRequest many = ok;
  many.success.emplace_back(PutRequest{"lim/128", "v", 0, false});
  auto too_many = run(store_->txn(many));
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error(), Errc::too_many_ops);

  TxnRequest big;
  big.success.emplace_back(PutRequest{"lim/big", std::string(1600 * 1024, 'x'), 0, false});
  auto too_big = run(store_->txn(big));
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error(), Errc::request_too_large);

  TxnRequest dup;
  dup.success.emplace_back(PutRequest{"lim/d", "1", 0, false});
  dup.success.emplace_back(PutRequest{"lim/d", "2", 0, false});
  auto duplicate = run(store_->txn(dup));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error(), Errc::duplicate_key);
  EXPECT_FALSE(get("lim/d").has_value());
  EXPECT_FALSE(get("lim/128").has_value());
  EXPECT_FALSE(get("lim/big").has_value());
}

asio::awaitable<int> increment(MetaStore& store, std::string key, int times, std::atomic<int>& conflicts) {
  int done = 0;
  for (int attempt = 0; done < times && attempt < times * 1000; ++attempt) {
    auto current = co_await store.get(key);
    if (!current) continue;
    int64_t value = 0, mod = 0;
    if (*current) {
      value = std::stoll((*current)->value);
      mod = (*current)->mod_revision;
    }
    TxnRequest t;
    t.compares.push_back(Compare::mod_revision(key, Compare::Result::equal, mod));
    t.success.emplace_back(PutRequest{key, std::to_string(value + 1), 0, false});
    auto r = co_await store.txn(std::move(t));
    if (r && r->succeeded) {
      ++done;
    } else {
      ++conflicts;
    }
  }
  co_return done;
}

asio::awaitable<int> increment_all(MetaStore& store, int workers, int times, std::atomic<int>& conflicts) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::future<int>> futures;
  for (int w = 0; w < workers; ++w) {
    futures.push_back(asio::co_spawn(ex, increment(store, "cas/counter", times, conflicts), asio::use_future));
  }
  int total = 0;
  for (auto& f : futures) {
    while (f.wait_for(0s) != std::future_status::ready) co_await sleep_for(5ms);
    total += f.get();
  }
  co_return total;
}

TEST_P(Conformance, ConcurrentCompareAndSetIncrementsGiveTheExactCount) {
  constexpr int kWorkers = 8, kTimes = 25;
  std::atomic<int> conflicts{0};
  const int done = run(increment_all(*store_, kWorkers, kTimes, conflicts), 120s);
  EXPECT_EQ(done, kWorkers * kTimes);
  auto kv = get("cas/counter");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, std::to_string(kWorkers * kTimes));
  EXPECT_EQ(kv->version, kWorkers * kTimes);
  EXPECT_GT(conflicts.load(), 0) << "the workers never raced; the test proves nothing";
}

TEST_P(Conformance, LeaseKeysVanishWithinTtlPlusOneSecondOfTheLastKeepAlive) {
  constexpr int64_t kTtl = 2;
  auto lease = run(store_->lease_grant(kTtl));
  ASSERT_TRUE(lease.ok()) << lease.error().message();
  ASSERT_GE(lease->ttl, kTtl);
  ASSERT_TRUE(put("lease/a", "1", lease->id).ok());
  ASSERT_TRUE(put("lease/b", "2", lease->id).ok());
  ASSERT_TRUE(put("lease/plain", "3").ok());

  // Keep it alive past its TTL: the keys stay.
  Clock::time_point last_keepalive;
  for (int i = 0; i < 6; ++i) {
    last_keepalive = Clock::now();
    auto ttl = run(store_->lease_keepalive(lease->id));
    ASSERT_TRUE(ttl.ok()) << ttl.error().message();
    EXPECT_GE(*ttl, 1);
    run(sleep_for(500ms));
  }
  EXPECT_TRUE(get("lease/a").has_value());

  // Stop: gone within TTL + 1 s of the last keep-alive.
  const auto limit = last_keepalive + std::chrono::seconds(kTtl) + 1s;
  bool gone = false;
  while (Clock::now() < limit + 2s) {
    if (!get("lease/a").has_value() && !get("lease/b").has_value()) {
      gone = true;
      break;
    }
    run(sleep_for(50ms));
  }
  const auto when = Clock::now();
  ASSERT_TRUE(gone);
  EXPECT_LE(when, limit) << "keys vanished " << std::chrono::duration_cast<std::chrono::milliseconds>(when - limit).count()
                         << " ms after TTL + 1 s";
  EXPECT_TRUE(get("lease/plain").has_value());
  auto expired = run(store_->lease_keepalive(lease->id));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error(), Errc::lease_not_found);
}

TEST_P(Conformance, LeaseRevokeDeletesItsKeysAtOnce) {
  auto lease = run(store_->lease_grant(60));
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(put("revoke/a", "1", lease->id).ok());
  EXPECT_EQ(get("revoke/a")->lease, lease->id);
  EXPECT_FALSE(run(store_->lease_revoke(lease->id)));
  EXPECT_FALSE(get("revoke/a").has_value());
  EXPECT_EQ(run(store_->lease_revoke(lease->id)), Errc::lease_not_found);
  auto bad = put("revoke/b", "1", lease->id);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), Errc::lease_not_found);
}

TEST_P(Conformance, WatchFromARevisionDeliversEveryEventInOrder) {
  auto first = put("watch/a", "1");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(put("watch/b", "1").ok());
  ASSERT_TRUE(put("watch/a", "2").ok());
  ASSERT_TRUE(put("elsewhere", "x").ok());
  ASSERT_TRUE(run(store_->del(DeleteRequest{"watch/b", {}, false})).ok());

  auto watch = store_->watch(WatchRequest{"watch/", prefix_end("watch/"), first->revision, true});
  std::vector<Event> events;
  collect(*watch, 4, events);
  ASSERT_EQ(events.size(), 4u);  // exactly: nothing outside the prefix
  EXPECT_EQ(events[0].kv.key, "watch/a");
  EXPECT_FALSE(events[0].prev_kv.has_value());
  EXPECT_EQ(events[1].kv.key, "watch/b");
  EXPECT_EQ(events[2].kv.value, "2");
  ASSERT_TRUE(events[2].prev_kv.has_value());
  EXPECT_EQ(events[2].prev_kv->value, "1");
  EXPECT_EQ(events[3].type, Event::Type::del);
  EXPECT_EQ(events[3].kv.key, "watch/b");
  ASSERT_TRUE(events[3].prev_kv.has_value());
  for (size_t i = 1; i < events.size(); ++i) EXPECT_GT(events[i].kv.mod_revision, events[i - 1].kv.mod_revision);

  // Live events after the backlog.
  ASSERT_TRUE(put("watch/c", "live").ok());
  collect(*watch, 5, events);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[4].kv.value, "live");
  watch->cancel();
  auto after = run(watch->next());
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error(), Errc::cancelled);
}

TEST_P(Conformance, WatchDeliversEveryEventOfAMultiKeyTxn) {
  TxnRequest txn;
  for (int i = 0; i < 5; ++i) txn.success.push_back(PutRequest{"multi/" + std::to_string(i), "v", 0, false});
  auto r = run(store_->txn(txn));
  ASSERT_TRUE(r.ok() && r->succeeded);
  ASSERT_TRUE(put("multi/after", "x").ok());
  // From the txn's revision: a watch "from now" may start on the server after the writes (etcd opens it
  // asynchronously), and would then miss them.
  auto watch = store_->watch(WatchRequest{"multi/", prefix_end("multi/"), r->revision, false});
  std::vector<Event> events;
  collect(*watch, 6, events);
  ASSERT_EQ(events.size(), 6u);  // all five events of the txn's one revision, then the next revision
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(events[static_cast<size_t>(i)].kv.key, "multi/" + std::to_string(i));
    EXPECT_EQ(events[static_cast<size_t>(i)].kv.mod_revision, r->revision);
  }
  EXPECT_EQ(events[5].kv.key, "multi/after");
}

TEST_P(Conformance, CompactedRevisionIsReportedToReadsAndWatches) {
  auto first = put("compact/a", "1");
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(put("compact/a", std::to_string(i)).ok());
  auto last = put("compact/a", "last");
  ASSERT_TRUE(last.ok());
  EXPECT_FALSE(run(store_->compact(last->revision)));

  auto old = prefix("compact/", first->revision);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error(), Errc::compacted);

  auto watch = store_->watch(WatchRequest{"compact/", prefix_end("compact/"), first->revision, true});
  auto batch = run(watch->next(), 20s);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.error(), Errc::compacted);
  EXPECT_EQ(watch->compact_revision(), last->revision);

  // From the compaction revision on, it works.
  auto ok = store_->watch(WatchRequest{"compact/", prefix_end("compact/"), last->revision, true});
  std::vector<Event> events;
  collect(*ok, 1, events);
  EXPECT_EQ(events[0].kv.value, "last");
}

TEST_P(Conformance, WatchSeesEveryEventInOrderAcrossARestart) {
  constexpr int kHalf = 30;
  auto start = put("restart/start", "0");
  ASSERT_TRUE(start.ok());
  auto watch = store_->watch(WatchRequest{"restart/", prefix_end("restart/"), start->revision + 1, true});
  for (int i = 0; i < kHalf; ++i) ASSERT_TRUE(put("restart/k" + std::to_string(i % 7), std::to_string(i)).ok());
  std::vector<Event> events;
  collect(*watch, kHalf / 2, events);  // some delivered before the restart, the rest pending

  if (backend_->restart_keeps_store()) {
    backend_->restart();
  } else {
    // The embedded store restarts with its process: the owner resumes a new watch after its last event.
    collect(*watch, kHalf, events);
    const int64_t resume = events.back().kv.mod_revision + 1;
    watch.reset();
    store_.reset();
    store_ = backend_->open(io_.executor());
    ASSERT_NE(store_, nullptr);
    watch = store_->watch(WatchRequest{"restart/", prefix_end("restart/"), resume, true});
  }
  for (int i = kHalf; i < 2 * kHalf; ++i) {
    Result<PutResponse> r = Errc::unavailable;
    for (int attempt = 0; attempt < 50; ++attempt) {  // etcd may need a moment to elect itself again
      r = put("restart/k" + std::to_string(i % 7), std::to_string(i));
      if (r.ok()) break;
      run(sleep_for(100ms));
    }
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  collect(*watch, 2 * kHalf, events, 30s);
  ASSERT_EQ(events.size(), 2u * kHalf);
  for (int i = 0; i < 2 * kHalf; ++i) {
    EXPECT_EQ(events[i].kv.value, std::to_string(i)) << i;
    EXPECT_EQ(events[i].kv.mod_revision, start->revision + 1 + i) << i;
  }
}

#if defined(FLOE_META_BACKEND_EMBEDDED)
INSTANTIATE_TEST_SUITE_P(Embedded, Conformance, ::testing::Values(std::string("embedded")));
#endif
#if defined(FLOE_META_BACKEND_ETCD)
INSTANTIATE_TEST_SUITE_P(Etcd, Conformance, ::testing::Values(std::string("etcd")));
#endif

}  // namespace
}  // namespace floe::meta
