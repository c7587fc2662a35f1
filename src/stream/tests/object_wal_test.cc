// The object WAL and the seal (object_wal.h, seal.h) on real parts: file:// objects (whose put_if_absent is atomic
// across threads and processes), the embedded metadata store, FaultStore for latency, ambiguous errors and outages.
// Each test names the broken variants of /work/shared/models/seal.pml it rules out.
#include "stream/object_wal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "meta/embedded_store.h"
#include "meta/meta_store.h"
#include "objstore/fault_store.h"
#include "objstore/file_store.h"
#include "stream/seal.h"
#include "stream/tests/object_wal_test_util.h"

namespace floe::stream {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using objstore::Clock;

// Counts put_if_absent calls in flight (the most at once).
class CountingStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  asio::awaitable<objstore::Result<objstore::PutInfo>> put_if_absent(std::string k, std::string d,
                                                                     Clock::time_point t) override {
    const int now = ++in_flight_;
    int seen = max_.load();
    while (now > seen && !max_.compare_exchange_weak(seen, now)) {
    }
    auto r = co_await inner_.put_if_absent(std::move(k), std::move(d), t);
    --in_flight_;
    co_return r;
  }
  int max_in_flight() const { return max_.load(); }

 private:
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_{0};
};

// A store that ignores If-None-Match (like moto under races, or a store without conditional writes).
class UnconditionalStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  asio::awaitable<objstore::Result<objstore::PutInfo>> put_if_absent(std::string k, std::string d,
                                                                     Clock::time_point t) override {
    co_return co_await inner_.put(std::move(k), std::move(d), t);
  }
};

// Metadata that "crashes" (every call fails with unavailable, nothing applied) once `txn_budget` txns have run, or
// at the first txn that writes the key `die_on_key`. Stands in for a sealer process dying mid-seal.
class CrashingMeta final : public meta::MetaStore {
 public:
  CrashingMeta(meta::MetaStore& inner, int txn_budget, std::string die_on_key = {})
      : inner_(inner), budget_(txn_budget), die_on_key_(std::move(die_on_key)) {}
  bool dead() const { return dead_.load(); }

  asio::awaitable<meta::Result<meta::RangeResponse>> range(meta::RangeRequest r) override {
    if (dead_) co_return meta::Errc::unavailable;
    co_return co_await inner_.range(std::move(r));
  }
  asio::awaitable<meta::Result<meta::PutResponse>> put(meta::PutRequest r) override {
    if (dead_) co_return meta::Errc::unavailable;
    co_return co_await inner_.put(std::move(r));
  }
  asio::awaitable<meta::Result<meta::DeleteResponse>> del(meta::DeleteRequest r) override {
    if (dead_) co_return meta::Errc::unavailable;
    co_return co_await inner_.del(std::move(r));
  }
  asio::awaitable<meta::Result<meta::TxnResponse>> txn(meta::TxnRequest r) override {
    if (!die_on_key_.empty()) {
      for (const auto& op : r.success) {
        if (const auto* p = std::get_if<meta::PutRequest>(&op); p && p->key == die_on_key_) {
          dead_ = true;
        }
      }
    }
    if (budget_-- <= 0) dead_ = true;
    if (dead_) co_return meta::Errc::unavailable;
    co_return co_await inner_.txn(std::move(r));
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
  std::atomic<int> budget_;
  std::string die_on_key_;
  std::atomic<bool> dead_{false};
};

// Runs `f` once: at run() or at the end of the scope.
class ScopeExit {
 public:
  explicit ScopeExit(std::function<void()> f) : f_(std::move(f)) {}
  ~ScopeExit() { run(); }
  void run() {
    if (f_) std::exchange(f_, nullptr)();
  }

