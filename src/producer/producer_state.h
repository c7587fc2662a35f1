// ProducerStateTable: the idempotence state of one partition (Kafka's ProducerStateManager, without transactions),
// with batches in flight (reserved but not yet durable) modelled explicitly.
//
// Per producer id it keeps the epoch and the last five batches (first/last sequence, last offset, offset delta,
// timestamp) that are durable, plus the batches of that producer that are reserved and not yet applied. A produce
// handler asks check_and_reserve() before appending a batch and gets one of:
//   append     - in sequence: append it, then Reservation::complete(base_offset) or ::fail()
//   duplicate  - a retry of one of the last five batches: answer success with the original's offsets, append nothing
//   wait       - a retry of a batch still in flight: await the original's outcome (offsets, or an error; after
//                Errc::original_failed the sequence was released and check_and_reserve() may be asked again)
//   error      - Errc::out_of_order_sequence / invalid_producer_epoch / unknown_producer_id (strict mode only) /
//                invalid_batch / in_doubt / too_many_in_flight / too_many_producers; kafka_error_code() maps them
// Batches without a producer id (-1) are not idempotent: they get `append` with an inactive reservation.
//
// Kafka's rules (ProducerStateManager, Kafka >= 2.5, idempotent producers):
//  - duplicate: same epoch and the same first and last sequence as one of the last five batches (durable or in
//    flight) of the producer's current epoch. Checked first.
//  - epoch older than the producer's current epoch: INVALID_PRODUCER_EPOCH.
//  - epoch newer (a bump): the first sequence must be 0, else OUT_OF_ORDER_SEQUENCE_NUMBER; the window is cleared.
//  - same epoch: the first sequence must follow the last one (last + 1, or 0 after INT32_MAX), else
//    OUT_OF_ORDER_SEQUENCE_NUMBER (a gap, or a retry older than the window).
//  - unknown producer (never seen, expired, evicted): any first sequence is accepted (KIP-360). With
//    `strict_unknown_producer` a first sequence other than 0 is UNKNOWN_PRODUCER_ID instead (Kafka < 2.5).
//  - last sequence = first + record count - 1, wrapping past INT32_MAX to 0.
//
// Durable state changes only in log order: complete() marks a reservation done, and done reservations are applied
// oldest first (reservation order), so out-of-order completion ends in the same state as replaying the log. This
// needs reservation order == offset order per producer: reserve and start the append in the partition's one
// offset-assigning step (the same critical section), never reserve, yield, then append.
//
// Failure: fail() (definite: nothing was or will be written) releases the sequence: the producer's next expected
// sequence goes back, waiters of the batch get Errc::original_failed and may retry. fail(ambiguous) (the batch may
// still be committed by recovery) marks the producer in doubt: its batches are refused with Errc::in_doubt (mapped to
// NOT_LEADER_OR_FOLLOWER, retriable) until the partition is reloaded from committed data (restore + observe), which
// deduplicates the client's retry against what was really committed. A Reservation dropped without an outcome counts
// as ambiguous. snapshot() refuses while a producer is in doubt.
//
// Bounds: at most `max_producers` producers; adding one more evicts the least recently used (lowest last offset) that
// has nothing in flight and is not in doubt. expire(now_ms) drops producers whose last batch timestamp is
// `producer_id_expiration_ms` (Kafka producer.id.expiration.ms, default 1 day) or more before now and that have
// nothing in flight. At most `max_in_flight_per_producer` unfinished batches per producer (Kafka clients send at most
// 5 with idempotence).
//
// Snapshots (producer_snapshot.h has the blob layout): capture(up_to) takes the durable state as of an offset S <=
// up_to that is also at or below every batch still in flight, keeping of each producer only the batches below S. So
// the caller may pass the stream's committed end while appends go on: the snapshot describes committed data only,
// and restore() + observe() of the log from S on rebuilds the live state (a producer all of whose last five batches
// are at or above S is left out: the replay brings it back). Each reservation remembers the end of what was applied
// when it was made (its batch's offset is at least that: offsets follow reservation order); S is at most the lowest
// such floor. capture() refuses while a producer is in doubt (its ambiguous batch may sit anywhere in the log).
//
// Thread-safety: every member function may be called from any thread (one mutex, short critical sections, no I/O);
// waiters are woken through asio channels on their own executors. Reservations and waits keep the table's state
// alive; close() (or the destructor) fails what still waits with Errc::closed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <asio/awaitable.hpp>

#include "base/result.h"
#include "producer/errors.h"
#include "producer/producer_snapshot.h"
#include "protocol/record/batch_header.h"

namespace floe::producer {

// What the idempotence checks need of a batch.
struct BatchMeta {
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  int32_t record_count = 0;      // lastOffsetDelta + 1: the batch's offsets and sequences span this many
  int64_t max_timestamp = -1;    // the producer's activity time for expiration (Kafka: the batch's maxTimestamp)
  bool control = false;          // control batches (transaction markers) carry no data sequences

