// ProducerIdAllocator: cluster-wide unique producer ids from one counter key in the MetaStore, taken in blocks.
//
// The counter key holds the first id not yet handed to any broker, as decimal text (missing: 0). A block is taken
// with one compare-and-set txn: "if the key's mod_revision is still the one I read, put start + block_size"; on a
// lost race the read and the txn are repeated (at most `max_attempts` times). Ids of a block are then handed out
// locally; ids of a block not used up before a restart are skipped, never reused. An ambiguous txn (timeout,
// connection lost) is retried the same way: if it was applied, the next read sees the new value and that block is
// simply skipped.
//
// Thread-safe: next() may run concurrently from any executor; every caller that finds no id left takes one block
// itself and queues it, so over-allocation is bounded by the number of concurrent callers.
//
// InitProducerId without a transactional id (idempotent producers), as Kafka answers it (KafkaApis and
// TransactionCoordinator.handleInitProducerId): producer_id and producer_epoch in the request (v3+) must be both -1
// or both set (else INVALID_REQUEST); either way the answer is a fresh producer id with epoch 0. Kafka never bumps
// the epoch of an idempotent producer on the broker: the client bumps it itself (KIP-360) and asks for a new id only
// when its epoch would overflow. PRODUCER_FENCED and epoch checks apply to transactional ids only.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "base/result.h"
#include "meta/meta_store.h"
#include "producer/errors.h"

namespace floe::producer {

struct ProducerIdAndEpoch {
  int64_t producer_id = -1;
  int16_t epoch = -1;
  bool operator==(const ProducerIdAndEpoch&) const = default;
};

struct AllocatorConfig {
  std::string counter_key = "/floe/producer-ids/next";
  int64_t block_size = 1000;
  int max_attempts = 100;  // compare-and-set rounds per block before Errc::id_conflict_retries
};

struct InitProducerIdAnswer {
  int16_t error_code = 0;  // Kafka error code
  ProducerIdAndEpoch id;   // {-1, -1} unless error_code == 0
};

class ProducerIdAllocator {
 public:
  // `store` must outlive the allocator.
  ProducerIdAllocator(meta::MetaStore& store, AllocatorConfig config = {});

  // A new producer id with epoch 0. Errors: the store's (unavailable, closed, ...), or Errc::id_space_exhausted,
  // id_counter_corrupt, id_conflict_retries.
  asio::awaitable<Result<ProducerIdAndEpoch>> next();

  // InitProducerId for a request without a transactional id (see the file comment). A store failure is answered
  // with COORDINATOR_LOAD_IN_PROGRESS (retriable), as Kafka does when no id block is available.
  asio::awaitable<InitProducerIdAnswer> init_idempotent(int64_t request_producer_id, int16_t request_epoch);

  // Blocks taken from the store so far (for tests and metrics).
  uint64_t blocks_taken() const;

 private:
  struct Block {
    int64_t next = 0;
    int64_t end = 0;
  };
  std::optional<int64_t> take_local();
  asio::awaitable<Result<Block>> take_block();

  meta::MetaStore& store_;
  AllocatorConfig config_;
  mutable std::mutex mu_;
  std::deque<Block> blocks_;
  uint64_t blocks_taken_ = 0;
};

}  // namespace floe::producer