 private:
  std::function<void()> f_;
};

// What a producer saw: per offset, acked or failed (with the error).
struct Outcomes {
  std::mutex mu;
  std::condition_variable cv;
  std::map<int64_t, uint64_t> acked;  // offset -> seq
  std::map<int64_t, std::error_code> failed;
  std::vector<uint64_t> ack_order;  // seqs in callback order
  size_t answered() {
    std::lock_guard l(mu);
    return acked.size() + failed.size();
  }
  bool wait_answered(size_t n, std::chrono::milliseconds limit) {
    std::unique_lock l(mu);
    return cv.wait_for(l, limit, [&] { return acked.size() + failed.size() >= n; });
  }
};

Bytes payload(int64_t offset) {
  Bytes b(16 + static_cast<size_t>(offset % 200));
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(offset * 31 + static_cast<int64_t>(i));
  return b;
}

// Appends offset `off` of `stream` (one record's worth of bytes), recording the outcome.
bool append_one(ObjectWal& wal, Outcomes& out, uint64_t stream, int64_t off) {
  WalAppend a{stream, off, off, 1000 + off, payload(off)};
  return wal.append(std::move(a), [&out, off](std::error_code ec, uint64_t seq) {
    std::lock_guard l(out.mu);
    if (ec) {
      out.failed[off] = ec;
    } else {
      out.acked[off] = seq;
      out.ack_order.push_back(seq);
    }
    out.cv.notify_all();
  });
}

// Offsets of `stream` covered by the recovered ranges (each object's blocks, checked against the bytes in store).
std::set<int64_t> covered(const std::vector<ObjectRanges>& recovered, uint64_t stream) {
  std::set<int64_t> out;
  for (const auto& r : recovered) {
    for (const auto& b : r.blocks) {
      if (b.stream_id != stream) continue;
      for (int64_t o = b.first_offset; o <= b.last_offset; ++o) EXPECT_TRUE(out.insert(o).second) << "twice: " << o;
    }
  }
  return out;
}

class ObjectWalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("floe-objwal-" + std::to_string(getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto files = objstore::FileStore::open((root_ / "bucket").string());
    ASSERT_TRUE(files.ok());
    files_ = std::shared_ptr<objstore::ObjectStore>(std::move(files.value));
    meta::EmbeddedConfig mc;
    mc.dir = (root_ / "meta").string();
    auto m = meta::EmbeddedStore::open(main_.io.get_executor(), mc);
    ASSERT_TRUE(m.ok());
    meta_ = std::move(m.value());
  }
  void TearDown() override {
    if (meta_) meta_->shutdown();
    fs::remove_all(root_);
  }

  ObjectWalOptions options(uint64_t epoch) {
    ObjectWalOptions o;
    o.broker_id = 7;
    o.epoch = epoch;
    o.flush_interval = 2ms;
    o.retry_backoff = 2ms;
    return o;
  }
  SealOptions seal_options(uint64_t epoch, std::string id = "ctl") {
    SealOptions s;
    s.keys = WalKeys{"/floe/", "", 7, epoch};
    s.sealer_id = std::move(id);
    s.op_timeout = 5s;
    s.retry_backoff = 2ms;
    return s;
  }
  std::unique_ptr<ObjectWal> open_wal(IoThread& t, ObjectWalOptions o, objstore::ObjectStore& objects,
                                      meta::MetaStore& meta) {
    auto r = run_on(t.io, ObjectWal::open(t.io.get_executor(), o, objects, meta));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r.value()) : nullptr;
  }
  void close_wal(IoThread& t, ObjectWal& wal) { run_on(t.io, wal.close()); }
  Result<SealResult> seal(IoThread& t, SealOptions s, meta::MetaStore* meta = nullptr,
                          objstore::ObjectStore* objects = nullptr) {
    return run_on(t.io, seal_epoch(objects ? *objects : *files_, meta ? *meta : *meta_, std::move(s)));
  }
  std::optional<std::string> meta_get(const std::string& key) {
    auto r = run_on(main_.io, meta_->get(key));
    EXPECT_TRUE(r.ok());
    if (!r.ok() || !r.value()) return std::nullopt;
    return r.value()->value;
  }
  std::optional<std::string> object(const std::string& key) {
    auto r = run_on(main_.io, files_->get(key, std::nullopt, Clock::now() + 5s));
    if (!r.ok()) return std::nullopt;
    return r.value;
  }
  std::optional<WalObjectHeader> header_of(const std::string& key) {
    auto bytes = object(key);
    if (!bytes) return std::nullopt;
    auto h = parse_wal_object(ByteSpan(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()), key);
    EXPECT_TRUE(h.ok());
    if (!h.ok()) return std::nullopt;
    return *h;
  }
  // Keys of committed objects of the epoch (the objects/ keys in metadata).
  std::vector<std::string> committed_keys(const WalKeys& k) {
    meta::RangeRequest req;
    req.key = k.commit_prefix();
    req.range_end = meta::prefix_end(req.key);
    req.keys_only = true;
    auto r = run_on(main_.io, meta_->range(req));
    EXPECT_TRUE(r.ok());
    std::vector<std::string> out;
    if (r.ok())
      for (auto& kv : r->kvs) out.push_back(kv.key);
    return out;
  }
  // The structural checks every seal must pass (properties 2-4 of the model): the committed objects are exactly
  // seqs 1..seal-1, the cursor is seal-1, the seal key holds the seal, the marker exists and is a marker.
  void check_sealed(const WalKeys& k, const SealResult& r) {
    ASSERT_GE(r.seal_seq, 1u);
    EXPECT_EQ(meta_get(k.seal_key()), WalKeys::seq_name(r.seal_seq));
    if (r.seal_seq > 1) {
      EXPECT_EQ(meta_get(k.cursor_key()), WalKeys::seq_name(r.seal_seq - 1));
    } else {
      EXPECT_FALSE(meta_get(k.cursor_key()).has_value());
    }
    auto keys = committed_keys(k);
    ASSERT_EQ(keys.size(), r.seal_seq - 1);
    for (uint64_t s = 1; s < r.seal_seq; ++s) EXPECT_EQ(keys[s - 1], k.commit_key(k.object_key(s)));
    auto marker = header_of(k.object_key(r.seal_seq));
    ASSERT_TRUE(marker.has_value()) << "the seal marker is missing";
    EXPECT_EQ(marker->kind, WalObjectHeader::Kind::seal);
    EXPECT_EQ(r.recovered.size(), r.seal_seq - 1);
  }

