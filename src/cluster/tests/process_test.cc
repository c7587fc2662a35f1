// The control plane across real processes on a real etcd: three broker processes (cluster_node_child.cc), each
// with its own image, controller and membership; the test watches with its own image. kill -9 (the kernel closes
// the heartbeat socket), SIGSTOP past the lease (silence, then the lease), and kill -9 of the controller itself.
// Prints each scenario's time from the signal to every partition of the victim being reassigned.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "cluster/tests/cluster_fixture.h"

extern char** environ;

namespace floe::cluster {
namespace {

using namespace std::chrono_literals;
using testing::ClusterFixture;
using Clock = std::chrono::steady_clock;

// One child process with a pipe on its stdout.
struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string buffer;

  // The next line on its stdout, waiting at most `timeout`.
  std::optional<std::string> line(std::chrono::milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    for (;;) {
      if (auto nl = buffer.find('\n'); nl != std::string::npos) {
        std::string l = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        return l;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(out, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      buffer.append(buf, static_cast<size_t>(n));
    }
  }
  void stop(int sig) {
    if (pid <= 0) return;
    ::kill(pid, SIGCONT);
    ::kill(pid, sig);
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) break;
      if (i == 300) ::kill(pid, SIGKILL);
      std::this_thread::sleep_for(10ms);
    }
    pid = -1;
    if (out >= 0) ::close(out);
    out = -1;
  }
};

class ProcessTest : public ClusterFixture {
 protected:
  void SetUp() override {
    ClusterFixture::SetUp();
    before_teardown_ = [this] {
      for (auto& [id, c] : children_) c.stop(SIGKILL);
      if (image_) run(image_->close());
    };
  }

  Child* spawn(int32_t id) {
    int fds[2];
    if (::pipe(fds) != 0) return nullptr;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    const std::string exe = FLOE_CLUSTER_NODE_CHILD;
    const std::string etcd = etcd_.endpoint(), sid = std::to_string(id), objects = dir_ + "/objects",
                      ttl = std::to_string(lease_ttl_);
    std::vector<char*> argv{const_cast<char*>(exe.c_str()), const_cast<char*>(etcd.c_str()),
                            const_cast<char*>(sid.c_str()), const_cast<char*>(objects.c_str()),
                            const_cast<char*>(ttl.c_str()), nullptr};
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      return nullptr;
    }
    Child& c = children_[id];
    c.pid = pid;
    c.out = fds[0];
    auto ready = c.line(30s);
    EXPECT_TRUE(ready && ready->rfind("READY ", 0) == 0) << "broker " << id << " did not start";
    return &c;
  }

  std::map<int32_t, int> counts() {
    std::map<int32_t, int> out;
    for (const auto& a : image_->assignments()) {
      if (!a.released) out[a.broker_id]++;
    }
    return out;
  }

  // Partitions of `victim` now: partition -> leader epoch.
  std::map<int32_t, int32_t> held_by(int32_t victim) {
    std::map<int32_t, int32_t> out;
    for (const auto& a : image_->assignments()) {
      if (a.broker_id == victim && !a.released) out[a.partition] = a.leader_epoch;
    }
    return out;
  }

  bool moved_off(int32_t victim, const std::map<int32_t, int32_t>& before) {
    for (const auto& [p, le] : before) {
      auto a = image_->assignment("t", p);
      if (!a || a->released || a->broker_id == victim || a->leader_epoch < le + 1) return false;
    }
    return true;
  }

  // Topic "t" with 12 partitions, brokers 1-3 as child processes, each leading 4 of them.
  void start_three_brokers_with_topic_t() {
  auto catalog = run(TopicCatalog::load(*meta_, root_));
  ASSERT_TRUE(catalog.ok());
  catalog_ = std::move(*catalog);
  image_ = open_image(catalog_.get());
  ASSERT_TRUE(image_);
  ASSERT_TRUE(run(catalog_->create("t", 12, {})).ok());
  for (int32_t id : {1, 2, 3}) ASSERT_TRUE(spawn(id));
  ASSERT_TRUE(eventually([&] {
    auto c = counts();
    return c[1] == 4 && c[2] == 4 && c[3] == 4;
  }, 20s));
  }

  long long ms_since(Clock::time_point t0) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  }

  std::map<int32_t, Child> children_;
  std::unique_ptr<TopicCatalog> catalog_;
  std::unique_ptr<ClusterImage> image_;
};

