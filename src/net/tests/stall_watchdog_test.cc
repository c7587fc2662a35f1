// StallWatchdog: a blocked io thread is measured, counted, logged with its stack; an idle one is not; a paused process
// is told apart from a blocked thread.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "net/io_threads.h"
#include "net/stall_watchdog.h"

namespace floe::net {
namespace {

using namespace std::chrono_literals;

// A named, not inlined function the stack must show.
[[gnu::noinline]] void floe_test_blocks_the_io_thread(std::chrono::milliseconds d) {
  std::this_thread::sleep_for(d);
  asm volatile("" ::: "memory");
}

// Runs `io` on one io thread registered with `watchdog` until `done` is called.
class IoRunner {
 public:
  IoRunner(asio::io_context& io, StallWatchdog& watchdog)
      : io_(io), guard_(asio::make_work_guard(io)), thread_([this, &watchdog] { run_io_threads(io_, 1, &watchdog); }) {}
  ~IoRunner() { done(); }
  void done() {
    guard_.reset();
    if (thread_.joinable()) thread_.join();
  }

 private:
  asio::io_context& io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

TEST(StallWatchdog, BlockedIoThreadIsReportedWithItsStack) {
  asio::io_context io(1);
  StallWatchdogConfig config;
  config.tick_interval = 20ms;
  config.warn_after = 150ms;
  StallWatchdog watchdog(io, config);
  watchdog.start();
  testing::internal::CaptureStderr();
  {
    IoRunner runner(io, watchdog);
    ASSERT_TRUE(eventually([&] { return watchdog.stats().lateness.count() >= 2; }));
    asio::post(io, [] { floe_test_blocks_the_io_thread(300ms); });
    ASSERT_TRUE(eventually([&] { return watchdog.stats().blocked_stalls >= 1; }));
  }
  watchdog.stop();
  const std::string log = testing::internal::GetCapturedStderr();
  const StallWatchdogStats s = watchdog.stats();
  EXPECT_EQ(s.blocked_stalls, 1u);
  EXPECT_EQ(s.paused_stalls, 0u);
  EXPECT_GE(s.longest_us, 250'000u);
  EXPECT_LT(s.longest_us, 2'000'000u);
  EXPECT_NE(log.find("io stall: a task posted to the io threads ran"), std::string::npos) << log;
  EXPECT_NE(log.find("an io thread was busy"), std::string::npos) << log;
  // The stack taken during the stall names the function that blocked.
  EXPECT_NE(log.find("io thread 1 of 1 busy for"), std::string::npos) << log;
  EXPECT_NE(log.find("floe_test_blocks_the_io_thread"), std::string::npos) << log;
}

TEST(StallWatchdog, IdleIoThreadHasNoStall) {
  asio::io_context io(1);
  StallWatchdogConfig config;
  config.tick_interval = 10ms;
  config.warn_after = 200ms;
  StallWatchdog watchdog(io, config);
  watchdog.start();
  {
    IoRunner runner(io, watchdog);
    ASSERT_TRUE(eventually([&] { return watchdog.stats().lateness.count() >= 10; }));
  }
  watchdog.stop();
  const StallWatchdogStats s = watchdog.stats();
  EXPECT_EQ(s.blocked_stalls + s.paused_stalls, 0u);
  EXPECT_LT(s.longest_us, 200'000u);
}

TEST(StallWatchdog, NoTicksWhileNoIoThreadRuns) {
  asio::io_context io(1);
  StallWatchdogConfig config;
  config.tick_interval = 5ms;
  config.warn_after = 20ms;
  StallWatchdog watchdog(io, config);
  watchdog.start();
  std::this_thread::sleep_for(100ms);  // nobody runs `io`: not a stall
  watchdog.stop();
  EXPECT_EQ(watchdog.stats().lateness.count(), 0u);
  EXPECT_EQ(watchdog.stats().blocked_stalls, 0u);
}

TEST(StallWatchdog, PausedProcessIsNotABlockedThread) {
  asio::io_context io(1);
  StallWatchdogConfig config;
  config.tick_interval = 10ms;
  config.warn_after = 150ms;
  StallWatchdog watchdog(io, config);
  watchdog.start();
  {
    IoRunner runner(io, watchdog);
    ASSERT_TRUE(eventually([&] { return watchdog.stats().lateness.count() >= 2; }));
    // The whole process stops (as under SIGSTOP) and a child resumes it 400 ms later.
    const pid_t parent = getpid();
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      usleep(400'000);
      kill(parent, SIGCONT);
      _exit(0);
    }
    raise(SIGSTOP);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(eventually([&] { return watchdog.stats().lateness.count() >= 10; }));
  }
  watchdog.stop();
  const StallWatchdogStats s = watchdog.stats();
  EXPECT_EQ(s.blocked_stalls, 0u);
  EXPECT_EQ(s.paused_stalls, 1u);
}

TEST(StallWatchdog, CapturesTheStackOfAnotherThread) {
  std::atomic<unsigned long> thread{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> looping{false};  // one call done: from now on the thread is (all but) always inside the call
  std::thread t([&] {
    thread = static_cast<unsigned long>(pthread_self());
    while (!stop) {
      floe_test_blocks_the_io_thread(10ms);
      looping = true;
    }
  });
  ASSERT_TRUE(eventually([&] { return looping.load(); }));
  const std::string stack = capture_thread_stack(thread, 500ms);
  stop = true;
  t.join();
  EXPECT_NE(stack.find("floe_test_blocks_the_io_thread"), std::string::npos) << stack;
  EXPECT_EQ(stack.rfind("#0 ", 0), 0u) << stack;
}

}  // namespace
}  // namespace floe::net
