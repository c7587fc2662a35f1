// GroupCoordinator against MemoryGroupLog with a fake clock: timers run when the test calls tick().
#include "group/coordinator.h"

#include <atomic>
#include <future>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <gtest/gtest.h>

#include "group/errors.h"
#include "group/memory_group_log.h"

namespace floe::group {
namespace {

using namespace std::chrono_literals;
using proto::Bytes;

constexpr int32_t kSession = 1000;
constexpr int32_t kRebalance = 2000;
constexpr int32_t kDelay = 50;

int16_t E(Errc e) { return code(e); }

// ConsumerProtocolSubscription v0: topics + null user data.
Bytes subscription(std::vector<std::string> topics) {
  Bytes out;
  proto::Writer w(out);
  w.i16(0);
  w.i32(static_cast<int32_t>(topics.size()));
  for (const auto& t : topics) w.string(t, false);
  w.i32(-1);
  return out;
}

// A GroupLog whose reads wait until the test opens the gate (to observe a partition while it loads).
class GatedLog final : public GroupLog {
 public:
  GatedLog(GroupLog& inner, asio::any_io_executor ex) : inner_(inner), gate_(ex) {
    gate_.expires_at(asio::steady_timer::time_point::max());
  }
  void open() {
    open_ = true;
    gate_.cancel();
  }
  asio::awaitable<Result<int64_t>> append(int32_t p, std::vector<GroupRecord> r) override {
    co_return co_await inner_.append(p, std::move(r));
  }
  asio::awaitable<Result<std::vector<StoredRecord>>> read(int32_t p, int64_t from, size_t max) override {
    ++reads;
    while (!open_) {
      std::error_code ec;
      co_await gate_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return co_await inner_.read(p, from, max);
  }
  asio::awaitable<Status> trim(int32_t p, int64_t o) override { co_return co_await inner_.trim(p, o); }
  std::atomic<int> reads{0};

 private:
  GroupLog& inner_;
  asio::steady_timer gate_;
  bool open_ = false;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override { coord_ = make(log_); }
  void TearDown() override {
    if (coord_) run(coord_->stop(2s));
  }

  GroupConfig config() {
    GroupConfig c;
    c.offsets_partitions = 4;
    c.min_session_timeout_ms = 10;
    c.initial_rebalance_delay_ms = kDelay;
    c.tick_interval = 0ms;
    c.retention_check_interval_ms = 0;
    c.clock = [this] { return now_.load(); };
    return c;
  }

  std::unique_ptr<GroupCoordinator> make(GroupLog& log, std::optional<GroupConfig> c = std::nullopt,
                                         bool load_all = true) {
    auto coord = std::make_unique<GroupCoordinator>(io_.get_executor(), log, c ? *c : config());
    if (load_all) {
      for (int32_t p = 0; p < 4; ++p) EXPECT_TRUE(run(coord->load_partition(p)).ok());
    }
    return coord;
  }

  template <typename T>
  std::future<T> spawn(asio::awaitable<T> op) {
    return asio::co_spawn(io_, std::move(op), asio::use_future);
  }

  // Runs the io_context until `pred` holds or 5 s pass.
  template <typename Pred>
  bool pump(Pred pred) {
    io_.restart();
    auto give_up = std::chrono::steady_clock::now() + 5s;
    while (!pred() && std::chrono::steady_clock::now() < give_up) io_.run_one_for(5ms);
    return pred();
  }
  // Lets everything runnable run (bounded), for checking that something is still waiting.
  void settle() {
    io_.restart();
    for (int i = 0; i < 1000 && io_.poll() > 0; ++i) {
    }
  }

  template <typename T>
  T run(asio::awaitable<T> op) {
    auto fut = spawn(std::move(op));
    EXPECT_TRUE(pump([&] { return ready(fut); })) << "operation did not finish in 5 s";
    return take(fut);
  }
  void run(asio::awaitable<void> op) {
    auto fut = spawn(std::move(op));
    EXPECT_TRUE(pump([&] { return ready(fut); }));
    take(fut);
  }

  template <typename T>
  static bool ready(const std::future<T>& f) {
    return f.wait_for(0s) == std::future_status::ready;
  }

  // A future's value once it is ready (5 s at most; a failure and a default value otherwise).
  template <typename T>
  T take(std::future<T>& f) {
    if (!pump([&] { return ready(f); })) {
      ADD_FAILURE() << "no answer within 5 s";
      return T{};
    }
    return f.get();
  }
  void take(std::future<void>& f) {
    if (pump([&] { return ready(f); })) f.get();
    else ADD_FAILURE() << "no answer within 5 s";
  }

  // The initial rebalance delay, extended once because members joined during it (Kafka's rule).
  void finish_delay() {
    settle();  // the joins first
    advance(kDelay);
    advance(kDelay);
  }

  void advance(int64_t ms) {
    now_ += ms;
    run(coord_->tick());
  }

  proto::JoinGroupRequest join_req(const std::string& group, const std::string& member,
                                   std::optional<std::string> instance = std::nullopt,
                                   std::vector<std::string> topics = {"t1"}) {
    proto::JoinGroupRequest r;
    r.group_id = group;
    r.member_id = member;
    r.group_instance_id = std::move(instance);
    r.session_timeout_ms = kSession;
    r.rebalance_timeout_ms = kRebalance;
    r.protocol_type = "consumer";
    r.protocols.push_back({"range", subscription(topics), {}});
    r.protocols.push_back({"roundrobin", subscription(topics), {}});
    return r;
  }

  std::future<proto::JoinGroupResponse> join(proto::JoinGroupRequest r, int16_t v = 9) {
    return spawn(coord_->join_group({"client", "/127.0.0.1"}, v, std::move(r)));
  }

  // v4+: a new member is first told its id.
  std::string member_id(const std::string& group) {
    auto r = run(coord_->join_group({"client", "/127.0.0.1"}, 9, join_req(group, "")));
    EXPECT_EQ(r.error_code, E(Errc::member_id_required));
    EXPECT_FALSE(r.member_id.empty());
    return r.member_id;
  }

  proto::SyncGroupRequest sync_req(const std::string& group, const std::string& member, int32_t generation,
                                   std::vector<std::pair<std::string, Bytes>> assignments = {}) {
    proto::SyncGroupRequest r;
    r.group_id = group;
    r.member_id = member;
    r.generation_id = generation;
    for (auto& [m, a] : assignments) r.assignments.push_back({m, a, {}});
    return r;
  }

  int16_t heartbeat(const std::string& group, const std::string& member, int32_t generation,
                    std::optional<std::string> instance = std::nullopt) {
    proto::HeartbeatRequest r;
    r.group_id = group;
    r.member_id = member;
    r.generation_id = generation;
    r.group_instance_id = std::move(instance);
    return run(coord_->heartbeat(4, r)).error_code;
  }

  proto::OffsetCommitResponse commit(const std::string& group, const std::string& member, int32_t generation,
                                     std::vector<std::pair<int32_t, int64_t>> offsets, int16_t v = 8,
                                     const std::string& topic = "t1") {
    proto::OffsetCommitRequest r;
    r.group_id = group;
    r.member_id = member;
    r.generation_id_or_member_epoch = generation;
    auto& t = r.topics.emplace_back();
    t.name = topic;
    for (auto [p, o] : offsets) {
      auto& pp = t.partitions.emplace_back();
      pp.partition_index = p;
      pp.committed_offset = o;
      pp.committed_metadata = "m" + std::to_string(o);
    }
    return run(coord_->offset_commit(v, r));
  }

  static int16_t first_error(const proto::OffsetCommitResponse& r) { return r.topics.at(0).partitions.at(0).error_code; }

  // Committed offset of one partition through OffsetFetch v8.
  int64_t fetched(const std::string& group, const std::string& topic, int32_t partition) {
    proto::OffsetFetchRequest r;
    auto& g = r.groups.emplace_back();
    g.group_id = group;
    g.topics.emplace();
    g.topics->push_back({topic, {partition}, {}});
    auto resp = run(coord_->offset_fetch(8, r));
    EXPECT_EQ(resp.groups.at(0).error_code, 0);
    return resp.groups.at(0).topics.at(0).partitions.at(0).committed_offset;
  }

  GroupCoordinator::GroupView view(const std::string& group) {
    auto v = run(coord_->describe(group));
    EXPECT_TRUE(v.has_value()) << group;
    return v.value_or(GroupCoordinator::GroupView{});
  }

  // Forms `n` members in `group` through MEMBER_ID_REQUIRED, the initial delay and SyncGroup; returns their ids
  // (leader first) and the generation.
  std::pair<std::vector<std::string>, int32_t> form_group(const std::string& group, int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back(member_id(group));
    std::vector<std::future<proto::JoinGroupResponse>> joins;
    for (const auto& id : ids) joins.push_back(join(join_req(group, id)));
    settle();
    for (auto& j : joins) EXPECT_FALSE(ready(j)) << "joined before the initial delay";
    finish_delay();
    EXPECT_TRUE(pump([&] { return std::all_of(joins.begin(), joins.end(), [](auto& f) { return ready(f); }); }));
    int32_t generation = -1;
    std::vector<std::pair<std::string, Bytes>> assignments;
    for (size_t i = 0; i < joins.size(); ++i) {
      auto r = take(joins[i]);
      EXPECT_EQ(r.error_code, 0);
      EXPECT_EQ(r.leader, ids[0]);
      EXPECT_EQ(r.protocol_name, "range");
      EXPECT_EQ(r.members.size(), i == 0 ? ids.size() : 0u);
      generation = r.generation_id;
      assignments.emplace_back(ids[i], Bytes{static_cast<uint8_t>(i + 1)});
    }
    std::vector<std::future<proto::SyncGroupResponse>> syncs;
    for (size_t i = 1; i < ids.size(); ++i) syncs.push_back(spawn(coord_->sync_group(5, sync_req(group, ids[i], generation))));
    settle();
    for (auto& s : syncs) EXPECT_FALSE(ready(s)) << "follower synced before the leader";
    auto leader = run(coord_->sync_group(5, sync_req(group, ids[0], generation, assignments)));
    EXPECT_EQ(leader.error_code, 0);
    EXPECT_EQ(leader.assignment, Bytes{1});
    EXPECT_EQ(leader.protocol_name, "range");
    for (size_t i = 0; i < syncs.size(); ++i) {
      EXPECT_TRUE(pump([&] { return ready(syncs[i]); }));
      auto r = take(syncs[i]);
      EXPECT_EQ(r.error_code, 0);
      EXPECT_EQ(r.assignment, Bytes{static_cast<uint8_t>(i + 2)});
    }
    EXPECT_EQ(view(group).state, GroupState::stable);
    return {ids, generation};
  }

  // All members rejoin; returns the new generation.
  int32_t rejoin_all(const std::string& group, const std::vector<std::string>& ids) {
    std::vector<std::future<proto::JoinGroupResponse>> joins;
    for (const auto& id : ids) joins.push_back(join(join_req(group, id)));
    EXPECT_TRUE(pump([&] { return std::all_of(joins.begin(), joins.end(), [](auto& f) { return ready(f); }); }));
    int32_t generation = -1;
    for (auto& j : joins) {
      auto r = take(j);
      EXPECT_EQ(r.error_code, 0);
      generation = r.generation_id;
    }
    return generation;
  }

  void sync_all(const std::string& group, const std::vector<std::string>& ids, int32_t generation) {
    const std::string leader = *view(group).leader;
    std::vector<std::future<proto::SyncGroupResponse>> syncs;
    for (const auto& id : ids) {
      std::vector<std::pair<std::string, Bytes>> a;
      if (id == leader) {
        for (const auto& m : ids) a.emplace_back(m, Bytes{7});
      }
      syncs.push_back(spawn(coord_->sync_group(3, sync_req(group, id, generation, a))));
    }
    EXPECT_TRUE(pump([&] { return std::all_of(syncs.begin(), syncs.end(), [](auto& f) { return ready(f); }); }));
    for (auto& s : syncs) EXPECT_EQ(take(s).error_code, 0);
  }

  asio::io_context io_;
  MemoryGroupLog log_;
  std::atomic<int64_t> now_{1'000'000};
  std::unique_ptr<GroupCoordinator> coord_;
};

TEST_F(CoordinatorTest, ThreeMembersJoinSyncAndRebalanceOnJoinLeaveAndTimeout) {
  auto [ids, gen] = form_group("g", 3);
  EXPECT_EQ(gen, 1);
  for (const auto& id : ids) EXPECT_EQ(heartbeat("g", id, gen), 0);
  // The stored generation carries the assignment.
  auto durable = run(coord_->durable_state(coord_->partition_for("g")));
  ASSERT_TRUE(durable && durable->count("g"));
  ASSERT_TRUE(durable->at("g").metadata);
  EXPECT_EQ(durable->at("g").metadata->generation, 1);
  EXPECT_EQ(durable->at("g").metadata->members.size(), 3u);
  EXPECT_EQ(durable->at("g").metadata->members[1].assignment, Bytes{2});

  // A fourth member (v3: no MEMBER_ID_REQUIRED round) starts a rebalance.
  auto d = join(join_req("g", ""), 3);
  settle();
  EXPECT_FALSE(ready(d));
  EXPECT_EQ(view("g").state, GroupState::preparing_rebalance);
  for (const auto& id : ids) EXPECT_EQ(heartbeat("g", id, gen), E(Errc::rebalance_in_progress));
  // Syncing the old generation is refused during the rebalance.
  EXPECT_EQ(run(coord_->sync_group(5, sync_req("g", ids[1], gen))).error_code, E(Errc::rebalance_in_progress));
  int32_t gen2 = rejoin_all("g", ids);
  ASSERT_TRUE(pump([&] { return ready(d); }));
  auto dr = take(d);
  EXPECT_EQ(dr.error_code, 0);
  EXPECT_EQ(dr.generation_id, 2);
  EXPECT_EQ(gen2, 2);
  ids.push_back(dr.member_id);
  sync_all("g", ids, gen2);
  EXPECT_EQ(view("g").members.size(), 4u);

  // The third member leaves (v3 batch); the rest rejoin into generation 3.
  proto::LeaveGroupRequest leave;
  leave.group_id = "g";
  leave.members.push_back({ids[2], std::nullopt, std::nullopt, {}});
  leave.members.push_back({"nobody", std::nullopt, std::nullopt, {}});
  auto lr = run(coord_->leave_group(3, leave));
  EXPECT_EQ(lr.error_code, 0);
  ASSERT_EQ(lr.members.size(), 2u);
  EXPECT_EQ(lr.members[0].error_code, 0);
  EXPECT_EQ(lr.members[1].error_code, E(Errc::unknown_member_id));
  EXPECT_EQ(heartbeat("g", ids[0], gen2), E(Errc::rebalance_in_progress));
  EXPECT_EQ(heartbeat("g", ids[2], gen2), E(Errc::unknown_member_id));
  ids.erase(ids.begin() + 2);
  int32_t gen3 = rejoin_all("g", ids);
  EXPECT_EQ(gen3, 3);
  sync_all("g", ids, gen3);

  // The last member stops heartbeating: after its session timeout it is removed and the others rebalance.
  for (int i = 0; i < 2; ++i) {
    now_ += kSession / 2;
    for (size_t k = 0; k + 1 < ids.size(); ++k) EXPECT_EQ(heartbeat("g", ids[k], gen3), 0);
    run(coord_->tick());
  }
  EXPECT_EQ(view("g").state, GroupState::preparing_rebalance);
  EXPECT_EQ(heartbeat("g", ids.back(), gen3), E(Errc::unknown_member_id));
  ids.pop_back();
  int32_t gen4 = rejoin_all("g", ids);
  EXPECT_EQ(gen4, 4);
  EXPECT_EQ(view("g").members, ids);

  // A member that does not rejoin within the rebalance timeout is dropped (the leader's JoinGroup in Stable
  // starts the rebalance; heartbeats alone keep the other alive but do not rejoin it).
  sync_all("g", ids, gen4);
  auto only = join(join_req("g", ids[0]));
  settle();
  EXPECT_FALSE(ready(only));
  for (int i = 0; i < 4; ++i) {
    now_ += kRebalance / 4 + 1;
    EXPECT_EQ(heartbeat("g", ids[1], gen4), E(Errc::rebalance_in_progress));
    run(coord_->tick());
  }
  auto or_ = take(only);
  EXPECT_EQ(or_.error_code, 0);
  EXPECT_EQ(or_.generation_id, 5);
  EXPECT_EQ(or_.leader, ids[0]);
  EXPECT_EQ(or_.members.size(), 1u);
  EXPECT_EQ(heartbeat("g", ids[1], 5), E(Errc::unknown_member_id));

  // Everyone leaves: the group is Empty with a new generation, stored.
  proto::LeaveGroupRequest last;
  last.group_id = "g";
  last.member_id = ids[0];
  EXPECT_EQ(run(coord_->leave_group(0, last)).error_code, 0);
  EXPECT_TRUE(pump([&] {
    auto s = run(coord_->durable_state(coord_->partition_for("g")));
    return s && s->at("g").metadata && s->at("g").metadata->generation == 6;
  }));
  EXPECT_EQ(view("g").state, GroupState::empty);
  EXPECT_TRUE(view("g").members.empty());
}

TEST_F(CoordinatorTest, JoinValidation) {
  auto bad = join_req("g", "");
  bad.session_timeout_ms = 5;
  EXPECT_EQ(run(coord_->join_group({}, 9, bad)).error_code, E(Errc::invalid_session_timeout));
  EXPECT_EQ(run(coord_->join_group({}, 9, join_req("", ""))).error_code, E(Errc::invalid_group_id));
  EXPECT_EQ(run(coord_->join_group({}, 9, join_req("g", "ghost"))).error_code, E(Errc::unknown_member_id));
  auto empty_protocols = join_req("g", "");
  empty_protocols.protocols.clear();
  EXPECT_EQ(run(coord_->join_group({}, 5, empty_protocols)).error_code, E(Errc::inconsistent_group_protocol));

  // MEMBER_ID_REQUIRED for v4+, with the id to use.
  auto first = run(coord_->join_group({"cli", "/h"}, 4, join_req("g", "")));
  EXPECT_EQ(first.error_code, E(Errc::member_id_required));
  EXPECT_EQ(first.member_id.rfind("cli-", 0), 0u);
  EXPECT_EQ(view("g").pending_members, 1u);

  // A member with a protocol nobody else supports is refused once the group has members.
  auto a = join(join_req("g", first.member_id));
  finish_delay();
  ASSERT_TRUE(pump([&] { return ready(a); }));
  EXPECT_EQ(take(a).error_code, 0);
  auto other = join_req("g", "");
  other.protocols = {{"sticky", {}, {}}};
  EXPECT_EQ(run(coord_->join_group({}, 3, other)).error_code, E(Errc::inconsistent_group_protocol));
  auto wrong_type = join_req("g", "");
  wrong_type.protocol_type = "connect";
  EXPECT_EQ(run(coord_->join_group({}, 3, wrong_type)).error_code, E(Errc::inconsistent_group_protocol));

  // Group size bound (members and members awaiting their id together).
  auto c = config();
  c.max_group_size = 2;
  MemoryGroupLog small_log;
  auto small = make(small_log, c);
  auto one = run(small->join_group({}, 9, join_req("h", "")));
  auto two = run(small->join_group({}, 9, join_req("h", "")));
  EXPECT_EQ(one.error_code, E(Errc::member_id_required));
  EXPECT_EQ(two.error_code, E(Errc::member_id_required));
  EXPECT_EQ(run(small->join_group({}, 9, join_req("h", ""))).error_code, E(Errc::group_max_size_reached));
  // A pending member that never comes back expires after its session timeout.
  now_ += kSession;
  run(small->tick());
  EXPECT_EQ(run(small->join_group({}, 9, join_req("h", ""))).error_code, E(Errc::member_id_required));
  run(small->stop(2s));

  // JoinGroup v0: no rebalance timeout field, the session timeout serves; answers still arrive.
  auto v0 = join_req("v0group", "");
  v0.rebalance_timeout_ms = -1;
  auto f = join(v0, 0);
  finish_delay();
  ASSERT_TRUE(pump([&] { return ready(f); }));
  auto r0 = take(f);
  EXPECT_EQ(r0.error_code, 0);
  EXPECT_EQ(r0.generation_id, 1);
  EXPECT_EQ(r0.leader, r0.member_id);
}

TEST_F(CoordinatorTest, StaticMemberRejoinsWithoutRebalanceAndOldIdIsFenced) {
  std::vector<std::future<proto::JoinGroupResponse>> joins;
  joins.push_back(join(join_req("s", "", "i1")));
  joins.push_back(join(join_req("s", "", "i2")));
  finish_delay();
  ASSERT_TRUE(pump([&] { return ready(joins[0]) && ready(joins[1]); }));
  auto j1 = take(joins[0]);
  auto j2 = take(joins[1]);
  ASSERT_EQ(j1.error_code, 0);
  ASSERT_EQ(j2.error_code, 0);
  EXPECT_EQ(j1.member_id.rfind("i1-", 0), 0u);
  EXPECT_EQ(j1.leader, j1.member_id);
  ASSERT_EQ(j1.members.size(), 2u);
  EXPECT_EQ(j1.members[1].group_instance_id, "i2");
  const int32_t gen = j1.generation_id;
  auto s2 = spawn(coord_->sync_group(5, sync_req("s", j2.member_id, gen)));
  auto s1 = run(coord_->sync_group(5, sync_req("s", j1.member_id, gen, {{j1.member_id, {1}}, {j2.member_id, {2}}})));
  EXPECT_EQ(s1.error_code, 0);
  ASSERT_TRUE(pump([&] { return ready(s2); }));
  EXPECT_EQ(take(s2).assignment, Bytes{2});

  // i1 restarts: a new member id, the same generation, no rebalance; as leader (v9) it is told to skip assignment.
  auto back = run(coord_->join_group({"client", "/h"}, 9, join_req("s", "", "i1")));
  ASSERT_EQ(back.error_code, 0);
  EXPECT_NE(back.member_id, j1.member_id);
  EXPECT_EQ(back.generation_id, gen);
  EXPECT_EQ(back.leader, back.member_id);
  EXPECT_TRUE(back.skip_assignment);
  EXPECT_EQ(back.members.size(), 2u);
  EXPECT_EQ(view("s").state, GroupState::stable);
  EXPECT_EQ(heartbeat("s", j2.member_id, gen, "i2"), 0);
  auto resync = run(coord_->sync_group(5, sync_req("s", back.member_id, gen)));
  EXPECT_EQ(resync.error_code, 0);
  EXPECT_EQ(resync.assignment, Bytes{1});  // the instance keeps its assignment

  // The old id is fenced everywhere.
  EXPECT_EQ(heartbeat("s", j1.member_id, gen, "i1"), E(Errc::fenced_instance_id));
  EXPECT_EQ(run(coord_->join_group({}, 9, join_req("s", j1.member_id, "i1"))).error_code, E(Errc::fenced_instance_id));
  auto fenced_sync = sync_req("s", j1.member_id, gen);
  fenced_sync.group_instance_id = "i1";
  EXPECT_EQ(run(coord_->sync_group(5, fenced_sync)).error_code, E(Errc::fenced_instance_id));
  proto::OffsetCommitRequest oc;
  oc.group_id = "s";
  oc.member_id = j1.member_id;
  oc.group_instance_id = "i1";
  oc.generation_id_or_member_epoch = gen;
  oc.topics.push_back({"t1", {{0, 5, -1, -1, std::nullopt, {}}}, {}});
  EXPECT_EQ(first_error(run(coord_->offset_commit(7, oc))), E(Errc::fenced_instance_id));
  // The replacement was stored durably.
  auto durable = run(coord_->durable_state(coord_->partition_for("s")));
  ASSERT_TRUE(durable && durable->at("s").metadata);
  EXPECT_EQ(durable->at("s").metadata->members[0].member_id, back.member_id);

  // When storing the replacement fails, the join fails and the previous id stays the member.
  log_.fail_appends(1);
  auto failed = run(coord_->join_group({}, 9, join_req("s", "", "i2")));
  EXPECT_EQ(failed.error_code, E(Errc::coordinator_not_available));
  EXPECT_EQ(heartbeat("s", j2.member_id, gen, "i2"), 0);

  // LeaveGroup by instance id; a wrong member id for the instance is fenced.
  proto::LeaveGroupRequest leave;
  leave.group_id = "s";
  leave.members.push_back({"someone-else", std::string("i2"), std::nullopt, {}});
  leave.members.push_back({"", std::string("i1"), std::string("bye"), {}});
  auto lr = run(coord_->leave_group(5, leave));
  EXPECT_EQ(lr.members[0].error_code, E(Errc::fenced_instance_id));
  EXPECT_EQ(lr.members[1].error_code, 0);
  EXPECT_EQ(view("s").members, std::vector<std::string>{j2.member_id});
  EXPECT_EQ(view("s").state, GroupState::preparing_rebalance);
}

TEST_F(CoordinatorTest, HeartbeatErrors) {
  auto [ids, gen] = form_group("hb", 2);
  EXPECT_EQ(heartbeat("hb", ids[0], gen), 0);
  EXPECT_EQ(heartbeat("nosuchgroup", ids[0], gen), E(Errc::unknown_member_id));
  EXPECT_EQ(heartbeat("hb", "stranger", gen), E(Errc::unknown_member_id));
  EXPECT_EQ(heartbeat("hb", ids[0], gen + 1), E(Errc::illegal_generation));
  EXPECT_EQ(heartbeat("hb", ids[0], gen - 1), E(Errc::illegal_generation));
  EXPECT_EQ(heartbeat("", ids[0], gen), E(Errc::invalid_group_id));
  // The leader rejoining in Stable starts a rebalance.
  auto lj = join(join_req("hb", ids[0]));
  settle();
  EXPECT_EQ(heartbeat("hb", ids[1], gen), E(Errc::rebalance_in_progress));
  auto fj = join(join_req("hb", ids[1]));
  ASSERT_TRUE(pump([&] { return ready(lj) && ready(fj); }));
  int32_t gen2 = take(lj).generation_id;
  EXPECT_EQ(gen2, gen + 1);
  // CompletingRebalance: heartbeats with the new generation are fine, the old one is illegal.
  EXPECT_EQ(view("hb").state, GroupState::completing_rebalance);
  EXPECT_EQ(heartbeat("hb", ids[1], gen2), 0);
  EXPECT_EQ(heartbeat("hb", ids[1], gen), E(Errc::illegal_generation));
  // A member that never sends SyncGroup within the rebalance timeout is removed.
  auto s0 = spawn(coord_->sync_group(5, sync_req("hb", ids[0], gen2, {{ids[0], {1}}, {ids[1], {2}}})));
  ASSERT_TRUE(pump([&] { return ready(s0); }));
  EXPECT_EQ(take(s0).error_code, 0);
  for (int i = 0; i < 4; ++i) {
    now_ += kRebalance / 4 + 1;
    EXPECT_EQ(heartbeat("hb", ids[0], gen2), 0);
    EXPECT_EQ(heartbeat("hb", ids[1], gen2), 0);  // alive, but it never syncs
    run(coord_->tick());
  }
  EXPECT_EQ(heartbeat("hb", ids[1], gen2), E(Errc::unknown_member_id));
  EXPECT_EQ(heartbeat("hb", ids[0], gen2), E(Errc::rebalance_in_progress));

  // A group whose partition this coordinator does not lead.
  auto c = config();
  MemoryGroupLog other_log;
  auto partial = std::make_unique<GroupCoordinator>(io_.get_executor(), other_log, c);
  ASSERT_TRUE(run(partial->load_partition(partial->partition_for("hb"))).ok());
  std::string elsewhere;
  for (int i = 0; elsewhere.empty(); ++i) {
    std::string g = "grp" + std::to_string(i);
    if (partial->partition_for(g) != partial->partition_for("hb")) elsewhere = g;
  }
  proto::HeartbeatRequest hb;
  hb.group_id = elsewhere;
  hb.member_id = "x";
  EXPECT_EQ(run(partial->heartbeat(4, hb)).error_code, E(Errc::not_coordinator));
  run(partial->unload_partition(partial->partition_for("hb")));
  hb.group_id = "hb";
  EXPECT_EQ(run(partial->heartbeat(4, hb)).error_code, E(Errc::not_coordinator));
  run(partial->stop(2s));
}

TEST_F(CoordinatorTest, OffsetCommitAndFetchAcrossGenerations) {
  // Simple commits (generation -1) for a group without members.
  EXPECT_EQ(first_error(commit("simple", "", -1, {{0, 10}, {1, 20}}, 2)), 0);
  EXPECT_EQ(fetched("simple", "t1", 0), 10);
  EXPECT_EQ(fetched("simple", "t1", 1), 20);
  EXPECT_EQ(fetched("simple", "t1", 9), -1);
  EXPECT_EQ(fetched("nobody", "t1", 0), -1);
  // A generation for a group that does not exist.
  EXPECT_EQ(first_error(commit("ghost", "m", 3, {{0, 1}})), E(Errc::illegal_generation));

  auto [ids, gen] = form_group("cg", 2);
  EXPECT_EQ(first_error(commit("cg", ids[0], gen, {{0, 100}})), 0);
  EXPECT_EQ(first_error(commit("cg", "stranger", gen, {{0, 1}})), E(Errc::unknown_member_id));
  EXPECT_EQ(first_error(commit("cg", ids[0], gen + 1, {{0, 1}})), E(Errc::illegal_generation));
  EXPECT_EQ(first_error(commit("cg", "", -1, {{0, 1}})), E(Errc::unknown_member_id));  // managed group
  // During a rebalance the current generation may still commit; afterwards the old one is illegal.
  auto j0 = join(join_req("cg", ids[0]));
  settle();
  EXPECT_EQ(first_error(commit("cg", ids[1], gen, {{1, 200}})), 0);
  auto j1 = join(join_req("cg", ids[1]));
  ASSERT_TRUE(pump([&] { return ready(j0) && ready(j1); }));
  int32_t gen2 = take(j0).generation_id;
  take(j1);
  EXPECT_EQ(first_error(commit("cg", ids[0], gen2, {{0, 1}})), E(Errc::rebalance_in_progress));
  sync_all("cg", ids, gen2);
  EXPECT_EQ(first_error(commit("cg", ids[0], gen, {{0, 1}})), E(Errc::illegal_generation));
  EXPECT_EQ(first_error(commit("cg", ids[0], gen2, {{0, 150}}, 9)), 0);
  EXPECT_EQ(fetched("cg", "t1", 0), 150);
  EXPECT_EQ(fetched("cg", "t1", 1), 200);

  // Too much metadata; a failed append leaves the offset unchanged.
  proto::OffsetCommitRequest big;
  big.group_id = "simple";
  big.topics.push_back({"t1", {{0, 11, -1, -1, std::string(5000, 'x'), {}}}, {}});
  EXPECT_EQ(first_error(run(coord_->offset_commit(8, big))), E(Errc::offset_metadata_too_large));
  log_.fail_appends(1);
  EXPECT_EQ(first_error(commit("simple", "", -1, {{0, 99}})), E(Errc::coordinator_not_available));
  log_.fail_appends(1, LogErrc::not_leader);
  EXPECT_EQ(first_error(commit("simple", "", -1, {{0, 99}})), E(Errc::not_coordinator));
  EXPECT_EQ(fetched("simple", "t1", 0), 10);

  // OffsetFetch v8, several groups, all topics (null) for one of them.
  proto::OffsetFetchRequest multi;
  multi.groups.push_back({"simple", std::nullopt, -1, std::nullopt, {}});
  multi.groups.push_back({"cg", std::nullopt, -1, std::vector<proto::OffsetFetchRequest::OffsetFetchRequestTopics>{{"t1", {0}, {}}}, {}});
  auto mr = run(coord_->offset_fetch(8, multi));
  ASSERT_EQ(mr.groups.size(), 2u);
  ASSERT_EQ(mr.groups[0].topics.size(), 1u);
  EXPECT_EQ(mr.groups[0].topics[0].partitions.size(), 2u);
  EXPECT_EQ(mr.groups[0].topics[0].partitions[1].committed_offset, 20);
  EXPECT_EQ(mr.groups[0].topics[0].partitions[1].metadata, "m20");
  EXPECT_EQ(mr.groups[1].topics[0].partitions[0].committed_offset, 150);

  // v1 (topics listed) and v2+ (null = all).
  proto::OffsetFetchRequest v1;
  v1.group_id = "simple";
  v1.topics.emplace();
  v1.topics->push_back({"t1", {1}, {}});
  auto r1 = run(coord_->offset_fetch(1, v1));
  EXPECT_EQ(r1.topics.at(0).partitions.at(0).committed_offset, 20);
  proto::OffsetFetchRequest all;
  all.group_id = "cg";
  all.require_stable = true;
  auto r7 = run(coord_->offset_fetch(7, all));
  EXPECT_EQ(r7.error_code, 0);
  ASSERT_EQ(r7.topics.size(), 1u);
  EXPECT_EQ(r7.topics[0].partitions.size(), 2u);
}

TEST_F(CoordinatorTest, ReloadFromLogWithSnapshotReproducesState) {
  auto c = config();
  c.snapshot_every_records = 2;
  c.retention_check_interval_ms = 3600 * 1000;  // keep empty groups around for the checks below
  MemoryGroupLog log;
  run(coord_->stop(2s));
  coord_ = make(log, c);
  EXPECT_EQ(first_error(commit("a", "", -1, {{0, 1}, {1, 2}})), 0);
  auto [ids, gen] = form_group("b", 2);
  EXPECT_EQ(first_error(commit("b", ids[0], gen, {{0, 5}})), 0);
  EXPECT_EQ(first_error(commit("a", "", -1, {{0, 3}})), 0);
  // Static member in another group.
  auto sj = join(join_req("c", "", "inst"));
  finish_delay();
  ASSERT_TRUE(pump([&] { return ready(sj); }));
  auto sjr = take(sj);
  EXPECT_EQ(run(coord_->sync_group(5, sync_req("c", sjr.member_id, sjr.generation_id, {{sjr.member_id, {9}}}))).error_code, 0);
  for (int p = 0; p < 4; ++p) EXPECT_GT(log.end_offset(p) + 1, 0);
  run(coord_->tick());  // writes snapshots where enough records accumulated, and trims below them
  ASSERT_TRUE(pump([&] {
    for (int p = 0; p < 4; ++p) {
      if (log.start_offset(p) > 0) return true;
    }
    return false;
  }));
  // More after the snapshot.
  EXPECT_EQ(first_error(commit("a", "", -1, {{2, 7}})), 0);
  EXPECT_EQ(first_error(commit("b", ids[1], gen, {{1, 8}})), 0);
  proto::OffsetDeleteRequest od;
  od.group_id = "a";
  od.topics.push_back({"t1", {{1, {}}}, {}});
  EXPECT_EQ(run(coord_->offset_delete(0, od)).error_code, 0);

  bool snapshot_seen = false;
  std::map<int32_t, DurableState> before;
  for (int32_t p = 0; p < 4; ++p) {
    auto s = run(coord_->durable_state(p));
    ASSERT_TRUE(s);
    before[p] = *s;
    for (const auto& rec : log.records(p)) snapshot_seen |= rec.record.key == snapshot_key();
  }
  EXPECT_TRUE(snapshot_seen);
  auto describe = [&](GroupCoordinator& co) {
    proto::DescribeGroupsRequest d;
    d.groups = {"a", "b", "c"};
    return run(co.describe_groups(5, d));
  };
  auto described = describe(*coord_);
  std::map<std::string, int64_t> offsets{{"a0", fetched("a", "t1", 0)}, {"a1", fetched("a", "t1", 1)},
                                         {"a2", fetched("a", "t1", 2)}, {"b0", fetched("b", "t1", 0)},
                                         {"b1", fetched("b", "t1", 1)}};
  EXPECT_EQ(offsets["a0"], 3);
  EXPECT_EQ(offsets["a1"], -1);
  run(coord_->stop(2s));

  coord_ = make(log, c);
  for (int32_t p = 0; p < 4; ++p) {
    auto s = run(coord_->durable_state(p));
    ASSERT_TRUE(s);
    EXPECT_EQ(*s, before[p]) << "partition " << p;
  }
  EXPECT_EQ(describe(*coord_), described);
  EXPECT_EQ(fetched("a", "t1", 0), offsets["a0"]);
  EXPECT_EQ(fetched("a", "t1", 1), offsets["a1"]);
  EXPECT_EQ(fetched("a", "t1", 2), offsets["a2"]);
  EXPECT_EQ(fetched("b", "t1", 0), offsets["b0"]);
  EXPECT_EQ(fetched("b", "t1", 1), offsets["b1"]);
  // The loaded group is live: its members heartbeat and commit with the stored generation.
  EXPECT_EQ(heartbeat("b", ids[0], gen), 0);
  EXPECT_EQ(first_error(commit("b", ids[1], gen, {{1, 9}})), 0);
  EXPECT_EQ(heartbeat("c", sjr.member_id, sjr.generation_id, "inst"), 0);
  // Loaded members that stay silent expire like any other.
  now_ += kSession + 1;
  run(coord_->tick());
  EXPECT_EQ(view("c").state, GroupState::empty);
  EXPECT_EQ(view("c").generation, sjr.generation_id + 1);
  EXPECT_EQ(view("b").state, GroupState::empty);
}

TEST_F(CoordinatorTest, LoadInProgressWhileLoading) {
  EXPECT_EQ(first_error(commit("g", "", -1, {{0, 42}})), 0);
  run(coord_->stop(2s));
  GatedLog gated(log_, io_.get_executor());
  coord_ = make(gated, std::nullopt, false);
  const int32_t p = coord_->partition_for("g");
  auto loading = spawn(coord_->load_partition(p));
  ASSERT_TRUE(pump([&] { return gated.reads.load() > 0; }));
  EXPECT_EQ(run(coord_->join_group({}, 9, join_req("g", ""))).error_code, E(Errc::coordinator_load_in_progress));
  EXPECT_EQ(heartbeat("g", "m", 1), E(Errc::coordinator_load_in_progress));
  EXPECT_EQ(first_error(commit("g", "", -1, {{0, 1}})), E(Errc::coordinator_load_in_progress));
  proto::OffsetFetchRequest f;
  f.group_id = "g";
  EXPECT_EQ(run(coord_->offset_fetch(7, f)).error_code, E(Errc::coordinator_load_in_progress));
  proto::OffsetFetchRequest f1;  // v1: the error is per partition
  f1.group_id = "g";
  f1.topics.emplace();
  f1.topics->push_back({"t1", {0}, {}});
  EXPECT_EQ(run(coord_->offset_fetch(1, f1)).topics.at(0).partitions.at(0).error_code,
            E(Errc::coordinator_load_in_progress));
  EXPECT_EQ(run(coord_->list_groups(4, {})).error_code, E(Errc::coordinator_load_in_progress));
  proto::DescribeGroupsRequest d;
  d.groups = {"g"};
  EXPECT_EQ(run(coord_->describe_groups(5, d)).groups.at(0).error_code, E(Errc::coordinator_load_in_progress));
  gated.open();
  ASSERT_TRUE(pump([&] { return ready(loading); }));
  EXPECT_TRUE(take(loading).ok());
  EXPECT_EQ(fetched("g", "t1", 0), 42);
  EXPECT_EQ(run(coord_->list_groups(4, {})).error_code, 0);
}

TEST_F(CoordinatorTest, DeleteGroupsAndOffsetDeleteRules) {
  auto [ids, gen] = form_group("busy", 1);
  EXPECT_EQ(first_error(commit("busy", ids[0], gen, {{0, 1}}, 8, "t1")), 0);
  EXPECT_EQ(first_error(commit("busy", ids[0], gen, {{0, 2}}, 8, "other")), 0);
  EXPECT_EQ(first_error(commit("idle", "", -1, {{0, 5}, {1, 6}})), 0);

  proto::DeleteGroupsRequest del;
  del.groups_names = {"busy", "idle", "missing"};
  auto dr = run(coord_->delete_groups(2, del));
  ASSERT_EQ(dr.results.size(), 3u);
  EXPECT_EQ(dr.results[0].error_code, E(Errc::non_empty_group));
  EXPECT_EQ(dr.results[1].error_code, 0);
  EXPECT_EQ(dr.results[2].error_code, E(Errc::group_id_not_found));
  EXPECT_EQ(fetched("idle", "t1", 0), -1);
  EXPECT_FALSE(run(coord_->describe("idle")).has_value());

  // OffsetDelete: a subscribed topic of a consumer group with members is refused, others go.
  proto::OffsetDeleteRequest od;
  od.group_id = "busy";
  od.topics.push_back({"t1", {{0, {}}}, {}});
  od.topics.push_back({"other", {{0, {}}}, {}});
  auto odr = run(coord_->offset_delete(0, od));
  EXPECT_EQ(odr.error_code, 0);
  EXPECT_EQ(odr.topics[0].partitions[0].error_code, E(Errc::group_subscribed_to_topic));
  EXPECT_EQ(odr.topics[1].partitions[0].error_code, 0);
  EXPECT_EQ(fetched("busy", "t1", 0), 1);
  EXPECT_EQ(fetched("busy", "other", 0), -1);
  od.group_id = "missing";
  EXPECT_EQ(run(coord_->offset_delete(0, od)).error_code, E(Errc::group_id_not_found));

  // Once the member leaves, the group is Empty: offsets and then the group itself can be deleted.
  proto::LeaveGroupRequest leave;
  leave.group_id = "busy";
  leave.member_id = ids[0];
  EXPECT_EQ(run(coord_->leave_group(1, leave)).error_code, 0);
  od.group_id = "busy";
  odr = run(coord_->offset_delete(0, od));
  EXPECT_EQ(odr.topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(fetched("busy", "t1", 0), -1);
  del.groups_names = {"busy"};
  EXPECT_EQ(run(coord_->delete_groups(0, del)).results[0].error_code, 0);

  // The deletions are durable: a reload finds neither group.
  run(coord_->stop(2s));
  coord_ = make(log_);
  EXPECT_FALSE(run(coord_->describe("busy")).has_value());
  EXPECT_FALSE(run(coord_->describe("idle")).has_value());
  auto lg = run(coord_->list_groups(0, {}));
  EXPECT_TRUE(lg.groups.empty());
}

TEST_F(CoordinatorTest, ListAndDescribeGroups) {
  auto [ids, gen] = form_group("stable1", 2);
  EXPECT_EQ(first_error(commit("plain", "", -1, {{0, 1}})), 0);
  auto lr = run(coord_->list_groups(4, {}));
  EXPECT_EQ(lr.groups.size(), 2u);
  proto::ListGroupsRequest only_stable;
  only_stable.states_filter = {"stable"};  // case-insensitive, as Kafka
  lr = run(coord_->list_groups(4, only_stable));
  ASSERT_EQ(lr.groups.size(), 1u);
  EXPECT_EQ(lr.groups[0].group_id, "stable1");
  EXPECT_EQ(lr.groups[0].group_state, "Stable");
  EXPECT_EQ(lr.groups[0].protocol_type, "consumer");
  proto::ListGroupsRequest consumer_type;
  consumer_type.types_filter = {"consumer"};
  EXPECT_TRUE(run(coord_->list_groups(5, consumer_type)).groups.empty());
  consumer_type.types_filter = {"Classic"};
  EXPECT_EQ(run(coord_->list_groups(5, consumer_type)).groups.size(), 2u);

  proto::DescribeGroupsRequest d;
  d.groups = {"stable1", "unknown", ""};
  d.include_authorized_operations = true;
  auto dr = run(coord_->describe_groups(5, d));
  ASSERT_EQ(dr.groups.size(), 3u);
  EXPECT_EQ(dr.groups[0].group_state, "Stable");
  EXPECT_EQ(dr.groups[0].protocol_data, "range");
  ASSERT_EQ(dr.groups[0].members.size(), 2u);
  EXPECT_EQ(dr.groups[0].members[0].member_id, ids[0]);
  EXPECT_EQ(dr.groups[0].members[0].client_host, "/127.0.0.1");
  EXPECT_EQ(dr.groups[0].members[0].member_assignment, Bytes{1});
  EXPECT_EQ(dr.groups[0].members[0].member_metadata, subscription({"t1"}));
  EXPECT_NE(dr.groups[0].authorized_operations, INT32_MIN);
  EXPECT_EQ(dr.groups[1].error_code, 0);
  EXPECT_EQ(dr.groups[1].group_state, "Dead");
  EXPECT_EQ(dr.groups[2].error_code, E(Errc::invalid_group_id));
}

TEST_F(CoordinatorTest, OffsetsExpireAfterRetention) {
  auto c = config();
  c.offsets_retention_ms = 10000;
  MemoryGroupLog log;
  run(coord_->stop(2s));
  coord_ = make(log, c);
  EXPECT_EQ(first_error(commit("old", "", -1, {{0, 1}})), 0);
  proto::OffsetCommitRequest v2;  // v2-4: an explicit retention time
  v2.group_id = "short";
  v2.retention_time_ms = 100;
  v2.topics.push_back({"t1", {{0, 9, -1, -1, std::nullopt, {}}}, {}});
  EXPECT_EQ(first_error(run(coord_->offset_commit(2, v2))), 0);
  advance(101);
  ASSERT_TRUE(pump([&] { return fetched("short", "t1", 0) == -1; }));
  EXPECT_EQ(fetched("old", "t1", 0), 1);
  advance(10000);
  ASSERT_TRUE(pump([&] { return fetched("old", "t1", 0) == -1; }));
  EXPECT_TRUE(pump([&] { return run(coord_->list_groups(0, {})).groups.empty(); }));
  // And durably so.
  run(coord_->stop(2s));
  coord_ = make(log, c);
  EXPECT_EQ(fetched("old", "t1", 0), -1);
}

TEST_F(CoordinatorTest, StopAnswersWaitingRequests) {
  auto j = join(join_req("w", "", "inst"));
  settle();
  EXPECT_FALSE(ready(j));
  run(coord_->stop(2s));
  ASSERT_TRUE(pump([&] { return ready(j); }));
  EXPECT_EQ(take(j).error_code, E(Errc::coordinator_not_available));
  EXPECT_EQ(heartbeat("w", "x", 1), E(Errc::coordinator_not_available));
  coord_.reset();
}

}  // namespace
}  // namespace floe::group
