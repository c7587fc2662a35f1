// ClusterImage and BrokerMembership (cluster_image.h, broker_membership.h). Built twice: on the embedded store
// (floe_cluster_control_test) and on a real etcd (floe_cluster_control_etcd_test).
#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "cluster/broker_membership.h"
#include "cluster/cluster_image.h"
#include "cluster/heartbeat.h"
#include "cluster/tests/cluster_fixture.h"
#include "meta/meta_store.h"

namespace floe::cluster {
namespace {

using namespace std::chrono_literals;
using testing::ClusterFixture;

class MembershipTest : public ClusterFixture {
 protected:
  MembershipConfig config(int32_t id) {
    MembershipConfig c;
    c.broker_id = id;
    c.host = "127.0.0.1";
    c.port = 9092 + id;
    c.http = "127.0.0.1:" + std::to_string(9644 + id);
    c.lease_ttl_seconds = lease_ttl_;
    c.id_in_use_wait = 300ms;
    c.objects = objects_.get();
    return c;
  }
  std::unique_ptr<BrokerMembership> join(ClusterImage& image, MembershipConfig c) {
    auto m = run(BrokerMembership::register_broker(io_.executor(), *meta_, image, std::move(c)));
    EXPECT_TRUE(m.ok()) << m.error().message;
    return m ? std::move(*m) : nullptr;
  }
  int64_t put(const std::string& key, const std::string& value) {
    auto r = run(meta_->put(meta::PutRequest{key, value, 0, false}));
    EXPECT_TRUE(r.ok());
    return r ? r->revision : 0;
  }
};

#if defined(FLOE_CLUSTER_BACKEND_ETCD)
// The etcd build's tests get their own names (ctest names must differ between the two binaries: labels are set
// by name); the codec test runs in the embedded build only.
using MembershipEtcdTest = MembershipTest;
#define MembershipTest MembershipEtcdTest
#else
TEST(ClusterKeysTest, ValuesRoundTrip) {
  BrokerInfo b{3, 0, "10.0.0.1", 9092, std::string("rack-a"), "10.0.0.1:9644"};
  auto b2 = decode_broker(encode_broker(b));
  ASSERT_TRUE(b2.has_value());
  b2->id = 3;
  EXPECT_EQ(*b2, b);
  b.rack.reset();
  EXPECT_EQ(decode_broker(encode_broker(b))->rack, std::nullopt);

  Assignment a;
  a.topic_id[0] = 7;
  a.broker_id = 2;
  a.broker_epoch = 123456789012;
  a.leader_epoch = 5;
  a.released = true;
  a.move_target = 4;
  auto a2 = decode_assignment(encode_assignment(a));
  ASSERT_TRUE(a2.has_value());
  EXPECT_EQ(*a2, a);
  EXPECT_FALSE(decode_assignment(encode_assignment(a) + "x").has_value());
  // Version 2: a change of owner in progress carries its cause and start time.
  EXPECT_EQ(encode_assignment(a)[0], 1);
  a.handoff_cause = HandoffCause::failover;
  a.handoff_since_ms = 1795798558517;
  EXPECT_EQ(encode_assignment(a)[0], 2);
  auto a3 = decode_assignment(encode_assignment(a));
  ASSERT_TRUE(a3.has_value());
  EXPECT_EQ(*a3, a);
  EXPECT_FALSE(decode_assignment(encode_assignment(a).substr(0, encode_assignment(a).size() - 1)).has_value());
  std::string bad_cause = encode_assignment(a);
  bad_cause[bad_cause.size() - 9] = 7;
  EXPECT_FALSE(decode_assignment(bad_cause).has_value());

  auto c = decode_controller(encode_controller(ControllerRecord{1, "127.0.0.1:4000", 0}));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->broker_id, 1);
  EXPECT_EQ(c->heartbeat, "127.0.0.1:4000");

