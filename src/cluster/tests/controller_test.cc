// Controller (controller.h) with several in-process brokers, each with its own image, membership and controller,
// on one metadata store and a file:// object store. Built twice: embedded store (floe_cluster_controller_test)
// and a real etcd (floe_cluster_controller_etcd_test). The tests play the brokers' part where it matters: a
// "releaser" thread releases what a test broker holds once the controller set a move target on it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "cluster/broker_membership.h"
#include "cluster/controller.h"
#include "cluster/tests/cluster_fixture.h"
#include "base/log.h"
#include "meta/meta_store.h"
#include "objstore/fault_store.h"
#include "stream/seal.h"

namespace floe::cluster {
namespace {

using namespace std::chrono_literals;
using testing::ClusterFixture;
using Clock = std::chrono::steady_clock;

struct TestBroker {
  int32_t id = -1;
  std::unique_ptr<TopicCatalog> catalog;
  std::unique_ptr<ClusterImage> image;
  std::unique_ptr<BrokerMembership> membership;
  std::unique_ptr<Controller> controller;
  std::atomic<bool> dead{false};  // "killed": it releases nothing any more
};

class ControllerTest : public ClusterFixture {
 protected:
  void SetUp() override {
    if (std::getenv("FLOE_TEST_DEBUG") != nullptr) log::set_level(log::Level::debug);
    ClusterFixture::SetUp();
    before_teardown_ = [this] {
      stop_releaser();
      for (auto& b : brokers_) shutdown(*b);
      brokers_.clear();
    };
  }

  ControllerConfig controller_config(int32_t id) {
    ControllerConfig c;
    c.broker_id = id;
    c.lease_ttl_seconds = lease_ttl_;
    c.objects = objects_.get();
    c.seal_op_timeout = 2s;
    c.sweep_delay = 200ms;
    return c;
  }

  // A broker: image (feeding its catalog), optionally a controller, then its registration.
  TestBroker* start(int32_t id, bool with_controller = true, std::optional<ControllerConfig> cc = std::nullopt,
                    std::function<void(MembershipConfig&)> tweak = {}) {
    auto b = std::make_unique<TestBroker>();
    b->id = id;
    auto catalog = run(TopicCatalog::load(*meta_, root_));
    EXPECT_TRUE(catalog.ok());
    if (!catalog) return nullptr;
    b->catalog = std::move(*catalog);
    b->image = open_image(b->catalog.get());
    if (!b->image) return nullptr;
    if (with_controller) {
      auto c = Controller::start(io_.executor(), *meta_, *b->image, cc ? *cc : controller_config(id));
      EXPECT_TRUE(c.ok()) << c.error().message;
      if (!c) return nullptr;
      b->controller = std::move(*c);
    }
    MembershipConfig m;
    m.broker_id = id;
    m.host = "127.0.0.1";
    m.port = 19000 + id;
    m.http = "127.0.0.1:" + std::to_string(19500 + id);
    m.lease_ttl_seconds = lease_ttl_;
    m.objects = objects_.get();
    if (tweak) tweak(m);
    auto reg = run(BrokerMembership::register_broker(io_.executor(), *meta_, *b->image, m));
    EXPECT_TRUE(reg.ok()) << reg.error().message;
    if (!reg) return nullptr;
    b->membership = std::move(*reg);
    std::lock_guard lock(mu_);
    brokers_.push_back(std::move(b));
    return brokers_.back().get();
  }

  void shutdown(TestBroker& b) {
    if (b.controller) run(b.controller->stop(true));
    if (b.membership) run(b.membership->close());
    if (b.image) run(b.image->close());
    b.controller.reset();
    b.membership.reset();
  }

  // As a killed process: heartbeats and keep-alives stop at once, nothing is cleaned up.
  void kill(TestBroker& b) {
    b.dead = true;
    if (b.controller) run(b.controller->stop(false));
    if (b.membership) run(b.membership->close());
  }

  Controller* elected() {
    std::lock_guard lock(mu_);
    for (auto& b : brokers_) {
      if (b->controller && b->controller->elected()) return b->controller.get();
    }
    return nullptr;
  }

