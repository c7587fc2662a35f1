// AlterPartitionReassignments' per-partition decision (kafka/reassignments.h): Kafka's error for every way a request
// can be wrong on Floe's one shared log, and when a move is (not) requested.
#include "kafka/reassignments.h"

#include <gtest/gtest.h>

#include <set>

#include "kafka/errors.h"

namespace floe::kafka {
namespace {

const std::set<int32_t> kLive = {1, 2, 3};

ReassignmentCheck check(std::optional<std::vector<int32_t>> replicas, PartitionPlacement where) {
  return check_reassignment("orders", 4, replicas, where, [](int32_t id) { return kLive.count(id) > 0; });
}

PartitionPlacement led_by(int32_t leader, std::optional<int32_t> pending = std::nullopt) {
  return PartitionPlacement{true, leader, pending};
}

TEST(Reassignments, OneLiveBrokerOtherThanTheLeaderRequestsAMove) {
  ReassignmentCheck c = check(std::vector<int32_t>{3}, led_by(1));
  EXPECT_EQ(c.error_code, 0);
  ASSERT_TRUE(c.move_to.has_value());
  EXPECT_EQ(*c.move_to, 3);
}

TEST(Reassignments, TheCurrentLeaderIsANoOp) {
  ReassignmentCheck c = check(std::vector<int32_t>{1}, led_by(1));
  EXPECT_EQ(c.error_code, 0);
  EXPECT_FALSE(c.move_to.has_value());
}

TEST(Reassignments, SeveralReplicasAreRefusedWithTheSharedLogReason) {
  ReassignmentCheck c = check(std::vector<int32_t>{1, 2}, led_by(1));
  EXPECT_EQ(c.error_code, code(Errc::invalid_replica_assignment));
  EXPECT_NE(c.message.find("one shared log"), std::string::npos) << c.message;
  EXPECT_FALSE(c.move_to.has_value());
  // An empty list is not a cancel (null is), as in Kafka.
  EXPECT_EQ(check(std::vector<int32_t>{}, led_by(1)).error_code, code(Errc::invalid_replica_assignment));
}

TEST(Reassignments, UnknownBrokerIsAnInvalidAssignment) {
  ReassignmentCheck c = check(std::vector<int32_t>{9}, led_by(1));
  EXPECT_EQ(c.error_code, code(Errc::invalid_replica_assignment));
  EXPECT_NE(c.message.find("broker 9"), std::string::npos) << c.message;
}

TEST(Reassignments, UnknownPartitionComesFirst) {
  EXPECT_EQ(check(std::vector<int32_t>{2}, PartitionPlacement{}).error_code, code(Errc::unknown_topic_or_partition));
  EXPECT_EQ(check(std::nullopt, PartitionPlacement{}).error_code, code(Errc::unknown_topic_or_partition));
  EXPECT_EQ(check(std::vector<int32_t>{1, 2}, PartitionPlacement{}).error_code, code(Errc::unknown_topic_or_partition));
}

TEST(Reassignments, CancelWithNothingPending) {
  ReassignmentCheck c = check(std::nullopt, led_by(1));
  EXPECT_EQ(c.error_code, code(Errc::no_reassignment_in_progress));
}

TEST(Reassignments, CancelOfAPendingMoveIsRefused) {
  ReassignmentCheck c = check(std::nullopt, led_by(1, 2));
  EXPECT_EQ(c.error_code, code(Errc::reassignment_in_progress));
  EXPECT_NE(c.message.find("cannot be cancelled"), std::string::npos) << c.message;
}

TEST(Reassignments, PendingMoves) {
  // The same target again: accepted, nothing new requested.
  ReassignmentCheck same = check(std::vector<int32_t>{2}, led_by(1, 2));
  EXPECT_EQ(same.error_code, 0);
  EXPECT_FALSE(same.move_to.has_value());
  // Another target (the current leader included) while one is pending: in progress.
  EXPECT_EQ(check(std::vector<int32_t>{3}, led_by(1, 2)).error_code, code(Errc::reassignment_in_progress));
  EXPECT_EQ(check(std::vector<int32_t>{1}, led_by(1, 2)).error_code, code(Errc::reassignment_in_progress));
  // Released by its owner, not yet reassigned (no leader): still the pending move.
  EXPECT_EQ(check(std::vector<int32_t>{2}, led_by(-1, 2)).error_code, 0);
}

TEST(Reassignments, NoLeaderIsRetriable) {
  EXPECT_EQ(check(std::vector<int32_t>{2}, led_by(-1)).error_code, code(Errc::leader_not_available));
}

}  // namespace
}  // namespace floe::kafka