  ClusterKeys k("/r/");
  EXPECT_EQ(k.epoch(2, 17), "/r/epochs/2/00000000000000000017");
  auto e = parse_epoch_suffix("2/00000000000000000017");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->first, 2);
  EXPECT_EQ(e->second, 17);
  auto p = parse_assignment_suffix("my.topic/12");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->first, "my.topic");
  EXPECT_EQ(p->second, 12);
  EXPECT_FALSE(parse_assignment_suffix("t/x").has_value());
  auto w = parse_wal_marker("4/99/sealing");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->broker_id, 4);
  EXPECT_EQ(w->epoch, 99);
  EXPECT_FALSE(w->seal);
  EXPECT_FALSE(parse_wal_marker("4/99/cursor").has_value());

  auto f = decode_heartbeat(encode_heartbeat(5, 1234));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->broker_id, 5);
  EXPECT_EQ(f->epoch, 1234);
  auto bad = encode_heartbeat(5, 1234);
  bad[0] = 0;
  EXPECT_FALSE(decode_heartbeat(bad).has_value());
}
#endif

TEST_F(MembershipTest, ImageFollowsTopicsAndFeedsTheCatalog) {
  auto writer = run(TopicCatalog::load(*meta_, root_));
  ASSERT_TRUE(writer.ok());
  auto reader = run(TopicCatalog::load(*meta_, root_));
  ASSERT_TRUE(reader.ok());
  auto image = open_image(reader->get());
  ASSERT_TRUE(image);
  auto created = run((*writer)->create("orders", 3, {}));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_TRUE(eventually([&] { return (*reader)->find("orders").has_value(); }));
  EXPECT_EQ((*reader)->find("orders")->partitions, 3);
  EXPECT_EQ(image->snapshot()->topics.count("orders"), 1u);
  ASSERT_TRUE(run((*writer)->remove("orders")).ok());
  EXPECT_TRUE(eventually([&] { return !(*reader)->find("orders").has_value(); }));
  run(image->close());
}

TEST_F(MembershipTest, WaitForRevisionAndSubscribe) {
  auto image = open_image();
  ASSERT_TRUE(image);
  std::atomic<int> changes{0};
  image->subscribe([&] { changes.fetch_add(1); });
  Assignment a;
  a.broker_id = 1;
  a.broker_epoch = 5;
  int64_t rev = put(image->keys().assignment("t", 0), encode_assignment(a));
  ASSERT_TRUE(run(image->wait_for_revision(rev, 5s)).ok());
  auto got = image->assignment("t", 0);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->broker_id, 1);
  EXPECT_EQ(got->mod_revision, rev);
  EXPECT_TRUE(eventually([&] { return changes.load() >= 1; }));
  // A key outside the root never arrives: the wait is bounded.
  auto other = run(meta_->put(meta::PutRequest{"/elsewhere", "x", 0, false}));
  ASSERT_TRUE(other.ok());
  auto st = run(image->wait_for_revision(other->revision, 100ms));
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ClusterErrc::timed_out);
  run(image->close());
}

TEST_F(MembershipTest, ImageReloadsAfterCompaction) {
  auto image = open_image();
  ASSERT_TRUE(image);
  // Hold the image's strand so its watch falls behind, then compact past it.
  std::atomic<bool> hold{true};
  std::atomic<int> held{0};
  image->subscribe([&] {
    held.fetch_add(1);
    while (hold.load()) std::this_thread::sleep_for(5ms);
  });
  put(image->keys().drain(1), "7");
  ASSERT_TRUE(eventually([&] { return held.load() >= 1; }));
  int64_t last = 0;
  for (int i = 0; i < 20; ++i) last = put(image->keys().drain(2), std::to_string(100 + i));
  ASSERT_FALSE(run(meta_->compact(last)));
  hold.store(false);
  EXPECT_TRUE(eventually([&] { return image->revision() >= last; }));
#if defined(FLOE_CLUSTER_BACKEND_EMBEDDED)
  // The embedded store fails a watch that fell behind its history; etcd's watch stream had the events already.
  EXPECT_GE(image->reloads(), 1u);
#endif
  auto s = image->snapshot();
  EXPECT_EQ(s->drains.at(2), 119);
  EXPECT_EQ(s->drains.at(1), 7);
  run(image->close());
}