  static BatchMeta from_header(const record::BatchHeader& h);
  bool idempotent() const { return producer_id > kNoProducerId; }
  int32_t last_sequence() const;  // base + count - 1, wrapping past INT32_MAX to 0
};

// Sequence arithmetic of Kafka (DefaultRecordBatch.incrementSequence and the in-sequence check).
int32_t increment_sequence(int32_t sequence, int32_t increment);
bool in_sequence(int32_t last_sequence, int32_t next_sequence);

struct TableConfig {
  size_t max_producers = 10'000;
  int64_t producer_id_expiration_ms = 24 * 3600 * 1000;  // Kafka producer.id.expiration.ms
  size_t max_in_flight_per_producer = 5;
  bool strict_unknown_producer = false;
};

// The original batch of a duplicate, as a Produce response reports it.
struct BatchOffsets {
  int64_t base_offset = -1;
  int64_t last_offset = -1;
  int64_t timestamp = -1;  // the batch's max timestamp (a LogAppendTime response uses the broker's time instead)
  bool operator==(const BatchOffsets&) const = default;
};

// Outcome of waiting for an in-flight original: the offsets (error == ok), or original_failed (ask
// check_and_reserve() again), in_doubt or closed (answer the mapped Kafka error).
struct WaitOutcome {
  Errc error = Errc::ok;
  BatchOffsets offsets;
};

struct TableCore;
struct WaitState;

// One reserved batch. Move-only. complete() or fail() exactly once; dropping an active one is fail(ambiguous).
class Reservation {
 public:
  Reservation() = default;
  Reservation(Reservation&& other) noexcept;
  Reservation& operator=(Reservation&& other) noexcept;
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  ~Reservation();

  // False for non-idempotent batches and after complete()/fail(); then both are no-ops.
  bool active() const { return core_ != nullptr; }
  // The batch is durable with its first record at `base_offset`.
  void complete(int64_t base_offset);
  // The append failed. ambiguous: it may still be committed (see the file comment).
  void fail(bool ambiguous = false);

 private:
  friend class ProducerStateTable;
  Reservation(std::shared_ptr<TableCore> core, int64_t producer_id, uint64_t id)
      : core_(std::move(core)), producer_id_(producer_id), id_(id) {}
  std::shared_ptr<TableCore> core_;
  int64_t producer_id_ = kNoProducerId;
  uint64_t id_ = 0;
};

// A retry's handle on its in-flight original. Copyable; result() may be awaited by any number of coroutines.
class InFlightWait {
 public:
  InFlightWait() = default;
  explicit InFlightWait(std::shared_ptr<WaitState> state) : state_(std::move(state)) {}
  asio::awaitable<WaitOutcome> result() const;
  // The outcome if the original already finished (no waiting).
  std::optional<WaitOutcome> ready() const;

 private:
  std::shared_ptr<WaitState> state_;
};

struct Decision {
  enum class Kind { append, duplicate, wait, error };
  Kind kind = Kind::error;
  Reservation reservation;  // append (inactive for non-idempotent batches)
  BatchOffsets duplicate;   // duplicate
  InFlightWait wait;        // wait
  Errc error = Errc::ok;    // error
};

class ProducerStateTable {
 public:
  explicit ProducerStateTable(TableConfig config = {});
  ~ProducerStateTable();  // close()
  ProducerStateTable(const ProducerStateTable&) = delete;
  ProducerStateTable& operator=(const ProducerStateTable&) = delete;

  Decision check_and_reserve(const BatchMeta& batch);

  // Replay of a committed batch at `base_offset` (recovery, or batches appended by another path): updates the state
  // without the sequence checks (Kafka's non-client append origin). Skips non-idempotent and control batches, and
  // batches at or below the producer's last applied offset (so replaying over a snapshot twice is harmless).
  void observe(const BatchMeta& batch, int64_t base_offset);
  void observe(const record::BatchHeader& header) { observe(BatchMeta::from_header(header), header.base_offset); }

  // The durable state as of next_offset = min(up_to, every in-flight batch's floor): see the file comment.
  // Errc::in_doubt while a producer is in doubt. leader_epochs is left empty (the caller's to fill).
  Result<ProducerSnapshot> capture(int64_t up_to) const;
  // capture(up_to), encoded.
  Result<std::vector<uint8_t>> snapshot(int64_t up_to) const;
  // Loads a snapshot's producers into an empty table (Errc::not_empty otherwise), keeping the most recently used
  // max_producers; returns its next_offset (replay with observe() from there).
  Result<int64_t> restore(const ProducerSnapshot& snapshot);
  Result<int64_t> restore(std::span<const uint8_t> blob);  // decode_snapshot + restore

  // Idempotent batches applied so far (completed reservations and observe()), and the end (last offset + 1) of the
  // newest one or of a restored snapshot: a snapshot task's measure of activity.
  uint64_t applied_batches() const;
  int64_t applied_end() const;

  // Drops producers idle for producer_id_expiration_ms or more (by their last batch timestamp). Returns how many.
  size_t expire(int64_t now_ms);

  // Fails every in-flight reservation's waiters with Errc::closed; later check_and_reserve() answers closed.
  void close();

  size_t size() const;
  size_t in_flight() const;  // reservations not yet applied
  std::optional<ProducerInfo> producer(int64_t producer_id) const;
  std::vector<ProducerInfo> producers() const;  // ascending producer id

 private:
  std::shared_ptr<TableCore> core_;
};

}  // namespace floe::producer
