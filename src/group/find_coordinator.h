// FindCoordinator (all versions, 0-6): which broker coordinates a group (or a transactional id). The key maps to a
// partition of the internal topic by Kafka's hash (java_hash.h); which broker leads that partition is the caller's
// knowledge, supplied through CoordinatorLocator.
#pragma once

#include <cstdint>
#include <string>
#include <utility>  // before asio/awaitable.hpp

#include <asio/awaitable.hpp>

#include "protocol/msg/find_coordinator.h"

namespace floe::group {

enum class CoordinatorKeyType : int8_t { group = 0, transaction = 1 };

struct CoordinatorEndpoint {
  int16_t error_code = 0;  // COORDINATOR_NOT_AVAILABLE when the partition has no leader (yet)
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
};

class CoordinatorLocator {
 public:
  virtual ~CoordinatorLocator() = default;
  // Partitions of the internal topic for `type` (__consumer_offsets, __transaction_state); 0: not available.
  virtual int32_t partition_count(CoordinatorKeyType type) const = 0;
  // The broker leading `partition` of that topic.
  virtual asio::awaitable<CoordinatorEndpoint> locate(CoordinatorKeyType type, int32_t partition) = 0;
};

// v0-3 answer the single `key`; v4+ one entry per `coordinator_keys` element. Empty keys get INVALID_REQUEST
// (group ids: Kafka's rule), an unknown key type INVALID_REQUEST.
asio::awaitable<proto::FindCoordinatorResponse> find_coordinator(CoordinatorLocator& locator, int16_t version,
                                                                 proto::FindCoordinatorRequest req);

}  // namespace floe::group