TEST_F(MembershipTest, RegistersWithAnEpochAndRecord) {
  auto image = open_image();
  ASSERT_TRUE(image);
  auto m = join(*image, config(1));
  ASSERT_TRUE(m);
  auto key = run(meta_->get(image->keys().broker(1)));
  ASSERT_TRUE(key.ok() && key->has_value());
  EXPECT_EQ((*key)->create_revision, m->epoch());
  EXPECT_EQ((*key)->lease, m->lease_id());
  auto record = run(meta_->get(image->keys().epoch(1, m->epoch())));
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_TRUE(eventually([&] { return image->live_brokers().size() == 1; }));
  auto b = image->broker(1);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->epoch, m->epoch());
  EXPECT_EQ(b->port, 9093);
  EXPECT_EQ(b->http, "127.0.0.1:9645");
  EXPECT_TRUE(m->alive());
  run(m->close());
  run(image->close());
}

TEST_F(MembershipTest, SecondRegistrationOfALiveIdFails) {
  auto image = open_image();
  ASSERT_TRUE(image);
  auto m = join(*image, config(1));
  ASSERT_TRUE(m);
  auto again = run(BrokerMembership::register_broker(io_.executor(), *meta_, *image, config(1)));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ClusterErrc::broker_id_in_use);
  EXPECT_NE(again.error().message.find("live process"), std::string::npos);
  EXPECT_TRUE(m->alive());  // the loser did not disturb the winner
  run(m->close());
  run(image->close());
}

TEST_F(MembershipTest, ReleaseAndDeregister) {
  auto image = open_image();
  ASSERT_TRUE(image);
  auto m = join(*image, config(1));
  ASSERT_TRUE(m);
  Assignment a;
  a.broker_id = 1;
  a.broker_epoch = m->epoch();
  a.leader_epoch = 3;
  int64_t rev = put(image->keys().assignment("t", 0), encode_assignment(a));
  ASSERT_TRUE(run(image->wait_for_revision(rev, 5s)).ok());
  ASSERT_EQ(image->assignments_of(1, m->epoch()).size(), 1u);
  EXPECT_TRUE(image->assignments_of(1, m->epoch() + 1).empty());
  // Deregister refuses while a partition is held.
  auto refused = run(m->deregister());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ClusterErrc::conflict);
  // Not this epoch's: skipped, nothing written.
  auto current = *image->assignment("t", 0);
  auto other = current;
  other.broker_epoch += 1;
  auto refused_other = run(m->release({other}));
  ASSERT_TRUE(refused_other.ok());
  EXPECT_EQ(refused_other->released, 0u);
  EXPECT_EQ(refused_other->skipped.size(), 1u);
  EXPECT_EQ(run(meta_->get(image->keys().assignment("t", 0))).value()->mod_revision, current.mod_revision);
  auto released = run(m->release({current}));
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(released->released, 1u);
  EXPECT_TRUE(released->skipped.empty());
  EXPECT_TRUE(eventually([&] { return image->assignment("t", 0)->released; }));
  EXPECT_EQ(image->assignment("t", 0)->leader_epoch, 3);
  std::atomic<bool> lost{false};
  m->on_lost([&](std::error_code) { lost = true; });
  ASSERT_TRUE(run(m->deregister()).ok());
  EXPECT_FALSE(run(meta_->get(image->keys().broker(1)))->has_value());
  EXPECT_FALSE(run(meta_->get(image->keys().epoch(1, m->epoch())))->has_value());
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(lost.load());  // a clean exit is not a loss
  run(image->close());
}

