// A small HTTP/1.1 client on asio coroutines, shared by the S3 object store (src/objstore) and the etcd metadata
// backend (src/meta). http:// and https:// (TLS through OpenSSL, certificate and host name verified by default).
//
// Executor model: a Client is bound to one executor (usually the broker's io_context). Each request runs on a strand
// of its own, made from that executor: its socket I/O, its deadline timer and the stream callback all run there. The
// caller may co_await send()/stream() from any executor; the result comes back on the caller's executor. Client
// member functions are thread-safe; many requests may run at once.
//
// Errors are values: transport failures and timeouts as std::error_code (floe::http::Error, asio/system codes), HTTP
// statuses (including 4xx/5xx) in Response::status. Nothing throws except std::bad_alloc.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "http/errors.h"
#include "http/url.h"

namespace floe::http {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;  // http://host[:port]/path?query (the caller percent-encodes path and query)
  // Sent as given, after Host and Content-Length unless the caller sets those itself (case-insensitive match).
  Headers headers;
  std::string body;
  // Set instead of `body` to send bytes the caller owns without copying them (e.g. a 4 MiB body that a retry sends
  // again): they must stay valid until send()/stream() completes. Used when `body` is empty.
  std::string_view body_ref;
  // Whole-exchange deadline: connection wait, connect, write, head and body (for stream(): the whole stream).
  // A default-constructed time_point means "now + ClientConfig::default_timeout".
  Clock::time_point deadline{};

  std::string_view payload() const { return body.empty() ? body_ref : std::string_view(body); }
};

struct Response {
  int status = 0;
  Headers headers;  // in arrival order, names as sent
  std::string body;
  // First header with this name (ASCII case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

// TLS for https:// URLs. The handshake runs within the connect deadline; pooled TLS connections are reused like
// plain ones (one handshake per connection).
struct TlsConfig {
  // Verify the server's certificate chain and that it names the URL's host (DNS name or IP address). Turn off
  // only for test set-ups: without it anyone on the path can read and change the traffic.
  bool verify = true;
  // PEM file of trusted CA certificates; empty: the system trust store (OpenSSL's default paths).
  std::string ca_file;
};

struct ClientConfig {
  std::size_t max_connections_per_host = 32;   // open connections (busy + idle) per host:port
  std::size_t max_pending_per_host = 4096;     // requests waiting for a connection slot per host:port
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds default_timeout{30000};  // for requests without a deadline
  std::chrono::milliseconds idle_timeout{30000};     // an idle pooled connection older than this is not reused
  std::size_t max_header_bytes = 64 * 1024;          // status line + headers (and chunk trailers)
  std::size_t max_response_bytes = 256u << 20;       // body bytes kept in Response::body
  std::size_t read_chunk_bytes = 64 * 1024;          // socket read size; stream() pieces are at most this big
  TlsConfig tls;
};

struct ClientStats {
  uint64_t requests = 0;         // exchanges started (send + stream)
  uint64_t connections_opened = 0;
  uint64_t connections_reused = 0;
  uint64_t stale_retries = 0;    // requests re-sent once because a pooled connection turned out to be closed
};

class Client {
 public:
  explicit Client(asio::any_io_executor executor, ClientConfig config = {});
  // Calls shutdown(). Requests still running keep the internals alive until they finish (promptly, aborted).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One request, the whole response body in memory (bounded by max_response_bytes). A keep-alive connection
  // to the host is reused when one is idle; the number of connections per host is bounded, and requests beyond
  // it wait (until their deadline) for one to become free. A pooled connection that the server had closed is
  // detected when nothing of the response arrived, and the request is sent once more on a fresh connection.
  // Cancellation: the caller's asio cancellation slot (e.g. a parallel group or bind_cancellation_slot) aborts
  // the exchange; the result is then asio::error::operation_aborted and the connection is closed.
  asio::awaitable<std::pair<std::error_code, Response>> send(Request request);

  // A streaming response (e.g. etcd /v3/watch: newline-delimited JSON, unbounded). For a 2xx status, on_data is
  // called with each piece of the decoded body (chunked framing removed; pieces are at most read_chunk_bytes and
  // are not aligned to chunks or lines) and Response::body stays empty; for any other status the body is
  // collected into Response::body (bounded) and on_data is not called. on_data runs on the request's strand and
  // must not block. Completes with:
  //   {} and the head        when the server ends the body, or on_data returns false (the connection is closed);
  //   Error::timed_out       when request.deadline passes (use Clock::time_point::max() for "no deadline");
  //   operation_aborted      on cancellation through the caller's cancellation slot;
  //   Error::shut_down       when Client::shutdown() is called;
  //   another error          when the connection fails.
  asio::awaitable<std::pair<std::error_code, Response>> stream(Request request,
                                                               std::function<bool(std::string_view)> on_data);

  // Refuses new requests (Error::shut_down), aborts every running one (send and stream), closes idle connections.
  // Idempotent, any thread. Returns at once; aborted requests complete shortly after on their strands.
  void shutdown();

  ClientStats stats() const;
  const ClientConfig& config() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace floe::http