  std::map<int32_t, int> counts(const ClusterImage& image) {
    std::map<int32_t, int> out;
    for (const auto& a : image.assignments()) {
      if (!a.released) out[a.broker_id]++;
    }
    return out;
  }

  static std::string dump(const ClusterImage& image, const std::map<int32_t, int32_t>& before) {
    std::string out;
    for (const auto& a : image.assignments()) {
      out += a.topic + "/" + std::to_string(a.partition) + " -> " + std::to_string(a.broker_id) + "/" +
             std::to_string(a.broker_epoch) + " le " + std::to_string(a.leader_epoch) +
             (a.released ? " released" : "") + (a.move_target ? " target " + std::to_string(*a.move_target) : "") +
             (before.count(a.partition) ? " (before le " + std::to_string(before.at(a.partition)) + ")" : "") + "\n";
    }
    return out;
  }

  // The broker side of a move: whoever holds a partition with a move target releases it.
  void start_releaser() {
    releasing_ = true;
    releaser_ = std::thread([this] {
      const auto until = Clock::now() + 60s;
      while (releasing_.load() && Clock::now() < until) {
        std::vector<std::pair<BrokerMembership*, ClusterImage*>> live;
        {
          std::lock_guard lock(mu_);
          for (auto& b : brokers_) {
            if (b->membership && !b->dead && !b->membership->lost()) live.emplace_back(b->membership.get(), b->image.get());
          }
        }
        for (auto [m, image] : live) {
          std::vector<Assignment> mine;
          for (const auto& a : image->assignments()) {
            if (a.broker_id == m->id() && a.broker_epoch == m->epoch() && !a.released && a.move_target) {
              mine.push_back(a);
            }
          }
          if (!mine.empty()) (void)run(m->release(mine));
        }
        std::this_thread::sleep_for(20ms);
      }
    });
  }
  void stop_releaser() {
    releasing_ = false;
    if (releaser_.joinable()) releaser_.join();
  }

  TopicInfo create_topic(TestBroker& b, const std::string& name, int32_t partitions) {
    auto t = run(b.catalog->create(name, partitions, {}));
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t ? *t : TopicInfo{};
  }

  bool all_assigned(const ClusterImage& image, const std::string& topic, int32_t partitions) {
    int n = 0;
    for (const auto& a : image.assignments()) {
      if (a.topic == topic && !a.released) ++n;
    }
    return n == partitions;
  }

