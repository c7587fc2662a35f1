// Kafka protocol error codes the group coordinator answers with (the numbers are the protocol's, names as in Kafka).
// Kept here rather than taken from src/kafka so that this module does not depend on the layer that calls it.
#pragma once

#include <cstdint>

namespace floe::group {

enum class Errc : int16_t {
  none = 0,
  unknown_server_error = -1,
  offset_metadata_too_large = 12,
  coordinator_load_in_progress = 14,
  coordinator_not_available = 15,
  not_coordinator = 16,
  illegal_generation = 22,
  inconsistent_group_protocol = 23,
  invalid_group_id = 24,
  unknown_member_id = 25,
  invalid_session_timeout = 26,
  rebalance_in_progress = 27,
  invalid_commit_offset_size = 28,
  invalid_request = 42,
  non_empty_group = 68,
  group_id_not_found = 69,
  member_id_required = 79,
  group_max_size_reached = 81,
  fenced_instance_id = 82,
  group_subscribed_to_topic = 86,
};

constexpr int16_t code(Errc e) { return static_cast<int16_t>(e); }

}  // namespace floe::group
