// TLS for the HTTP client (internal to floe_http; only client.cc includes it). The asio::ssl and OpenSSL headers
// stay in tls.cc, so neither client.h nor client.cc pulls them in.
//
// A TlsStream is a TLS session over a connected tcp::socket that the caller owns and keeps alive (and may close at
// any time to abort a pending operation: the deadline watchdog does that). The stream must be destroyed before the
// socket.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>

namespace floe::http {

struct TlsConfig;

namespace detail {

class TlsContext;
class TlsStream;

struct TlsContextDeleter {
  void operator()(TlsContext* context) const;
};
struct TlsStreamDeleter {
  void operator()(TlsStream* stream) const;
};
using TlsContextPtr = std::unique_ptr<TlsContext, TlsContextDeleter>;
using TlsStreamPtr = std::unique_ptr<TlsStream, TlsStreamDeleter>;

// A client context: TLS 1.2 or later; with config.verify, the peer's chain is checked against config.ca_file (a PEM
// bundle) or, when that is empty, the system trust store. Fails (Error::tls_setup_failed, and a log line) when the
// CA file cannot be loaded.
std::pair<std::error_code, TlsContextPtr> make_tls_context(const TlsConfig& config);

// A session over `socket` (connected). Nothing is sent until handshake().
TlsStreamPtr make_tls_stream(TlsContext& context, asio::ip::tcp::socket& socket);

// Client handshake with SNI set to `host` (unless it is an IP literal) and, when the context verifies, the
// certificate's name checked against `host` (DNS name or IP address). A rejected certificate is
// Error::tls_certificate_rejected (the reason is logged), another handshake failure Error::tls_handshake_failed;
// socket errors (reset, EOF, closed by the watchdog) come back as they are.
asio::awaitable<std::error_code> tls_handshake(TlsStream& stream, const std::string& host);

// Like the socket's async_read_some / asio::async_read / asio::async_write. A peer that closes without a TLS
// close_notify reads as asio::error::eof (HTTP framing tells a complete body from a cut one).
asio::awaitable<std::pair<std::error_code, std::size_t>> tls_read_some(TlsStream& stream, asio::mutable_buffer into);
asio::awaitable<std::pair<std::error_code, std::size_t>> tls_read(TlsStream& stream, asio::mutable_buffer into);
asio::awaitable<std::pair<std::error_code, std::size_t>> tls_write(TlsStream& stream,
                                                                   std::span<const asio::const_buffer> buffers);

}  // namespace detail
}  // namespace floe::http
