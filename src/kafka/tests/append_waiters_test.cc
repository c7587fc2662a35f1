// AppendWaiters: a parked long-poll fetch is woken by a notify() from another thread (the WAL's) long before its
// deadline, the wake latency is recorded once per woken fetch, a deadline ends a wait with nothing recorded, and an
// append between the look for data and the wait is not missed. Bounds are generous: these test behaviour, not speed.
#include "kafka/append_waiters.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/use_future.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "metrics/metrics.h"

namespace floe::kafka {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string wake_count_line(uint64_t n) {
  return "floe_kafka_fetch_wake_duration_seconds_count " + std::to_string(n) + "\n";
}

class AppendWaitersTest : public ::testing::Test {
 protected:
  // Runs one wait_until on the io thread; returns (woken, how long it took).
  std::pair<bool, Clock::duration> wait(AppendWaiters& w, Clock::duration max_wait, uint64_t epoch,
                                        const std::function<void()>& while_parked = {}) {
    const auto start = Clock::now();
    auto fut = asio::co_spawn(strand_, w.wait_until(start + max_wait, epoch), asio::use_future);
    std::thread notifier;
    if (while_parked) {
      notifier = std::thread([&] {
        // The fetch parks on the io thread; the notify comes from another thread, as the WAL's does.
        for (int i = 0; i < 1000 && w.waiting() == 0; ++i) std::this_thread::sleep_for(1ms);
        while_parked();
      });
    }
    const auto give_up = start + 30s;  // bounded whatever happens
    while (fut.wait_for(0s) != std::future_status::ready && Clock::now() < give_up) io_.run_one_for(10ms);
    if (notifier.joinable()) notifier.join();
    EXPECT_EQ(fut.wait_for(0s), std::future_status::ready);
    return {fut.get(), Clock::now() - start};
  }

  metrics::Registry registry_;
  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> strand_ = asio::make_strand(io_);
};

TEST_F(AppendWaitersTest, NotifyFromAnotherThreadWakesAParkedFetchLongBeforeItsDeadline) {
  AppendWaiters w(&registry_);
  std::atomic<bool> parked_when_notified{false};
  auto [woken, took] = wait(w, 20s, w.epoch(), [&] {
    parked_when_notified = w.waiting() == 1;
    w.notify();
  });
  EXPECT_TRUE(woken);
  EXPECT_TRUE(parked_when_notified);
  EXPECT_LT(took, 10s) << "the notify did not end the wait";
  EXPECT_EQ(w.waiting(), 0u);
  const std::string text = registry_.render();
  EXPECT_NE(text.find(wake_count_line(1)), std::string::npos) << text;
}

TEST_F(AppendWaitersTest, SeveralNotifiesBeforeItRunsCountOneWake) {
  AppendWaiters w(&registry_);
  auto [woken, took] = wait(w, 20s, w.epoch(), [&] {
    for (int i = 0; i < 5; ++i) w.notify();
  });
  EXPECT_TRUE(woken);
  EXPECT_LT(took, 10s);
  EXPECT_NE(registry_.render().find(wake_count_line(1)), std::string::npos);
}

TEST_F(AppendWaitersTest, TheDeadlineEndsAWaitWithoutAWake) {
  AppendWaiters w(&registry_);
  auto [woken, took] = wait(w, 50ms, w.epoch());
  EXPECT_FALSE(woken);
  EXPECT_GE(took, 50ms);
  EXPECT_EQ(w.waiting(), 0u);
  EXPECT_NE(registry_.render().find(wake_count_line(0)), std::string::npos);
}

TEST_F(AppendWaitersTest, AnAppendBeforeTheWaitIsNotMissed) {
  AppendWaiters w(&registry_);
  const uint64_t seen = w.epoch();
  w.notify();  // between the fetch's look for data and its wait
  auto [woken, took] = wait(w, 20s, seen);
  EXPECT_TRUE(woken);
  EXPECT_LT(took, 10s);
  EXPECT_NE(registry_.render().find(wake_count_line(0)), std::string::npos) << "it never parked";
}

TEST_F(AppendWaitersTest, TooManyWaitersAnswerAtOnce) {
  AppendWaiters w(&registry_, /*max_waiters=*/0);
  auto [woken, took] = wait(w, 20s, w.epoch());
  EXPECT_FALSE(woken);
  EXPECT_LT(took, 10s);
}

TEST_F(AppendWaitersTest, WorksWithoutARegistry) {
  AppendWaiters w;
  auto [woken, took] = wait(w, 20s, w.epoch(), [&] { w.notify(); });
  EXPECT_TRUE(woken);
  EXPECT_LT(took, 10s);
}

}  // namespace
}  // namespace floe::kafka
