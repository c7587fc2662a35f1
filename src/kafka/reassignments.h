// AlterPartitionReassignments (key 45) and ListPartitionReassignments (key 46), v0: Kafka's way to move a partition,
// mapped onto Floe's graceful handoff (DESIGN §6). Floe keeps ONE shared log per partition, so a partition's
// replicas are always [leader]: a reassignment names exactly one broker, the new leader, and becomes
// cluster::Controller::request_move. The old leader stops accepting writes, makes its WAL durable and committed and
// releases; the target opens the partition with leader epoch + 1. No log data is copied.
//
// Answers (per partition):
//   replicas = [B], B live, B != leader  -> a move to B is requested (NONE); the move completes asynchronously
//   replicas = [leader]                  -> NONE, nothing to do (Kafka: target == current replicas is a no-op)
//   replicas = [B], a move to B pending  -> NONE (already under way)
//   replicas = [B], a move elsewhere     -> REASSIGNMENT_IN_PROGRESS
//   replicas = null (cancel)             -> NO_REASSIGNMENT_IN_PROGRESS when nothing is pending; a pending move
//                                           cannot be cancelled (its owner starts the handoff as soon as it sees
//                                           the target; the controller has no cancel): REASSIGNMENT_IN_PROGRESS
//   replicas = [] or 2+ brokers          -> INVALID_REPLICA_ASSIGNMENT ("one shared log: replicas = [leader]")
//   B not a live broker                  -> INVALID_REPLICA_ASSIGNMENT
//   unknown topic / partition            -> UNKNOWN_TOPIC_OR_PARTITION
//   no leader right now (failing over)   -> LEADER_NOT_AVAILABLE (retriable)
// Only the elected controller answers AlterPartitionReassignments; other brokers answer NOT_CONTROLLER (top level
// and per partition) so Kafka admin clients retry against Metadata's controller_id. Embedded mode (no controller):
// the single broker is the controller and leads everything, so [self] is a no-op and any other id is unknown.
//
// ListPartitionReassignments answers from the metadata image on any broker: every assignment with a move target
// (requested here, by a drain or by balancing), as Kafka shows a reassignment: replicas = [current, target],
// adding = [target], removing = [current]. A null topic list means every topic.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kafka/api_handler.h"
#include "protocol/msg/alter_partition_reassignments.h"
#include "protocol/msg/list_partition_reassignments.h"

namespace floe::kafka {

// Where a partition stands, as the check below needs it.
struct PartitionPlacement {
  bool exists = false;                 // the topic exists and has this partition
  int32_t leader = -1;                 // -1: no leader now (being assigned, or its broker is failing over)
  std::optional<int32_t> move_target;  // a move already pending
};

struct ReassignmentCheck {
  int16_t error_code = 0;
  std::string message;             // with an error; empty otherwise
  std::optional<int32_t> move_to;  // NONE and a move must be requested to this broker
};

// The decision for one partition of an AlterPartitionReassignments request (the table above), without side effects.
ReassignmentCheck check_reassignment(const std::string& topic, int32_t partition,
                                     const std::optional<std::vector<int32_t>>& replicas,
                                     const PartitionPlacement& placement,
                                     const std::function<bool(int32_t)>& broker_live);

asio::awaitable<proto::AlterPartitionReassignmentsResponse> handle_alter_partition_reassignments(
    RequestContext& ctx, proto::AlterPartitionReassignmentsRequest& req);
asio::awaitable<proto::ListPartitionReassignmentsResponse> handle_list_partition_reassignments(
    RequestContext& ctx, proto::ListPartitionReassignmentsRequest& req);

}  // namespace floe::kafka
