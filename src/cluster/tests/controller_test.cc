// Controller: election, the guard, assignment, moves, drain, balancing (fixture: controller_fixture.h).
#include "cluster/tests/controller_fixture.h"

namespace floe::cluster {
namespace {

using namespace std::chrono_literals;
using testing::ControllerTest;
using testing::TestBroker;
using Clock = std::chrono::steady_clock;

TEST_F(ControllerTest, ElectionAndTakeoverWhenTheLeaseIsRevoked) {
  auto* a = start(1);
  auto* b = start(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(eventually([&] { return elected() != nullptr; }));
  Controller* first = elected();
  EXPECT_FALSE(a->controller->elected() && b->controller->elected());
  auto key = run(meta_->get(a->image->keys().controller()));
  ASSERT_TRUE(key.ok() && key->has_value());
  auto rec = decode_controller((*key)->value);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->heartbeat, first->heartbeat_endpoint());
  EXPECT_EQ((*key)->create_revision, first->election_revision());
  ASSERT_FALSE(run(meta_->lease_revoke((*key)->lease)));
  ASSERT_TRUE(eventually([&] {
    Controller* now = elected();
    return now != nullptr && now->election_revision() > (*key)->create_revision;
  }));
  // Brokers stay alive through the change: their heartbeats reconnect to the new controller.
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(a->membership->lost());
  EXPECT_FALSE(b->membership->lost());
}

TEST_F(ControllerTest, BadSettingsAreRefusedByName) {
  auto image = open_image();
  ASSERT_TRUE(image);
  auto c = controller_config(1);
  c.silence_timeout = 0ms;
  auto r = Controller::start(io_.executor(), *meta_, *image, c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ClusterErrc::invalid_config);
  EXPECT_NE(r.error().message.find("silence_timeout"), std::string::npos);
  c = controller_config(1);
  c.heartbeat_host = "0.0.0.0";
  r = Controller::start(io_.executor(), *meta_, *image, c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("heartbeat_advertise"), std::string::npos);
  run(image->close());
}

TEST_F(ControllerTest, ADeposedControllersTxnsFail) {
  auto* a = start(1);
  ASSERT_TRUE(a);
  ASSERT_TRUE(eventually([&] { return a->controller->elected(); }));
  const int64_t old_rev = a->controller->election_revision();
  auto key = run(meta_->get(a->image->keys().controller()));
  ASSERT_TRUE(key.ok() && key->has_value());
  ASSERT_FALSE(run(meta_->lease_revoke((*key)->lease)));
  // Broker 1 campaigns again and wins a new term; the old term's guard is dead.
  ASSERT_TRUE(eventually([&] { return a->controller->election_revision() > old_rev; }));
  auto b = start(2, false);
  ASSERT_TRUE(b);
  // A txn under the old guard changes nothing.
  meta::TxnRequest txn;
  txn.success.push_back(meta::PutRequest{root_ + "probe", "x", 0, false});
  meta::TxnRequest stale = txn;
  stale.compares.push_back(
      meta::Compare::create_revision(a->image->keys().controller(), meta::Compare::Result::equal, old_rev));
  auto r = run(meta_->txn(stale));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_FALSE(run(meta_->get(root_ + "probe"))->has_value());
  // A seal under the old guard is refused as deposed and records nothing.
  stream::SealOptions o;
  o.keys.meta_root = root_;
  o.keys.broker_id = 2;
  o.keys.epoch = static_cast<uint64_t>(b->membership->epoch());
  o.guard_key = a->image->keys().controller();
  o.guard_create_revision = old_rev;
  auto sealed = run(stream::seal_epoch(*objects_, *meta_, o));
  ASSERT_FALSE(sealed.ok());
  EXPECT_EQ(sealed.error().code, stream::WalErrc::deposed);
  EXPECT_FALSE(run(meta_->get(o.keys.sealing_key()))->has_value());
  EXPECT_FALSE(b->membership->lost());
  // The current term's guard works.
  auto ok = run(a->controller->guarded_txn(txn));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(*ok);
}

TEST_F(ControllerTest, AssignmentSpreadsEvenlyOverThreeBrokers) {
  auto* b1 = start(1);
  auto* b2 = start(2);
  auto* b3 = start(3);
  ASSERT_TRUE(b1 && b2 && b3);
  create_topic(*b1, "events", 30);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b2->image, "events", 30); }));
  auto c = counts(*b2->image);
  EXPECT_EQ(c[1], 10);
  EXPECT_EQ(c[2], 10);
  EXPECT_EQ(c[3], 10);
  for (const auto& a : b3->image->assignments()) {
    EXPECT_EQ(a.leader_epoch, 0);
    EXPECT_EQ(a.broker_epoch, b3->image->broker(a.broker_id)->epoch);
  }
  // The other brokers' catalogs learned the topic from the watch.
  EXPECT_TRUE(b3->catalog->find("events").has_value());
  create_topic(*b2, "more", 4);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "more", 4); }));
  c = counts(*b1->image);
  auto [lo, hi] = std::minmax({c[1], c[2], c[3]});
  EXPECT_LE(hi - lo, 1);
  // Deleted topics lose their assignments.
  ASSERT_TRUE(run(b1->catalog->remove("more")).ok());
  ASSERT_TRUE(eventually([&] { return !b1->image->assignment("more", 0).has_value(); }));
  EXPECT_EQ(b1->image->assignments().size(), 30u);
}

