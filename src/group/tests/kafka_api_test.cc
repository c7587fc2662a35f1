// KafkaGroupApis against a stand-in request context (the shape of kafka::RequestContext).
#include "group/kafka_api.h"

#include <future>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <gtest/gtest.h>

#include "group/errors.h"
#include "group/memory_group_log.h"

namespace floe::group {
namespace {

struct FakeConn {
  std::string peer_;
  const std::string& peer() const { return peer_; }
};
struct FakeHeader {
  std::optional<std::string> client_id;
};
struct FakeFrame {
  FakeHeader header;
};
struct FakeCtx {
  FakeFrame frame;
  FakeConn conn;
  int16_t v = 0;
  GroupCoordinator* groups = nullptr;
  CoordinatorLocator* locator = nullptr;
  int16_t version() const { return v; }
};

GroupCoordinator& groups_of(FakeCtx& c) { return *c.groups; }
CoordinatorLocator& locator_of(FakeCtx& c) { return *c.locator; }
using Apis = KafkaGroupApis<FakeCtx, &groups_of, &locator_of>;

class OneBroker final : public CoordinatorLocator {
 public:
  int32_t partition_count(CoordinatorKeyType) const override { return 50; }
  asio::awaitable<CoordinatorEndpoint> locate(CoordinatorKeyType, int32_t) override {
    co_return CoordinatorEndpoint{0, 7, "localhost", 9092};
  }
};

template <typename T>
T run(asio::io_context& io, asio::awaitable<T> op) {
  auto fut = asio::co_spawn(io, std::move(op), asio::use_future);
  io.restart();
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready &&
         std::chrono::steady_clock::now() < give_up) {
    io.run_one_for(std::chrono::milliseconds(5));
  }
  if (fut.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
    ADD_FAILURE() << "no answer in 5 s";
    return T{};
  }
  return fut.get();
}

TEST(KafkaGroupApis, ClientHost) {
  EXPECT_EQ(client_host_of("127.0.0.1:5000"), "/127.0.0.1");
  EXPECT_EQ(client_host_of("[::1]:5000"), "/::1");
}

TEST(KafkaGroupApis, HandlersUseTheContext) {
  asio::io_context io;
  MemoryGroupLog log;
  GroupConfig cfg;
  cfg.tick_interval = std::chrono::milliseconds(0);
  GroupCoordinator coord(io.get_executor(), log, cfg);
  for (int32_t p = 0; p < cfg.offsets_partitions; ++p) ASSERT_TRUE(run(io, coord.load_partition(p)).ok());
  OneBroker locator;
  FakeCtx ctx{{{std::string("app")}}, {"10.1.2.3:4444"}, 9, &coord, &locator};

  proto::JoinGroupRequest join;
  join.group_id = "g";
  join.session_timeout_ms = 10000;
  join.protocol_type = "consumer";
  join.protocols.push_back({"range", {}, {}});
  auto jr = run(io, Apis::join_group(ctx, join));
  EXPECT_EQ(jr.error_code, code(Errc::member_id_required));
  EXPECT_EQ(jr.member_id.rfind("app-", 0), 0u);

  ctx.v = 2;
  proto::OffsetCommitRequest oc;
  oc.group_id = "simple";
  oc.topics.push_back({"t", {{0, 12, -1, -1, std::nullopt, {}}}, {}});
  EXPECT_EQ(run(io, Apis::offset_commit(ctx, oc)).topics.at(0).partitions.at(0).error_code, 0);
  proto::OffsetFetchRequest of;
  of.group_id = "simple";
  auto fr = run(io, Apis::offset_fetch(ctx, of));
  ASSERT_EQ(fr.topics.size(), 1u);
  EXPECT_EQ(fr.topics[0].partitions.at(0).committed_offset, 12);

  ctx.v = 4;
  proto::FindCoordinatorRequest fc;
  fc.coordinator_keys = {"simple"};
  auto fcr = run(io, Apis::find_coordinator(ctx, fc));
  ASSERT_EQ(fcr.coordinators.size(), 1u);
  EXPECT_EQ(fcr.coordinators[0].node_id, 7);
  run(io, [&]() -> asio::awaitable<int> {
    co_await coord.stop(std::chrono::seconds(2));
    co_return 0;
  }());
}

}  // namespace
}  // namespace floe::group
