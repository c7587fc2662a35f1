// StreamStore with the object WAL (kill -9 crashes, the cluster hooks) and both WAL kinds under injected object-store
// faults (objstore::FaultStore over file://): errors, added latency, an outage and recovery.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/use_future.hpp>
#include <future>
#include <map>
#include <string>
#include <vector>

#include "stream/errc.h"
#include "stream/stream_store.h"
#include "stream_store_fixture.h"

namespace floe::stream {
namespace {

using objstore::FaultConfig;
using objstore::Latency;
using objstore::Op;
using testing::batches_of;
using testing::make_batch;
using testing::WalKind;
using namespace std::chrono_literals;

class ObjectWalStore : public testing::StreamStoreFixture {
 protected:
  ObjectWalStore() : StreamStoreFixture(WalKind::object) {}

  // A second "broker" on the same object and metadata stores (closed by close_store()).
  StreamStore& open_other(StreamStoreConfig c) {
    open_meta();
    c.epoch = ++epochs_;
    auto s = run(StreamStore::open(io_.get_executor(), c, *faults_, *meta_));
    if (!s) throw std::runtime_error("open: " + s.error().message);
    others_.push_back(std::move(*s));
    return *others_.back();
  }

  // Cluster mode: only acquired streams, the controller seals.
  StreamStoreConfig cluster_config(uint64_t broker) {
    StreamStoreConfig c = config();
    c.broker_id = broker;
    c.owned_streams_only = true;
    c.seal_previous_epochs = false;
    return c;
  }
};

class StoreFaults : public testing::StreamStoreFixture, public ::testing::WithParamInterface<WalKind> {
 protected:
  StoreFaults() : StreamStoreFixture(GetParam()) {}

  StreamStoreConfig fault_config() {
    StreamStoreConfig c = config();
    c.retry_backoff = 10ms;  // file WAL uploader
    c.upload_interval = 20ms;
    return c;
  }

