// The snapshot blob (every field, CRC, bounds, expiration) and ProducerStateTable::capture() at an offset below
// batches still in flight or not yet committed.
#include "producer/producer_snapshot.h"

#include <gtest/gtest.h>

#include <limits>

#include "producer/producer_state.h"
#include "protocol/record/batch_header.h"
#include "test_util.h"

namespace floe::producer {
namespace {

using testing::batch;
using Kind = Decision::Kind;

ProducerInfo producer_with(int64_t pid, int16_t epoch, std::vector<ProducerInfo::Batch> batches) {
  ProducerInfo p;
  p.producer_id = pid;
  p.epoch = epoch;
  p.batches = std::move(batches);
  p.last_offset = p.batches.back().last_offset;
  p.last_timestamp = p.batches.back().timestamp;
  return p;
}

ProducerSnapshot sample() {
  ProducerSnapshot s;
  s.next_offset = (int64_t{1} << 40) + 17;
  // Values chosen so that every field has bytes of its own (big-endian order shows), with a sequence wrap.
  s.producers.push_back(producer_with(7, 3, {{0, 9, 100, 9, 1'700'000'000'000}, {10, 10, 205, 0, 1'700'000'000'123}}));
  s.producers.push_back(producer_with(
      (int64_t{1} << 50) + 5, 32000,
      {{std::numeric_limits<int32_t>::max() - 1, 1, 0x0102030405, 3, -1}, {2, 6, 0x0102030409, 4, 0x0A0B0C0D0E}}));
  s.producers[1].last_timestamp = 0x0A0B0C0D0F;  // stored as given, not derived
  s.leader_epochs = {{0, 0}, {4, 100}, {70000, 0x0102030400}};
  return s;
}

TEST(ProducerSnapshotCodec, RoundTripKeepsEveryField) {
  const ProducerSnapshot s = sample();
  auto blob = encode_snapshot(s);
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  EXPECT_EQ(blob->size(), kSnapshotHeaderBytes + 2 * kSnapshotProducerBytes + 4 * kSnapshotBatchBytes +
                              3 * kSnapshotEpochBytes);
  const uint8_t* b = blob->data();
  EXPECT_EQ(record::load_be32(b), 0x46505354u);
  EXPECT_EQ(b[4], kSnapshotVersion);
  EXPECT_EQ(record::load_be64(b + 9), static_cast<uint64_t>(s.next_offset));
  EXPECT_EQ(record::load_be32(b + 17), 2u);
  EXPECT_EQ(record::load_be16(b + 21), 3u);
  EXPECT_EQ(record::load_be64(b + 23), 7u);  // the first producer id
  auto back = decode_snapshot(*blob);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);

  ProducerSnapshot empty;
  auto e = encode_snapshot(empty);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->size(), kSnapshotHeaderBytes);
  EXPECT_EQ(*decode_snapshot(*e), empty);
}

TEST(ProducerSnapshotCodec, CorruptionIsRejected) {
  auto blob = *encode_snapshot(sample());
  for (size_t i = 0; i < blob.size(); ++i) {
    auto bad = blob;
    bad[i] ^= 0x04;
    auto r = decode_snapshot(bad);
    ASSERT_FALSE(r.ok()) << "flipped byte " << i;
    EXPECT_EQ(r.error().code, make_error_code(i == 4 ? Errc::unsupported_snapshot : Errc::corrupt_snapshot)) << i;
  }
  for (size_t n = 0; n < blob.size(); ++n) EXPECT_FALSE(decode_snapshot(std::span(blob.data(), n)).ok()) << n;
  auto longer = blob;
  longer.push_back(0);
  EXPECT_FALSE(decode_snapshot(longer).ok());

  // A body that passes the CRC but breaks a rule (a batch at the snapshot's offset) is refused too.
  ProducerSnapshot s = sample();
  s.next_offset = s.producers[0].batches.back().last_offset;
  EXPECT_FALSE(encode_snapshot(s).ok());
}

