#include "http/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <asio/ip/address.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "base/log.h"
#include "http/client.h"

namespace floe::http::detail {

class TlsContext {
 public:
  TlsContext() : context(asio::ssl::context::tls_client) {}
  asio::ssl::context context;
  bool verify = true;
};

class TlsStream {
 public:
  TlsStream(TlsContext& owner, asio::ip::tcp::socket& socket) : context(owner), stream(socket, owner.context) {}
  TlsContext& context;
  asio::ssl::stream<asio::ip::tcp::socket&> stream;
};

void TlsContextDeleter::operator()(TlsContext* context) const { delete context; }
void TlsStreamDeleter::operator()(TlsStream* stream) const { delete stream; }

namespace {

using asio::awaitable;
using asio::use_awaitable;

// A TLS peer that closes the TCP connection without close_notify: for HTTP this is the same as a plain EOF (the
// framing says whether the body was complete), and it is how a server drops an idle keep-alive connection.
std::error_code plain_eof(std::error_code ec) {
  if (ec == asio::ssl::error::stream_truncated) return asio::error::eof;
  return ec;
}

}  // namespace

std::pair<std::error_code, TlsContextPtr> make_tls_context(const TlsConfig& config) {
  TlsContextPtr context(new TlsContext());
  SSL_CTX* native = context->context.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  context->verify = config.verify;
  std::error_code ec;
  if (!config.verify) {
    context->context.set_verify_mode(asio::ssl::verify_none, ec);
    return {ec ? make_error_code(Error::tls_setup_failed) : std::error_code{}, std::move(context)};
  }
  if (config.ca_file.empty()) {
    context->context.set_default_verify_paths(ec);
    if (ec) log::error("http", "cannot load the system's trusted CA certificates: ", ec.message());
  } else {
    context->context.load_verify_file(config.ca_file, ec);
    if (ec) log::error("http", "cannot load the CA bundle ", config.ca_file, ": ", ec.message());
  }
  if (!ec) context->context.set_verify_mode(asio::ssl::verify_peer, ec);
  if (ec) return {make_error_code(Error::tls_setup_failed), nullptr};
  return {std::error_code{}, std::move(context)};
}

TlsStreamPtr make_tls_stream(TlsContext& context, asio::ip::tcp::socket& socket) {
  return TlsStreamPtr(new TlsStream(context, socket));
}

awaitable<std::error_code> tls_handshake(TlsStream& tls, const std::string& host) {
  SSL* ssl = tls.stream.native_handle();
  std::error_code ec;
  (void)asio::ip::make_address(host, ec);
  const bool is_ip = !ec;
  ec.clear();
  // SNI names a host; RFC 6066 forbids IP literals there.
  if (!is_ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) co_return Error::tls_setup_failed;
  if (tls.context.verify) {
    // OpenSSL checks the name during chain verification (X509_V_ERR_HOSTNAME_MISMATCH / IP_ADDRESS_MISMATCH).
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    const int set = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                          : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (set != 1) co_return Error::tls_setup_failed;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  co_await tls.stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(use_awaitable, ec));
  if (!ec) co_return std::error_code{};
  if (tls.context.verify) {
    const long verdict = SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK) {
      log::warn("http", "TLS certificate of ", host, " rejected: ", X509_verify_cert_error_string(verdict),
                " (trust it with a CA bundle, e.g. AWS_CA_BUNDLE)");
      co_return Error::tls_certificate_rejected;
    }
  }
  if (ec.category() == asio::error::get_ssl_category() || ec == asio::ssl::error::stream_truncated) {
    log::warn("http", "TLS handshake with ", host, " failed: ", ec.message());
    co_return Error::tls_handshake_failed;
  }
  co_return ec;
}

awaitable<std::pair<std::error_code, std::size_t>> tls_read_some(TlsStream& tls, asio::mutable_buffer into) {
  std::error_code ec;
  const std::size_t n = co_await tls.stream.async_read_some(into, asio::redirect_error(use_awaitable, ec));
  co_return std::pair{plain_eof(ec), n};
}

awaitable<std::pair<std::error_code, std::size_t>> tls_read(TlsStream& tls, asio::mutable_buffer into) {
  std::error_code ec;
  const std::size_t n = co_await asio::async_read(tls.stream, into, asio::redirect_error(use_awaitable, ec));
  co_return std::pair{plain_eof(ec), n};
}

awaitable<std::pair<std::error_code, std::size_t>> tls_write(TlsStream& tls,
                                                             std::span<const asio::const_buffer> buffers) {
  std::error_code ec;
  const std::size_t n = co_await asio::async_write(tls.stream, buffers, asio::redirect_error(use_awaitable, ec));
  co_return std::pair{ec, n};
}

}  // namespace floe::http::detail