  static std::vector<std::string> values_of(int tag, int count) {
    std::vector<std::string> v;
    for (int i = 0; i < count; ++i) v.push_back("b" + std::to_string(tag) + "-" + std::to_string(i));
    return v;
  }
};

// ---------------------------------------------------------------- kill -9

// The object WAL kind of the file WAL's crash test (stream_store_test.cc): the child writes objects every 2 ms with
// 4 PUTs in flight; each reopen seals the killed child's epoch first.
TEST_F(ObjectWalStore, KillNineNeverLosesAnAcknowledgedAppend) { kill_nine_rounds(100); }

// ---------------------------------------------------------------- object WAL specifics

TEST_F(ObjectWalStore, AppendsAreCommittedByTheWalWithoutAnUploader) {
  open_store(config());
  append(1, make_batch(0, 3));
  append(2, make_batch(1, 2));
  ASSERT_TRUE(run(store_->flush()));
  EXPECT_EQ(store_->ends(1).committed, 3);
  EXPECT_EQ(store_->ends(2).committed, 2);
  ASSERT_NE(store_->object_wal(), nullptr);
  EXPECT_GE(store_->object_wal()->stats().committed_seq, 1u);
  EXPECT_EQ(count_objects("data/wal/1/"), store_->object_wal()->stats().committed_seq);
  EXPECT_EQ(count_objects("data/") - count_objects("data/wal/"), 0u) << "no upload objects";
}

TEST_F(ObjectWalStore, AFileWalLeftBehindIsUploadedBeforeTheObjectWalOpens) {
  StreamStoreConfig file = config();
  file.wal_kind = WalKind::file;
  file.upload_on_close = false;  // its data stays only in the file WAL
  open_store(file);
  append(4, make_batch(0, 5));
  close_store();
  open_store(config());
  EXPECT_EQ(store_->ends(4).committed, 5);
  EXPECT_EQ(append(4, make_batch(1, 1)), 5);
  auto r = run(store_->read(4, 0, 1 << 20));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(batches_of(r->batches).front(), (std::pair<int64_t, int>{0, 5}));
}

// ---------------------------------------------------------------- cluster hooks

// A failover opens its partitions in waves, one acquire each: the later waves read and decode only the objects/
// records committed since the previous one (ObjectIndexCache), and still see those.
TEST_F(ObjectWalStore, ALaterAcquireDecodesOnlyObjectsCommittedSince) {
  StreamStoreConfig quiet = cluster_config(2);
  quiet.object_index_warm_interval = std::chrono::milliseconds(0);  // only the acquires fill the cache here
  StreamStore& b = open_other(quiet);
  open_store(config());  // broker 1 writes 3 objects, each with a block of streams 1..6
  for (int o = 0; o < 3; ++o) {
    for (uint64_t stream = 1; stream <= 6; ++stream) append(stream, make_batch(o, 2));
    ASSERT_TRUE(run(store_->flush()));
  }
  const uint64_t objects = store_->object_wal()->stats().committed_seq;
  ASSERT_GE(objects, 3u);

  ASSERT_TRUE(run(b.acquire({1, 2})));
  ObjectIndexCache::Stats s = b.object_index_stats();
  EXPECT_EQ(s.decodes, objects);
  EXPECT_EQ(s.hits, 0u);
  ASSERT_TRUE(run(b.acquire({3, 4})));
  s = b.object_index_stats();
  EXPECT_EQ(s.decodes, objects) << "the second wave decoded nothing again";
  EXPECT_EQ(s.hits, objects);
  EXPECT_EQ(b.ends(3).durable, 6);

  append(5, make_batch(7, 3));  // one more object
  ASSERT_TRUE(run(store_->flush()));
  const uint64_t more = store_->object_wal()->stats().committed_seq - objects;
  ASSERT_GE(more, 1u);
  ASSERT_TRUE(run(b.acquire({5, 6})));
  s = b.object_index_stats();
  EXPECT_EQ(s.decodes, objects + more);
  EXPECT_EQ(b.ends(5).durable, 9) << "the object committed after the last acquire is seen";
  EXPECT_EQ(b.ends(6).durable, 6);
  auto got = read_all(5, &b);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[6], (std::vector<std::string>{"b7-0", "b7-1", "b7-2"}));
}

// The cache is kept current in the background (object_index_warm_interval): the objects another broker commits are
// decoded without any acquire, so a failover's first acquire finds them all decoded and still sees everything.
TEST_F(ObjectWalStore, TheObjectIndexIsWarmedInTheBackgroundBeforeTheFirstAcquire) {
  StreamStoreConfig warmed = cluster_config(2);
  warmed.object_index_warm_interval = std::chrono::milliseconds(20);
  StreamStore& b = open_other(warmed);
  open_store(config());  // broker 1 writes 3 objects, each with a block of streams 1..4
  for (int o = 0; o < 3; ++o) {
    for (uint64_t stream = 1; stream <= 4; ++stream) append(stream, make_batch(o, 2));
    ASSERT_TRUE(run(store_->flush()));
  }
  const uint64_t objects = store_->object_wal()->stats().committed_seq;
  ASSERT_GE(objects, 3u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (b.object_index_stats().decodes < objects && std::chrono::steady_clock::now() < deadline) {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(20));
  }
  ObjectIndexCache::Stats s = b.object_index_stats();
  EXPECT_EQ(s.decodes, objects) << "decoded in the background, before any acquire";
  ASSERT_TRUE(run(b.acquire({1, 2, 3, 4})));
  s = b.object_index_stats();
  EXPECT_EQ(s.decodes, objects) << "the acquire decoded nothing itself";
  EXPECT_GE(s.hits, objects);
  EXPECT_EQ(b.ends(4).durable, 6);
}

TEST_F(ObjectWalStore, AcquireReadsCommitsAnotherBrokerMadeAfterItOpened) {
  StreamStore& b = open_other(cluster_config(2));  // opened before broker 1 writes anything
  open_store(config());                            // broker 1
  for (int i = 0; i < 5; ++i) append(7, make_batch(i, 2));
  ASSERT_TRUE(run(store_->flush()));
  ASSERT_TRUE(run(store_->trim(7, 4)));

  EXPECT_FALSE(b.owns(7));
  auto refused = run(b.append(7, make_batch(9, 1), 3));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(Errc::not_owner));
  auto unread = run(b.read(7, 0, 1 << 20));
  ASSERT_FALSE(unread);
  EXPECT_EQ(unread.error().code, make_error_code(Errc::not_owner));

