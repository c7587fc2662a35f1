// The group APIs in the shape the Kafka layer's `typed_handler<Req, Resp, &fn>` takes: `awaitable<Resp> fn(Ctx&,
// Req&)`. Header-only and generic over the request context so that this module does not depend on src/kafka.
// Ctx needs `version()`, `frame.header.client_id` (optional string) and `conn.peer()` ("ip:port"); `Groups(ctx)`
// and `Locator(ctx)` say where the broker's GroupCoordinator and CoordinatorLocator are. Wiring, in
// api_registry.cc:
//
//   using G = group::KafkaGroupApis<RequestContext, &group_coordinator, &coordinator_locator>;
//   ApiHandler{8, 0, 9, &typed_handler<proto::OffsetCommitRequest, proto::OffsetCommitResponse, &G::offset_commit>},
//   ... one line per API (see README.md for the list and version ranges).
#pragma once

#include <string>
#include <utility>

#include "group/coordinator.h"
#include "group/find_coordinator.h"

namespace floe::group {

// "10.0.0.1:5555" -> "/10.0.0.1", "[::1]:5555" -> "/::1" (how Kafka shows a client's host).
inline std::string client_host_of(const std::string& peer) {
  std::string host = peer;
  auto colon = host.rfind(':');
  if (colon != std::string::npos && host.find(':') != colon) {  // IPv6: only a bracketed form has a port
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.find(']') - 1);
  } else if (colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.find(']') - 1);
  return "/" + host;
}

template <typename Ctx, GroupCoordinator& (*Groups)(Ctx&), CoordinatorLocator& (*Locator)(Ctx&)>
struct KafkaGroupApis {
  static ClientInfo client(Ctx& ctx) {
    return {ctx.frame.header.client_id.value_or(""), client_host_of(ctx.conn.peer())};
  }
  static asio::awaitable<proto::JoinGroupResponse> join_group(Ctx& ctx, proto::JoinGroupRequest& req) {
    return Groups(ctx).join_group(client(ctx), ctx.version(), std::move(req));
  }
  static asio::awaitable<proto::SyncGroupResponse> sync_group(Ctx& ctx, proto::SyncGroupRequest& req) {
    return Groups(ctx).sync_group(ctx.version(), std::move(req));
  }
  static asio::awaitable<proto::HeartbeatResponse> heartbeat(Ctx& ctx, proto::HeartbeatRequest& req) {
    return Groups(ctx).heartbeat(ctx.version(), std::move(req));
  }
  static asio::awaitable<proto::LeaveGroupResponse> leave_group(Ctx& ctx, proto::LeaveGroupRequest& req) {
    return Groups(ctx).leave_group(ctx.version(), std::move(req));
  }
  static asio::awaitable<proto::OffsetCommitResponse> offset_commit(Ctx& ctx, proto::OffsetCommitRequest& req) {
    return Groups(ctx).offset_commit(ctx.version(), std::move(req));
  }
  static asio::awaitable<proto::OffsetFetchResponse> offset_fetch(Ctx& ctx, proto::OffsetFetchRequest& req) {
    return Groups(ctx).offset_fetch(ctx.version(), std::move(req));
  }
  static asio::awaitable<proto::ListGroupsResponse> list_groups(Ctx& ctx, proto::ListGroupsRequest& req) {
    return Groups(ctx).list_groups(ctx.version(), std::move(req));
  }
  static asio::awaitable<proto::DescribeGroupsResponse> describe_groups(Ctx& ctx, proto::DescribeGroupsRequest& req) {
    return Groups(ctx).describe_groups(ctx.version(), std::move(req));
  }
  static asio::awaitable<proto::DeleteGroupsResponse> delete_groups(Ctx& ctx, proto::DeleteGroupsRequest& req) {
    return Groups(ctx).delete_groups(ctx.version(), std::move(req));
  }
  static asio::awaitable<proto::OffsetDeleteResponse> offset_delete(Ctx& ctx, proto::OffsetDeleteRequest& req) {
    return Groups(ctx).offset_delete(ctx.version(), std::move(req));
  }
  static asio::awaitable<proto::FindCoordinatorResponse> find_coordinator(Ctx& ctx,
                                                                          proto::FindCoordinatorRequest& req) {
    return group::find_coordinator(Locator(ctx), ctx.version(), std::move(req));
  }
};

}  // namespace floe::group
