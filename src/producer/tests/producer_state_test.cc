// ProducerStateTable: Kafka's idempotence rules with their error codes, in-flight batches (waits, out-of-order
// completion, rollback, ambiguous failure), bounds (cap, LRU eviction, expiration), snapshot and replay.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/use_future.hpp>

#include "meta/tests/test_support.h"
#include "producer/producer_state.h"
#include "producer/tests/test_util.h"

namespace floe::producer {
namespace {

using testing::batch;
using Kind = Decision::Kind;

// Reserves and completes at `offset`; returns the batch's base offset.
int64_t append(ProducerStateTable& t, const BatchMeta& m, int64_t& next_offset) {
  auto d = t.check_and_reserve(m);
  EXPECT_EQ(d.kind, Kind::append) << "error " << static_cast<int>(d.error);
  const int64_t base = next_offset;
  d.reservation.complete(base);
  next_offset += m.record_count;
  return base;
}

Errc error_of(ProducerStateTable& t, const BatchMeta& m) {
  auto d = t.check_and_reserve(m);
  EXPECT_EQ(d.kind, Kind::error);
  return d.error;
}

TEST(ProducerErrors, KafkaErrorCodesMatchTheProtocol) {
  EXPECT_EQ(kafka_error_code(Errc::out_of_order_sequence), 45);
  EXPECT_EQ(kafka_error::kDuplicateSequenceNumber, 46);
  EXPECT_EQ(kafka_error_code(Errc::invalid_producer_epoch), 47);
  EXPECT_EQ(kafka_error_code(Errc::unknown_producer_id), 59);
  EXPECT_EQ(kafka_error::kProducerFenced, 90);
  EXPECT_EQ(kafka_error_code(Errc::invalid_batch), 87);
  EXPECT_EQ(kafka_error_code(Errc::in_doubt), 6);
  EXPECT_EQ(make_error_code(Errc::out_of_order_sequence).message(), "out of order sequence number");
}

TEST(ProducerState, NonIdempotentBatchesBypass) {
  ProducerStateTable t;
  for (int i = 0; i < 3; ++i) {
    auto d = t.check_and_reserve(batch(kNoProducerId, kNoProducerEpoch, kNoSequence, 10));
    EXPECT_EQ(d.kind, Kind::append);
    EXPECT_FALSE(d.reservation.active());
    d.reservation.complete(5);  // no-op
  }
  t.observe(batch(kNoProducerId, kNoProducerEpoch, kNoSequence, 10), 0);
  EXPECT_EQ(t.size(), 0u);
}

TEST(ProducerState, InvalidIdempotentBatchIsInvalidRecord) {
  ProducerStateTable t;
  EXPECT_EQ(error_of(t, batch(1, 0, -1)), Errc::invalid_batch);
  EXPECT_EQ(error_of(t, batch(1, -1, 0)), Errc::invalid_batch);
  EXPECT_EQ(error_of(t, batch(1, 0, 0, 0)), Errc::invalid_batch);
  EXPECT_EQ(t.size(), 0u);
}

TEST(ProducerState, UnknownProducerAcceptsAnySequenceLikeKafkaSinceKip360) {
  ProducerStateTable t;
  int64_t off = 0;
  append(t, batch(7, 3, 42, 2), off);
  auto p = t.producer(7);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->epoch, 3);
  ASSERT_EQ(p->batches.size(), 1u);
  EXPECT_EQ(p->batches[0].first_sequence, 42);
  EXPECT_EQ(p->batches[0].last_sequence, 43);
  append(t, batch(7, 3, 44), off);
}

TEST(ProducerState, StrictModeAnswersUnknownProducerIdForNonZeroFirstSequence) {
  TableConfig c;
  c.strict_unknown_producer = true;
  ProducerStateTable t(c);
  EXPECT_EQ(error_of(t, batch(7, 0, 5)), Errc::unknown_producer_id);
  EXPECT_EQ(kafka_error_code(Errc::unknown_producer_id), 59);
  int64_t off = 0;
  append(t, batch(7, 0, 0), off);
}

TEST(ProducerState, InSequenceAcceptedGapIsOutOfOrder) {
  ProducerStateTable t;
  int64_t off = 0;
  append(t, batch(1, 0, 0, 3), off);
  append(t, batch(1, 0, 3, 2), off);
  EXPECT_EQ(error_of(t, batch(1, 0, 6)), Errc::out_of_order_sequence);  // gap: expected 5
  EXPECT_EQ(error_of(t, batch(1, 0, 4)), Errc::out_of_order_sequence);  // overlaps, not a whole batch
  append(t, batch(1, 0, 5), off);
  EXPECT_EQ(t.producer(1)->batches.back().last_offset, 5);
}

TEST(ProducerState, RetryOfOneOfTheLastFiveReturnsTheOriginalOffsetsWithoutAppending) {
  ProducerStateTable t;
  int64_t off = 100;
  std::vector<int64_t> bases;
  for (int i = 0; i < 7; ++i) bases.push_back(append(t, batch(1, 0, i * 2, 2, 5000 + i), off));
  for (int i = 2; i < 7; ++i) {
    auto d = t.check_and_reserve(batch(1, 0, i * 2, 2));
    ASSERT_EQ(d.kind, Kind::duplicate) << i;
    EXPECT_EQ(d.duplicate, (BatchOffsets{bases[i], bases[i] + 1, 5000 + i}));
  }
  // Six and seven batches back: beyond Kafka's window, and behind the expected sequence.
  EXPECT_EQ(error_of(t, batch(1, 0, 2, 2)), Errc::out_of_order_sequence);
  EXPECT_EQ(error_of(t, batch(1, 0, 0, 2)), Errc::out_of_order_sequence);
  EXPECT_EQ(t.in_flight(), 0u);
  EXPECT_EQ(t.producer(1)->last_offset, off - 1);
}

TEST(ProducerState, OlderEpochIsInvalidProducerEpochAndBumpMustStartAtZero) {
  ProducerStateTable t;
  int64_t off = 0;
  append(t, batch(1, 5, 0, 2), off);
  append(t, batch(1, 5, 2, 2), off);
  EXPECT_EQ(error_of(t, batch(1, 4, 4)), Errc::invalid_producer_epoch);
  EXPECT_EQ(error_of(t, batch(1, 4, 0, 2)), Errc::invalid_producer_epoch);  // even a "duplicate" of an old epoch
  EXPECT_EQ(error_of(t, batch(1, 6, 4)), Errc::out_of_order_sequence);      // new epoch must start at 0
  append(t, batch(1, 6, 0, 1), off);
  auto p = t.producer(1);
  EXPECT_EQ(p->epoch, 6);
  EXPECT_EQ(p->batches.size(), 1u);  // the window starts over
  // The old epoch's batches are no longer duplicates.
  EXPECT_EQ(error_of(t, batch(1, 5, 2, 2)), Errc::invalid_producer_epoch);
  append(t, batch(1, 6, 1), off);
}

TEST(ProducerState, SequenceWrapsAtInt32Max) {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(increment_sequence(kMax, 1), 0);
  EXPECT_EQ(increment_sequence(kMax - 1, 3), 1);
  EXPECT_TRUE(in_sequence(kMax, 0));
  EXPECT_FALSE(in_sequence(kMax, 1));
  EXPECT_TRUE(in_sequence(-1, 0));
  EXPECT_EQ(batch(1, 0, kMax - 1, 4).last_sequence(), 1);

  ProducerStateTable t;
  int64_t off = 0;
  append(t, batch(1, 0, kMax - 3, 2), off);    // kMax-3 .. kMax-2
  append(t, batch(1, 0, kMax - 1, 4), off);    // kMax-1, kMax, 0, 1
  EXPECT_EQ(t.producer(1)->batches.back().last_sequence, 1);
  EXPECT_EQ(t.check_and_reserve(batch(1, 0, kMax - 1, 4)).kind, Kind::duplicate);
  append(t, batch(1, 0, 2), off);
  append(t, batch(2, 0, kMax), off);
  EXPECT_EQ(error_of(t, batch(2, 0, 1)), Errc::out_of_order_sequence);
  append(t, batch(2, 0, 0), off);
}

TEST(ProducerState, FiveInFlightCompletedOutOfOrderApplyInLogOrder) {
  ProducerStateTable t;
  std::vector<Reservation> rs;
  for (int i = 0; i < 5; ++i) {
    auto d = t.check_and_reserve(batch(1, 0, i * 10, 10, 100 + i));
    ASSERT_EQ(d.kind, Kind::append);
    rs.push_back(std::move(d.reservation));
  }
  EXPECT_EQ(t.in_flight(), 5u);
  // A sixth is over the bound; a retry of an in-flight one waits.
  EXPECT_EQ(error_of(t, batch(1, 0, 50, 10)), Errc::too_many_in_flight);
  auto w = t.check_and_reserve(batch(1, 0, 20, 10));
  ASSERT_EQ(w.kind, Kind::wait);
  EXPECT_FALSE(w.wait.ready());

  const int order[] = {3, 1, 4, 0, 2};
  for (int k : order) {
    rs[k].complete(k * 10);
    // Done but blocked behind an unfinished earlier one: a retry is answered at once.
    auto d = t.check_and_reserve(batch(1, 0, k * 10, 10));
    ASSERT_EQ(d.kind, Kind::duplicate);
    EXPECT_EQ(d.duplicate.base_offset, k * 10);
    EXPECT_EQ(d.duplicate.last_offset, k * 10 + 9);
  }
  ASSERT_TRUE(w.wait.ready());
  EXPECT_EQ(w.wait.ready()->error, Errc::ok);
  EXPECT_EQ(w.wait.ready()->offsets.base_offset, 20);
  EXPECT_EQ(t.in_flight(), 0u);

  // Same state as replaying the log.
  ProducerStateTable replay;
  for (int i = 0; i < 5; ++i) replay.observe(batch(1, 0, i * 10, 10, 100 + i), i * 10);
  EXPECT_EQ(t.producers(), replay.producers());
  EXPECT_EQ(*t.snapshot(50), *replay.snapshot(50));
}

TEST(ProducerState, DurableStateWaitsForTheEarliestReservation) {
  ProducerStateTable t;
  auto a = t.check_and_reserve(batch(1, 0, 0, 1));
  auto b = t.check_and_reserve(batch(1, 0, 1, 1));
  b.reservation.complete(1);
  EXPECT_FALSE(t.producer(1));  // nothing applied while the first is unfinished
  a.reservation.complete(0);
  ASSERT_TRUE(t.producer(1));
  EXPECT_EQ(t.producer(1)->batches.size(), 2u);
}

TEST(ProducerState, RetryOfAnInFlightBatchAwaitsTheOriginalAcrossThreads) {
  meta::testing::IoThreads io(2);
  ProducerStateTable t;
  auto original = t.check_and_reserve(batch(1, 0, 0, 3, 77));
  ASSERT_EQ(original.kind, Kind::append);
  auto retry = t.check_and_reserve(batch(1, 0, 0, 3));
  ASSERT_EQ(retry.kind, Kind::wait);
  InFlightWait wait = retry.wait;
  auto waiter = [wait]() -> asio::awaitable<WaitOutcome> { co_return co_await wait.result(); };
  auto f1 = asio::co_spawn(io.io(), waiter(), asio::use_future);
  auto f2 = asio::co_spawn(io.io(), waiter(), asio::use_future);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(f1.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  std::thread completer([r = std::move(original.reservation)]() mutable { r.complete(40); });
  completer.join();
  for (auto* f : {&f1, &f2}) {
    ASSERT_EQ(f->wait_for(std::chrono::seconds(10)), std::future_status::ready);
    auto out = f->get();
    EXPECT_EQ(out.error, Errc::ok);
    EXPECT_EQ(out.offsets, (BatchOffsets{40, 42, 77}));
  }
  // Awaiting after the fact answers at once.
  auto late = asio::co_spawn(io.io(), waiter(), asio::use_future);
  ASSERT_EQ(late.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(late.get().offsets.base_offset, 40);
}

TEST(ProducerState, DefiniteFailureReleasesTheSequenceForTheRetry) {
  ProducerStateTable t;
  int64_t off = 0;
  append(t, batch(1, 0, 0, 2), off);
  auto a = t.check_and_reserve(batch(1, 0, 2, 2));
  ASSERT_EQ(a.kind, Kind::append);
  auto retry = t.check_and_reserve(batch(1, 0, 2, 2));
  ASSERT_EQ(retry.kind, Kind::wait);
  a.reservation.fail();
  ASSERT_TRUE(retry.wait.ready());
  EXPECT_EQ(retry.wait.ready()->error, Errc::original_failed);
  EXPECT_EQ(t.in_flight(), 0u);
  // The retry asks again and is appended; the following sequence was not accepted meanwhile.
  EXPECT_EQ(error_of(t, batch(1, 0, 4)), Errc::out_of_order_sequence);
  append(t, batch(1, 0, 2, 2), off);
  EXPECT_EQ(t.producer(1)->batches.size(), 2u);
}

TEST(ProducerState, FailedFirstBatchOfANewProducerLeavesNoTrace) {
  ProducerStateTable t;
  auto a = t.check_and_reserve(batch(9, 0, 0));
  EXPECT_EQ(t.size(), 1u);
  a.reservation.fail();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.snapshot(0)->size(), kSnapshotHeaderBytes);
}

TEST(ProducerState, AmbiguousFailurePutsTheProducerInDoubtUntilReloadedFromCommittedData) {
  ProducerStateTable t;
  int64_t off = 0;
  append(t, batch(1, 0, 0), off);
  append(t, batch(2, 0, 0), off);
  auto a = t.check_and_reserve(batch(1, 0, 1, 3));
  auto retry = t.check_and_reserve(batch(1, 0, 1, 3));
  ASSERT_EQ(retry.kind, Kind::wait);
  a.reservation.fail(/*ambiguous=*/true);
  EXPECT_EQ(retry.wait.ready()->error, Errc::in_doubt);
  EXPECT_EQ(error_of(t, batch(1, 0, 1, 3)), Errc::in_doubt);
  EXPECT_EQ(kafka_error_code(Errc::in_doubt), 6);
  EXPECT_EQ(t.check_and_reserve(batch(2, 0, 1)).kind, Kind::append);  // other producers go on (then dropped)
  auto snap = t.snapshot(off);
  ASSERT_FALSE(snap.ok());
  EXPECT_EQ(snap.error().code, make_error_code(Errc::in_doubt));

  // Recovery committed the batch after all (at offset 2): the reloaded table answers the retry as a duplicate.
  ProducerStateTable reloaded;
  reloaded.observe(batch(1, 0, 0), 0);
  reloaded.observe(batch(2, 0, 0), 1);
  reloaded.observe(batch(1, 0, 1, 3), 2);
  auto d = reloaded.check_and_reserve(batch(1, 0, 1, 3));
  ASSERT_EQ(d.kind, Kind::duplicate);
  EXPECT_EQ(d.duplicate.base_offset, 2);
  // Or it did not: the retry is appended.
  ProducerStateTable reloaded2;
  reloaded2.observe(batch(1, 0, 0), 0);
  EXPECT_EQ(reloaded2.check_and_reserve(batch(1, 0, 1, 3)).kind, Kind::append);
}

TEST(ProducerState, DroppedReservationCountsAsAmbiguous) {
  ProducerStateTable t;
  { auto a = t.check_and_reserve(batch(1, 0, 0)); }
  EXPECT_EQ(error_of(t, batch(1, 0, 0)), Errc::in_doubt);
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(ProducerState, CapEvictsTheLeastRecentlyUsedProducerWithNothingInFlight) {
  TableConfig c;
  c.max_producers = 3;
  ProducerStateTable t(c);
  int64_t off = 0;
  append(t, batch(1, 0, 0), off);
  append(t, batch(2, 0, 0), off);
  append(t, batch(3, 0, 0), off);
  append(t, batch(1, 0, 1), off);  // 2 is now the least recently used
  append(t, batch(4, 0, 0), off);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_FALSE(t.producer(2));
  EXPECT_TRUE(t.producer(1) && t.producer(3) && t.producer(4));
  // Pinned producers are not evicted: 3 is the LRU but has a batch in flight.
  auto pin3 = t.check_and_reserve(batch(3, 0, 1));
  auto pin1 = t.check_and_reserve(batch(1, 0, 2));
  auto pin4 = t.check_and_reserve(batch(4, 0, 1));
  EXPECT_EQ(error_of(t, batch(5, 0, 0)), Errc::too_many_producers);
  pin4.reservation.complete(off++);
  pin1.reservation.complete(off++);  // now 4 is the LRU among unpinned (1 was used later)
  auto five = t.check_and_reserve(batch(5, 0, 0));
  ASSERT_EQ(five.kind, Kind::append);
  EXPECT_FALSE(t.producer(4));
  EXPECT_TRUE(t.producer(1));
  pin3.reservation.complete(off++);
  five.reservation.complete(off++);
  // An evicted producer is unknown again: any sequence is accepted (Kafka's behaviour after expiration).
  EXPECT_EQ(t.check_and_reserve(batch(2, 0, 17)).kind, Kind::append);
}

TEST(ProducerState, ExpirationFollowsProducerIdExpirationMs) {
  EXPECT_EQ(TableConfig{}.producer_id_expiration_ms, 86'400'000);
  TableConfig c;
  c.producer_id_expiration_ms = 1000;
  ProducerStateTable t(c);
  int64_t off = 0;
  append(t, batch(1, 0, 0, 1, /*ts=*/10'000), off);
  append(t, batch(2, 0, 0, 1, /*ts=*/10'500), off);
  auto pinned = t.check_and_reserve(batch(3, 0, 0, 1, 0));
  EXPECT_EQ(t.expire(10'999), 0u);
  EXPECT_EQ(t.expire(11'000), 1u);  // now - last timestamp >= expiration
  EXPECT_FALSE(t.producer(1));
  EXPECT_TRUE(t.producer(2));
  EXPECT_EQ(t.expire(1'000'000), 1u);  // 3 is in flight: kept
  EXPECT_EQ(t.size(), 1u);
  pinned.reservation.complete(off++);
  EXPECT_EQ(t.expire(1'000'000), 1u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(ProducerState, CloseWakesWaitersAndRefusesNewBatches) {
  meta::testing::IoThreads io(1);
  auto t = std::make_unique<ProducerStateTable>();
  auto a = t->check_and_reserve(batch(1, 0, 0));
  auto retry = t->check_and_reserve(batch(1, 0, 0));
  ASSERT_EQ(retry.kind, Kind::wait);
  InFlightWait wait = retry.wait;
  auto waiter = [wait]() -> asio::awaitable<WaitOutcome> { co_return co_await wait.result(); };
  auto f = asio::co_spawn(io.io(), waiter(), asio::use_future);
  t->close();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get().error, Errc::closed);
  EXPECT_EQ(error_of(*t, batch(2, 0, 0)), Errc::closed);
  t.reset();
  a.reservation.complete(0);  // the table is gone; its state is kept alive and this is a no-op
}

TEST(ProducerState, ObserveSkipsBatchesAlreadyApplied) {
  ProducerStateTable t;
  t.observe(batch(1, 0, 0, 2), 0);
  t.observe(batch(1, 0, 2, 2), 2);
  auto before = t.producers();
  t.observe(batch(1, 0, 2, 2), 2);
  t.observe(batch(1, 0, 0, 2), 0);
  EXPECT_EQ(t.producers(), before);
}

ProducerStateTable& populate(ProducerStateTable& t, int64_t& off) {
  for (int64_t pid = 0; pid < 20; ++pid) {
    for (int i = 0; i < static_cast<int>(pid % 8) + 1; ++i) {
      t.observe(batch(pid * 1000, static_cast<int16_t>(pid % 3), i * 3, 3, 1'000 * pid + i), off);
      off += 3;
    }
  }
  return t;
}

TEST(ProducerSnapshot, RoundTripAndReplayFromTheSnapshotOffsetEqualTheOriginal) {
  ProducerStateTable t;
  int64_t off = 0;
  populate(t, off);
  auto snap = t.snapshot(off);
  ASSERT_TRUE(snap.ok());

  // More batches after the snapshot.
  std::vector<std::pair<BatchMeta, int64_t>> tail;
  for (int i = 0; i < 10; ++i) {
    auto m = batch(3000, 0, 12 + i, 1, 99);  // producer 3000 has 4 batches of 3 at epoch 0
    auto d = t.check_and_reserve(m);
    ASSERT_EQ(d.kind, Kind::append);
    d.reservation.complete(off);
    tail.emplace_back(m, off++);
  }
  auto fresh = batch(424242, 1, 7, 2, 5);
  t.check_and_reserve(fresh).reservation.complete(off);
  tail.emplace_back(fresh, off);
  off += 2;

  ProducerStateTable reopened;
  auto from = reopened.restore(*snap);
  ASSERT_TRUE(from.ok()) << from.error().message;
  for (auto& [m, o] : tail) {
    if (o >= *from) reopened.observe(m, o);
  }
  EXPECT_EQ(reopened.producers(), t.producers());
  EXPECT_EQ(*reopened.snapshot(off), *t.snapshot(off));
  // Retries after reopen are deduplicated exactly as before.
  auto d = reopened.check_and_reserve(batch(3000, 0, 21, 1));
  ASSERT_EQ(d.kind, Kind::duplicate);
  EXPECT_EQ(d.duplicate.base_offset, tail[9].second);
}

TEST(ProducerSnapshot, CorruptionIsDetectedAndLeavesTheTableEmpty) {
  ProducerStateTable t;
  int64_t off = 0;
  populate(t, off);
  auto snap = *t.snapshot(off);
  for (size_t i = 0; i < snap.size(); i += 7) {
    auto bad = snap;
    bad[i] ^= 0x10;
    ProducerStateTable r;
    auto res = r.restore(bad);
    ASSERT_FALSE(res.ok()) << "flipped byte " << i;
    EXPECT_EQ(r.size(), 0u);
  }
  for (size_t n : {size_t{0}, size_t{10}, snap.size() - 1}) {
    ProducerStateTable r;
    EXPECT_FALSE(r.restore(std::span(snap.data(), n)).ok());
  }
  {  // a newer version is refused as such
    auto v3 = snap;
    v3[4] = kSnapshotVersion + 1;
    ProducerStateTable r;
    auto res = r.restore(v3);
    ASSERT_FALSE(res.ok());
    EXPECT_EQ(res.error().code, make_error_code(Errc::unsupported_snapshot));
  }
  ProducerStateTable r;
  ASSERT_TRUE(r.restore(snap).ok());
  auto again = r.restore(snap);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, make_error_code(Errc::not_empty));
}

TEST(ProducerSnapshot, RestoreIntoASmallerCapKeepsTheMostRecentlyUsed) {
  ProducerStateTable t;
  int64_t off = 0;
  populate(t, off);
  TableConfig c;
  c.max_producers = 5;
  ProducerStateTable small(c);
  ASSERT_TRUE(small.restore(*t.snapshot(off)).ok());
  EXPECT_EQ(small.size(), 5u);
  for (int64_t pid = 15; pid < 20; ++pid) EXPECT_TRUE(small.producer(pid * 1000)) << pid;
}

TEST(ProducerSnapshot, FromHeaderUsesLastOffsetDeltaAndSkipsControlBatches) {
  record::BatchHeader h;
  h.producer_id = 5;
  h.producer_epoch = 2;
  h.base_sequence = 10;
  h.last_offset_delta = 3;
  h.records_count = 4;
  h.max_timestamp = 1234;
  h.base_offset = 50;
  auto m = BatchMeta::from_header(h);
  EXPECT_EQ(m.record_count, 4);
  EXPECT_EQ(m.last_sequence(), 13);
  ProducerStateTable t;
  t.observe(h);
  EXPECT_EQ(t.producer(5)->last_offset, 53);
  h.attributes = record::attr::kControl;
  h.base_offset = 60;
  h.producer_id = 6;
  t.observe(h);
  EXPECT_FALSE(t.producer(6));
}

}  // namespace
}  // namespace floe::producer