TEST_F(ControllerTest, ReleaseAndMoveToATarget) {
  auto* b1 = start(1);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  auto* b2 = start(2);
  auto* b3 = start(3, false);
  ASSERT_TRUE(b2 && b3);
  create_topic(*b1, "t", 3);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 3); }));
  start_releaser();
  int32_t p = -1;
  Assignment before;
  for (const auto& a : b1->image->assignments()) {
    if (a.broker_id != 3) {
      p = a.partition;
      before = a;
      break;
    }
  }
  ASSERT_GE(p, 0);
  // Only the elected controller takes move requests.
  EXPECT_EQ(run(b2->controller->request_move("t", p, 3)).error().code, ClusterErrc::not_controller);
  EXPECT_EQ(run(b1->controller->request_move("t", p, 99)).error().code, ClusterErrc::unknown_broker);
  ASSERT_TRUE(run(b1->controller->request_move("t", p, 3)).ok());
  ASSERT_TRUE(eventually([&] {
    auto a = b1->image->assignment("t", p);
    return a && !a->released && a->broker_id == 3;
  }));
  auto after = *b1->image->assignment("t", p);
  EXPECT_EQ(after.leader_epoch, before.leader_epoch + 1);
  EXPECT_EQ(after.broker_epoch, b3->membership->epoch());
  EXPECT_FALSE(after.move_target.has_value());
}

// A release with no move target (a broker handing its partitions back) sends them to another broker.
TEST_F(ControllerTest, ReleasedPartitionsGoToAnotherBroker) {
  auto* b1 = start(1);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  auto* b2 = start(2, false);
  ASSERT_TRUE(b2);
  create_topic(*b1, "t", 4);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 4) && counts(*b1->image)[2] == 2; }));
  std::vector<Assignment> mine;
  for (const auto& a : b2->image->assignments()) {
    if (a.broker_id == 2) mine.push_back(a);
  }
  ASSERT_TRUE(run(b2->membership->release(mine)).ok());
  ASSERT_TRUE(eventually([&] { return counts(*b1->image)[1] == 4 && all_assigned(*b1->image, "t", 4); }));
  for (const auto& a : mine) EXPECT_EQ(b1->image->assignment("t", a.partition)->leader_epoch, a.leader_epoch + 1);
}

TEST_F(ControllerTest, DrainMovesEverythingOffABroker) {
  auto* b1 = start(1);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  auto* b2 = start(2);
  auto* b3 = start(3);
  ASSERT_TRUE(b2 && b3);
  create_topic(*b1, "t", 9);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 9) && counts(*b1->image)[3] == 3; }));
  start_releaser();
  const auto t0 = Clock::now();
  ASSERT_TRUE(run(b2->controller->drain(3)).ok());  // any broker may ask
  ASSERT_TRUE(eventually([&] {
    auto c = counts(*b1->image);
    return c[3] == 0 && all_assigned(*b1->image, "t", 9);
  }));
  std::printf("[ DRAIN    ] 3 partitions moved off broker 3 in %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()));
  auto c = counts(*b1->image);
  EXPECT_EQ(c[1] + c[2], 9);
  EXPECT_LE(std::abs(c[1] - c[2]), 1);
  // Nothing new goes to the drained broker; it can now leave cleanly.
  create_topic(*b1, "u", 4);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "u", 4); }));
  EXPECT_EQ(counts(*b1->image)[3], 0);
  stop_releaser();
  run(b3->controller->stop(true));
  ASSERT_TRUE(run(b3->membership->deregister()).ok());
  ASSERT_TRUE(eventually([&] { return !b1->image->snapshot()->drains.count(3); }));
}

TEST_F(ControllerTest, ScaleOutGivesTheNewBrokerItsShare) {
  auto* b1 = start(1);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  ASSERT_TRUE(start(2));
  create_topic(*b1, "t", 12);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 12); }));
  start_releaser();
  ASSERT_TRUE(start(3));
  ASSERT_TRUE(eventually([&] {
    auto c = counts(*b1->image);
    return c[1] == 4 && c[2] == 4 && c[3] == 4 && all_assigned(*b1->image, "t", 12);
  }));
}

// A subscriber that reads the image right after subscribing must not miss a change applied before its
// subscription took effect: with call_now it is called once as soon as the subscription is in place.
TEST_F(ControllerTest, ImageSubscriptionWithCallNowRunsOnceWithoutAChange) {
  auto* b1 = start(1, /*with_controller=*/false);
  ASSERT_TRUE(b1);
  auto calls = std::make_shared<std::atomic<int>>(0);
  b1->image->subscribe([calls] { ++*calls; }, /*call_now=*/true);
  EXPECT_TRUE(eventually([&] { return calls->load() >= 1; }, 5s));
  // Later changes are reported as before.
  const int before = calls->load();
  create_topic(*b1, "t", 1);
  EXPECT_TRUE(eventually([&] { return calls->load() > before; }, 5s));
}

}  // namespace
}  // namespace floe::cluster