// A batch release where some assignments changed since the caller read them: the ones still held by this epoch at
// the same leader epoch are released (at their current revision, keeping a move target set meanwhile), the ones
// that left the epoch or were deleted are skipped, and nothing else holds the batch up. With the epoch record gone,
// nothing is released (conflict).
TEST_F(MembershipTest, ReleaseOfABatchReleasesWhatIsStillHeld) {
  auto image = open_image();
  ASSERT_TRUE(image);
  auto m = join(*image, config(1));
  ASSERT_TRUE(m);
  const int n = 150;  // two txns (at most 127 assignments each)
  int64_t rev = 0;
  for (int p = 0; p < n; ++p) {
    Assignment a;
    a.broker_id = 1;
    a.broker_epoch = m->epoch();
    a.leader_epoch = 2;
    rev = put(image->keys().assignment("t", p), encode_assignment(a));
  }
  ASSERT_TRUE(run(image->wait_for_revision(rev, 5s)).ok());
  std::vector<Assignment> seen;
  for (int p = 0; p < n; ++p) seen.push_back(*image->assignment("t", p));
  // Meanwhile: partition 3 got a move target (still held), 7 moved to another epoch, 140 was reopened here at a new
  // leader epoch (a later tenure: not the caller's to release), 11 was deleted.
  Assignment moving = seen[3];
  moving.move_target = 2;
  put(image->keys().assignment("t", 3), encode_assignment(moving));
  Assignment elsewhere = seen[7];
  elsewhere.broker_id = 2;
  elsewhere.broker_epoch = m->epoch() + 100;
  elsewhere.leader_epoch = 3;
  put(image->keys().assignment("t", 7), encode_assignment(elsewhere));
  Assignment later = seen[140];
  later.leader_epoch = 4;
  put(image->keys().assignment("t", 140), encode_assignment(later));
  ASSERT_TRUE(run(meta_->del(meta::DeleteRequest{image->keys().assignment("t", 11), "", false})).ok());

  auto r = run(m->release(seen));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->released, static_cast<size_t>(n - 3));
  std::set<int32_t> skipped;
  for (const auto& a : r->skipped) skipped.insert(a.partition);
  EXPECT_EQ(skipped, (std::set<int32_t>{7, 11, 140}));
  for (int p = 0; p < n; ++p) {
    auto kv = run(meta_->get(image->keys().assignment("t", p))).value();
    if (p == 11) {
      EXPECT_FALSE(kv.has_value());
      continue;
    }
    ASSERT_TRUE(kv.has_value()) << p;
    auto a = decode_assignment(kv->value);
    ASSERT_TRUE(a) << p;
    if (p == 7) {
      EXPECT_FALSE(a->released);
      EXPECT_EQ(a->broker_id, 2);
    } else if (p == 140) {
      EXPECT_FALSE(a->released);
      EXPECT_EQ(a->leader_epoch, 4);
    } else {
      EXPECT_TRUE(a->released) << p;
      EXPECT_EQ(a->leader_epoch, 2) << p;
      EXPECT_EQ(a->move_target, p == 3 ? std::optional<int32_t>(2) : std::nullopt) << p;
    }
  }

  // The epoch record gone: nothing more is released.
  Assignment fresh;
  fresh.broker_id = 1;
  fresh.broker_epoch = m->epoch();
  rev = put(image->keys().assignment("u", 0), encode_assignment(fresh));
  ASSERT_TRUE(run(image->wait_for_revision(rev, 5s)).ok());
  auto last = *image->assignment("u", 0);
  ASSERT_TRUE(run(meta_->del(meta::DeleteRequest{image->keys().epoch(1, m->epoch()), "", false})).ok());
  auto gone = run(m->release({last}));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ClusterErrc::conflict);
  EXPECT_FALSE(decode_assignment(run(meta_->get(image->keys().assignment("u", 0))).value()->value)->released);
  run(m->close());
  run(image->close());
}

