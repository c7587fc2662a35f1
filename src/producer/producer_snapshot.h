// The persisted idempotence state of one partition (DESIGN §8): what ProducerStateTable::capture() takes, what the
// broker stores in the metadata store (one key per partition, kafka/producer_states.h) and what loading restores
// before replaying the log from `next_offset` on.
//
// A snapshot at `next_offset` reflects every batch below that offset and none at or above it. Besides the producers
// it carries the partition's leader-epoch history (epoch -> first offset) below `next_offset`, because loading skips
// that part of the log and the log replay is what feeds the stream's epoch history (OffsetForLeaderEpoch).
//
// Blob layout (all integers big-endian), version 2 (version 1 was a table-only blob that was never persisted):
//
//   offset size
//  +------+----+------------------------------------------------------------+
//  |    0 |  4 | magic 0x46505354 ("FPST")                                  |
//  |    4 |  1 | version uint8 = 2                                          |
//  |    5 |  4 | crc uint32: CRC-32C of the body (every byte from 9 on)     |
//  +------+----+------------------------------------------------------------+  body:
//  |    9 |  8 | next_offset int64                                          |
//  |   17 |  4 | producer count uint32 (<= kMaxSnapshotProducers)           |
//  |   21 |  2 | epoch count uint16 (<= kMaxSnapshotEpochs)                 |
//  +------+----+------------------------------------------------------------+
//  |   23 |  * | per producer, ascending producer id (19 + 28 * batches):   |
//  |      |  8 |   producer_id int64                                        |
//  |      |  2 |   epoch int16                                              |
//  |      |  8 |   last_timestamp int64 (the expiration key)                |
//  |      |  1 |   batch count uint8 (1..5), oldest first:                  |
//  |      |  4 |     first_sequence int32                                   |
//  |      |  4 |     last_sequence int32                                    |
//  |      |  8 |     last_offset int64 (< next_offset)                      |
//  |      |  4 |     offset_delta int32 (last offset - base offset)         |
//  |      |  8 |     timestamp int64 (the batch's max timestamp)            |
//  +------+----+------------------------------------------------------------+
//  |    * | 12 | per leader epoch, ascending epoch and offset:              |
//  |      |  4 |   epoch int32                                              |
//  |      |  8 |   start_offset int64 (<= next_offset)                      |
//  +------+----+------------------------------------------------------------+
//
// Size: at most 23 + 159 * producers + 12 * epochs bytes; with the hard bounds below about 0.96 MB, well under
// etcd's 1.5 MiB value limit. bound_snapshot() applies the configured (smaller) bounds and expiration.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"

namespace floe::producer {

inline constexpr int64_t kNoProducerId = -1;
inline constexpr int16_t kNoProducerEpoch = -1;
inline constexpr int32_t kNoSequence = -1;
inline constexpr size_t kDedupWindow = 5;  // Kafka keeps the last five batches per producer

inline constexpr uint8_t kSnapshotVersion = 2;
inline constexpr size_t kMaxSnapshotProducers = 6000;
inline constexpr size_t kMaxSnapshotEpochs = 1000;
inline constexpr size_t kSnapshotHeaderBytes = 23;
inline constexpr size_t kSnapshotProducerBytes = 19;  // without its batches
inline constexpr size_t kSnapshotBatchBytes = 28;
inline constexpr size_t kSnapshotEpochBytes = 12;

// One producer's durable state.
struct ProducerInfo {
  struct Batch {
    int32_t first_sequence = 0;
    int32_t last_sequence = 0;
    int64_t last_offset = 0;
    int32_t offset_delta = 0;
    int64_t timestamp = 0;
    bool operator==(const Batch&) const = default;
  };
  int64_t producer_id = kNoProducerId;
  int16_t epoch = kNoProducerEpoch;
  int64_t last_timestamp = -1;
  int64_t last_offset = -1;    // the newest batch's last offset (not stored: derived when decoding)
  std::vector<Batch> batches;  // oldest first, 1..kDedupWindow
  bool operator==(const ProducerInfo&) const = default;
};

struct EpochStart {
  int32_t epoch = 0;
  int64_t start_offset = 0;
  bool operator==(const EpochStart&) const = default;
};

struct ProducerSnapshot {
  int64_t next_offset = 0;
  std::vector<ProducerInfo> producers;    // ascending producer id
  std::vector<EpochStart> leader_epochs;  // ascending epoch
  bool operator==(const ProducerSnapshot&) const = default;
};

struct SnapshotBounds {
  size_t max_producers = 5000;                           // clamped to kMaxSnapshotProducers
  int64_t producer_id_expiration_ms = 24 * 3600 * 1000;  // Kafka producer.id.expiration.ms
};

// Drops the producers expired at `now_ms` (last timestamp producer_id_expiration_ms or more before it), then, beyond
// max_producers, the ones with the oldest last timestamp (as expiration would drop them first), and the oldest
// leader epochs beyond kMaxSnapshotEpochs. Returns how many producers were dropped.
size_t bound_snapshot(ProducerSnapshot& snapshot, const SnapshotBounds& bounds, int64_t now_ms);

// Errc::corrupt_snapshot for a snapshot over the hard bounds or with values decode would refuse.
Result<std::vector<uint8_t>> encode_snapshot(const ProducerSnapshot& snapshot);
// Errc::corrupt_snapshot (bad magic, CRC, sizes or values) or Errc::unsupported_snapshot (another version).
Result<ProducerSnapshot> decode_snapshot(std::span<const uint8_t> blob);

}  // namespace floe::producer
