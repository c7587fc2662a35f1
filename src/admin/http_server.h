// A small HTTP/1.1 server for the admin endpoint, on the caller's asio io_context (the one the Kafka listener runs
// on). GET requests only, answered by a synchronous handler (the admin pages are computed in memory; a handler
// must not block).
//
// Bounds: request head size and header count (HttpLimits: 431 beyond), open connections (`max_connections`: a
// connection beyond it gets one 503 and is closed), and time: a request must arrive completely within
// `idle_timeout` of the connection opening or of the previous response, and a response must be written within it,
// else the connection is closed (slow clients cannot hold a connection by trickling bytes). Keep-alive and
// pipelined requests are served in order. Anything that is not a well-formed GET gets one 4xx/505 answer with
// `Connection: close`, then the connection is closed (after draining what the client still sends, bounded, so
// the answer is not lost to a reset).
//
// Executor model: the acceptor runs on the server's strand; each connection on a strand of its own, and the
// handler is called on that strand. Public member functions are thread-safe. The io_context must outlive the
// server, and the handler must outlive the io_context's run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "admin/http.h"

namespace asio {
class io_context;
}

namespace floe::admin {

struct HttpServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 9644;  // 0: an ephemeral port (port() tells which)
  HttpLimits limits;
  std::size_t max_connections = 64;
  std::chrono::milliseconds idle_timeout{30000};
};

struct HttpServerStats {
  uint64_t open_connections = 0;
  uint64_t accepted_connections = 0;  // since start, including those refused as over the bound
  uint64_t requests = 0;              // well-formed requests handed to the handler
  uint64_t bad_requests = 0;          // requests answered with an error by the server itself (4xx/505)
  uint64_t refused_connections = 0;   // over max_connections: answered 503 and closed
};

namespace detail {
class HttpCore;
}

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer(asio::io_context& io, HttpServerConfig config, Handler handler);
  ~HttpServer();  // stop(); the io_context finishes the remaining work
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (accepting starts once the io_context runs). port() is valid after success.
  std::error_code start();
  uint16_t port() const;
  // Stops accepting and closes every connection (a response being written is finished first). Idempotent; any
  // thread. Afterwards the server holds no pending operation.
  void stop();
  HttpServerStats stats() const;

 private:
  std::shared_ptr<detail::HttpCore> core_;
};

}  // namespace floe::admin
