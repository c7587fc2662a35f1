// StallWatchdog: how late the io threads run what is posted to them, seen from a thread of its own.
//
// Every `tick_interval` the watchdog thread posts a tick to the io_context and waits for it. A tick's lateness (posted
// to run) is recorded in a histogram. A tick late by `warn_after` or more is a stall: it is counted and logged as one
// warn line naming its duration. Two kinds are told apart, because they call for different fixes:
//   - blocked: the watchdog thread itself kept running on time, so an io thread was busy (a blocking call, a long CPU
//     loop, a lock held across slow work). While the stall lasts, past `warn_after`, the watchdog captures the stack
//     of every io thread (a signal to the thread; its handler only records return addresses) and logs it with
//     function names and file:line (libbacktrace over the binary's debug info), so the log names the culprit.
//   - paused: the watchdog thread was late by about as much (SIGSTOP, a frozen VM, a machine out of CPU): the whole
//     process was not running; no stack is taken (it would show whatever ran when the process resumed). A pause
//     that falls between two ticks is seen the same way, from the watchdog's own late wake-up.
//
// With several io threads, a tick runs on whichever is free: the lateness is that of the executor as a whole (every
// thread busy), and a stack is captured for each thread.
//
// Threads: run_io_threads registers each io thread (IoThreadScope) for the time it runs the io_context; the watchdog
// posts ticks only while at least one is registered, so an io_context that ran out of work (shutdown) or was stopped
// is not reported as stalled. stats() may be called from any thread. One capture at a time in the process (the
// signal handler is process-wide).
#pragma once

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/log2_histogram.h"

namespace floe::net {

struct StallWatchdogConfig {
  std::chrono::milliseconds tick_interval{100};  // one tick in flight at a time, posted this often
  std::chrono::milliseconds warn_after{500};     // a tick this late is a stall (config key io.stall.warn.ms)
  bool capture_stacks = true;                    // stacks of the io threads during a blocked stall
};

struct StallWatchdogStats {
  Log2HistogramSnapshot lateness;  // every tick, microseconds
  uint64_t blocked_stalls = 0;     // ticks late by >= warn_after while the watchdog ran on time
  uint64_t paused_stalls = 0;      // the whole process not running for >= warn_after (the watchdog was late)
  uint64_t longest_us = 0;         // the latest tick's lateness is in `lateness`; this is the worst one seen
};

class StallWatchdog {
 public:
  StallWatchdog(asio::io_context& io, StallWatchdogConfig config);
  ~StallWatchdog();  // stop()
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

  // Starts the watchdog thread (once).
  void start();
  // Stops and joins it (idempotent). A tick still posted stays harmless (it holds its own state).
  void stop();

  StallWatchdogStats stats() const;
  const StallWatchdogConfig& config() const { return config_; }

  // Registers the calling thread as an io thread of this watchdog for the scope's lifetime (nullptr: no-op).
  class IoThreadScope {
   public:
    explicit IoThreadScope(StallWatchdog* watchdog);
    ~IoThreadScope();
    IoThreadScope(const IoThreadScope&) = delete;
    IoThreadScope& operator=(const IoThreadScope&) = delete;

   private:
    StallWatchdog* watchdog_;
    uint64_t id_ = 0;
  };

  struct Shared;  // what a posted tick and the watchdog thread share (stall_watchdog.cc)

 private:
  void run();
  // One tick: posts it, waits for it (capturing stacks once it is warn_after late), records it. False on stop.
  bool tick();
  void report(std::chrono::steady_clock::duration lateness, std::chrono::steady_clock::duration self_lateness);
  void capture_stacks(std::chrono::steady_clock::duration so_far);

  asio::io_context& io_;
  const StallWatchdogConfig config_;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
  bool started_ = false;
  uint64_t next_seq_ = 0;  // ticks posted (the watchdog thread's own)

  Log2Histogram lateness_;
  std::atomic<uint64_t> blocked_stalls_{0};
  std::atomic<uint64_t> paused_stalls_{0};
  std::atomic<uint64_t> longest_us_{0};
};

// The stack of the thread `thread` (a pthread_t) as one line of frames, "#0 function (file:line) | #1 ...", taken
// by signalling it; empty when it did not answer within `timeout`. Used by the watchdog; exposed for tests.
std::string capture_thread_stack(unsigned long thread, std::chrono::milliseconds timeout);

}  // namespace floe::net