  std::mutex mu_;
  std::vector<std::unique_ptr<TestBroker>> brokers_;
  std::atomic<bool> releasing_{false};
  std::thread releaser_;
};

#if defined(FLOE_CLUSTER_BACKEND_ETCD)
// The etcd build's tests get their own names (ctest names must differ between the two binaries: labels are set
// by name).
using ControllerEtcdTest = ControllerTest;
#define ControllerTest ControllerEtcdTest
#endif

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

// kill -9 of a broker closes its heartbeat connection: sealed (seal_epoch really runs on the file:// store) and its
// partitions move with leader_epoch + 1. Measured over several rounds: connection loss -> partitions reassigned.
TEST_F(ControllerTest, ClosedHeartbeatConnectionSealsAndReassignsQuickly) {
  auto* b1 = start(1);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));  // broker 1 is the controller throughout
  ASSERT_TRUE(start(2));
  ASSERT_TRUE(start(3));
  create_topic(*b1, "t", 12);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 12); }));
  start_releaser();
  std::vector<double> rto_ms;
  const int rounds = 5;
  for (int round = 0; round < rounds; ++round) {
    const int32_t victim_id = 2 + round % 2;
    TestBroker* victim = nullptr;
    {
      std::lock_guard lock(mu_);
      for (auto& b : brokers_) {
        if (b->id == victim_id && b->membership) victim = b.get();
      }
    }
    ASSERT_TRUE(victim);
    // Wait until the victim holds partitions (balancing gives a restarted broker its share).
    ASSERT_TRUE(eventually([&] { return counts(*b1->image)[victim_id] >= 3; }, 15s)) << "round " << round;
    const int64_t epoch = victim->membership->epoch();
    std::map<int32_t, int32_t> before;  // partition -> leader epoch
    for (const auto& a : b1->image->assignments()) {
      if (a.broker_id == victim_id && !a.released) before[a.partition] = a.leader_epoch;
    }
    const auto t0 = Clock::now();
    kill(*victim);
    ASSERT_TRUE(eventually(
        [&] {
          for (const auto& [p, le] : before) {
            auto a = b1->image->assignment("t", p);
            // A partition may have moved on once more since (balancing between the survivors).
            if (!a || a->released || a->broker_id == victim_id || a->leader_epoch < le + 1) return false;
          }
          return true;
        },
        5s))
        << "round " << round << "\n" << dump(*b1->image, before);
    rto_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    EXPECT_TRUE(run(meta_->get(root_ + "wal/" + std::to_string(victim_id) + "/" + std::to_string(epoch) + "/seal"))
                    ->has_value());
    ASSERT_TRUE(eventually([&] { return b1->image->snapshot()->epochs.count(EpochKey{victim_id, epoch}) == 0; }));
    // Restart the broker with the same id (a new epoch).
    {
      std::lock_guard lock(mu_);
      std::erase_if(brokers_, [&](const auto& b) { return b.get() == victim; });
    }
    ASSERT_TRUE(start(victim_id, false));
  }
  std::sort(rto_ms.begin(), rto_ms.end());
  const double p50 = rto_ms[rto_ms.size() / 2];
  const double max = rto_ms.back();
  std::printf("[ RTO      ] connection loss -> partitions reassigned over %d rounds: p50 %.0f ms, max %.0f ms "
              "(target p50 <= 1000, max <= 2000)\n", rounds, p50, max);
  RecordProperty("rto_p50_ms", static_cast<int>(p50));
  RecordProperty("rto_max_ms", static_cast<int>(max));
  EXPECT_LE(p50, 1000);
  EXPECT_LE(max, 2000);
  EXPECT_GE(b1->controller->stats().epochs_sealed.load(), static_cast<uint64_t>(rounds));
}

// A broker that stops renewing its lease (paused) while its heartbeats go on is sealed once the lease expires.
TEST_F(ControllerTest, BrokerPausedPastItsLeaseIsSealed) {
  auto* b1 = start(1);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  auto* b2 = start(2, false);
  ASSERT_TRUE(b2);
  create_topic(*b1, "t", 4);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 4) && counts(*b1->image)[2] == 2; }));
  const int64_t epoch = b2->membership->epoch();
  const auto t0 = Clock::now();
  b2->membership->stop_keepalive();
  ASSERT_TRUE(eventually([&] { return counts(*b1->image)[1] == 4; }, std::chrono::seconds(lease_ttl_ + 5)));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  std::printf("[ PAUSED   ] lease TTL %lld s: partitions moved after %lld ms\n",
              static_cast<long long>(lease_ttl_), static_cast<long long>(took));
  EXPECT_TRUE(run(meta_->get(root_ + "wal/2/" + std::to_string(epoch) + "/seal"))->has_value());
  EXPECT_TRUE(eventually([&] { return b2->membership->lost(); }));
  for (const auto& a : b1->image->assignments()) {
    if (a.leader_epoch == 1) {
      EXPECT_EQ(a.broker_id, 1);
    }
  }
}

