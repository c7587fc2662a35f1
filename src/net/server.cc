#include "net/server.h"

#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/ip/address.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "net/connection.h"
#include "net/server_core.h"

namespace floe::net {

std::string validate(const ServerConfig& config) {
  // Zero bounds would make the reader wait forever for room that never comes.
  if (config.max_frame_bytes < 0) return "max_frame_bytes must not be negative";
  if (config.max_in_flight_requests == 0) return "max_in_flight_requests must be at least 1";
  if (config.max_in_flight_request_bytes == 0) return "max_in_flight_request_bytes must be at least 1";
  if (config.max_queued_response_bytes == 0) return "max_queued_response_bytes must be at least 1";
  if (config.idle_timeout.count() < 0) return "idle_timeout must not be negative (0 disables it)";
  if (config.drain_timeout.count() < 0) return "drain_timeout must not be negative";
  if (config.listen_backlog <= 0) return "listen_backlog must be positive";
  return {};
}

namespace detail {
namespace {

// After the drain timeout, how long force-closed connections get to unregister (they close at once; this only
// bounds the wait should an io thread be stuck in someone else's code).
constexpr std::chrono::seconds kForceCloseGrace{5};

std::string endpoint_string(const asio::ip::tcp::endpoint& ep) {
  const auto address = ep.address();
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(ep.port());
  return address.to_string() + ":" + std::to_string(ep.port());
}

// Accept errors that mean "out of resources right now": retrying at once would spin.
bool resource_exhausted(const std::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

ServerCore::ServerCore(asio::io_context& io, ServerConfig config_in, RequestHandler& handler_in)
    : config(std::move(config_in)),
      handler(handler_in),
      io_(io),
      strand_(asio::make_strand(io)),
      acceptor_(strand_),
      capacity_wake_(strand_),
      drain_wake_(strand_),
      stopped_wake_(strand_) {}

std::error_code ServerCore::start() {
  if (started_.exchange(true)) return std::make_error_code(std::errc::operation_in_progress);
  if (const std::string problem = validate(config); !problem.empty()) {
    log::error("net", "bad listener config: ", problem);
    return std::make_error_code(std::errc::invalid_argument);
  }
  std::error_code ec;
  asio::ip::tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(config.host, ec);
  if (ec) {
    // Not a literal address: resolve the name once, here at start-up (blocking is fine before serving).
    asio::ip::tcp::resolver resolver(io_);
    const auto results = resolver.resolve(config.host, std::to_string(config.port), ec);
    if (ec) return ec;
    if (results.empty()) return std::make_error_code(std::errc::address_not_available);
    endpoint = results.begin()->endpoint();
  } else {
    endpoint = asio::ip::tcp::endpoint(address, config.port);
  }

  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(config.listen_backlog, ec);
  if (!ec) port_ = acceptor_.local_endpoint(ec).port();
  if (ec) {
    std::error_code ignored;
    acceptor_.close(ignored);
    return ec;
  }
  log::info("net", "listening on ", config.host, ":", port_.load(), " (", config.io_threads, " io threads)");
  asio::co_spawn(strand_, accept_loop(shared_from_this()), asio::detached);
  return {};
}

std::size_t ServerCore::open_connections() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

asio::awaitable<void> ServerCore::accept_loop(std::shared_ptr<ServerCore> self) {
  const ServerConfig& config = self->config;
  while (true) {
    while (!self->stopping_ && config.max_connections > 0 && self->open_connections() >= config.max_connections) {
      co_await self->capacity_wake_.wait();  // the kernel backlog holds new clients meanwhile
    }
    if (self->stopping_) break;

    std::error_code ec;
    asio::ip::tcp::socket socket(asio::make_strand(self->io_));  // each connection on a strand of its own
    co_await self->acceptor_.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (self->stopping_) break;  // the socket, if any, closes as it goes out of scope
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      log::warn("net", "accept failed: ", ec.message());
      if (resource_exhausted(ec)) {
        asio::steady_timer backoff(self->strand_, std::chrono::milliseconds(100));
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      continue;
    }

    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);  // responses are whole frames; don't hold them
    const auto remote = socket.remote_endpoint(ec);
    std::string peer = ec ? std::string("unknown") : endpoint_string(remote);
    const uint64_t id = self->next_connection_id_++;
    auto conn = std::make_shared<Connection>(self, std::move(socket), id, std::move(peer), self->port_.load());
    {
      std::lock_guard lock(self->mu_);
      self->connections_.emplace(id, conn);
    }
    self->accepted_connections_.fetch_add(1, std::memory_order_relaxed);
    log::debug("net", "accepted connection ", id, " from ", conn->peer());
    conn->start();
  }
  log::debug("net", "stopped accepting on port ", self->port_.load());
}

void ServerCore::on_connection_closed(uint64_t id) {
  {
    std::lock_guard lock(mu_);
    connections_.erase(id);
  }
  asio::post(strand_, [self = shared_from_this()] {
    self->capacity_wake_.notify();
    self->drain_wake_.notify();
  });
}

void ServerCore::stop() {
  if (stopping_.exchange(true)) return;
  asio::post(strand_, [self = shared_from_this()] {
    std::error_code ignored;
    self->acceptor_.close(ignored);  // ends the accept loop
    self->capacity_wake_.notify();
    asio::co_spawn(self->strand_, drain(self), asio::detached);
  });
}

asio::awaitable<void> ServerCore::drain(std::shared_ptr<ServerCore> self) {
  std::vector<std::shared_ptr<Connection>> open;
  auto snapshot = [&] {
    open.clear();
    std::lock_guard lock(self->mu_);
    for (const auto& [id, weak] : self->connections_) {
      if (auto conn = weak.lock()) open.push_back(std::move(conn));
    }
  };
  // Connections accepted later than this cannot exist: the acceptor is closed and the accept loop, on this strand,
  // checks stopping_ before registering anything.
  snapshot();
  log::info("net", "stopping port ", self->port_.load(), ": draining ", open.size(), " connections (up to ",
            self->config.drain_timeout.count(), " ms)");
  for (const auto& conn : open) conn->begin_drain();
  open.clear();

  const auto deadline = Notifier::Clock::now() + self->config.drain_timeout;
  while (self->open_connections() > 0 && Notifier::Clock::now() < deadline) {
    co_await self->drain_wake_.wait_until(deadline);
  }
  if (self->open_connections() > 0) {
    snapshot();
    log::warn("net", "drain timeout on port ", self->port_.load(), ": closing ", open.size(),
              " connections with requests still in flight");
    for (const auto& conn : open) conn->force_close();
    open.clear();
    const auto grace = Notifier::Clock::now() + kForceCloseGrace;
    while (self->open_connections() > 0 && Notifier::Clock::now() < grace) {
      co_await self->drain_wake_.wait_until(grace);
    }
  }
  log::info("net", "stopped port ", self->port_.load());
  self->mark_stopped();
}

void ServerCore::mark_stopped() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  stopped_cv_.notify_all();
  stopped_wake_.notify();  // on strand_ (called from drain)
}

asio::awaitable<void> ServerCore::wait_stopped() {
  // The notifier belongs to strand_, so wait there; co_spawn returns us to the caller's executor afterwards.
  // The lambda is a named local on purpose: GCC 12 destroys a capturing lambda twice when it is a temporary
  // inside a co_await expression.
  auto wait_on_strand = [self = shared_from_this()]() -> asio::awaitable<void> {
    while (!self->stopped()) co_await self->stopped_wake_.wait();
  };
  co_await asio::co_spawn(strand_, std::move(wait_on_strand), asio::use_awaitable);
}

bool ServerCore::wait_stopped_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return stopped_cv_.wait_for(lock, timeout, [this] { return stopped_; });
}

bool ServerCore::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

ServerStats ServerCore::stats() const {
  ServerStats stats;
  stats.open_connections = open_connections();
  stats.accepted_connections = accepted_connections_.load(std::memory_order_relaxed);
  stats.total_requests = total_requests_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace detail

Server::Server(asio::io_context& io, ServerConfig config, RequestHandler& handler)
    : core_(std::make_shared<detail::ServerCore>(io, std::move(config), handler)) {}

Server::~Server() { core_->stop(); }  // no-op if already stopping; otherwise drains if io still runs

std::error_code Server::start() { return core_->start(); }
uint16_t Server::port() const { return core_->port(); }
void Server::stop() { core_->stop(); }
asio::awaitable<void> Server::wait_stopped() { return core_->wait_stopped(); }
bool Server::wait_stopped_for(std::chrono::milliseconds timeout) { return core_->wait_stopped_for(timeout); }
bool Server::stopped() const { return core_->stopped(); }
ServerStats Server::stats() const { return core_->stats(); }
const ServerConfig& Server::config() const { return core_->config; }

}  // namespace floe::net
