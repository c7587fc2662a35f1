#include "http/connection.h"

#include <algorithm>
#include <charconv>

#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "http/message_head.h"

namespace floe::http::detail {

using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr std::size_t kMaxChunkLine = 4096;

}  // namespace

awaitable<std::size_t> read_some(Conn& c, asio::mutable_buffer into, std::error_code& ec) {
  if (c.tls) {
    auto [e, n] = co_await detail::tls_read_some(*c.tls, into);
    ec = e;
    co_return n;
  }
  co_return co_await c.socket.async_read_some(into, asio::redirect_error(use_awaitable, ec));
}

awaitable<std::size_t> read_all(Conn& c, asio::mutable_buffer into, std::error_code& ec) {
  if (c.tls) {
    auto [e, n] = co_await detail::tls_read(*c.tls, into);
    ec = e;
    co_return n;
  }
  co_return co_await asio::async_read(c.socket, into, asio::redirect_error(use_awaitable, ec));
}

awaitable<std::size_t> write_all(Conn& c, std::span<const asio::const_buffer> buffers, std::error_code& ec) {
  if (c.tls) {
    auto [e, n] = co_await detail::tls_write(*c.tls, buffers);
    ec = e;
    co_return n;
  }
  co_return co_await asio::async_write(c.socket, buffers, asio::redirect_error(use_awaitable, ec));
}

awaitable<std::error_code> BodyReader::fill(Exchange& x, Conn& conn, bool& got_bytes) const {
  if (conn.pos > 0) {
    conn.buf.erase(0, conn.pos);
    conn.pos = 0;
  }
  const std::size_t old = conn.buf.size();
  conn.buf.resize(old + read_chunk_bytes);
  std::error_code ec;
  const std::size_t n = co_await read_some(conn, asio::buffer(conn.buf.data() + old, read_chunk_bytes), ec);
  conn.buf.resize(old + n);
  if (n > 0) got_bytes = true;
  if (x.reason != Abort::none) co_return x.abort_error();
  if (ec == asio::error::eof) co_return n > 0 ? std::error_code{} : make_error_code(Error::connection_closed);
  co_return ec;
}

awaitable<std::error_code> BodyReader::read_line(Exchange& x, Conn& conn, std::size_t max, std::string& line,
                                                   bool& got) const {
  std::size_t scanned = 0;
  for (;;) {
    const auto nl = conn.data().find('\n', scanned);
    if (nl != std::string_view::npos) {
      if (nl > max) co_return Error::bad_response;
      std::string_view text = conn.data().substr(0, nl);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      line.assign(text);
      conn.consume(nl + 1);
      co_return std::error_code{};
    }
    if (conn.avail() > max) co_return Error::bad_response;
    scanned = conn.avail();
    if (auto ec = co_await fill(x, conn, got)) co_return ec;
  }
}

awaitable<std::error_code> BodyReader::read_exact(Exchange& x, Conn& conn, uint64_t n, Sink& sink, bool& got) const {
  // Buffered bytes first.
  const std::size_t first = static_cast<std::size_t>(std::min<uint64_t>(n, conn.avail()));
  if (auto ec = sink.put(conn.data().substr(0, first))) co_return ec;
  conn.consume(first);
  uint64_t left = n - first;
  if (left == 0 || sink.stopped) co_return std::error_code{};
  std::error_code ec;
  if (sink.on_data == nullptr) {
    // Straight into the body: one read for the rest.
    Response& resp = *sink.resp;
    if (resp.body.size() + left > sink.max_bytes) co_return Error::response_too_large;
    const std::size_t at = resp.body.size();
    resp.body.resize(at + static_cast<std::size_t>(left));
    const std::size_t r = co_await read_all(conn, asio::buffer(resp.body.data() + at, left), ec);
    if (r > 0) got = true;
    resp.body.resize(at + r);
    if (x.reason != Abort::none) co_return x.abort_error();
    if (ec == asio::error::eof) co_return Error::connection_closed;
    co_return ec;
  }
  while (left > 0 && !sink.stopped) {
    if (auto e = co_await fill(x, conn, got)) co_return e;
    const std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(left, conn.avail()));
    if (auto e = sink.put(conn.data().substr(0, take))) co_return e;
    conn.consume(take);
    left -= take;
  }
  co_return std::error_code{};
}

awaitable<std::error_code> BodyReader::read_chunked(Exchange& x, Conn& conn, Sink& sink, bool& got) const {
  std::string line;
  for (;;) {
    if (auto ec = co_await read_line(x, conn, kMaxChunkLine, line, got)) co_return ec;
    std::string_view size_text = trim(std::string_view(line).substr(0, line.find(';')));
    uint64_t size = 0;
    if (size_text.empty() || size_text.size() > 15) co_return Error::bad_response;
    const auto [end, perr] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (perr != std::errc{} || end != size_text.data() + size_text.size()) co_return Error::bad_response;
    if (size == 0) {
      // Trailers (ignored), bounded like the head, up to the empty line.
      std::size_t trailer_bytes = 0;
      for (;;) {
        if (auto ec = co_await read_line(x, conn, kMaxChunkLine, line, got)) co_return ec;
        if (line.empty()) co_return std::error_code{};
        trailer_bytes += line.size();
        if (trailer_bytes > max_trailer_bytes) co_return Error::response_too_large;
      }
    }
    if (sink.on_data == nullptr && sink.resp->body.size() + size > sink.max_bytes) {
      co_return Error::response_too_large;
    }
    if (auto ec = co_await read_exact(x, conn, size, sink, got)) co_return ec;
    if (sink.stopped) co_return std::error_code{};
    if (auto ec = co_await read_line(x, conn, 2, line, got)) co_return ec;
    if (!line.empty()) co_return Error::bad_response;
  }
}

awaitable<std::error_code> BodyReader::read_to_eof(Exchange& x, Conn& conn, Sink& sink, bool& got) const {
  for (;;) {
    if (auto ec = sink.put(conn.data())) co_return ec;
    conn.consume(conn.avail());
    if (sink.stopped) co_return std::error_code{};
    auto ec = co_await fill(x, conn, got);
    if (ec == Error::connection_closed) co_return std::error_code{};  // the end of the body
    if (ec) co_return ec;
  }
}

}  // namespace floe::http::detail