  ASSERT_TRUE(run(b.acquire({7})));
  EXPECT_TRUE(b.owns(7));
  EXPECT_EQ(b.ends(7).durable, 10) << "not the stale end (0) it saw at open";
  EXPECT_EQ(b.ends(7).committed, 10);
  EXPECT_EQ(b.ends(7).start, 4);
  auto got = read_all(7, &b);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got.begin()->first, 4);
  EXPECT_EQ(got[8].size(), 2u);
  auto next = run(b.append(7, make_batch(10, 1), 3));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(*next, 10);
  ASSERT_TRUE(run(b.flush()));
}

TEST_F(ObjectWalStore, ReleaseReturnsOnlyOnceEverythingAppendedIsCommitted) {
  open_store(cluster_config(1));
  ASSERT_TRUE(run(store_->acquire({3})));
  faults_->set_config(FaultConfig{}.delay(Op::put, Latency::constant(40ms)));  // slow PUTs: release must wait
  std::vector<std::future<Result<int64_t>>> appends;
  for (int i = 0; i < 20; ++i)
    appends.push_back(asio::co_spawn(io_, store_->append(3, make_batch(i, 1), 1), asio::use_future));
  const auto started = std::chrono::steady_clock::now();
  auto released = run(store_->release({3}));
  ASSERT_TRUE(released);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 40ms);
  // The ends it was released at (forgotten by the store right after): everything committed.
  ASSERT_EQ(released->count(3), 1u);
  EXPECT_EQ(released->at(3).committed, 20);
  EXPECT_EQ(released->at(3).durable, 20);
  io_.restart();
  io_.poll();  // the appends' completions, posted before the commits release waited for
  for (auto& f : appends) {
    ASSERT_EQ(f.wait_for(0s), std::future_status::ready) << "release returned before an append completed";
    EXPECT_TRUE(f.get());
  }
  EXPECT_FALSE(store_->owns(3));
  auto refused = run(store_->append(3, make_batch(30, 1), 1));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, make_error_code(Errc::not_owner));
  EXPECT_EQ(store_->ends(3).durable, 0) << "forgotten";

  // What another broker sees from metadata alone: all 20 records, committed.
  faults_->set_config(FaultConfig{});
  StreamStore& b = open_other(cluster_config(2));
  ASSERT_TRUE(run(b.acquire({3})));
  EXPECT_EQ(b.ends(3).committed, 20);
}

TEST_F(ObjectWalStore, ReleaseFailsAfterItsBoundWhenNothingCanBeCommitted) {
  StreamStoreConfig c = cluster_config(1);
  c.release_timeout = 300ms;
  c.wal_put_timeout = 5s;
  open_store(c);
  ASSERT_TRUE(run(store_->acquire({3})));
  faults_->set_outage(true);
  auto pending = asio::co_spawn(io_, store_->append(3, make_batch(0, 1), 1), asio::use_future);
  const auto started = std::chrono::steady_clock::now();
  auto released = run(store_->release({3}));
  ASSERT_FALSE(released);
  EXPECT_EQ(released.error().code, make_error_code(Errc::timed_out));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  faults_->set_outage(false);
  // The append itself completes one way or the other (the PUT is retried within put_timeout).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (pending.wait_for(0s) != std::future_status::ready && std::chrono::steady_clock::now() < deadline) {
    io_.restart();
    io_.run_one_for(50ms);
  }
  ASSERT_EQ(pending.wait_for(0s), std::future_status::ready);
  (void)pending.get();
}

// ---------------------------------------------------------------- faults, both kinds

TEST_P(StoreFaults, InjectedErrorsAreRetriedAndNothingIsLost) {
  open_store(fault_config());
  FaultConfig faults;
  faults.errors(Op::put, 0.3).ambiguous(Op::put, 0.2).seed = 42;
  faults_->set_config(faults);
  std::map<int64_t, int> tags;
  for (int i = 0; i < 30; ++i) {
    tags[append(5, make_batch(i, 1 + i % 3))] = i;
    if (i % 3 != 2) continue;
    bool flushed = false;  // many objects (file WAL: one per flush), each PUT with its chance of failing
    for (int attempt = 0; attempt < 50 && !flushed; ++attempt) flushed = run(store_->flush()).ok();
    ASSERT_TRUE(flushed);
  }
  EXPECT_GT(faults_->injected_errors(), 0u);
  faults_->set_config(FaultConfig{});
  close_store();
  open_store(fault_config());
  auto got = read_all(5);
  ASSERT_EQ(got.size(), tags.size());
  for (const auto& [offset, tag] : tags) EXPECT_EQ(got[offset], values_of(tag, 1 + tag % 3)) << "offset " << offset;
  EXPECT_EQ(store_->ends(5).committed, store_->ends(5).durable);
}