// A broker whose heartbeats stop while its connection stays open (paused, or a stuck network) is sealed after the
// silence timeout.
TEST_F(ControllerTest, SilentBrokerIsSealed) {
  auto* b1 = start(1);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  // Broker 2 sends one frame when it connects, then nothing for 10 s; its connection stays open.
  auto* b2 = start(2, false, std::nullopt, [](MembershipConfig& m) { m.heartbeat_interval = 10s; });
  ASSERT_TRUE(b2);
  const auto t0 = Clock::now();
  const int64_t epoch = b2->membership->epoch();
  ASSERT_TRUE(eventually([&] { return b2->membership->lost(); }, 5s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  std::printf("[ SILENT   ] silent broker sealed after %lld ms (silence timeout 1000 ms)\n",
              static_cast<long long>(took));
  EXPECT_GE(took, 900);
  // (The broker learns of its loss as soon as "sealing" is recorded; the seal follows.)
  EXPECT_TRUE(eventually(
      [&] { return run(meta_->get(root_ + "wal/2/" + std::to_string(epoch) + "/seal"))->has_value(); }, 5s));
}

// File WAL (timing-based fencing): a failed epoch's partitions move only fence_delay after the failure was seen.
TEST_F(ControllerTest, FenceDelayHoldsTheReassignment) {
  auto cc = controller_config(1);
  cc.fence_delay = 1500ms;
  auto* b1 = start(1, true, cc);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  auto* b2 = start(2, false);
  ASSERT_TRUE(b2);
  create_topic(*b1, "t", 4);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 4) && counts(*b1->image)[2] == 2; }));
  const auto t0 = Clock::now();
  kill(*b2);
  ASSERT_TRUE(eventually([&] { return counts(*b1->image)[1] == 4; }, 5s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  EXPECT_GE(took, 1500 + 300);  // the grace, then the fence delay
  EXPECT_EQ(b1->controller->stats().epochs_sealed.load(), 1u);  // sealed once, not on every pass
}

// The controller dies in the middle of a seal ("sealing" recorded, the seal marker not yet written: its object
// store refuses PUTs); the next controller resumes the seal and finishes the recovery.
TEST_F(ControllerTest, ControllerKilledMidSealIsFinishedByTheNext) {
  auto shared = objstore::FileStore::open(dir_ + "/objects");
  ASSERT_TRUE(shared.ok());
  auto faulty = std::make_shared<objstore::FaultStore>(std::shared_ptr<objstore::ObjectStore>(std::move(shared.value)),
                                                       objstore::FaultConfig{});
  faulty->set_config(objstore::FaultConfig{}.errors(objstore::Op::put, 1.0));
  auto cc = controller_config(1);
  cc.objects = faulty.get();
  cc.seal_op_timeout = 200ms;
  auto* b1 = start(1, true, cc);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  auto* b2 = start(2);
  auto* b3 = start(3, false);
  ASSERT_TRUE(b2 && b3);
  create_topic(*b1, "t", 6);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 6) && counts(*b1->image)[3] == 2; }));
  const int64_t epoch = b3->membership->epoch();
  const std::string dir = root_ + "wal/3/" + std::to_string(epoch) + "/";
  kill(*b3);
  ASSERT_TRUE(eventually([&] { return run(meta_->get(dir + "sealing"))->has_value(); }, 5s));
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(run(meta_->get(dir + "seal"))->has_value());  // stuck before the marker
  // Controller 1 dies (its lease expires: revoked here to save time).
  const int64_t lease = (*run(meta_->get(b1->image->keys().controller())))->lease;
  run(b1->controller->stop(false));
  ASSERT_FALSE(run(meta_->lease_revoke(lease)));
  ASSERT_TRUE(eventually([&] { return b2->controller->elected(); }, 5s));
  ASSERT_TRUE(eventually([&] { return counts(*b2->image)[3] == 0 && all_assigned(*b2->image, "t", 6); }, 5s));
  EXPECT_TRUE(run(meta_->get(dir + "seal"))->has_value());
  for (const auto& a : b2->image->assignments()) EXPECT_NE(a.broker_id, 3);
  EXPECT_GE(b2->controller->stats().epochs_sealed.load(), 1u);
}

// A controller that stops between the seal and the reassignment: the next one finishes (seal resumed).
TEST_F(ControllerTest, ControllerKilledAfterTheSealIsFinishedByTheNext) {
  std::atomic<int> crashes{0};
  auto cc = controller_config(1);
  cc.crash_at = [&](std::string_view step, EpochKey) { return step == "after_seal" && crashes.fetch_add(1) == 0; };
  auto* b1 = start(1, true, cc);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  auto* b2 = start(2);
  auto* b3 = start(3, false);
  ASSERT_TRUE(b2 && b3);
  create_topic(*b1, "t", 6);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 6) && counts(*b1->image)[3] == 2; }));
  kill(*b3);
  ASSERT_TRUE(eventually([&] { return crashes.load() == 1; }, 5s));
  EXPECT_EQ(counts(*b1->image)[3], 2);  // not reassigned by the crashed one
  const int64_t lease = (*run(meta_->get(b1->image->keys().controller())))->lease;
  ASSERT_FALSE(run(meta_->lease_revoke(lease)));  // its lease expires
  ASSERT_TRUE(eventually([&] { return b2->controller->elected(); }, 5s));
  ASSERT_TRUE(eventually([&] { return counts(*b2->image)[3] == 0 && all_assigned(*b2->image, "t", 6); }, 5s));
  for (const auto& a : b2->image->assignments()) {
    if (a.leader_epoch > 0) {
      EXPECT_EQ(a.leader_epoch, 1);
    }
  }
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

