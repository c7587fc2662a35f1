// Internal: one pooled connection of the HTTP client, the state of one exchange (its strand, deadline watchdog and
// abort reason), and the readers of a response body (Content-Length, chunked, until EOF). Included by client.cc and
// connection.cc only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "http/client.h"
#include "http/errors.h"
#include "http/tls.h"

namespace floe::http::detail {

using tcp = asio::ip::tcp;

// One pooled connection. Used by one exchange at a time; ownership moves through the pool under its mutex.
// For https, `tls` runs over `socket` (declared after it, so destroyed before it); closing `socket` aborts both.
struct Conn {
  explicit Conn(const asio::any_io_executor& ex) : socket(ex) {}
  tcp::socket socket;
  detail::TlsStreamPtr tls;
  bool connected = false;
  std::string buf;      // received, not yet consumed: [pos, size)
  std::size_t pos = 0;
  Clock::time_point idle_since{};

  std::size_t avail() const { return buf.size() - pos; }
  std::string_view data() const { return std::string_view(buf).substr(pos); }
  void consume(std::size_t n) {
    pos += n;
    if (pos == buf.size()) {
      buf.clear();
      pos = 0;
    }
  }
};

// Socket I/O through TLS when the connection has it.
asio::awaitable<std::size_t> read_some(Conn& c, asio::mutable_buffer into, std::error_code& ec);
asio::awaitable<std::size_t> read_all(Conn& c, asio::mutable_buffer into, std::error_code& ec);
asio::awaitable<std::size_t> write_all(Conn& c, std::span<const asio::const_buffer> buffers, std::error_code& ec);

enum class Abort { none, timeout, cancelled, shutdown };

// The state of one request, living on its own strand. Everything below touches it only on that strand, except the
// constructor and the pool's grant (which posts onto the strand).
struct Exchange : std::enable_shared_from_this<Exchange> {
  explicit Exchange(const asio::any_io_executor& ex)
      : strand(asio::make_strand(ex)), watchdog(strand), wait_timer(strand) {}

  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer watchdog;    // the deadline (or the connect timeout)
  uint64_t watch_generation = 0;  // a watchdog completion from an earlier arm() is ignored
  asio::steady_timer wait_timer;  // waiting for a connection slot
  Abort reason = Abort::none;
  bool finished = false;
  tcp::socket* socket = nullptr;  // the socket in use, closed by abort()
  tcp::resolver* resolver = nullptr;
  uint64_t id = 0;

  void abort(Abort why) {
    if (finished) return;
    if (reason == Abort::none) reason = why;
    std::error_code ignored;
    if (socket != nullptr) socket->close(ignored);
    if (resolver != nullptr) resolver->cancel();
    wait_timer.cancel();
  }

  void arm(Clock::time_point when) {
    const uint64_t generation = ++watch_generation;
    watchdog.expires_at(when);
    watchdog.async_wait([self = shared_from_this(), generation](std::error_code ec) {
      if (!ec && generation == self->watch_generation) self->abort(Abort::timeout);
    });
  }

  std::error_code abort_error() const {
    switch (reason) {
      case Abort::none: return {};
      case Abort::timeout: return Error::timed_out;
      case Abort::cancelled: return asio::error::operation_aborted;
      case Abort::shutdown: return Error::shut_down;
    }
    return {};
  }
};

// Where the decoded body goes: into Response::body (bounded), or to the stream callback.
struct Sink {
  Response* resp = nullptr;
  std::function<bool(std::string_view)>* on_data = nullptr;  // null: collect
  std::size_t max_bytes = 0;
  bool stopped = false;  // on_data returned false

  std::error_code put(std::string_view piece) {
    if (piece.empty()) return {};
    if (on_data != nullptr) {
      if (!(*on_data)(piece)) stopped = true;
      return {};
    }
    if (resp->body.size() + piece.size() > max_bytes) return Error::response_too_large;
    resp->body.append(piece);
    return {};
  }
};

// Reads a response body from a connection into a Sink. Every read fails with the exchange's abort error once it was
// aborted (deadline, cancellation, shutdown); `got` is set once any byte arrived (a pooled connection that yields
// nothing may be retried).
struct BodyReader {
  std::size_t read_chunk_bytes = 0;   // bytes asked of one socket read
  std::size_t max_trailer_bytes = 0;  // chunked trailers, bounded like a head

  // Reads more bytes into conn.buf.
  asio::awaitable<std::error_code> fill(Exchange& x, Conn& conn, bool& got_bytes) const;
  // One line (CRLF or LF) of at most `max` bytes, without its end.
  asio::awaitable<std::error_code> read_line(Exchange& x, Conn& conn, std::size_t max, std::string& line,
                                             bool& got) const;
  asio::awaitable<std::error_code> read_exact(Exchange& x, Conn& conn, uint64_t n, Sink& sink, bool& got) const;
  asio::awaitable<std::error_code> read_chunked(Exchange& x, Conn& conn, Sink& sink, bool& got) const;
  asio::awaitable<std::error_code> read_to_eof(Exchange& x, Conn& conn, Sink& sink, bool& got) const;
};

}  // namespace floe::http::detail