  fs::path root_;
  // The io threads outlive the stores (declared first, destroyed last): objstore's BlockingPool touches the
  // caller's io_context (work guard reset) just after posting a completion, so an io_context must not be destroyed
  // while the FileStore can still complete an operation for it.
  IoThread main_;
  IoThread w_;   // the writer's
  IoThread z_;   // the zombie's
  IoThread s2_;  // a second sealer's
  std::shared_ptr<objstore::ObjectStore> files_;
  std::unique_ptr<meta::MetaStore> meta_;
};

// Round trip: appends of 3 streams become objects whose blocks hold exactly the appended bytes, are committed
// (cursor + one key per object) and the broker's next start (self-seal, no guard) recovers all of them.
TEST_F(ObjectWalTest, RoundTrip) {
  IoThread& w = w_;
  auto wal = open_wal(w, options(100), *files_, *meta_);
  ASSERT_TRUE(wal);
  Outcomes out;
  std::map<int64_t, uint64_t> stream_of;
  int64_t next[3] = {0, 0, 0};
  for (int i = 0; i < 90; ++i) {
    const uint64_t s = static_cast<uint64_t>(i % 3) + 1;
    // Distinct offsets across streams so one Outcomes map serves all: stream s uses offsets s*1000 + n.
    const int64_t off = static_cast<int64_t>(s) * 1000 + next[s - 1]++;
    stream_of[off] = s;
    ASSERT_TRUE(append_one(*wal, out, s, off));
    if (i % 20 == 0) std::this_thread::sleep_for(3ms);
  }
  ASSERT_TRUE(out.wait_answered(90, 10s));
  EXPECT_TRUE(out.failed.empty());
  close_wal(w, *wal);
  const auto st = wal->stats();
  EXPECT_GE(st.objects, 2u);
  EXPECT_EQ(st.committed_seq, st.objects);
  EXPECT_EQ(meta_get(wal->keys().cursor_key()), WalKeys::seq_name(st.objects));
  // Every object: a data object with our token, blocks sorted, bytes as appended.
  std::set<int64_t> seen;
  for (uint64_t seq = 1; seq <= st.objects; ++seq) {
    const std::string key = wal->keys().object_key(seq);
    auto bytes = object(key);
    ASSERT_TRUE(bytes.has_value());
    ByteSpan span(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    auto h = parse_wal_object(span, key);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->kind, WalObjectHeader::Kind::data);
    EXPECT_EQ(h->token, wal->token());
    EXPECT_EQ(h->seq, seq);
    auto committed = meta_get(wal->keys().commit_key(key));
    ASSERT_TRUE(committed.has_value());
    auto ranges = decode_object_ranges(key, *committed);
    ASSERT_TRUE(ranges.ok());
    for (const BlockInfo& b : ranges->blocks) {
      ASSERT_NE(b.stream_id, kWalHeaderStream);
      Bytes expect;
      for (int64_t o = b.first_offset; o <= b.last_offset; ++o) {
        EXPECT_EQ(stream_of[o], b.stream_id);
        EXPECT_TRUE(seen.insert(o).second);
        EXPECT_EQ(out.acked[o], seq);
        Bytes p = payload(o);
        expect.insert(expect.end(), p.begin(), p.end());
      }
      ASSERT_EQ(b.size, expect.size());
      EXPECT_TRUE(std::equal(expect.begin(), expect.end(), span.begin() + static_cast<std::ptrdiff_t>(b.position)));
    }
  }
  EXPECT_EQ(seen.size(), 90u);
  // The next start seals the old epoch: everything was committed, so the seal is the next seq.
  auto r = seal(main_, seal_options(100, "restart"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->seal_seq, st.objects + 1);
  EXPECT_EQ(r->committed_by_sealer, 0u);
  check_sealed(wal->keys(), *r);
  // A second open of the same epoch is refused: an epoch is written once.
  auto again = run_on(w.io, ObjectWal::open(w.io.get_executor(), options(100), *files_, *meta_));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, make_error_code(WalErrc::epoch_in_use));
}

