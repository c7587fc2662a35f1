// When the object WAL cuts objects and how it commits them (object_wal.h, "When an object is cut" and "Commits"):
// eager cuts on an idle store, their minimum spacing, the pure timer mode, and runs of written objects committed in
// one txn within the txn limits. file:// objects and the embedded metadata store, as in object_wal_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

#include "meta/embedded_store.h"
#include "meta/meta_store.h"
#include "objstore/file_store.h"
#include "stream/object_wal.h"
#include "stream/tests/object_wal_test_util.h"

namespace floe::stream {
namespace {

namespace fs = std::filesystem;

// Holds every PUT of a WAL object until open() (polling, so that no timer is shared across threads).
class GateStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  asio::awaitable<objstore::Result<objstore::PutInfo>> put_if_absent(std::string k, std::string d,
                                                                     Clock::time_point t) override {
    ++waiting_;
    asio::steady_timer poll(co_await asio::this_coro::executor);
    while (!open_.load()) {
      poll.expires_after(1ms);
      std::error_code ec;
      co_await poll.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    --waiting_;
    co_return co_await inner_.put_if_absent(std::move(k), std::move(d), t);
  }
  int waiting() const { return waiting_.load(); }
  void open() { open_ = true; }

 private:
  std::atomic<int> waiting_{0};
  std::atomic<bool> open_{false};
};

// Records, for each txn that moves a WAL cursor (a commit), how many objects/ keys it put.
class CommitCountingMeta final : public meta::MetaStore {
 public:
  explicit CommitCountingMeta(meta::MetaStore& inner) : inner_(inner) {}
  std::vector<size_t> commits() const {
    std::lock_guard l(mu_);
    return commits_;
  }

  asio::awaitable<meta::Result<meta::RangeResponse>> range(meta::RangeRequest r) override {
    co_return co_await inner_.range(std::move(r));
  }
  asio::awaitable<meta::Result<meta::PutResponse>> put(meta::PutRequest r) override {
    co_return co_await inner_.put(std::move(r));
  }
  asio::awaitable<meta::Result<meta::DeleteResponse>> del(meta::DeleteRequest r) override {
    co_return co_await inner_.del(std::move(r));
  }
  asio::awaitable<meta::Result<meta::TxnResponse>> txn(meta::TxnRequest r) override {
    size_t objects = 0;
    bool cursor = false;
    for (const auto& op : r.success) {
      const auto* p = std::get_if<meta::PutRequest>(&op);
      if (p == nullptr) continue;
      if (p->key.ends_with("/cursor")) cursor = true;
      if (p->key.find("/objects/") != std::string::npos) ++objects;
    }
    auto result = co_await inner_.txn(std::move(r));
    if (cursor && result && result->succeeded) {
      std::lock_guard l(mu_);
      commits_.push_back(objects);
    }
    co_return result;
  }
  asio::awaitable<meta::Result<meta::LeaseGrantResponse>> lease_grant(int64_t ttl, int64_t id) override {
    co_return co_await inner_.lease_grant(ttl, id);
  }
  asio::awaitable<meta::Result<int64_t>> lease_keepalive(int64_t id) override {
    co_return co_await inner_.lease_keepalive(id);
  }
  asio::awaitable<std::error_code> lease_revoke(int64_t id) override { co_return co_await inner_.lease_revoke(id); }
  asio::awaitable<std::error_code> compact(int64_t rev) override { co_return co_await inner_.compact(rev); }
  std::unique_ptr<meta::Watch> watch(meta::WatchRequest r) override { return inner_.watch(std::move(r)); }
  void shutdown() override {}

