#include "producer/errors.h"

#include <string>

namespace floe::producer {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "producer"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok: return "ok";
      case Errc::out_of_order_sequence: return "out of order sequence number";
      case Errc::invalid_producer_epoch: return "producer epoch is older than the current one";
      case Errc::unknown_producer_id: return "unknown producer id";
      case Errc::invalid_batch: return "idempotent batch with a negative epoch or sequence, or no records";
      case Errc::original_failed: return "the in-flight original batch failed";
      case Errc::in_doubt: return "an append of this producer failed ambiguously";
      case Errc::too_many_in_flight: return "too many batches of one producer in flight";
      case Errc::too_many_producers: return "too many producers with batches in flight";
      case Errc::closed: return "producer state table closed";
      case Errc::corrupt_snapshot: return "corrupt producer state snapshot";
      case Errc::unsupported_snapshot: return "unsupported producer state snapshot version";
      case Errc::not_empty: return "producer state table is not empty";
      case Errc::id_space_exhausted: return "producer id space exhausted";
      case Errc::id_counter_corrupt: return "producer id counter is not a number";
      case Errc::id_conflict_retries: return "producer id block allocation lost too many races";
    }
    return "unknown producer error " + std::to_string(ev);
  }
};

}  // namespace

const std::error_category& producer_category() {
  static const Category category;
  return category;
}

int16_t kafka_error_code(Errc e) {
  switch (e) {
    case Errc::ok: return kafka_error::kNone;
    case Errc::out_of_order_sequence: return kafka_error::kOutOfOrderSequenceNumber;
    case Errc::invalid_producer_epoch: return kafka_error::kInvalidProducerEpoch;
    case Errc::unknown_producer_id: return kafka_error::kUnknownProducerId;
    case Errc::invalid_batch: return kafka_error::kInvalidRecord;
    case Errc::original_failed: return kafka_error::kRequestTimedOut;
    case Errc::in_doubt: return kafka_error::kNotLeaderOrFollower;
    case Errc::too_many_in_flight: return kafka_error::kRequestTimedOut;
    case Errc::too_many_producers: return kafka_error::kRequestTimedOut;
    case Errc::closed: return kafka_error::kNotLeaderOrFollower;
    case Errc::corrupt_snapshot:
    case Errc::unsupported_snapshot:
    case Errc::not_empty: return -1;  // UNKNOWN_SERVER_ERROR: internal, never a client's fault
    case Errc::id_space_exhausted:
    case Errc::id_counter_corrupt: return -1;
    case Errc::id_conflict_retries: return kafka_error::kCoordinatorLoadInProgress;
  }
  return -1;
}

}  // namespace floe::producer