TEST_P(StoreFaults, AddedLatencyDelaysCommitsButLosesNothing) {
  open_store(fault_config());
  faults_->set_config(FaultConfig{}.delay(Op::put, Latency::constant(30ms)));
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) append(6, make_batch(i, 2));
  const auto took = std::chrono::steady_clock::now() - started;
  // The object WAL acks after the PUT; the file WAL acks after its fsync and uploads later.
  if (kind_ == WalKind::object) {
    EXPECT_GE(took, 5 * 30ms);
  }
  ASSERT_TRUE(run(store_->flush()));
  EXPECT_EQ(store_->ends(6).committed, 10);
  close_store();
  faults_->set_config(FaultConfig{});
  open_store(fault_config());
  auto got = read_all(6);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[8], values_of(4, 2));
}

// The store goes down: appends wait up to the bound (object WAL: put_timeout; file WAL: max_uncommitted_bytes of
// back-pressure) and then fail with a retriable error; nothing acked is lost; after recovery writing resumes (the
// object WAL in a new epoch: the store reopens and seals the stopped one).
TEST_P(StoreFaults, OutageThenRecovery) {
  StreamStoreConfig c = fault_config();
  c.wal_put_timeout = 400ms;
  c.max_uncommitted_bytes = 16 << 10;
  int stopped = 0;
  c.on_wal_stopped = [&stopped](std::error_code) { ++stopped; };
  open_store(c);
  std::map<int64_t, int> acked;  // offset -> tag
  int tag = 0;
  for (; tag < 5; ++tag) acked[append(8, make_batch(tag, 2))] = tag;
  ASSERT_TRUE(run(store_->flush()));

  faults_->set_outage(true);
  const auto down_at = std::chrono::steady_clock::now();
  std::error_code failure;
  for (int i = 0; i < 2000 && !failure; ++i, ++tag) {
    auto r = run(store_->append(8, make_batch(tag, 2), 3));
    if (r)
      acked[*r] = tag;
    else
      failure = r.error().code;
  }
  ASSERT_TRUE(failure) << "appends never hit the bound";
  const auto waited = std::chrono::steady_clock::now() - down_at;
  if (kind_ == WalKind::object) {
    EXPECT_TRUE(failure == Errc::ambiguous || failure == Errc::unavailable) << failure.message();
    EXPECT_GE(waited, 300ms);
    EXPECT_LT(waited, 5s);
    auto later = run(store_->append(8, make_batch(tag++, 1), 3));
    ASSERT_FALSE(later);
    EXPECT_EQ(later.error().code, make_error_code(Errc::unavailable)) << "a stopped WAL refuses at once";
    EXPECT_EQ(stopped, 1);
  } else {
    EXPECT_EQ(failure, make_error_code(Errc::too_large)) << "back-pressure: " << failure.message();
  }

  faults_->set_outage(false);
  if (kind_ == WalKind::object) {
    close_store();
    open_store(c);  // a new epoch; the stopped one is sealed first
  } else {
    bool flushed = false;
    for (int attempt = 0; attempt < 50 && !flushed; ++attempt) flushed = run(store_->flush()).ok();
    ASSERT_TRUE(flushed);
  }
  const int64_t end = store_->ends(8).durable;
  auto resumed = run(store_->append(8, make_batch(tag, 2), 3));
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(*resumed, end) << "offsets stay dense";
  acked[*resumed] = tag;
  ASSERT_TRUE(run(store_->flush()));
  close_store();
  open_store(c);
  auto got = read_all(8);
  for (const auto& [offset, t] : acked) {
    ASSERT_TRUE(got.count(offset)) << "acked offset " << offset << " lost";
    EXPECT_EQ(got[offset], values_of(t, 2));
  }
}

INSTANTIATE_TEST_SUITE_P(Wal, StoreFaults, ::testing::Values(WalKind::file, WalKind::object),
                         [](const auto& info) { return std::string(testing::wal_name(info.param)); });

}  // namespace
}  // namespace floe::stream
