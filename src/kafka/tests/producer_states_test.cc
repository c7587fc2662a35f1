// ProducerStates and the snapshot task on real parts: a StreamStore over the file:// object store and the embedded
// metadata store in a temporary directory, reopened between "broker starts". Produces go through the table and
// StreamStore::append's admit hook exactly as kafka/produce.cc does.
#include "kafka/producer_states.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>

#include "cluster/topic_catalog.h"
#include "kafka/open_gate.h"
#include "kafka/producer_snapshots.h"
#include "meta/embedded_store.h"
#include "objstore/file_store.h"
#include "protocol/record/batch_builder.h"
#include "protocol/record/batch_view.h"
#include "stream/stream_store.h"

namespace floe::kafka {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using Kind = producer::Decision::Kind;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Produced {
  Kind kind = Kind::error;
  int64_t offset = -1;  // appended at, or the original's base offset for a duplicate
  producer::Errc error = producer::Errc::ok;
};

class ProducerStatesTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kStream = 77;

  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("floe-pstates-" + std::to_string(getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto objects = objstore::FileStore::open((root_ / "bucket").string());
    ASSERT_TRUE(objects.ok());
    objects_ = std::move(objects.value);
  }
  void TearDown() override {
    close_all();
    fs::remove_all(root_);
  }

  template <typename T>
  T run(asio::awaitable<T> op) {
    auto fut = asio::co_spawn(io_, std::move(op), asio::use_future);
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("operation did not complete in 60 s");
      io_.run_one_for(std::chrono::milliseconds(20));
    }
    return fut.get();
  }

  void run_for(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }

  // One broker start at `epoch`: opens the stores (replaying the WAL) and the producer states, without loading.
  void start(int32_t epoch, ProducerStatesConfig pc = {}) {
    close_all();
    epoch_ = epoch;
    meta::EmbeddedConfig mc;
    mc.dir = (root_ / "meta").string();
    auto m = meta::EmbeddedStore::open(io_.get_executor(), mc);
    ASSERT_TRUE(m) << m.error().message();
    meta_ = std::move(*m);
    stream::StreamStoreConfig sc;
    sc.wal_dir = (root_ / "wal").string();
    sc.upload_interval = std::chrono::hours(1);  // uploads only when the test flushes
    sc.upload_on_close = false;                  // what is not flushed stays durable-but-uncommitted in the WAL
    sc.epoch = static_cast<uint64_t>(epoch);
    auto s = run(stream::StreamStore::open(io_.get_executor(), sc, *objects_, *meta_));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    states_ = std::make_unique<ProducerStates>(pc, *store_, *meta_, epoch);
  }

  void load(uint64_t stream = kStream) {
    Status st = run(states_->load(stream, "t-0", epoch_));
    ASSERT_TRUE(st) << st.error().message;
  }

  void close_all() {
    states_.reset();
    if (store_) run(store_->close());
    store_.reset();
    if (meta_) meta_->shutdown();
    meta_.reset();
  }

  void flush() {
    Status st = run(store_->flush());
    ASSERT_TRUE(st) << st.error().message;
  }

  // An idempotent batch of `count` records, through the table and the admit hook as kafka/produce.cc does.
  Produced produce(int64_t pid, int16_t pepoch, int32_t seq, int count, int64_t ts = 0,
                   uint64_t stream = kStream) {
    record::BatchOptions opts;
    opts.producer_id = pid;
    opts.producer_epoch = pepoch;
    opts.base_sequence = seq;
    Bytes bytes = build(opts, count, ts ? ts : now_ms());
    auto view = record::BatchView::parse(ByteSpan(bytes));
    EXPECT_TRUE(view.ok());
    const producer::BatchMeta meta = producer::BatchMeta::from_header(view->header());
    std::shared_ptr<producer::ProducerStateTable> table = states_->table(stream);
    producer::Decision d;
    auto admit = [&]() -> std::error_code {
      d = table->check_and_reserve(meta);
      return d.kind == Kind::append ? std::error_code() : std::make_error_code(std::errc::operation_canceled);
    };
    auto r = run(store_->append(stream, std::move(bytes), epoch_, admit));
    Produced out;
    out.kind = d.kind;
    out.error = d.error;
    if (d.kind == Kind::append) {
      EXPECT_TRUE(r) << r.error().message;
      if (!r) {
        d.reservation.fail();
        return out;
      }
      d.reservation.complete(*r);
      out.offset = *r;
    } else if (d.kind == Kind::duplicate) {
      out.offset = d.duplicate.base_offset;
    }
    return out;
  }

