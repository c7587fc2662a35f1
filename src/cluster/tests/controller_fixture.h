// Fixture of the controller suites (controller_test.cc, controller_failover_test.cc): several in-process brokers,
// each with its own image, membership and controller, on one metadata store and a file:// object store. Built
// twice: embedded store (floe_cluster_controller_test) and a real etcd (floe_cluster_controller_etcd_test). The
// tests play the brokers' part where it matters: a "releaser" thread releases what a test broker holds once the
// controller set a move target on it.
#pragma once

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

namespace floe::cluster::testing {

using namespace std::chrono_literals;
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

  // A broker: image (feeding its catalog), optionally a controller, then its registration; all on `executor`
  // (default: the shared io threads; a test that pauses one broker's process gives it io threads of its own).
  TestBroker* start(int32_t id, bool with_controller = true, std::optional<ControllerConfig> cc = std::nullopt,
                    std::function<void(MembershipConfig&)> tweak = {}, asio::any_io_executor executor = {}) {
    const asio::any_io_executor ex = executor ? executor : io_.executor();
    auto b = std::make_unique<TestBroker>();
    b->id = id;
    auto catalog = run(TopicCatalog::load(*meta_, root_));
    EXPECT_TRUE(catalog.ok());
    if (!catalog) return nullptr;
    b->catalog = std::move(*catalog);
    auto image = run(ClusterImage::open(ex, *meta_, root_, b->catalog.get()));
    EXPECT_TRUE(image.ok()) << image.error().message;
    if (!image) return nullptr;
    b->image = std::move(*image);
    if (with_controller) {
      auto c = Controller::start(ex, *meta_, *b->image, cc ? *cc : controller_config(id));
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
    auto reg = run(BrokerMembership::register_broker(ex, *meta_, *b->image, m));
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

  // Io threads of a broker a test pauses (declared before brokers_: they outlive its shutdown in TearDown).
  std::unique_ptr<meta::testing::IoThreads> paused_io_;
  std::mutex mu_;
  std::vector<std::unique_ptr<TestBroker>> brokers_;
  std::atomic<bool> releasing_{false};
  std::thread releaser_;
};

}  // namespace floe::cluster::testing

#if defined(FLOE_CLUSTER_BACKEND_ETCD)
// The etcd build's tests get their own names (ctest names must differ between the two binaries: labels are set
// by name).
namespace floe::cluster::testing {
using ControllerEtcdTest = ControllerTest;
}  // namespace floe::cluster::testing
#define ControllerTest ControllerEtcdTest
#endif
