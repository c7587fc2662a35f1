// Kafka protocol error codes Floe answers with (the numbers are the protocol's; names as in Kafka).
#pragma once

#include <cstdint>

namespace floe::kafka {

enum class Errc : int16_t {
  none = 0,
  unknown_server_error = -1,
  offset_out_of_range = 1,
  corrupt_message = 2,
  unknown_topic_or_partition = 3,
  invalid_fetch_size = 4,
  leader_not_available = 5,
  not_leader_or_follower = 6,
  request_timed_out = 7,
  broker_not_available = 8,
  replica_not_available = 9,
  message_too_large = 10,
  coordinator_load_in_progress = 14,
  coordinator_not_available = 15,
  not_coordinator = 16,
  invalid_topic_exception = 17,
  record_list_too_large = 18,
  invalid_required_acks = 21,
  illegal_generation = 22,
  unknown_member_id = 25,
  topic_authorization_failed = 29,
  group_authorization_failed = 30,
  unsupported_version = 35,
  topic_already_exists = 36,
  invalid_partitions = 37,
  invalid_replication_factor = 38,
  invalid_replica_assignment = 39,
  invalid_request = 42,
  unsupported_for_message_format = 43,
  invalid_config = 40,
  not_controller = 41,
  kafka_storage_error = 56,
  reassignment_in_progress = 60,
  fetch_session_id_not_found = 70,
  invalid_fetch_session_epoch = 71,
  fenced_leader_epoch = 74,
  no_reassignment_in_progress = 85,
  unknown_leader_epoch = 75,
  transactional_id_authorization_failed = 53,
  policy_violation = 44,
  invalid_record = 87,
  unknown_topic_id = 100,
  fetch_session_topic_id_error = 106,
};

constexpr int16_t code(Errc e) { return static_cast<int16_t>(e); }

// A client's current_leader_epoch against the partition's (-1: the client does not say): 0 when they agree, else
// FENCED_LEADER_EPOCH for an older one and UNKNOWN_LEADER_EPOCH for a newer one.
constexpr int16_t leader_epoch_error(int32_t client_epoch, int32_t current_epoch) {
  if (client_epoch < 0 || client_epoch == current_epoch) return 0;
  return code(client_epoch < current_epoch ? Errc::fenced_leader_epoch : Errc::unknown_leader_epoch);
}

}  // namespace floe::kafka