 private:
  meta::MetaStore& inner_;
  mutable std::mutex mu_;
  std::vector<size_t> commits_;
};

// Acks seen by a test: latency per offset, failures.
struct Acks {
  std::mutex mu;
  std::condition_variable cv;
  std::map<int64_t, Clock::duration> latency;
  size_t failed = 0;
  bool wait(size_t n, std::chrono::milliseconds limit) {
    std::unique_lock l(mu);
    return cv.wait_for(l, limit, [&] { return latency.size() + failed >= n; });
  }
};

void append_timed(ObjectWal& wal, Acks& acks, int64_t off) {
  const auto t0 = Clock::now();
  WalAppend a{1, off, off, 0, Bytes(100, static_cast<uint8_t>(off))};
  wal.append(std::move(a), [&acks, off, t0](std::error_code ec, uint64_t) {
    std::lock_guard l(acks.mu);
    if (ec) {
      ++acks.failed;
    } else {
      acks.latency[off] = Clock::now() - t0;
    }
    acks.cv.notify_all();
  });
}

class ObjectWalCutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("floe-objwal-cut-" + std::to_string(getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto files = objstore::FileStore::open((root_ / "bucket").string());
    ASSERT_TRUE(files.ok());
    files_ = std::shared_ptr<objstore::ObjectStore>(std::move(files.value));
    meta::EmbeddedConfig mc;
    mc.dir = (root_ / "meta").string();
    auto m = meta::EmbeddedStore::open(io_.io.get_executor(), mc);
    ASSERT_TRUE(m.ok());
    meta_ = std::move(m.value());
  }
  void TearDown() override {
    if (meta_) meta_->shutdown();
    fs::remove_all(root_);
  }
  ObjectWalOptions options(uint64_t epoch) {
    ObjectWalOptions o;
    o.broker_id = 9;
    o.epoch = epoch;
    o.retry_backoff = 2ms;
    return o;
  }
  std::unique_ptr<ObjectWal> open_wal(ObjectWalOptions o, objstore::ObjectStore& objects, meta::MetaStore& meta) {
    auto r = run_on(io_.io, ObjectWal::open(io_.io.get_executor(), o, objects, meta));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r.value()) : nullptr;
  }
  std::optional<std::string> meta_get(const std::string& key) {
    auto r = run_on(io_.io, meta_->get(key));
    if (!r.ok() || !r.value()) return std::nullopt;
    return r.value()->value;
  }
  // Holds 8 PUTs (one object each), lets them finish together and returns the objects per commit txn.
  std::vector<size_t> commit_eight_together(size_t commit_max_objects) {
    GateStore gate(*files_);
    CommitCountingMeta counting(*meta_);
    auto o = options(300 + commit_max_objects);
    o.flush_eager = false;
    o.flush_interval = 10s;  // no timer cuts; commits after the first one wait for close() (or a full batch)
    o.inflight = 8;
    o.commit_max_objects = commit_max_objects;
    o.check_conditional_put = false;  // the gate would hold the self-test's PUTs too
    auto wal = open_wal(o, gate, counting);
    EXPECT_TRUE(wal);
    if (!wal) return {};
    Acks acks;
    for (int64_t off = 0; off < 8; ++off) {
      append_timed(*wal, acks, off);
      wal->expedite();  // one object per append
      for (int i = 0; i < 1000 && gate.waiting() < off + 1; ++i) std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(gate.waiting(), 8) << "each append is its own object, all 8 PUTs held";
    gate.open();
    EXPECT_TRUE(acks.wait(8, 10s));
    run_on(io_.io, wal->close());
    EXPECT_EQ(acks.failed, 0u);
    const auto st = wal->stats();
    EXPECT_EQ(st.objects, 8u);
    EXPECT_EQ(st.committed_seq, 8u);
    EXPECT_EQ(st.committed_objects, 8u);
    const auto commits = counting.commits();
    EXPECT_EQ(st.commit_txns, commits.size());
    // Every object is committed under its key, and the cursor names the last one.
    for (uint64_t seq = 1; seq <= 8; ++seq) {
      EXPECT_TRUE(meta_get(wal->keys().commit_key(wal->keys().object_key(seq))).has_value()) << seq;
    }
    EXPECT_EQ(meta_get(wal->keys().cursor_key()), WalKeys::seq_name(8));
    return commits;
  }

  fs::path root_;
  IoThread io_;  // outlives the stores (see object_wal_test.cc)
  std::shared_ptr<objstore::ObjectStore> files_;
  std::unique_ptr<meta::MetaStore> meta_;
};

// Eager mode: an append to an idle WAL (no PUT in flight) is cut at once, not at the 500 ms flush tick.
TEST_F(ObjectWalCutTest, IdleAppendIsAckedLongBeforeTheFlushInterval) {
  auto o = options(100);
  o.flush_interval = 500ms;
  o.flush_eager = true;
  o.flush_min_spacing = 5ms;
  auto wal = open_wal(o, *files_, *meta_);
  ASSERT_TRUE(wal);
  Acks acks;
  for (int64_t off = 0; off < 5; ++off) {
    append_timed(*wal, acks, off);
    ASSERT_TRUE(acks.wait(static_cast<size_t>(off) + 1, 5s));
    std::this_thread::sleep_for(20ms);  // idle again: the PUT finished, past the spacing
  }
  run_on(io_.io, wal->close());
  EXPECT_EQ(acks.failed, 0u);
  for (const auto& [off, d] : acks.latency) EXPECT_LT(d, 100ms) << "offset " << off;
  const auto st = wal->stats();
  EXPECT_EQ(st.objects, 5u);
  EXPECT_EQ(st.cuts_idle, 5u);
  EXPECT_EQ(st.cuts_timer, 0u);
  EXPECT_EQ(st.committed_seq, 5u);  // close() commits what the 500 ms commit spacing held back
}

// Eager off: the same append waits for the flush tick (500 ms after open).
TEST_F(ObjectWalCutTest, WithoutEagerAnAppendWaitsForTheTimer) {
  auto o = options(101);
  o.flush_interval = 500ms;
  o.flush_eager = false;
  auto wal = open_wal(o, *files_, *meta_);
  ASSERT_TRUE(wal);
  Acks acks;
  append_timed(*wal, acks, 0);
  ASSERT_TRUE(acks.wait(1, 5s));
  run_on(io_.io, wal->close());
  EXPECT_EQ(acks.failed, 0u);
  EXPECT_GE(acks.latency[0], 300ms) << "cut before the tick";
  const auto st = wal->stats();
  EXPECT_EQ(st.objects, 1u);
  EXPECT_EQ(st.cuts_timer, 1u);
  EXPECT_EQ(st.cuts_idle, 0u);
}

// The minimum spacing bounds the objects of a burst of single appends on a fast store: at most one per
// flush_min_spacing (+1 for the first), whatever the append rate.
TEST_F(ObjectWalCutTest, MinSpacingBoundsTheObjectsOfABurst) {
  auto o = options(102);
  o.flush_interval = 10s;  // no timer cuts
  o.flush_eager = true;
  o.flush_min_spacing = 40ms;
  auto wal = open_wal(o, *files_, *meta_);
  ASSERT_TRUE(wal);
  Acks acks;
  const int n = 200;
  const auto start = Clock::now();
  for (int64_t off = 0; off < n; ++off) {
    append_timed(*wal, acks, off);
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_TRUE(acks.wait(n, 10s));
  const auto elapsed = Clock::now() - start;
  run_on(io_.io, wal->close());
  EXPECT_EQ(acks.failed, 0u);
  const auto st = wal->stats();
  const auto bound = static_cast<uint64_t>(elapsed / o.flush_min_spacing) + 1;
  EXPECT_LE(st.objects, bound) << "objects " << st.objects << " in " << (elapsed / 1ms) << " ms";
  EXPECT_GE(st.objects, 3u) << "eager cuts happened";
  EXPECT_EQ(st.cuts_timer, 0u);
  // Every ack came within about one spacing plus a PUT, far below the 10 s timer.
  for (const auto& [off, d] : acks.latency) EXPECT_LT(d, 1s) << "offset " << off;
}

// PUTs that finish together are committed in one txn (the first ack may commit alone: the commit spacing starts
// there; the rest wait for the spacing, here cut short by close()), and never more than commit_max_objects at once.
TEST_F(ObjectWalCutTest, PutsFinishingTogetherAreCommittedInOneTxn) {
  const auto commits = commit_eight_together(127);
  ASSERT_FALSE(commits.empty());
  EXPECT_LE(commits.size(), 2u) << "8 objects written together";
  size_t sum = 0;
  for (size_t c : commits) sum += c;
  EXPECT_EQ(sum, 8u);
}

TEST_F(ObjectWalCutTest, CommitTxnsRespectTheObjectLimit) {
  const auto commits = commit_eight_together(3);
  ASSERT_FALSE(commits.empty());
  EXPECT_LE(*std::max_element(commits.begin(), commits.end()), 3u);
  EXPECT_GE(commits.size(), 3u);
}

// expedite() (a release waiting for its data) cuts and commits at once, in pure timer mode too.
TEST_F(ObjectWalCutTest, ExpediteCutsAndCommitsAtOnce) {
  auto o = options(103);
  o.flush_interval = 5s;
  o.flush_eager = false;
  auto wal = open_wal(o, *files_, *meta_);
  ASSERT_TRUE(wal);
  Acks acks;
  append_timed(*wal, acks, 0);
  wal->expedite();
  ASSERT_TRUE(acks.wait(1, 2s));
  for (int i = 0; i < 200 && wal->stats().committed_seq < 1; ++i) {
    wal->expedite();
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(wal->stats().committed_seq, 1u);
  EXPECT_EQ(wal->stats().cuts_request, 1u);
  run_on(io_.io, wal->close());
}

}  // namespace
}  // namespace floe::stream
