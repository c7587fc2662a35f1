// A TCP listener that speaks length-prefixed frames (big-endian int32 size + that many bytes) and hands each
// request frame to a RequestHandler, writing the replies back in request order. Kafka-agnostic.
//
// Executor model: the server uses the caller's io_context, which any number of threads may run (run_io_threads).
// The acceptor and the drain logic run on the server's own strand; each connection runs on a strand of its own,
// and so does every handler call for that connection. Public member functions are thread-safe.
//
// Lifetime: the io_context must outlive the Server (declare it first), and the RequestHandler must outlive both the
// Server and the io_context's run. Typical main:
//
//   asio::io_context io;
//   floe::net::Server server(io, config, handler);
//   if (auto ec = server.start()) { log::error("net", "cannot listen: ", ec.message()); return 1; }
//   asio::signal_set signals(io, SIGINT, SIGTERM);
//   signals.async_wait([&](std::error_code, int) { server.stop(); });
//   floe::net::run_io_threads(io, config.io_threads);  // returns once drained and nothing else is running
//   return 0;
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <system_error>

#include <asio/awaitable.hpp>

#include "net/request_handler.h"
#include "net/server_config.h"

namespace asio {
class io_context;
}

namespace floe::net {

namespace detail {
class ServerCore;
}

struct ServerStats {
  uint64_t open_connections = 0;
  uint64_t accepted_connections = 0;  // since start
  uint64_t total_requests = 0;        // frames read and handed to the handler, since start
};

class Server {
 public:
  Server(asio::io_context& io, ServerConfig config, RequestHandler& handler);
  // Calls stop() but does not wait: stop, let the io_context finish, then destroy.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts accepting (once the io_context runs). Errors (address in use, bad host) come back
  // here; port() is valid after success.
  std::error_code start();
  uint16_t port() const;

  // Graceful stop, idempotent, callable from any thread or coroutine: stop accepting, stop reading new requests,
  // finish the requests in flight and write their replies, close each connection once it has nothing in flight.
  // After config.drain_timeout the remaining connections are closed forcibly. Once drained the server holds no
  // pending operation, so the io_context runs out of work (unless other components still have some).
  void stop();

  // Completes once stop() has finished draining (immediately if it already has). Any executor.
  asio::awaitable<void> wait_stopped();
  // Blocks the calling thread (not an io thread) until drained or `timeout`; true if drained.
  bool wait_stopped_for(std::chrono::milliseconds timeout);
  bool stopped() const;

  ServerStats stats() const;
  const ServerConfig& config() const;

 private:
  std::shared_ptr<detail::ServerCore> core_;
};

}  // namespace floe::net
