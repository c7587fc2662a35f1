#include "group/find_coordinator.h"

#include <future>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <gtest/gtest.h>

#include "group/errors.h"
#include "group/java_hash.h"

namespace floe::group {
namespace {

// Partition p of __consumer_offsets is led by broker 100 + p; odd partitions have no leader.
class FakeLocator final : public CoordinatorLocator {
 public:
  int32_t partition_count(CoordinatorKeyType type) const override {
    return type == CoordinatorKeyType::group ? 10 : 0;
  }
  asio::awaitable<CoordinatorEndpoint> locate(CoordinatorKeyType, int32_t partition) override {
    asked.push_back(partition);
    CoordinatorEndpoint e;
    if (partition % 2 == 1) {
      e.error_code = code(Errc::coordinator_not_available);
      co_return e;
    }
    e.node_id = 100 + partition;
    e.host = "broker" + std::to_string(partition);
    e.port = 9000 + partition;
    co_return e;
  }
  std::vector<int32_t> asked;
};

proto::FindCoordinatorResponse find(FakeLocator& l, int16_t v, proto::FindCoordinatorRequest req) {
  asio::io_context io;
  auto fut = asio::co_spawn(io, find_coordinator(l, v, std::move(req)), asio::use_future);
  io.run_for(std::chrono::seconds(5));
  if (fut.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    ADD_FAILURE() << "no answer in 5 s";
    return {};
  }
  return fut.get();
}

TEST(FindCoordinator, SingleKeyVersions) {
  FakeLocator l;
  // "abc": 96354 % 10 = 4 -> broker 104.
  proto::FindCoordinatorRequest req;
  req.key = "abc";
  auto r = find(l, 0, req);
  EXPECT_EQ(r.error_code, 0);
  EXPECT_EQ(r.node_id, 104);
  EXPECT_EQ(r.host, "broker4");
  EXPECT_EQ(r.port, 9004);
  ASSERT_EQ(l.asked.size(), 1u);
  EXPECT_EQ(l.asked[0], 4);

  // "ab": 3105 % 10 = 5, a partition without a leader.
  req.key = "ab";
  r = find(l, 3, req);
  EXPECT_EQ(r.error_code, code(Errc::coordinator_not_available));
  EXPECT_EQ(r.node_id, -1);

  req.key = "";
  EXPECT_EQ(find(l, 2, req).error_code, code(Errc::invalid_request));
  req.key = "abc";
  req.key_type = 1;  // transactions: no __transaction_state here
  EXPECT_EQ(find(l, 1, req).error_code, code(Errc::coordinator_not_available));
  req.key_type = 5;
  EXPECT_EQ(find(l, 2, req).error_code, code(Errc::invalid_request));
  req.key_type = 5;  // v0 has no key type: always a group
  EXPECT_EQ(find(l, 0, req).error_code, 0);
}

TEST(FindCoordinator, BatchedKeys) {
  FakeLocator l;
  proto::FindCoordinatorRequest req;
  req.coordinator_keys = {"abc", "ab", "hello", "polygenelubricants"};
  auto r = find(l, 4, req);
  ASSERT_EQ(r.coordinators.size(), 4u);
  EXPECT_EQ(r.coordinators[0].key, "abc");
  EXPECT_EQ(r.coordinators[0].node_id, 104);
  EXPECT_EQ(r.coordinators[1].error_code, code(Errc::coordinator_not_available));
  EXPECT_EQ(r.coordinators[2].node_id, 100 + 99162322 % 10);  // 2
  EXPECT_EQ(r.coordinators[3].node_id, 100);                   // hashCode MIN_VALUE -> partition 0
  EXPECT_EQ(l.asked, (std::vector<int32_t>{4, 5, 2, 0}));
}

}  // namespace
}  // namespace floe::group
