// OpenGate: requests for a partition being opened wait for the open, resume one at a time in arrival order, and are
// refused past their bounds (count, bytes, time) or when the open fails.
#include "kafka/open_gate.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace floe::kafka {
namespace {

using namespace std::chrono_literals;
using Outcome = OpenGate::Outcome;
constexpr uint64_t kStream = 7;

class OpenGateTest : public ::testing::Test {
 protected:
  // One request: waits at the gate, records its outcome, then holds its turn for `hold` before passing on.
  asio::awaitable<void> request(OpenGate& gate, std::string name, std::chrono::milliseconds max_wait,
                                std::chrono::milliseconds hold = 0ms, size_t bytes = 100) {
    OpenGate::Ticket t = co_await gate.wait(kStream, bytes, max_wait);
    events_.push_back(name + ":" + describe(t.outcome()));
    if (t.outcome() == Outcome::turn && hold > 0ms) {
      asio::steady_timer timer(co_await asio::this_coro::executor, hold);
      co_await timer.async_wait(asio::use_awaitable);
    }
    events_.push_back(name + ":done");
  }
  static std::string describe(Outcome o) {
    switch (o) {
      case Outcome::not_opening: return "not_opening";
      case Outcome::turn: return "turn";
      case Outcome::closed: return "closed";
      case Outcome::refused: return "refused";
      case Outcome::timed_out: return "timed_out";
    }
    return "?";
  }
  void spawn(asio::awaitable<void> op) { asio::co_spawn(strand_, std::move(op), asio::detached); }
  void run_for(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }

  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> strand_ = asio::make_strand(io_);
  std::vector<std::string> events_;
};

TEST_F(OpenGateTest, NoOpenInProgressGoesOnAtOnce) {
  OpenGate gate;
  spawn(request(gate, "a", 5000ms));
  run_for(50ms);
  EXPECT_EQ(events_, (std::vector<std::string>{"a:not_opening", "a:done"}));
}

TEST_F(OpenGateTest, WaitersResumeAfterTheOpenOneAtATimeInArrivalOrder) {
  OpenGate gate;
  gate.opening(kStream);
  spawn(request(gate, "a", 5000ms, 30ms));
  spawn(request(gate, "b", 5000ms, 30ms));
  run_for(50ms);
  EXPECT_TRUE(events_.empty());  // still opening: nobody answered
  EXPECT_EQ(gate.waiting(kStream), 2u);
  gate.opened(kStream);
  spawn(request(gate, "c", 5000ms));  // after the open, but behind the queue: waits its turn too
  run_for(300ms);
  EXPECT_EQ(events_, (std::vector<std::string>{"a:turn", "a:done", "b:turn", "b:done", "c:turn", "c:done"}));
  // The queue drained: the gate is gone and requests go on without it.
  events_.clear();
  spawn(request(gate, "d", 5000ms));
  run_for(50ms);
  EXPECT_EQ(events_, (std::vector<std::string>{"d:not_opening", "d:done"}));
}

TEST_F(OpenGateTest, AWaitPastItsBoundIsRefused) {
  OpenGateOptions o;
  o.max_wait = 100ms;
  o.max_waiters = 2;
  o.max_bytes = 1000;
  OpenGate gate(o);
  gate.opening(kStream);
  spawn(request(gate, "a", 5000ms));            // capped at 100 ms by the options
  spawn(request(gate, "b", 30ms));              // its own timeout is shorter
  spawn(request(gate, "c", 5000ms));            // a third waiter: over max_waiters
  run_for(20ms);
  EXPECT_EQ(events_, (std::vector<std::string>{"c:refused", "c:done"}));
  run_for(300ms);
  EXPECT_EQ(events_, (std::vector<std::string>{"c:refused", "c:done", "b:timed_out", "b:done", "a:timed_out",
                                               "a:done"}));
  EXPECT_EQ(gate.waiting(kStream), 0u);
  events_.clear();
  spawn(request(gate, "big", 5000ms, 0ms, 2000));  // over max_bytes
  spawn(request(gate, "now", 0ms));                // no time to wait
  run_for(20ms);
  EXPECT_EQ(events_, (std::vector<std::string>{"big:refused", "big:done", "now:refused", "now:done"}));
}

TEST_F(OpenGateTest, AFailedOpenReleasesEveryWaiterAtOnce) {
  OpenGate gate;
  gate.opening(kStream);
  spawn(request(gate, "a", 5000ms));
  spawn(request(gate, "b", 5000ms));
  run_for(20ms);
  gate.closed(kStream);
  run_for(50ms);
  EXPECT_EQ(events_, (std::vector<std::string>{"a:closed", "a:done", "b:closed", "b:done"}));
  events_.clear();
  spawn(request(gate, "c", 5000ms));
  run_for(20ms);
  EXPECT_EQ(events_, (std::vector<std::string>{"c:not_opening", "c:done"}));
}

}  // namespace
}  // namespace floe::kafka
