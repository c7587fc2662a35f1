// The shared state behind floe::net::Server (internal). Connections and the server's coroutines hold it by
// shared_ptr, so it outlives the Server object if they are still finishing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>
#include <unordered_map>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "net/notifier.h"
#include "net/request_handler.h"
#include "net/server.h"
#include "net/server_config.h"

namespace floe::net::detail {

class Connection;

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(asio::io_context& io, ServerConfig config, RequestHandler& handler);

  std::error_code start();
  uint16_t port() const { return port_.load(); }
  void stop();
  asio::awaitable<void> wait_stopped();
  bool wait_stopped_for(std::chrono::milliseconds timeout);
  bool stopped() const;
  ServerStats stats() const;

  // Called by a connection (on its strand) exactly once, when it closes.
  void on_connection_closed(uint64_t id);
  void count_request() { total_requests_.fetch_add(1, std::memory_order_relaxed); }

  const ServerConfig config;
  RequestHandler& handler;

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<ServerCore> self);
  static asio::awaitable<void> drain(std::shared_ptr<ServerCore> self);
  std::size_t open_connections() const;
  void mark_stopped();

  asio::io_context& io_;
  asio::any_io_executor strand_;  // acceptor, accept loop, drain, the notifiers below
  asio::ip::tcp::acceptor acceptor_;
  Notifier capacity_wake_;  // a connection closed: the accept loop may be under max_connections again
  Notifier drain_wake_;     // a connection closed: the drain may be complete
  Notifier stopped_wake_;   // draining finished

  std::atomic<uint16_t> port_{0};
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_connection_id_{1};
  std::atomic<uint64_t> accepted_connections_{0};
  std::atomic<uint64_t> total_requests_{0};

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections_;  // open ones; guarded by mu_
  bool stopped_ = false;                                                 // guarded by mu_
  std::condition_variable stopped_cv_;
};

}  // namespace floe::net::detail