TEST_F(ProcessTest, KillSigstopAndControllerLoss) {
  ASSERT_NO_FATAL_FAILURE(start_three_brokers_with_topic_t());
  const int32_t controller = *image_->controller_id();
  std::vector<int32_t> others;
  for (int32_t id : {1, 2, 3}) {
    if (id != controller) others.push_back(id);
  }

  // 1. kill -9 of a broker: its socket closes at once.
  {
    const int32_t victim = others[0];
    auto before = held_by(victim);
    ASSERT_FALSE(before.empty());
    const auto t0 = Clock::now();
    children_[victim].stop(SIGKILL);
    ASSERT_TRUE(eventually([&] { return moved_off(victim, before); }, 10s));
    const auto took = ms_since(t0);
    std::printf("[ PROCESS  ] kill -9 of broker %d: its %zu partitions reassigned in %lld ms\n", victim,
                before.size(), took);
    EXPECT_LE(took, 2000);
    ASSERT_TRUE(spawn(victim));  // restart with the same id: a new epoch once the old one is sealed
  }

  // 2. SIGSTOP past the lease: heartbeats stop (silence), then the lease expires; after SIGCONT the old process
  //    finds itself sealed and stops.
  {
    const int32_t victim = others[1];
    ASSERT_TRUE(eventually([&] { return counts()[victim] >= 3; }, 20s));
    auto before = held_by(victim);
    const auto t0 = Clock::now();
    ::kill(children_[victim].pid, SIGSTOP);
    ASSERT_TRUE(eventually([&] { return moved_off(victim, before); }, 10s));
    const auto took = ms_since(t0);
    std::printf("[ PROCESS  ] SIGSTOP of broker %d: its %zu partitions reassigned in %lld ms (silence 1 s, lease "
                "TTL %lld s)\n", victim, before.size(), took, static_cast<long long>(lease_ttl_));
    EXPECT_LE(took, lease_ttl_ * 1000 + 1000);
    std::this_thread::sleep_for(std::chrono::seconds(lease_ttl_));  // past its lease
    ::kill(children_[victim].pid, SIGCONT);
    auto lost = children_[victim].line(5s);
    ASSERT_TRUE(lost.has_value());
    EXPECT_EQ(*lost, "LOST");
    children_[victim].stop(SIGKILL);
  }

  // 3. kill -9 of the controller: another process is elected and fails the dead one over.
  {
    auto before = held_by(controller);
    const auto t0 = Clock::now();
    children_[controller].stop(SIGKILL);
    ASSERT_TRUE(eventually([&] {
      auto c = image_->controller_id();
      return c && *c != controller && moved_off(controller, before);
    }, 15s));
    const auto took = ms_since(t0);
    std::printf("[ PROCESS  ] kill -9 of the controller (broker %d): new controller %d, its %zu partitions "
                "reassigned in %lld ms (lease TTL %lld s)\n", controller, *image_->controller_id(), before.size(),
                took, static_cast<long long>(lease_ttl_));
    EXPECT_LE(took, lease_ttl_ * 1000 + 2000);
  }
}

// SIGSTOP of the controller's process, with leases (6 s) far longer than the test allows: its sockets stay open,
// so only its missing heartbeat acks give it away. The others depose it after ~1 s, elect another and fail it over;
// after SIGCONT it finds its epoch sealed (LOST) although its lease never expired.
TEST_F(ProcessTest, SigstopOfTheControllerFailsItOverBeforeItsLease) {
  lease_ttl_ = 6;
  ASSERT_NO_FATAL_FAILURE(start_three_brokers_with_topic_t());
  const auto controller = image_->controller();
  ASSERT_TRUE(controller.has_value());
  const int32_t victim = controller->broker_id;
  auto before = held_by(victim);
  const auto t0 = Clock::now();
  ::kill(children_[victim].pid, SIGSTOP);
  long long elected_after = -1;
  ASSERT_TRUE(eventually([&] {
    auto c = image_->controller();
    if (elected_after < 0 && c && c->create_revision != controller->create_revision) elected_after = ms_since(t0);
    return c && c->broker_id != victim && moved_off(victim, before);
  }, 5s)) << "not failed over within 5 s of SIGSTOP (lease TTL 6 s)";
  const auto took = ms_since(t0);
  std::printf("[ PROCESS  ] SIGSTOP of the controller (broker %d): new controller after %lld ms, its %zu partitions "
              "reassigned in %lld ms (answer timeout 1 s, lease TTL %lld s)\n", victim, elected_after, before.size(),
              took, static_cast<long long>(lease_ttl_));
  EXPECT_LE(took, 3000);  // the lease alone would take 6 s
  ::kill(children_[victim].pid, SIGCONT);
  auto lost = children_[victim].line(5s);
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(*lost, "LOST");
}

}  // namespace
}  // namespace floe::cluster