  int64_t produce_plain(int count, uint64_t stream = kStream) {
    auto r = run(store_->append(stream, build({}, count, now_ms()), epoch_));
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : -1;
  }

  static Bytes build(const record::BatchOptions& opts, int count, int64_t ts) {
    record::BatchBuilder b(opts);
    const std::string value = "value";
    for (int i = 0; i < count; ++i) {
      record::NewRecord rec;
      rec.value = ByteSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size());
      rec.timestamp = ts;
      EXPECT_EQ(b.add(rec), record::RecordError::ok);
    }
    auto out = b.build();
    EXPECT_TRUE(out.ok());
    return std::move(out).value();
  }

  // The stored value of `key` (meta::Result is not default-constructible, as co_spawn's future needs).
  static asio::awaitable<std::optional<std::string>> get_value(meta::MetaStore& meta, std::string key) {
    auto kv = co_await meta.get(std::move(key));
    if (!kv) throw std::runtime_error("meta get: " + kv.error().message());
    if (!*kv) co_return std::nullopt;
    co_return (*kv)->value;
  }
  static asio::awaitable<bool> put_value(meta::MetaStore& meta, std::string key, std::string value) {
    meta::PutRequest put;
    put.key = std::move(key);
    put.value = std::move(value);
    auto r = co_await meta.put(std::move(put));
    co_return static_cast<bool>(r);
  }

  std::optional<producer::ProducerSnapshot> stored_snapshot(uint64_t stream = kStream) {
    auto value = run(get_value(*meta_, states_->snapshot_key(stream)));
    if (!value) return std::nullopt;
    const std::string& v = *value;
    auto s = producer::decode_snapshot(std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
    EXPECT_TRUE(s.ok());
    if (!s.ok()) return std::nullopt;
    return *s;
  }

  fs::path root_;
  asio::io_context io_;
  std::unique_ptr<objstore::ObjectStore> objects_;
  std::unique_ptr<meta::MetaStore> meta_;
  std::unique_ptr<stream::StreamStore> store_;
  std::unique_ptr<ProducerStates> states_;
  int32_t epoch_ = 0;
};

