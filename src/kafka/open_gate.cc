#include "kafka/open_gate.h"

#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <algorithm>
#include <vector>
#include <deque>
#include <mutex>
#include <unordered_map>

namespace floe::kafka {

struct OpenGate::Waiter {
  std::shared_ptr<asio::steady_timer> timer;
  size_t bytes = 0;
  bool woken = false;  // its turn came, or the gate closed
};

struct OpenGate::Gate {
  bool open_done = false;
  bool closed = false;
  bool turn_taken = false;  // a request had its turn and has not passed on yet
  std::deque<std::shared_ptr<Waiter>> queue;
  size_t bytes = 0;
};

struct OpenGate::Shared {
  OpenGateOptions options;
  mutable std::mutex mu;
  std::unordered_map<uint64_t, std::shared_ptr<Gate>> gates;
  OpenGateStats stats;  // under mu

  static void wake(const std::shared_ptr<Waiter>& w) {
    w->woken = true;
    // A timer is not thread-safe: cancel it on its own executor (the waiter's strand, so it cannot run before the
    // waiter's async_wait started: the waiter holds the strand from its registration to its wait).
    std::shared_ptr<asio::steady_timer> timer = w->timer;
    asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }

  // Under mu: the next waiter's turn, or the gate goes away once the open is done and nobody is left.
  void next(uint64_t stream, const std::shared_ptr<Gate>& gate) {
    if (gate->closed || !gate->open_done || gate->turn_taken) return;
    if (gate->queue.empty()) {
      auto it = gates.find(stream);
      if (it != gates.end() && it->second == gate) gates.erase(it);
      return;
    }
    std::shared_ptr<Waiter> w = gate->queue.front();
    gate->queue.pop_front();
    gate->bytes -= w->bytes;
    --stats.waiting;
    gate->turn_taken = true;
    wake(w);
  }

  void close(uint64_t stream) {
    auto it = gates.find(stream);
    if (it == gates.end()) return;
    std::shared_ptr<Gate> gate = it->second;
    gates.erase(it);
    gate->closed = true;
    for (const auto& w : gate->queue) wake(w);
    stats.waiting -= gate->queue.size();
    stats.closed += gate->queue.size();
    gate->queue.clear();
    gate->bytes = 0;
  }
};

OpenGate::Ticket& OpenGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    pass_on();
    outcome_ = other.outcome_;
    shared_ = std::move(other.shared_);
    gate_ = std::move(other.gate_);
    stream_ = other.stream_;
  }
  return *this;
}

void OpenGate::Ticket::pass_on() {
  if (!gate_) return;
  std::shared_ptr<Gate> gate = std::move(gate_);
  std::lock_guard lock(shared_->mu);
  gate->turn_taken = false;
  shared_->next(stream_, gate);
}

OpenGate::OpenGate(OpenGateOptions options) : shared_(std::make_shared<Shared>()) {
  shared_->options = options;
}

// No wake-ups from here: the executors of whoever still waits may be gone (process exit); their frames hold the
// shared state.
OpenGate::~OpenGate() = default;

const OpenGateOptions& OpenGate::options() const { return shared_->options; }

void OpenGate::opening(uint64_t stream) {
  std::lock_guard lock(shared_->mu);
  std::shared_ptr<Gate>& gate = shared_->gates[stream];
  if (!gate) gate = std::make_shared<Gate>();
  gate->open_done = false;
}

void OpenGate::opened(uint64_t stream) {
  std::lock_guard lock(shared_->mu);
  auto it = shared_->gates.find(stream);
  if (it == shared_->gates.end()) return;
  std::shared_ptr<Gate> gate = it->second;
  gate->open_done = true;
  shared_->next(stream, gate);
}

void OpenGate::closed(uint64_t stream) {
  std::lock_guard lock(shared_->mu);
  shared_->close(stream);
}

void OpenGate::close_all() {
  std::lock_guard lock(shared_->mu);
  std::vector<uint64_t> streams;
  for (const auto& [stream, gate] : shared_->gates) streams.push_back(stream);
  for (uint64_t stream : streams) shared_->close(stream);
}

OpenGateStats OpenGate::stats() const {
  std::lock_guard lock(shared_->mu);
  return shared_->stats;
}

size_t OpenGate::waiting(uint64_t stream) const {
  std::lock_guard lock(shared_->mu);
  auto it = shared_->gates.find(stream);
  return it == shared_->gates.end() ? 0 : it->second->queue.size();
}

asio::awaitable<OpenGate::Ticket> OpenGate::wait(uint64_t stream, size_t bytes, std::chrono::milliseconds max_wait) {
  Ticket ticket;
  ticket.shared_ = shared_;
  ticket.stream_ = stream;
  const std::chrono::milliseconds wait_for = std::min(max_wait, shared_->options.max_wait);
  auto waiter = std::make_shared<Waiter>();
  waiter->bytes = bytes;
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  std::shared_ptr<Gate> gate;
  {
    std::lock_guard lock(shared_->mu);
    auto it = shared_->gates.find(stream);
    if (it == shared_->gates.end()) co_return ticket;  // not_opening
    gate = it->second;
    if (gate->open_done && !gate->turn_taken && gate->queue.empty()) {
      gate->turn_taken = true;  // opened, nobody ahead: its turn at once
      ticket.outcome_ = Outcome::turn;
      ticket.gate_ = gate;
      co_return ticket;
    }
    if (wait_for.count() <= 0 || gate->queue.size() >= shared_->options.max_waiters ||
        gate->bytes + bytes > shared_->options.max_bytes) {
      ++shared_->stats.refusals;
      ticket.outcome_ = Outcome::refused;
      co_return ticket;
    }
    waiter->timer = std::make_shared<asio::steady_timer>(executor, wait_for);
    gate->queue.push_back(waiter);
    gate->bytes += bytes;
    ++shared_->stats.waiting;
    ++shared_->stats.waits;
  }
  std::error_code ec;
  co_await waiter->timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::lock_guard lock(shared_->mu);
  if (!waiter->woken) {  // its time is up: leaves the queue
    auto pos = std::find(gate->queue.begin(), gate->queue.end(), waiter);
    if (pos != gate->queue.end()) {
      gate->queue.erase(pos);
      gate->bytes -= waiter->bytes;
      --shared_->stats.waiting;
    }
    ++shared_->stats.timeouts;
    ticket.outcome_ = Outcome::timed_out;
    co_return ticket;
  }
  if (gate->closed) {
    ticket.outcome_ = Outcome::closed;
    co_return ticket;
  }
  ticket.outcome_ = Outcome::turn;  // next() marked the turn taken for it
  ticket.gate_ = gate;
  co_return ticket;
}

}  // namespace floe::kafka
