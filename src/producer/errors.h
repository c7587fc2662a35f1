// Errors of the producer module as values: producer::Errc plugs into std::error_code, and kafka_error_code() says
// which Kafka error code a broker answers for each one.
#pragma once

#include <cstdint>
#include <system_error>

namespace floe::producer {

// Kafka protocol error codes used here (numbers from the Kafka protocol's error table).
namespace kafka_error {
inline constexpr int16_t kNone = 0;
inline constexpr int16_t kNotLeaderOrFollower = 6;         // retriable: the client refreshes metadata and retries
inline constexpr int16_t kRequestTimedOut = 7;             // retriable
inline constexpr int16_t kCoordinatorLoadInProgress = 14;  // retriable
inline constexpr int16_t kInvalidRequest = 42;
inline constexpr int16_t kOutOfOrderSequenceNumber = 45;
inline constexpr int16_t kDuplicateSequenceNumber = 46;    // legacy: Kafka answers duplicates with success instead
inline constexpr int16_t kInvalidProducerEpoch = 47;
inline constexpr int16_t kUnknownProducerId = 59;
inline constexpr int16_t kInvalidRecord = 87;
inline constexpr int16_t kProducerFenced = 90;             // transactional producers only (InitProducerId, EndTxn)
}  // namespace kafka_error

enum class Errc {
  ok = 0,
  out_of_order_sequence,   // a gap (or a sequence behind the dedup window), or a new epoch not starting at 0
  invalid_producer_epoch,  // the batch's epoch is older than the producer's current one
  unknown_producer_id,     // strict mode only: an unknown producer whose first batch does not start at sequence 0
  invalid_batch,           // an idempotent batch with a negative epoch or sequence, or no records
  original_failed,         // (wait outcome) the in-flight original failed definitely: check_and_reserve again
  in_doubt,                // an append of this producer failed ambiguously; retriable after the partition reloads
  too_many_in_flight,      // more unfinished batches of one producer than the bound (a client over Kafka's 5)
  too_many_producers,      // the table is full of producers that cannot be evicted (all have batches in flight)
  closed,                  // the table was closed before the original finished
  corrupt_snapshot,        // bad magic, CRC, sizes or values in a snapshot blob
  unsupported_snapshot,    // a snapshot version this build does not read
  not_empty,               // restore() on a table that already holds state
  id_space_exhausted,      // the producer id counter reached INT64_MAX
  id_counter_corrupt,      // the counter key in the metadata store does not hold a number
  id_conflict_retries,     // the counter's compare-and-set lost too many races in a row
};

const std::error_category& producer_category();
inline std::error_code make_error_code(Errc e) { return {static_cast<int>(e), producer_category()}; }

// The Kafka error code a broker answers for `e` in a Produce (or InitProducerId) response.
int16_t kafka_error_code(Errc e);

}  // namespace floe::producer

template <>
struct std::is_error_code_enum<floe::producer::Errc> : std::true_type {};
