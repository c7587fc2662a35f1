#include "kafka/reassignments.h"

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <set>

#include "base/log.h"
#include "cluster/cluster_image.h"
#include "cluster/controller.h"
#include "cluster/topic_catalog.h"
#include "kafka/errors.h"
#include "kafka/services.h"

namespace floe::kafka {
namespace {

constexpr int kMoveAttempts = 3;  // a request_move whose compare failed (the assignment changed) is checked again
constexpr std::chrono::milliseconds kConflictBackoff{20};

std::string partition_name(const std::string& topic, int32_t partition) {
  return topic + "/" + std::to_string(partition);
}

// Where `topic`/`partition` stands: existence from the catalog, the leader from Leadership, a pending move from
// the image (cluster mode; embedded mode never has one).
PartitionPlacement placement_of(const Services& services, const std::string& topic, int32_t partition) {
  PartitionPlacement out;
  std::optional<cluster::TopicInfo> info = services.catalog.find(topic);
  if (!info || partition < 0 || partition >= info->partitions) return out;
  out.exists = true;
  out.leader = services.leadership.leader(*info, partition).leader_id;
  if (services.image) {
    std::optional<cluster::Assignment> a = services.image->assignment(topic, partition);
    if (a && a->topic_id == info->id) out.move_target = a->move_target;
  }
  return out;
}

// Maps request_move's error to the Kafka answer.
void move_error(const Error& e, int16_t& error_code, std::optional<std::string>& message) {
  message = e.message;
  switch (static_cast<cluster::ClusterErrc>(e.code.value())) {
    case cluster::ClusterErrc::not_controller:
      error_code = code(Errc::not_controller);
      break;
    case cluster::ClusterErrc::unknown_broker:
      error_code = code(Errc::invalid_replica_assignment);
      break;
    case cluster::ClusterErrc::unknown_partition:
      error_code = code(Errc::leader_not_available);
      break;
    case cluster::ClusterErrc::conflict:
      error_code = code(Errc::request_timed_out);
      break;
    default:
      error_code = code(Errc::unknown_server_error);
      break;
  }
  if (e.code.category() != cluster::cluster_category()) error_code = code(Errc::unknown_server_error);
}

}  // namespace

ReassignmentCheck check_reassignment(const std::string& topic, int32_t partition,
                                     const std::optional<std::vector<int32_t>>& replicas,
                                     const PartitionPlacement& placement,
                                     const std::function<bool(int32_t)>& broker_live) {
  const std::string name = partition_name(topic, partition);
  auto fail = [](Errc e, std::string message) { return ReassignmentCheck{code(e), std::move(message), std::nullopt}; };
  if (!placement.exists) return fail(Errc::unknown_topic_or_partition, "no partition " + name);
  if (!replicas) {  // cancel
    if (!placement.move_target) return fail(Errc::no_reassignment_in_progress, "no move of " + name + " is pending");
    return fail(Errc::reassignment_in_progress,
                "the move of " + name + " to broker " + std::to_string(*placement.move_target) +
                    " is already under way and cannot be cancelled (a graceful handoff takes milliseconds); "
                    "move it back once it is done");
  }
  if (replicas->size() != 1) {
    return fail(Errc::invalid_replica_assignment,
                "Floe keeps one shared log per partition (replicas = [leader]): name exactly one broker, the new "
                "leader of " +
                    name + "; got " + std::to_string(replicas->size()));
  }
  const int32_t target = replicas->front();
  if (!broker_live(target)) {
    return fail(Errc::invalid_replica_assignment, "broker " + std::to_string(target) + " is not a live broker");
  }
  if (placement.move_target) {
    if (*placement.move_target == target) return {};  // already moving there
    return fail(Errc::reassignment_in_progress, name + " is already moving to broker " +
                                                    std::to_string(*placement.move_target) + "; retry when it is done");
  }
  if (placement.leader < 0) {
    return fail(Errc::leader_not_available, name + " has no leader right now (being assigned or failed over)");
  }
  if (placement.leader == target) return {};  // replicas unchanged: nothing to do
  return ReassignmentCheck{0, {}, target};
}

asio::awaitable<proto::AlterPartitionReassignmentsResponse> handle_alter_partition_reassignments(
    RequestContext& ctx, proto::AlterPartitionReassignmentsRequest& req) {
  proto::AlterPartitionReassignmentsResponse resp;
  Services* services = ctx.services;
  int16_t top_error = 0;
  std::optional<std::string> top_message;
  if (!services) {
    top_error = code(Errc::not_controller);
  } else if (services->controller && !services->controller->elected()) {
    top_error = code(Errc::not_controller);
    top_message = "broker " + std::to_string(ctx.broker.node_id) + " is not the controller (the controller is " +
                  std::to_string(services->leadership.controller_id()) + ")";
  }
  resp.error_code = top_error;
  resp.error_message = top_message;
  for (const auto& t : req.topics) {
    auto& out_topic = resp.responses.emplace_back();
    out_topic.name = t.name;
    for (const auto& p : t.partitions) {
      auto& out = out_topic.partitions.emplace_back();
      out.partition_index = p.partition_index;
      if (top_error != 0) {
        out.error_code = top_error;
        out.error_message = top_message;
        continue;
      }
      const Leadership& leadership = services->leadership;
      auto live = [&leadership](int32_t id) { return leadership.broker(id).has_value(); };
      for (int attempt = 1;; ++attempt) {
        PartitionPlacement where = placement_of(*services, t.name, p.partition_index);
        ReassignmentCheck check = check_reassignment(t.name, p.partition_index, p.replicas, where, live);
        out.error_code = check.error_code;
        out.error_message = check.message.empty() ? std::nullopt : std::optional<std::string>(check.message);
        if (check.error_code != 0 || !check.move_to) break;
        if (!services->controller) {  // embedded: the only broker leads everything, so no move can be asked for
          out.error_code = code(Errc::invalid_replica_assignment);
          out.error_message = "broker " + std::to_string(*check.move_to) + " is not a live broker";
          break;
        }
        asio::awaitable<Status> move = services->controller->request_move(t.name, p.partition_index, *check.move_to);
        Status st = co_await std::move(move);
        if (st) {
          log::info("kafka", "reassignment: ", partition_name(t.name, p.partition_index), " moves from broker ",
                    where.leader, " to broker ", *check.move_to);
          break;
        }
        move_error(st.error(), out.error_code, out.error_message);
        const bool conflict = st.error().code == make_error_code(cluster::ClusterErrc::conflict);
        if (!conflict || attempt >= kMoveAttempts) break;
        asio::steady_timer backoff(co_await asio::this_coro::executor, kConflictBackoff);
        co_await backoff.async_wait(asio::use_awaitable);
      }
    }
  }
  co_return resp;
}

asio::awaitable<proto::ListPartitionReassignmentsResponse> handle_list_partition_reassignments(
    RequestContext& ctx, proto::ListPartitionReassignmentsRequest& req) {
  proto::ListPartitionReassignmentsResponse resp;
  Services* services = ctx.services;
  if (!services || !services->image) co_return resp;  // embedded mode: nothing ever moves
  std::optional<std::map<std::string, std::set<int32_t>>> wanted;
  if (req.topics) {
    wanted.emplace();
    for (const auto& t : *req.topics) (*wanted)[t.name].insert(t.partition_indexes.begin(), t.partition_indexes.end());
  }
  std::shared_ptr<const cluster::ImageState> image = services->image->snapshot();
  proto::ListPartitionReassignmentsResponse::OngoingTopicReassignment* current = nullptr;
  for (const auto& [key, a] : image->assignments) {  // ordered by topic, then partition
    if (!a.move_target) continue;
    if (wanted) {
      auto w = wanted->find(key.topic);
      if (w == wanted->end() || !w->second.count(key.partition)) continue;
    }
    std::optional<cluster::TopicInfo> info = services->catalog.find(key.topic);
    if (!info || info->id != a.topic_id) continue;  // left over from a deleted topic
    if (current == nullptr || current->name != key.topic) {
      current = &resp.topics.emplace_back();
      current->name = key.topic;
    }
    auto& p = current->partitions.emplace_back();
    p.partition_index = key.partition;
    p.replicas = {a.broker_id, *a.move_target};
    p.adding_replicas = {*a.move_target};
    p.removing_replicas = {a.broker_id};
  }
  co_return resp;
}

}  // namespace floe::kafka
