// asio::ssl compiled once (ASIO_SEPARATE_COMPILATION, see src/net/asio_impl.cc). It lives in floe_http, the only
// user of asio::ssl, so that targets without TLS do not link OpenSSL's libssl.
#include <asio/ssl/impl/src.hpp>