// A release of a partition whose move target is a live, undrained epoch hands it straight there in the release txn
// (the release IS the handoff): the target's epoch, leader epoch + 1, active, the move's cause and start kept. A
// target that is drained (or not live) gets a plain release: the controller picks the next owner.
TEST_F(MembershipTest, ReleaseHandsAMovedPartitionStraightToItsLiveTarget) {
  auto image = open_image();
  ASSERT_TRUE(image);
  auto m1 = join(*image, config(1));
  ASSERT_TRUE(m1);
  auto m2 = join(*image, config(2));
  ASSERT_TRUE(m2);
  auto m3 = join(*image, config(3));
  ASSERT_TRUE(m3);
  int64_t rev = put(image->keys().drain(3), std::to_string(m3->epoch()));
  for (int p = 0; p < 2; ++p) {
    Assignment a;
    a.broker_id = 1;
    a.broker_epoch = m1->epoch();
    a.leader_epoch = 5;
    a.move_target = p == 0 ? 2 : 3;
    a.handoff_cause = HandoffCause::move;
    a.handoff_since_ms = 1234;
    rev = put(image->keys().assignment("t", p), encode_assignment(a));
  }
  ASSERT_TRUE(run(image->wait_for_revision(rev, 5s)).ok());
  std::vector<Assignment> mine{*image->assignment("t", 0), *image->assignment("t", 1)};
  auto r = run(m1->release(mine));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->released, 2u);
  auto direct = decode_assignment(run(meta_->get(image->keys().assignment("t", 0))).value()->value);
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->broker_id, 2);
  EXPECT_EQ(direct->broker_epoch, m2->epoch());
  EXPECT_EQ(direct->leader_epoch, 6);
  EXPECT_FALSE(direct->released);
  EXPECT_FALSE(direct->move_target);
  EXPECT_EQ(direct->handoff_cause, HandoffCause::move);
  EXPECT_EQ(direct->handoff_since_ms, 1234);
  auto plain = decode_assignment(run(meta_->get(image->keys().assignment("t", 1))).value()->value);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->broker_id, 1);
  EXPECT_EQ(plain->broker_epoch, m1->epoch());
  EXPECT_EQ(plain->leader_epoch, 5);
  EXPECT_TRUE(plain->released);
  EXPECT_EQ(plain->move_target, std::optional<int32_t>(3));
  run(m3->close());
  run(m2->close());
  run(m1->close());
  run(image->close());
}

TEST_F(MembershipTest, LostWhenTheLeaseIsRevoked) {
  auto image = open_image();
  ASSERT_TRUE(image);
  auto m = join(*image, config(2));
  ASSERT_TRUE(m);
  std::atomic<bool> lost{false};
  m->on_lost([&](std::error_code) { lost = true; });
  ASSERT_FALSE(run(meta_->lease_revoke(m->lease_id())));
  EXPECT_TRUE(eventually([&] { return lost.load(); }, 5s));
  EXPECT_FALSE(m->alive());
  run(m->close());
  run(image->close());
}

TEST_F(MembershipTest, LostWhenTheEpochIsSealed) {
  auto image = open_image();
  ASSERT_TRUE(image);
  auto m = join(*image, config(2));
  ASSERT_TRUE(m);
  std::atomic<bool> lost{false};
  m->on_lost([&](std::error_code) { lost = true; });
  put(root_ + "wal/2/" + std::to_string(m->epoch()) + "/sealing", "controller");
  EXPECT_TRUE(eventually([&] { return lost.load(); }, 5s));
  run(m->close());
  run(image->close());
}

// kill -9 and a quick restart with no controller: the new epoch's registration waits, then seals the old epoch
// itself (no controller key for self_seal_after) and forgets it.
TEST_F(MembershipTest, RestartWithNoControllerSealsTheOldEpochItself) {
  auto image = open_image();
  ASSERT_TRUE(image);
  auto old = join(*image, config(3));
  ASSERT_TRUE(old);
  const int64_t old_epoch = old->epoch();
  run(old->close());                                     // "killed": heartbeats and keep-alives stop
  ASSERT_FALSE(run(meta_->lease_revoke(old->lease_id())));  // its lease ran out
  auto c = config(3);
  c.self_seal_after = 200ms;
  auto fresh = join(*image, c);
  ASSERT_TRUE(fresh);
  EXPECT_GT(fresh->epoch(), old_epoch);
  EXPECT_FALSE(run(meta_->get(image->keys().epoch(3, old_epoch)))->has_value());
  auto seal = run(meta_->get(root_ + "wal/3/" + std::to_string(old_epoch) + "/seal"));
  ASSERT_TRUE(seal.ok());
  EXPECT_TRUE(seal->has_value()) << "the old epoch was not sealed";
  run(fresh->close());
  run(image->close());
}

}  // namespace
}  // namespace floe::cluster