// Rules out V_ACKOOO (4): with several PUTs in flight and random PUT latency, acks come strictly in seq order and
// only once the object and every earlier one are in the store.
TEST_F(ObjectWalTest, AcksInSeqOrderWithSeveralPutsInFlight) {
  objstore::FaultConfig fc;
  fc.delay(objstore::Op::put, objstore::Latency::lognormal(4ms, 40ms));
  auto faulty = std::make_shared<objstore::FaultStore>(files_, fc);
  CountingStore counting(*faulty);
  IoThread& w = w_;
  auto o = options(101);
  o.flush_interval = 1ms;
  o.inflight = 4;
  o.check_conditional_put = true;
  auto wal = open_wal(w, o, counting, *meta_);
  ASSERT_TRUE(wal);
  Outcomes out;
  std::atomic<int> violations{0};
  const int n = 300;
  for (int64_t off = 0; off < n; ++off) {
    WalAppend a{1, off, off, 0, payload(off)};
    wal->append(std::move(a), [&, off](std::error_code ec, uint64_t seq) {
      // At ack time every object up to seq must exist.
      for (uint64_t s = 1; s <= seq; ++s) {
        auto p = static_cast<objstore::FileStore&>(*files_).path_of(wal->keys().object_key(s));
        if (!fs::exists(p)) ++violations;
      }
      std::lock_guard l(out.mu);
      if (ec) {
        out.failed[off] = ec;
      } else {
        out.acked[off] = seq;
        out.ack_order.push_back(seq);
      }
      out.cv.notify_all();
    });
    if (off % 10 == 0) std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(out.wait_answered(n, 20s));
  close_wal(w, *wal);
  EXPECT_TRUE(out.failed.empty());
  EXPECT_EQ(violations.load(), 0);
  EXPECT_TRUE(std::is_sorted(out.ack_order.begin(), out.ack_order.end()));
  // Offsets in seq order too (offset order = append order = seq order).
  uint64_t prev = 0;
  for (auto& [off, seq] : out.acked) {
    EXPECT_GE(seq, prev);
    prev = seq;
  }
  EXPECT_GE(counting.max_in_flight(), 2) << "the test needs several PUTs in flight";
  EXPECT_LE(counting.max_in_flight(), 4 + 1);  // the WAL's bound (+1: the start-up self-test is not concurrent)
}

// Rules out V_412OK (3): an ambiguous PUT (it landed, the answer was lost) is retried with identical bytes; the
// "not created" answer is resolved by reading the key back and finding our own token (never assumed).
TEST_F(ObjectWalTest, AmbiguousPutResolvedByReadBackOfWriterToken) {
  objstore::FaultConfig fc;
  fc.ambiguous(objstore::Op::put, 0.5).seed = 42;
  auto faulty = std::make_shared<objstore::FaultStore>(files_, fc);
  IoThread& w = w_;
  auto o = options(102);
  o.check_conditional_put = false;  // the self-test would see the injected errors
  auto wal = open_wal(w, o, *faulty, *meta_);
  ASSERT_TRUE(wal);
  Outcomes out;
  for (int64_t off = 0; off < 60; ++off) {
    ASSERT_TRUE(append_one(*wal, out, 1, off));
    if (off % 3 == 0) std::this_thread::sleep_for(3ms);
  }
  ASSERT_TRUE(out.wait_answered(60, 20s));
  close_wal(w, *wal);
  EXPECT_TRUE(out.failed.empty());
  const auto st = wal->stats();
  EXPECT_GT(st.readback_ours, 0u);
  EXPECT_EQ(st.readbacks, st.readback_ours);
  EXPECT_EQ(st.committed_seq, st.objects);
  EXPECT_FALSE(wal->failure());
}

// Hedged PUTs (hedge_after): every PUT is slower than the hedge, so each object gets a twin with the identical
// bytes; one of the two creates the object, the other's "not created" is ignored or resolved by the read-back
// (ours). Every append is acked once, in seq order, every object is committed and holds our token, and close waits
// for the twins still running.
TEST_F(ObjectWalTest, HedgedPutsWriteEachObjectOnceWithOurBytes) {
  objstore::FaultConfig fc;
  fc.delay(objstore::Op::put, objstore::Latency::constant(40ms));
  auto faulty = std::make_shared<objstore::FaultStore>(files_, fc);
  IoThread& w = w_;
  auto o = options(103);
  o.hedge_after = 5ms;
  o.check_conditional_put = false;
  auto wal = open_wal(w, o, *faulty, *meta_);
  ASSERT_TRUE(wal);
  Outcomes out;
  for (int64_t off = 0; off < 40; ++off) {
    ASSERT_TRUE(append_one(*wal, out, 1, off));
    if (off % 4 == 0) std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(out.wait_answered(40, 20s));
  close_wal(w, *wal);
  EXPECT_TRUE(out.failed.empty());
  EXPECT_TRUE(std::is_sorted(out.ack_order.begin(), out.ack_order.end()));
  const auto st = wal->stats();
  EXPECT_GE(st.put_hedges, st.objects) << "every PUT outlasted the hedge delay";
  EXPECT_EQ(st.put_attempts, st.objects + st.put_retries + st.put_hedges);
  EXPECT_EQ(st.committed_seq, st.objects);
  EXPECT_FALSE(wal->failure());
  for (uint64_t seq = 1; seq <= st.objects; ++seq) {
    auto h = header_of(wal->keys().object_key(seq));
    ASSERT_TRUE(h.has_value()) << "seq " << seq;
    EXPECT_EQ(h->token, wal->token());
    EXPECT_EQ(h->kind, WalObjectHeader::Kind::data);
  }
}

// Rules out V_412OK (3) and V_NOPUTSEAL (13) from the writer's side: "not created" on a key that holds a seal marker
// means sealed: the appends in it and after fail as not written, never acked, and the WAL stops.
TEST_F(ObjectWalTest, NotCreatedOnASealMarkerStopsTheWriter) {
  IoThread& w = w_;
  auto wal = open_wal(w, options(103), *files_, *meta_);
  ASSERT_TRUE(wal);
  Outcomes out;
  ASSERT_TRUE(append_one(*wal, out, 1, 0));
  ASSERT_TRUE(out.wait_answered(1, 5s));
  const uint64_t next = wal->stats().objects + 1;
  Bytes marker = build_seal_marker(7, 103, next, "other-sealer");
  auto put = run_on(main_.io, files_->put_if_absent(wal->keys().object_key(next),
                                                    std::string(marker.begin(), marker.end()), Clock::now() + 5s));
  ASSERT_TRUE(put.ok() && put.value.created);
  ASSERT_TRUE(append_one(*wal, out, 1, 1));
  ASSERT_TRUE(out.wait_answered(2, 5s));
  {
    std::lock_guard l(out.mu);
    ASSERT_EQ(out.failed.count(1), 1u);
    EXPECT_EQ(out.failed[1], make_error_code(WalErrc::not_written));
    EXPECT_EQ(out.acked.count(1), 0u);
  }
  EXPECT_EQ(wal->failure(), make_error_code(WalErrc::not_written));
  EXPECT_FALSE(append_one(*wal, out, 1, 2));  // stopped: refused at once
  close_wal(w, *wal);
  // The marker is untouched.
  auto h = header_of(wal->keys().object_key(next));
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->kind, WalObjectHeader::Kind::seal);
}

// Rules out V_SKIP (2): an outage past the back-pressure bound fails the unacked appends with an ambiguous error,
// records "sealing E" and stops: no later seq is ever acked, nothing is skipped, and the WAL does not run the rest
// of the seal itself (no marker, no seal record). The controller's seal then recovers everything acked.
TEST_F(ObjectWalTest, OutageFailsAmbiguouslyAndRecordsSealing) {
  auto faulty = std::make_shared<objstore::FaultStore>(files_, objstore::FaultConfig{});
  IoThread& w = w_;
  auto o = options(104);
  o.put_timeout = 300ms;
  o.attempt_timeout = 50ms;
  auto wal = open_wal(w, o, *faulty, *meta_);
  ASSERT_TRUE(wal);
  Outcomes out;
  for (int64_t off = 0; off < 10; ++off) ASSERT_TRUE(append_one(*wal, out, 1, off));
  ASSERT_TRUE(out.wait_answered(10, 5s));
  ASSERT_TRUE(out.failed.empty());
  faulty->set_outage(true);
  const auto t0 = Clock::now();
  for (int64_t off = 10; off < 30; ++off) {
    append_one(*wal, out, 1, off);
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(out.wait_answered(30, 10s));
  EXPECT_LT(Clock::now() - t0, 3s);
  {
    std::lock_guard l(out.mu);
    EXPECT_EQ(out.acked.size(), 10u);
    bool some_ambiguous = false;
    for (auto& [off, ec] : out.failed) {
      EXPECT_GE(off, 10);
      EXPECT_TRUE(ec == make_error_code(WalErrc::ambiguous) || ec == make_error_code(WalErrc::not_written) ||
                  ec == make_error_code(WalErrc::closed))
          << ec.message();
      some_ambiguous |= ec == make_error_code(WalErrc::ambiguous);
    }
    EXPECT_TRUE(some_ambiguous);
  }
  close_wal(w, *wal);
  EXPECT_EQ(wal->failure(), make_error_code(WalErrc::ambiguous));
  EXPECT_TRUE(meta_get(wal->keys().sealing_key()).has_value()) << "the WAL must record sealing of its epoch";
  EXPECT_FALSE(meta_get(wal->keys().seal_key()).has_value()) << "the WAL must not seal its own epoch";
  faulty->set_outage(false);
  auto r = seal(main_, seal_options(104));
  ASSERT_TRUE(r.ok()) << r.error().message;
  check_sealed(wal->keys(), *r);
  auto cov = covered(r->recovered, 1);
  for (auto& [off, seq] : out.acked) EXPECT_TRUE(cov.count(off)) << "acked offset " << off << " lost";
}

// Rules out V_NOSEALCMP (9) and V_NOGUARDS (11): once "sealing E" is recorded the writer's commit txn fails (the
// WAL stops, the cursor does not move); the seal commits the acked object instead.
TEST_F(ObjectWalTest, WriterCommitAfterSealingRecordedFails) {
  IoThread& w = w_;
  auto wal = open_wal(w, options(105), *files_, *meta_);
  ASSERT_TRUE(wal);
  Outcomes out;
  ASSERT_TRUE(append_one(*wal, out, 1, 0));
  ASSERT_TRUE(out.wait_answered(1, 5s));
  for (int i = 0; i < 200 && wal->stats().committed_seq < 1; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(wal->stats().committed_seq, 1u);
  auto put = run_on(main_.io, meta_->put(meta::PutRequest{wal->keys().sealing_key(), "controller", 0, false}));
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE(append_one(*wal, out, 1, 1));  // PUT lands (acked), commit refused
  ASSERT_TRUE(out.wait_answered(2, 5s));
  for (int i = 0; i < 400 && !wal->failure(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(wal->failure());
  close_wal(w, *wal);
  EXPECT_EQ(wal->stats().committed_seq, 1u);
  EXPECT_EQ(meta_get(wal->keys().cursor_key()), WalKeys::seq_name(1));
  EXPECT_FALSE(meta_get(wal->keys().commit_key(wal->keys().object_key(2))).has_value());
  auto r = seal(main_, seal_options(105));
  ASSERT_TRUE(r.ok()) << r.error().message;
  check_sealed(wal->keys(), *r);
  auto cov = covered(r->recovered, 1);
  for (auto& [off, seq] : out.acked) EXPECT_TRUE(cov.count(off)) << "acked offset " << off << " lost";
}

// The start-up self-test: a store that lets a second If-None-Match PUT through is refused.
TEST_F(ObjectWalTest, RefusesAStoreWithoutConditionalPut) {
  UnconditionalStore bad(*files_);
  IoThread& w = w_;
  auto r = run_on(w.io, ObjectWal::open(w.io.get_executor(), options(106), bad, *meta_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, make_error_code(WalErrc::unsafe_store));
}

// Rules out V_NOGUARDS (11) / a deposed controller: a sealer whose guard key no longer has its create revision
// changes nothing in metadata.
TEST_F(ObjectWalTest, DeposedSealerChangesNothing) {
  auto g = run_on(main_.io, meta_->put(meta::PutRequest{"/floe/controller", "c1", 0, false}));
  ASSERT_TRUE(g.ok());
  IoThread& w = w_;
  auto wal = open_wal(w, options(107), *files_, *meta_);
  ASSERT_TRUE(wal);
  Outcomes out;
  ASSERT_TRUE(append_one(*wal, out, 1, 0));
  ASSERT_TRUE(out.wait_answered(1, 5s));
  close_wal(w, *wal);
  auto s = seal_options(107);
  s.guard_key = "/floe/controller";
  s.guard_create_revision = g->revision + 1000;  // not the key's create revision: deposed
  auto r = seal(main_, s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, make_error_code(WalErrc::deposed));
  EXPECT_FALSE(meta_get(wal->keys().sealing_key()).has_value());
  EXPECT_FALSE(meta_get(wal->keys().seal_key()).has_value());
  s.guard_create_revision = g->revision;  // the current controller
  auto ok = seal(main_, s);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  check_sealed(wal->keys(), *ok);
}

// Rules out V_GCMARK (8): the sweep of a sealed epoch deletes late arrivals above the seal and never the marker (nor
// anything below it); a zombie's PUT at the sealed seq still fails afterwards.
TEST_F(ObjectWalTest, SweepNeverDeletesTheSealMarker) {
  IoThread& w = w_;
  auto wal = open_wal(w, options(108), *files_, *meta_);
  ASSERT_TRUE(wal);
  Outcomes out;
  for (int64_t off = 0; off < 5; ++off) {
    ASSERT_TRUE(append_one(*wal, out, 1, off));
    std::this_thread::sleep_for(4ms);
  }
  ASSERT_TRUE(out.wait_answered(5, 5s));
  close_wal(w, *wal);
  auto r = seal(main_, seal_options(108));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const uint64_t s = r->seal_seq;
  // Late arrivals of a zombie (any bytes will do for the sweep; use data-shaped markers of other seqs).
  for (uint64_t late : {s + 1, s + 2, s + 7}) {
    Bytes b = build_seal_marker(7, 108, late, "late");
    auto p = run_on(main_.io, files_->put_if_absent(wal->keys().object_key(late), std::string(b.begin(), b.end()),
                                                    Clock::now() + 5s));
    ASSERT_TRUE(p.ok() && p.value.created);
  }
  auto swept = run_on(main_.io, sweep_sealed_epoch(*files_, *meta_, seal_options(108)));
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(*swept, 3u);
  check_sealed(wal->keys(), *r);
  for (uint64_t k = 1; k < s; ++k) EXPECT_TRUE(object(wal->keys().object_key(k)).has_value());
  EXPECT_FALSE(object(wal->keys().object_key(s + 1)).has_value());
  // Sweeping again (and resuming the seal) is harmless and keeps the marker.
  auto again = seal(main_, seal_options(108, "another"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->resumed);
  EXPECT_EQ(again->seal_seq, s);
  check_sealed(wal->keys(), *again);
  auto zombie = run_on(main_.io, files_->put_if_absent(wal->keys().object_key(s), "zombie bytes", Clock::now() + 5s));
  ASSERT_TRUE(zombie.ok());
  EXPECT_FALSE(zombie.value.created);
}

// Builds an epoch with `n` objects in the store, acked but not committed (the writer's metadata went away), and
// returns the offsets acked.
std::set<int64_t> write_uncommitted(ObjectWalTest* t, IoThread& w, objstore::ObjectStore& objects,
                                    meta::MetaStore& meta, uint64_t epoch, int n);

// Rules out V_S412BLIND (5), V_NOMARK (6) and a sealer crash at every step (the model's FAILOVER 1): a sealer that
// dies after N metadata txns (N = 0..) is resumed by a second sealer holding a new guard; the first one, run again,
// is deposed; the end state is the same as with no crash, and every acked append is recovered.
TEST_F(ObjectWalTest, SealerDiesMidSealAndAnotherResumes) {
  for (int budget = 0; budget <= 9; ++budget) {
    SCOPED_TRACE("sealer dies after " + std::to_string(budget) + " txns");
    const uint64_t epoch = 200 + static_cast<uint64_t>(budget);
    IoThread& w = w_;
    std::set<int64_t> acked = write_uncommitted(this, w, *files_, *meta_, epoch, 4);
    ASSERT_FALSE(acked.empty());
    // Controller 1 holds the guard; it dies mid-seal.
    auto g1 = run_on(main_.io, meta_->put(meta::PutRequest{"/floe/ctl/" + std::to_string(epoch), "1", 0, false}));
    ASSERT_TRUE(g1.ok());
    CrashingMeta dying(*meta_, budget);
    auto s1 = seal_options(epoch, "ctl1");
    s1.guard_key = "/floe/ctl/" + std::to_string(epoch);
    s1.guard_create_revision = g1->revision;
    s1.op_timeout = 200ms;
    auto r1 = seal(main_, s1, &dying);
    // Controller 2 takes over: a new election key (new create revision).
    auto del = run_on(main_.io, meta_->del(meta::DeleteRequest{s1.guard_key, "", false}));
    ASSERT_TRUE(del.ok());
    auto g2 = run_on(main_.io, meta_->put(meta::PutRequest{s1.guard_key, "2", 0, false}));
    ASSERT_TRUE(g2.ok());
    auto s2 = s1;
    s2.sealer_id = "ctl2";
    s2.guard_create_revision = g2->revision;
    s2.op_timeout = 5s;
    auto r2 = seal(main_, s2);
    ASSERT_TRUE(r2.ok()) << r2.error().message;
    WalKeys keys{"/floe/", "", 7, epoch};
    check_sealed(keys, *r2);
    auto cov = covered(r2->recovered, 1);
    for (int64_t off : acked) EXPECT_TRUE(cov.count(off)) << "acked offset " << off << " lost";
    if (r1.ok()) {
      EXPECT_EQ(r1->seal_seq, r2->seal_seq);
    }
    // The deposed controller, running on (its metadata back), changes nothing.
    s1.op_timeout = 5s;
    auto r3 = seal(main_, s1);
    if (r3.ok()) {
      EXPECT_TRUE(r3->resumed);  // a recorded seal is only read and swept, which needs no guard
      EXPECT_EQ(r3->seal_seq, r2->seal_seq);
    }
    check_sealed(keys, *r2);
  }
}

// Rules out V_S412BLIND (5) and V_NOMARK (6): the first sealer writes its marker and dies before recording the seal;
// the second reads the marker back at that seq, stops there, records it as the seal and never commits it as data.
TEST_F(ObjectWalTest, TwoSealersOverlapTheSecondStopsAtTheFirstsMarker) {
  IoThread& w = w_;
  std::set<int64_t> acked = write_uncommitted(this, w, *files_, *meta_, 300, 3);
  CrashingMeta dies_recording(*meta_, 1000, WalKeys{"/floe/", "", 7, 300}.seal_key());  // dies recording the seal
  auto s1 = seal_options(300, "first");
  s1.op_timeout = 200ms;
  auto r1 = seal(main_, s1, &dies_recording);
  ASSERT_FALSE(r1.ok());
  ASSERT_TRUE(dies_recording.dead());
  WalKeys keys{"/floe/", "", 7, 300};
  EXPECT_FALSE(meta_get(keys.seal_key()).has_value());
  // The first sealer's marker is at cursor + 1.
  auto cursor = meta_get(keys.cursor_key());
  ASSERT_TRUE(cursor.has_value());
  const uint64_t marker_seq = std::stoull(*cursor) + 1;
  auto h = header_of(keys.object_key(marker_seq));
  ASSERT_TRUE(h.has_value());
  ASSERT_EQ(h->kind, WalObjectHeader::Kind::seal);
  auto r2 = seal(main_, seal_options(300, "second"));
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r2->seal_seq, marker_seq);
  EXPECT_EQ(r2->committed_by_sealer, 0u);
  EXPECT_FALSE(meta_get(keys.commit_key(keys.object_key(marker_seq))).has_value());
  check_sealed(keys, *r2);
  auto cov = covered(r2->recovered, 1);
  for (int64_t off : acked) EXPECT_TRUE(cov.count(off)) << "acked offset " << off << " lost";
}

std::set<int64_t> write_uncommitted(ObjectWalTest*, IoThread& w, objstore::ObjectStore& objects,
                                    meta::MetaStore& meta, uint64_t epoch, int n) {
  // The writer's metadata dies after its open (one range read, no txn): every commit fails, PUTs land and ack.
  CrashingMeta no_commits(meta, 0);
  ObjectWalOptions o;
  o.broker_id = 7;
  o.epoch = epoch;
  o.flush_interval = 1ms;
  o.retry_backoff = 2ms;
  o.commit_timeout = 300ms;
  o.check_conditional_put = false;
  auto wal = run_on(w.io, ObjectWal::open(w.io.get_executor(), o, objects, no_commits));
  EXPECT_TRUE(wal.ok());
  if (!wal.ok()) return {};
  Outcomes out;
  for (int64_t off = 0; off < n; ++off) {
    append_one(**wal, out, 1, off);
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(out.wait_answered(static_cast<size_t>(n), 5s));
  run_on(w.io, (*wal)->close());
  std::set<int64_t> acked;
  for (auto& [off, seq] : out.acked) acked.insert(off);
  return acked;
}

// The seal race, 100 rounds with random timing. Rules out V_LIST (1), V_SKIP (2), V_ACKOOO (4), V_S412BLIND (5),
// V_NOSEALCMP (9), V_NOCURCMP (10), V_EARLYOPEN (12: the recovered ranges are read after the seal is recorded) and
// V_NOPUTSEAL (13): a zombie writer on its own io thread keeps appending with several PUTs in flight (random PUT
// latency, some ambiguous PUTs) while a sealer (and in every third round a second, overlapping one) seals its
// epoch. Checked: every offset the zombie got an ack for is in the recovered ranges (also acks that arrive after
// the seal returned), the recovered offsets are a gap-free prefix of what was appended, no commit of the zombie
// lands after the seal (cursor = seal-1, no key at or above it), the marker is in place, and the zombie stops.
TEST_F(ObjectWalTest, SealRaceWithZombieWriter100Rounds) {
  std::mt19937_64 rng(std::random_device{}());
  objstore::FaultConfig fc;
  fc.delay(objstore::Op::put, objstore::Latency::lognormal(1500us, 12ms));
  fc.delay(objstore::Op::get, objstore::Latency::lognormal(300us, 3ms));
  fc.ambiguous(objstore::Op::put, 0.05);
  auto zombie_store = std::make_shared<objstore::FaultStore>(files_, fc);
  int zombie_acks_after_seal = 0, rounds_with_sealer_commits = 0, rounds_with_readback = 0;
  for (int round = 0; round < 100; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const uint64_t epoch = 1000 + static_cast<uint64_t>(round);
    IoThread& zt = z_;  // the zombie's io thread
    auto o = options(epoch);
    o.flush_interval = std::chrono::milliseconds(1 + rng() % 3);
    o.inflight = 4;
    o.check_conditional_put = false;
    o.put_timeout = 3s;
    auto zombie = open_wal(zt, o, *zombie_store, *meta_);
    ASSERT_TRUE(zombie);
    Outcomes out;
    std::atomic<bool> stop{false};
    std::atomic<int64_t> appended{0};
    std::thread producer([&] {
      for (int64_t off = 0; off < 100000 && !stop.load(); ++off) {
        if (!append_one(*zombie, out, 1, off)) break;
        appended = off + 1;
        std::this_thread::sleep_for(std::chrono::microseconds(100 + rng() % 300));
      }
    });
    // On any exit (an ASSERT included): stop the producer, close the zombie.
    ScopeExit cleanup([&] {
      stop = true;
      if (producer.joinable()) producer.join();
      close_wal(zt, *zombie);
    });
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 15000));
    const bool two = round % 3 == 0;
    IoThread& st2 = s2_;
    std::future<Result<SealResult>> second;
    if (two) {
      auto s = seal_options(epoch, "self");  // the broker's own next start racing the controller (FAILOVER 2)
      second = asio::co_spawn(st2.io, seal_epoch(*files_, *meta_, s), asio::use_future);
    }
    auto r = seal(main_, seal_options(epoch));
    ASSERT_TRUE(r.ok()) << r.error().message;
    size_t acks_at_seal = 0;
    {
      std::lock_guard l(out.mu);
      acks_at_seal = out.acked.size();
    }
    // The zombie runs on a while, then stops (its next PUT meets the marker, or its commit fails).
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 8000));
    for (int i = 0; i < 400 && !zombie->failure(); ++i) std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(zombie->failure()) << "the zombie never noticed the seal";
    cleanup.run();
    ASSERT_TRUE(out.wait_answered(static_cast<size_t>(appended.load()), 10s));
    if (two) {
      ASSERT_EQ(second.wait_for(30s), std::future_status::ready);
      auto r2 = second.get();
      ASSERT_TRUE(r2.ok()) << r2.error().message;
      EXPECT_EQ(r2->seal_seq, r->seal_seq);
    }
    // Late arrivals swept; the final state is the seal's.
    auto swept = run_on(main_.io, sweep_sealed_epoch(*files_, *meta_, seal_options(epoch)));
    ASSERT_TRUE(swept.ok());
    check_sealed(zombie->keys(), *r);
    auto cov = covered(r->recovered, 1);
    std::lock_guard l(out.mu);
    for (auto& [off, seq] : out.acked) {
      ASSERT_TRUE(cov.count(off)) << "the zombie got an ack for offset " << off << " (seq " << seq
                                  << ") that recovery did not include (seal " << r->seal_seq << ")";
      ASSERT_LT(seq, r->seal_seq);
    }
    // Recovered: offsets 0..m-1 exactly, none unacked-and-not-appended.
    int64_t expect = 0;
    for (int64_t off : cov) ASSERT_EQ(off, expect++);
    ASSERT_LE(expect, appended.load());
    for (auto& [off, ec] : out.failed) {
      // A failure is never for data already recovered unless it was ambiguous.
      if (cov.count(off)) {
        EXPECT_EQ(ec, make_error_code(WalErrc::ambiguous)) << off;
      }
    }
    zombie_acks_after_seal += static_cast<int>(out.acked.size() - acks_at_seal);
    rounds_with_sealer_commits += r->committed_by_sealer > 0;
    rounds_with_readback += zombie->stats().readbacks > 0;
  }
  // The race is real: sealers found uncommitted objects and zombies read markers back in some rounds.
  EXPECT_GT(rounds_with_sealer_commits, 0);
  EXPECT_GT(rounds_with_readback, 0);
  std::printf("[ info ] acks after seal returned: %d; rounds with sealer commits: %d; with read-backs: %d\n",
              zombie_acks_after_seal, rounds_with_sealer_commits, rounds_with_readback);
}

}  // namespace
}  // namespace floe::stream