// At scale: 999 partitions over 3 brokers (the txns are split below etcd's 128 operations), a failover of 333
// partitions, then a drain of the 333-ish partitions one broker holds.
TEST_F(ControllerTest, ThousandPartitionsFailoverAndDrain) {
  auto* b1 = start(1);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  auto* b2 = start(2, false);
  auto* b3 = start(3, false);
  ASSERT_TRUE(b2 && b3);
  auto t0 = Clock::now();
  create_topic(*b1, "big", 999);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "big", 999); }, 20s));
  auto ms = [](Clock::time_point since) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
  };
  std::printf("[ SCALE    ] 999 partitions assigned in %lld ms\n", ms(t0));
  auto c = counts(*b1->image);
  EXPECT_EQ(c[1], 333);
  EXPECT_EQ(c[2], 333);
  EXPECT_EQ(c[3], 333);
  start_releaser();
  t0 = Clock::now();
  kill(*b3);
  ASSERT_TRUE(eventually([&] { return counts(*b1->image)[3] == 0 && all_assigned(*b1->image, "big", 999); }, 10s));
  std::printf("[ SCALE    ] 333 partitions failed over in %lld ms (connection loss -> reassigned)\n", ms(t0));
  auto* b4 = start(4, false);
  ASSERT_TRUE(b4);
  ASSERT_TRUE(eventually([&] {
    auto now = counts(*b1->image);
    return now[1] == 333 && now[2] == 333 && now[4] == 333;
  }, 20s));
  t0 = Clock::now();
  ASSERT_TRUE(run(b1->controller->drain(4)).ok());
  ASSERT_TRUE(eventually([&] { return counts(*b1->image)[4] == 0 && all_assigned(*b1->image, "big", 999); }, 20s));
  std::printf("[ SCALE    ] drain of 333 partitions: %lld ms (controller and metadata only; the broker's release "
              "is this test's releaser)\n", ms(t0));
}

// kill -9 and a quick restart with the same id: the new registration waits until the controller has sealed and
// forgotten the old epoch; the old partitions move with leader_epoch + 1 and the new epoch then gets its share.
TEST_F(ControllerTest, QuickRestartWaitsForTheOldEpochsSeal) {
  auto* b1 = start(1);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  auto* b2 = start(2, false);
  ASSERT_TRUE(b2);
  create_topic(*b1, "t", 4);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 4) && counts(*b1->image)[2] == 2; }));
  start_releaser();
  const int64_t old_epoch = b2->membership->epoch();
  kill(*b2);
  {
    std::lock_guard lock(mu_);
    std::erase_if(brokers_, [&](const auto& b) { return b.get() == b2; });
  }
  auto* again = start(2, false);  // at once: the old brokers/2 still exists
  ASSERT_TRUE(again);
  EXPECT_GT(again->membership->epoch(), old_epoch);
  EXPECT_TRUE(run(meta_->get(root_ + "wal/2/" + std::to_string(old_epoch) + "/seal"))->has_value());
  EXPECT_FALSE(run(meta_->get(again->image->keys().epoch(2, old_epoch)))->has_value());
  ASSERT_TRUE(eventually([&] { return counts(*b1->image)[2] == 2 && all_assigned(*b1->image, "t", 4); }));
  for (const auto& a : b1->image->assignments()) {
    if (a.broker_id == 2) {
      EXPECT_EQ(a.broker_epoch, again->membership->epoch());
    }
  }
}

}  // namespace
}  // namespace floe::cluster