TEST(ProducerSnapshotCodec, EncodeRefusesWhatDecodeWouldRefuse) {
  auto refused = [](auto change) {
    ProducerSnapshot s = sample();
    change(s);
    auto r = encode_snapshot(s);
    return !r.ok() && r.error().code == make_error_code(Errc::corrupt_snapshot);
  };
  EXPECT_TRUE(refused([](ProducerSnapshot& s) { std::swap(s.producers[0], s.producers[1]); }));
  EXPECT_TRUE(refused([](ProducerSnapshot& s) { s.producers[0].epoch = -1; }));
  EXPECT_TRUE(refused([](ProducerSnapshot& s) { s.producers[0].batches.clear(); }));
  EXPECT_TRUE(refused([](ProducerSnapshot& s) { s.producers[0].batches.resize(6, s.producers[0].batches[0]); }));
  EXPECT_TRUE(refused([](ProducerSnapshot& s) { std::swap(s.leader_epochs[0], s.leader_epochs[1]); }));
  EXPECT_TRUE(refused([](ProducerSnapshot& s) { s.leader_epochs.back().start_offset = s.next_offset + 1; }));
  EXPECT_TRUE(refused([](ProducerSnapshot& s) { s.next_offset = -1; }));
}

TEST(ProducerSnapshotBounds, ExpiredProducersAreDroppedThenTheOldestBeyondTheCap) {
  ProducerSnapshot s;
  s.next_offset = 1000;
  for (int64_t pid = 0; pid < 10; ++pid) {
    // Last timestamps out of producer-id order: 5000, 4000, ... are reversed for odd ids.
    const int64_t ts = (pid % 2 == 0 ? 10'000 + pid * 100 : 20'000 - pid * 100);
    s.producers.push_back(producer_with(pid, 0, {{0, 0, pid * 10, 0, ts}}));
  }
  SnapshotBounds bounds;
  bounds.producer_id_expiration_ms = 10'000;
  // now - ts >= expiration drops: 20'000 - 10'000 drops pid 0 exactly at the limit; pid 2 (10'200) stays.
  ProducerSnapshot expired = s;
  EXPECT_EQ(bound_snapshot(expired, bounds, 20'000), 1u);
  EXPECT_EQ(expired.producers.size(), 9u);
  EXPECT_EQ(expired.producers.front().producer_id, 1);

  bounds.max_producers = 4;
  ProducerSnapshot capped = s;
  EXPECT_EQ(bound_snapshot(capped, bounds, 20'000), 6u);
  // The newest by last timestamp: odd ids 1 (19'900), 3 (19'700), 5 (19'500), 7 (19'300); ascending ids again.
  std::vector<int64_t> kept;
  for (const auto& p : capped.producers) kept.push_back(p.producer_id);
  EXPECT_EQ(kept, (std::vector<int64_t>{1, 3, 5, 7}));
  EXPECT_TRUE(encode_snapshot(capped).ok());
}

TEST(ProducerSnapshotBounds, TheHardBoundKeepsTheBlobWellUnderEtcdsValueLimit) {
  ProducerSnapshot s;
  s.next_offset = int64_t{1} << 40;
  for (int64_t pid = 0; pid < static_cast<int64_t>(kMaxSnapshotProducers) + 50; ++pid) {
    std::vector<ProducerInfo::Batch> batches;
    for (int i = 0; i < 5; ++i) batches.push_back({i, i, pid * 5 + i, 0, 1000 + pid});
    s.producers.push_back(producer_with(pid, 0, batches));
  }
  for (int32_t e = 0; e < static_cast<int32_t>(kMaxSnapshotEpochs) + 10; ++e) s.leader_epochs.push_back({e, e});
  EXPECT_FALSE(encode_snapshot(s).ok());  // over the hard bounds

  SnapshotBounds bounds;
  bounds.max_producers = 1'000'000;  // clamped
  EXPECT_EQ(bound_snapshot(s, bounds, 2000), 50u);
  EXPECT_EQ(s.producers.size(), kMaxSnapshotProducers);
  EXPECT_EQ(s.producers.front().producer_id, 50);  // the oldest (lowest last timestamp) went
  EXPECT_EQ(s.leader_epochs.size(), kMaxSnapshotEpochs);
  EXPECT_EQ(s.leader_epochs.front().epoch, 10);
  auto blob = encode_snapshot(s);
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  EXPECT_LT(blob->size(), size_t{1} << 20);  // etcd takes values up to 1.5 MiB
  EXPECT_EQ(decode_snapshot(*blob)->producers.size(), kMaxSnapshotProducers);
}

TEST(ProducerSnapshotCapture, StopsBelowInFlightBatchesAndTheRequestedOffset) {
  ProducerStateTable t;
  int64_t off = 0;
  auto append = [&](const BatchMeta& m) {
    auto d = t.check_and_reserve(m);
    EXPECT_EQ(d.kind, Kind::append);
    d.reservation.complete(off);
    off += m.record_count;
  };
  append(batch(1, 0, 0, 2, 100));  // 0-1
  append(batch(2, 0, 0, 1, 110));  // 2
  append(batch(1, 0, 2, 1, 120));  // 3
  append(batch(3, 0, 0, 1, 130));  // 4
  EXPECT_EQ(t.applied_batches(), 4u);
  EXPECT_EQ(t.applied_end(), 5);

  // Up to 4: producer 3 is left out (its only batch is at 4), producer 1 keeps the batches below.
  auto s = t.capture(4);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->next_offset, 4);
  ASSERT_EQ(s->producers.size(), 2u);
  EXPECT_EQ(s->producers[0].batches.size(), 2u);
  EXPECT_EQ(s->producers[0].last_timestamp, 120);
  s = t.capture(3);
  EXPECT_EQ(s->producers[0].batches.size(), 1u);
  EXPECT_EQ(s->producers[0].last_offset, 1);
  EXPECT_EQ(s->producers[0].last_timestamp, 100);

  // An append in flight (its offset not known yet) caps the snapshot at the applied end when it was reserved.
  auto pending = t.check_and_reserve(batch(2, 0, 1, 1, 140));
  ASSERT_EQ(pending.kind, Kind::append);
  EXPECT_EQ(t.capture(100)->next_offset, 5);
  pending.reservation.complete(5);
  EXPECT_EQ(t.capture(100)->next_offset, 100);

  // Restoring the capture at 4 and replaying the log from 4 gives the live state.
  ProducerStateTable reloaded;
  ASSERT_EQ(*reloaded.restore(*t.capture(4)), 4);
  EXPECT_EQ(reloaded.applied_end(), 4);
  reloaded.observe(batch(3, 0, 0, 1, 130), 4);
  reloaded.observe(batch(2, 0, 1, 1, 140), 5);
  EXPECT_EQ(reloaded.producers(), t.producers());

  // In doubt: no snapshot until the partition is reloaded.
  auto doubtful = t.check_and_reserve(batch(1, 0, 3, 1, 150));
  doubtful.reservation.fail(/*ambiguous=*/true);
  auto refused = t.capture(100);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, make_error_code(Errc::in_doubt));
}

TEST(ProducerSnapshotCapture, RestoreFromABlobDeduplicatesTheLastBatches) {
  ProducerStateTable t;
  for (int i = 0; i < 7; ++i) t.observe(batch(9, 1, i * 2, 2, 1000 + i), i * 2);
  auto blob = t.snapshot(14);
  ASSERT_TRUE(blob.ok());
  ProducerStateTable r;
  ASSERT_EQ(*r.restore(*blob), 14);
  for (int i = 2; i < 7; ++i) {  // the last five
    auto d = r.check_and_reserve(batch(9, 1, i * 2, 2));
    ASSERT_EQ(d.kind, Kind::duplicate) << i;
    EXPECT_EQ(d.duplicate.base_offset, i * 2);
  }
  EXPECT_EQ(r.check_and_reserve(batch(9, 1, 2, 2)).error, Errc::out_of_order_sequence);  // behind the window
  EXPECT_EQ(r.check_and_reserve(batch(9, 0, 14, 1)).error, Errc::invalid_producer_epoch);
}

}  // namespace
}  // namespace floe::producer