TEST_F(ProducerStatesTest, StateSurvivesReopensFromTheSnapshotWhenTheLogBelowItWasTrimmed) {
  const int64_t a = 1000, b = 2000;
  // Start 1 (epoch 1): producer A's first five batches (offsets 0..9) and a plain batch (10..12).
  start(1);
  load();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(produce(a, 0, i * 2, 2).offset, i * 2);
  EXPECT_EQ(produce_plain(3), 10);
  flush();

  // Start 2 (epoch 2): no snapshot yet, the whole log is replayed. Five more batches of A (13..22), then a snapshot.
  start(2);
  load();
  EXPECT_EQ(states_->batches_replayed(), 6u);
  EXPECT_EQ(states_->snapshots_loaded(), 0u);
  for (int i = 5; i < 10; ++i) EXPECT_EQ(produce(a, 0, i * 2, 2).offset, 13 + (i - 5) * 2);
  flush();
  auto written = run(states_->write_snapshot(kStream));
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_TRUE(*written);
  EXPECT_EQ(states_->snapshot_offset(kStream), 23);
  EXPECT_FALSE(*run(states_->write_snapshot(kStream)));  // nothing new since

  // Start 3 (epoch 3): loads from the snapshot, replays nothing. Producer B writes three batches (23..25); then
  // retention trims the log below the snapshot.
  start(3);
  load();
  EXPECT_EQ(states_->batches_replayed(), 0u);
  EXPECT_EQ(states_->snapshots_loaded(), 1u);
  // The leader-epoch history below the snapshot came with it: epoch 1 ended where epoch 2 began (13), epoch 2 where
  // this start's began (23), though no batch was read in this start.
  EXPECT_EQ(store_->epoch_end_offset(kStream, 1), std::make_pair(1, int64_t{13}));
  EXPECT_EQ(store_->epoch_end_offset(kStream, 2), std::make_pair(2, int64_t{23}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(produce(b, 4, i, 1).offset, 23 + i);
  flush();
  ASSERT_TRUE(run(store_->trim(kStream, 23)));

  // Start 4 (epoch 4): only B's three batches are read; A, whose batches are all trimmed, is still remembered.
  start(4);
  load();
  EXPECT_EQ(store_->ends(kStream).start, 23);
  EXPECT_EQ(states_->batches_replayed(), 3u);
  EXPECT_EQ(states_->snapshots_loaded(), 1u);
  Produced dup = produce(a, 0, 18, 2);  // a retry of A's last batch: answered with the original's offset
  EXPECT_EQ(dup.kind, Kind::duplicate);
  EXPECT_EQ(dup.offset, 21);
  dup = produce(a, 0, 10, 2);  // the oldest of A's last five
  EXPECT_EQ(dup.kind, Kind::duplicate);
  EXPECT_EQ(dup.offset, 13);
  EXPECT_EQ(produce(a, 0, 30, 1).error, producer::Errc::out_of_order_sequence);  // A is known: a gap is refused
  dup = produce(b, 4, 2, 1);
  EXPECT_EQ(dup.kind, Kind::duplicate);
  EXPECT_EQ(dup.offset, 25);
  EXPECT_EQ(produce(a, 0, 20, 1).offset, 26);

  // The epoch history from the snapshot is cut at the log start as Kafka's cache is: epoch 1 (all trimmed) is
  // gone and epoch 2 now begins at the log start; epoch 3 (B's batches, replayed) ended where this start's began.
  EXPECT_EQ(store_->epoch_end_offset(kStream, 2), std::make_pair(2, int64_t{23}));
  EXPECT_EQ(store_->epoch_end_offset(kStream, 3), std::make_pair(3, int64_t{26}));
  auto truncated = stored_snapshot();
  ASSERT_TRUE(truncated);
  EXPECT_EQ(truncated->leader_epochs, (std::vector<producer::EpochStart>{{1, 0}, {2, 13}}));  // as written
}

TEST_F(ProducerStatesTest, TheSnapshotStopsAtTheCommittedEnd) {
  const int64_t a = 5;
  start(1);
  load();
  for (int i = 0; i < 3; ++i) produce(a, 2, i, 1);  // 0..2
  flush();
  for (int i = 3; i < 5; ++i) produce(a, 2, i, 1);  // 3..4: durable in the WAL, not committed
  ASSERT_EQ(store_->ends(kStream).committed, 3);
  ASSERT_EQ(store_->ends(kStream).durable, 5);
  ASSERT_TRUE(*run(states_->write_snapshot(kStream)));
  auto s = stored_snapshot();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->next_offset, 3);
  ASSERT_EQ(s->producers.size(), 1u);
  EXPECT_EQ(s->producers[0].batches.size(), 3u);
  EXPECT_EQ(s->producers[0].last_offset, 2);
  EXPECT_EQ(s->producers[0].epoch, 2);
  ASSERT_FALSE(s->leader_epochs.empty());
  EXPECT_EQ(s->leader_epochs.back(), (producer::EpochStart{1, 0}));

  // The uncommitted tail comes back from the WAL on reopen and is replayed over the snapshot.
  start(2);
  load();
  EXPECT_EQ(states_->batches_replayed(), 2u);
  Produced dup = produce(a, 2, 4, 1);
  EXPECT_EQ(dup.kind, Kind::duplicate);
  EXPECT_EQ(dup.offset, 4);
}

TEST_F(ProducerStatesTest, ALogStartPastTheSnapshotMakesItDueAtOnce) {
  start(1);
  load();
  for (int i = 0; i < 3; ++i) produce(6, 0, i, 1);
  flush();
  ASSERT_TRUE(*run(states_->write_snapshot(kStream)));
  for (int i = 3; i < 6; ++i) produce(6, 0, i, 1);
  flush();
  const auto hour = std::chrono::hours(1);
  EXPECT_FALSE(states_->snapshot_due(kStream, hour, 1000));  // committed moved, but neither interval nor count
  EXPECT_TRUE(states_->snapshot_due(kStream, hour, 3));
  EXPECT_TRUE(states_->snapshot_due(kStream, hour, 1000, 3)) << "the log grew 3 offsets past the snapshot";
  EXPECT_FALSE(states_->snapshot_due(kStream, hour, 1000, 4));
  ASSERT_TRUE(run(store_->trim(kStream, 5)));  // retention: batches 3 and 4 are now only in the live table
  EXPECT_TRUE(states_->snapshot_due(kStream, hour, 1000));
  ASSERT_TRUE(*run(states_->write_snapshot(kStream)));
  EXPECT_EQ(states_->snapshot_offset(kStream), 6);
  EXPECT_FALSE(states_->snapshot_due(kStream, hour, 1));
  // Its epoch history starts at the log start, as Kafka cuts its leader-epoch cache.
  EXPECT_EQ(stored_snapshot()->leader_epochs, (std::vector<producer::EpochStart>{{1, 5}}));
}

// A failover's wave: the new owner reads every snapshot at once and each WAL object the replays need ONCE for all
// the partitions in it (ProducerStates::prepare_loads -> StreamStore::prefetch), and dedup still works from the
// state rebuilt that way.
TEST_F(ProducerStatesTest, AWaveOfLoadsReadsEachSharedObjectOnceAndStillDeduplicates) {
  constexpr uint64_t kStreams = 30;
  std::vector<uint64_t> ids;
  for (uint64_t s = 1; s <= kStreams; ++s) ids.push_back(s);
  start(1);
  for (uint64_t s : ids) load(s);
  for (uint64_t s : ids) produce(500 + static_cast<int64_t>(s), 0, 0, 2, 0, s);
  flush();
  auto written = run(states_->write_snapshots(ids));  // every partition, in one txn
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(written->written, kStreams);
  EXPECT_EQ(written->visited, kStreams);
  // The tail after the snapshots: one batch of each partition, all in one object.
  for (uint64_t s : ids) ASSERT_EQ(produce(500 + static_cast<int64_t>(s), 0, 2, 3, 0, s).offset, 2);
  flush();

  start(2);  // the new owner: nothing cached
  const uint64_t gets_before = objects_->stats()[objstore::Op::get].requests;
  const stream::StreamStore::PrefetchPlan plan = run(states_->prepare_loads(ids));
  EXPECT_EQ(plan.objects, 1u) << "only the object after the snapshots";
  EXPECT_EQ(plan.gets, 1u);
  EXPECT_EQ(plan.blocks, kStreams);
  for (uint64_t s : ids) load(s);
  EXPECT_EQ(objects_->stats()[objstore::Op::get].requests - gets_before, 1u) << "one GET for 30 partitions";
  EXPECT_EQ(states_->snapshots_loaded(), kStreams);
  EXPECT_EQ(states_->batches_replayed(), kStreams);
  for (uint64_t s : ids) {
    const int64_t pid = 500 + static_cast<int64_t>(s);
    Produced dup = produce(pid, 0, 2, 3, 0, s);  // a retry of the tail batch after the failover
    EXPECT_EQ(dup.kind, Kind::duplicate) << "stream " << s;
    EXPECT_EQ(dup.offset, 2);
    Produced gap = produce(pid, 0, 7, 1, 0, s);
    EXPECT_EQ(gap.kind, Kind::error);
    EXPECT_EQ(gap.error, producer::Errc::out_of_order_sequence);
    Produced next = produce(pid, 0, 5, 1, 0, s);
    EXPECT_EQ(next.kind, Kind::append);
    EXPECT_EQ(next.offset, 5);
  }
}

TEST_F(ProducerStatesTest, ABatchOfSnapshotsThatLosesACompareIsWrittenOneByOne) {
  start(1);
  for (uint64_t s : {1, 2, 3}) load(s);
  for (uint64_t s : {1, 2, 3}) produce(700, 0, 0, 1, 0, s);
  flush();
  // Another broker wrote stream 2's snapshot meanwhile (it took the partition over).
  ASSERT_TRUE(run(put_value(*meta_, states_->snapshot_key(2), "theirs")));
  auto written = run(states_->write_snapshots({1, 2, 3}));
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(written->written, 2u);
  EXPECT_EQ(states_->snapshot_offset(1), 1);
  EXPECT_EQ(states_->snapshot_offset(2), -1);
  EXPECT_EQ(states_->snapshot_offset(3), 1);
  EXPECT_EQ(run(get_value(*meta_, states_->snapshot_key(2))), std::optional<std::string>("theirs"));
}

TEST_F(ProducerStatesTest, ACorruptSnapshotIsIgnoredForAFullReplay) {
  start(1);
  load();
  for (int i = 0; i < 4; ++i) produce(9, 0, i, 1);
  flush();
  ASSERT_TRUE(*run(states_->write_snapshot(kStream)));
  ASSERT_TRUE(run(put_value(*meta_, states_->snapshot_key(kStream), "FPST garbage")));

  start(2);
  load();
  EXPECT_EQ(states_->snapshots_loaded(), 0u);
  EXPECT_EQ(states_->batches_replayed(), 4u);
  EXPECT_EQ(produce(9, 0, 3, 1).kind, Kind::duplicate);
  // The next snapshot replaces the corrupt value (its revision was read at load).
  produce(9, 0, 4, 1);
  flush();
  ASSERT_TRUE(*run(states_->write_snapshot(kStream)));
  EXPECT_EQ(stored_snapshot()->next_offset, 5);
}

TEST_F(ProducerStatesTest, ExpiredAndExcessProducersAreLeftOutOfTheSnapshot) {
  ProducerStatesConfig pc;
  pc.max_snapshot_producers = 2;
  start(1, pc);
  load();
  const int64_t now = now_ms();
  produce(1, 0, 0, 1, now - 2 * 24 * 3600 * 1000);  // idle for two days: expired (producer.id.expiration.ms 1 day)
  produce(2, 0, 0, 1, now - 3000);                  // the oldest of the live ones: over the cap
  produce(3, 0, 0, 1, now - 2000);
  produce(4, 0, 0, 1, now - 1000);
  flush();
  ASSERT_TRUE(*run(states_->write_snapshot(kStream)));
  auto s = stored_snapshot();
  ASSERT_TRUE(s);
  ASSERT_EQ(s->producers.size(), 2u);
  EXPECT_EQ(s->producers[0].producer_id, 3);
  EXPECT_EQ(s->producers[1].producer_id, 4);
  // The live table drops the expired one when expiration runs.
  EXPECT_EQ(states_->expire_all(now), 1u);
  EXPECT_EQ(states_->table(kStream)->size(), 3u);
}

TEST_F(ProducerStatesTest, AWriterThatLostThePartitionDoesNotOverwriteTheNewOwnersSnapshot) {
  start(1);
  load();
  produce(3, 0, 0, 1);
  flush();
  // Another broker (same stores here) took the partition over and wrote a snapshot meanwhile.
  ProducerStates other({}, *store_, *meta_, 2);
  ASSERT_TRUE(run(other.load(kStream, "t-0", 2)));
  ASSERT_TRUE(*run(other.write_snapshot(kStream)));
  produce(3, 0, 1, 1);
  flush();
  auto r = run(states_->write_snapshot(kStream));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(stored_snapshot()->next_offset, 1);
}

TEST_F(ProducerStatesTest, DropClosesTheTableAndReloadReplacesIt) {
  start(1);
  load();
  produce(3, 0, 0, 1);
  auto held = states_->table(kStream);
  states_->drop(kStream);
  EXPECT_TRUE(states_->stream_ids().empty());
  EXPECT_EQ(held->check_and_reserve(producer::BatchMeta{3, 0, 1, 1, now_ms(), false}).error, producer::Errc::closed);
  load();  // taken over again: rebuilt from the log
  EXPECT_EQ(produce(3, 0, 0, 1).kind, Kind::duplicate);
}

TEST_F(ProducerStatesTest, TheTaskSnapshotsDuePartitionsAndForgetsDeletedTopics) {
  start(1);
  auto catalog = run(cluster::TopicCatalog::load(*meta_, "/floe/"));
  ASSERT_TRUE(catalog) << catalog.error().message;
  auto topic = run((*catalog)->create("t", 2, {}));
  ASSERT_TRUE(topic) << topic.error().message;
  ASSERT_TRUE(run(states_->rebuild_all(**catalog)));
  const uint64_t s0 = cluster::stream_id_of(topic->id, 0);
  const uint64_t s1 = cluster::stream_id_of(topic->id, 1);

  ProducerSnapshotConfig tc;
  tc.interval = std::chrono::hours(1);
  tc.batches = 3;
  ProducerSnapshotTask task(io_.get_executor(), *states_, **catalog, tc);
  for (int i = 0; i < 3; ++i) produce(8, 0, i, 1, 0, s0);
  produce(8, 0, 0, 1, 0, s1);
  EXPECT_EQ(run(task.run_once()), 0u);  // nothing committed yet
  flush();
  EXPECT_EQ(run(task.run_once()), 1u);  // s0 after three batches; s1 waits for its interval
  EXPECT_EQ(states_->snapshot_offset(s0), 3);
  EXPECT_EQ(states_->snapshot_offset(s1), -1);
  EXPECT_EQ(run(task.run_once(/*all=*/true)), 1u);  // the final pass at stop takes every partition that moved
  EXPECT_EQ(states_->snapshot_offset(s1), 1);

  ASSERT_TRUE(run((*catalog)->remove("t")));
  EXPECT_EQ(run(task.run_once()), 0u);
  EXPECT_TRUE(states_->stream_ids().empty());
  EXPECT_FALSE(stored_snapshot(s0));
  EXPECT_FALSE(stored_snapshot(s1));

  // start()/stop() end the loop within the test's bound.
  task.start();
  run(task.stop());
}

TEST_F(ProducerStatesTest, APassStopsAtItsByteBoundAndTheNextGoesOnFromThere) {
  start(1);
  auto catalog = run(cluster::TopicCatalog::load(*meta_, "/floe/"));
  ASSERT_TRUE(catalog) << catalog.error().message;
  auto topic = run((*catalog)->create("t", 3, {}));
  ASSERT_TRUE(topic) << topic.error().message;
  ASSERT_TRUE(run(states_->rebuild_all(**catalog)));
  std::vector<uint64_t> streams;
  for (int32_t p = 0; p < 3; ++p) streams.push_back(cluster::stream_id_of(topic->id, p));
  std::sort(streams.begin(), streams.end());
  for (uint64_t s : streams) produce(9, 0, 0, 1, 0, s);
  flush();

  ProducerSnapshotConfig tc;
  tc.interval = std::chrono::milliseconds(0);
  tc.max_bytes_per_pass = 1;  // one snapshot per pass
  ProducerSnapshotTask task(io_.get_executor(), *states_, **catalog, tc);
  for (size_t pass = 0; pass < streams.size(); ++pass) {
    EXPECT_EQ(run(task.run_once()), 1u) << "pass " << pass;
    for (size_t i = 0; i < streams.size(); ++i) {
      EXPECT_EQ(states_->snapshot_offset(streams[i]), i <= pass ? 1 : -1) << "pass " << pass << " stream " << i;
    }
  }
  EXPECT_EQ(run(task.run_once()), 0u) << "nothing new";
  // One more batch on the first and last partitions: the next pass starts after the last one written (the
  // third), so it wraps around to the first.
  produce(9, 0, 1, 1, 0, streams[0]);
  produce(9, 0, 1, 1, 0, streams[2]);
  flush();
  EXPECT_EQ(run(task.run_once()), 1u);
  EXPECT_EQ(states_->snapshot_offset(streams[0]), 2);
  EXPECT_EQ(states_->snapshot_offset(streams[2]), 1);
  EXPECT_EQ(run(task.run_once()), 1u);
  EXPECT_EQ(states_->snapshot_offset(streams[2]), 2);
}

// A produce that arrives while the partition is being opened (just after a failover) waits for the open at the
// OpenGate and then goes through the table and the admit hook, passing on its turn once reserved, as
// kafka/produce.cc does. `local`: whether the leadership serves the partition (set before the gate opens).
class OpenGateProduceTest : public ProducerStatesTest {
 protected:
  asio::awaitable<Produced> produce_after_open(OpenGate& gate, const bool& local, int64_t pid, int32_t seq);
};

asio::awaitable<Produced> OpenGateProduceTest::produce_after_open(OpenGate& gate, const bool& local, int64_t pid,
                                                                  int32_t seq) {
  Produced out;  // Kind::error without a decision: NOT_LEADER_OR_FOLLOWER in produce.cc
  OpenGate::Ticket turn = co_await gate.wait(kStream, 100, std::chrono::milliseconds(5000));
  if (turn.outcome() == OpenGate::Outcome::refused || turn.outcome() == OpenGate::Outcome::timed_out || !local) {
    co_return out;
  }
  record::BatchOptions opts;
  opts.producer_id = pid;
  opts.producer_epoch = 0;
  opts.base_sequence = seq;
  Bytes bytes = build(opts, 1, now_ms());
  auto view = record::BatchView::parse(ByteSpan(bytes));
  const producer::BatchMeta meta = producer::BatchMeta::from_header(view->header());
  std::shared_ptr<producer::ProducerStateTable> table = states_->table(kStream);
  producer::Decision d;
  auto admit = [&]() -> std::error_code {
    d = table->check_and_reserve(meta);
    turn.pass_on();
    return d.kind == Kind::append ? std::error_code() : std::make_error_code(std::errc::operation_canceled);
  };
  auto r = co_await store_->append(kStream, std::move(bytes), epoch_, admit);
  out.kind = d.kind;
  out.error = d.error;
  if (d.kind == Kind::append) {
    if (!r) {
      d.reservation.fail();
      co_return out;
    }
    d.reservation.complete(*r);
    out.offset = *r;
  }
  co_return out;
}

TEST_F(OpenGateProduceTest, PipelinedProducesWaitingForTheOpenAreAppendedInOrder) {
  start(1);
  load();
  EXPECT_EQ(produce(5, 0, 0, 1).offset, 0);  // sequence 0 written by the old leader
  flush();
  // The failover: the new leader opens the partition; two pipelined batches (sequences 1 and 2) arrive meanwhile.
  start(2);
  OpenGate gate;
  bool local = false;
  gate.opening(kStream);
  auto first = asio::co_spawn(io_, produce_after_open(gate, local, 5, 1), asio::use_future);
  auto second = asio::co_spawn(io_, produce_after_open(gate, local, 5, 2), asio::use_future);
  run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(gate.waiting(kStream), 2u);  // neither answered while the open is in progress
  load();
  local = true;
  gate.opened(kStream);
  run_for(std::chrono::milliseconds(500));
  ASSERT_EQ(first.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  ASSERT_EQ(second.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  const Produced a = first.get();
  const Produced b = second.get();
  EXPECT_EQ(a.kind, Kind::append);
  EXPECT_EQ(b.kind, Kind::append) << "error " << static_cast<int>(b.error);
  EXPECT_EQ(a.offset, 1);
  EXPECT_EQ(b.offset, 2);
}

TEST_F(OpenGateProduceTest, AProduceWaitingPastTheBoundForTheOpenIsRefused) {
  start(1);
  OpenGateOptions o;
  o.max_wait = std::chrono::milliseconds(50);
  OpenGate gate(o);
  bool local = false;
  gate.opening(kStream);
  auto waiting = asio::co_spawn(io_, produce_after_open(gate, local, 5, 0), asio::use_future);
  run_for(std::chrono::milliseconds(300));
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  const Produced p = waiting.get();
  EXPECT_EQ(p.kind, Kind::error);  // not appended: NOT_LEADER_OR_FOLLOWER
  EXPECT_EQ(p.offset, -1);
  EXPECT_EQ(gate.waiting(kStream), 0u);
}

}  // namespace
}  // namespace floe::kafka
