// OpenGate: requests for a partition that this broker is opening wait for the open instead of being turned away.
//
// Right after a failover the new leader is still opening a partition (acquire + producer-state load) when the
// clients, told by Metadata who leads now, send to it. Answering NOT_LEADER_OR_FOLLOWER then breaks pipelined
// idempotent producers: batch n is refused, batch n+1 arrives after the open and gets OUT_OF_ORDER_SEQUENCE_NUMBER,
// which librdkafka before 2.3.0 (Debian's 2.0.2) treats as fatal. So a produce for a partition whose open is in
// progress waits here, bounded in time (the request's timeout, capped by partition.open.wait.ms) and in count and
// bytes per partition, and is then handled normally.
//
// Order: after the open the waiters resume one at a time, in arrival order, and each hands on to the next (pass_on)
// once it has made its sequence check and append reservation, so the batches of one producer are appended in the
// order they arrived (a connection's requests run concurrently). Requests arriving while earlier waiters have not all
// passed on queue behind them too; once the queue is empty the gate goes away and requests run without it.
//
// If the open fails or the partition leaves this broker meanwhile (closed), every waiter resumes at once and finds
// the partition not local: NOT_LEADER_OR_FOLLOWER as before.
//
// A fetch for a partition being opened here waits at the same gate (kafka/fetch.cc), bounded by its max wait, and
// passes on at once when its turn comes (it reserves nothing). Produce and fetch waiters share the per-partition
// bounds. stats(): waiters now, waits, and waits that ended without their turn (metrics: docs/metrics.md).
//
// Thread-safe; waiters sleep on a timer on their own executor (cancelled there), no polling.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

namespace floe::kafka {

struct OpenGateOptions {
  std::chrono::milliseconds max_wait{5000};  // partition.open.wait.ms: the cap on a request's own timeout
  size_t max_waiters = 1000;                 // partition.open.max.waiters: per partition; beyond: not leader
  size_t max_bytes = 64u << 20;              // partition.open.max.wait.bytes: records held by waiters, per partition
};

// Counters of one gate (all partitions), for metrics.
struct OpenGateStats {
  uint64_t waiting = 0;    // requests queued now
  uint64_t waits = 0;      // requests that queued (each counted once)
  uint64_t timeouts = 0;   // queued requests whose wait ran out before the open (not leader)
  uint64_t refusals = 0;   // requests turned away without queueing: over max_waiters / max_bytes, or no time left
  uint64_t closed = 0;     // queued requests released because the open failed or the partition left
};

class OpenGate {
  struct Shared;
  struct Gate;
  struct Waiter;

 public:
  enum class Outcome {
    not_opening,  // no open in progress and nobody queued: go on as usual
    turn,         // this request's turn after the open: call pass_on() once its append is reserved (or refused)
    closed,       // the open failed or the partition left: the leadership check refuses it
    refused,      // too many waiters, or no time to wait: not leader
    timed_out,    // the open outlasted the wait: not leader
  };

  // One request's place; passes on to the next waiter when destroyed, if pass_on() was not called before.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&&) noexcept = default;
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { pass_on(); }
    Outcome outcome() const { return outcome_; }
    void pass_on();

   private:
    friend class OpenGate;
    Outcome outcome_ = Outcome::not_opening;
    std::shared_ptr<Shared> shared_;
    std::shared_ptr<Gate> gate_;
    uint64_t stream_ = 0;
  };

  explicit OpenGate(OpenGateOptions options = {});
  ~OpenGate();

  // The partition manager's side.
  void opening(uint64_t stream);  // its open started: requests wait from now on
  void opened(uint64_t stream);   // served from now on: the waiters resume one by one
  void closed(uint64_t stream);   // the open failed, or it is released / dropped: every waiter resumes at once
  void close_all();

  // Waits while `stream` is being opened or earlier waiters have not passed on, at most `max_wait` (capped by the
  // options); `bytes`: what the request holds. Runs on the calling coroutine's executor.
  asio::awaitable<Ticket> wait(uint64_t stream, size_t bytes, std::chrono::milliseconds max_wait);

  const OpenGateOptions& options() const;
  size_t waiting(uint64_t stream) const;  // queued requests (tests, metrics)
  OpenGateStats stats() const;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace floe::kafka
