// Error codes of the HTTP client (category "floe.http"). Transport errors from the OS (connection refused, reset)
// come back as asio/system error codes unchanged; cancellation through an asio cancellation slot comes back as
// asio::error::operation_aborted.
#pragma once

#include <system_error>
#include <type_traits>

namespace floe::http {

enum class Error {
  timed_out = 1,        // the request's deadline (or the connect timeout) passed
  shut_down,            // Client::shutdown() was called
  bad_url,              // the URL does not parse
  unsupported_scheme,   // neither http:// nor https://
  bad_request,          // a header name or value with CR/LF/NUL, or an empty method
  bad_response,         // the server's bytes are not valid HTTP/1.1
  response_too_large,   // head above max_header_bytes or body above max_response_bytes
  too_many_pending,     // max_pending_per_host requests already wait for a connection to that host
  connection_closed,    // the server closed the connection before the response was complete
  tls_setup_failed,          // the TLS context could not be made (e.g. the CA file does not load)
  tls_certificate_rejected,  // the server's certificate failed verification (untrusted, expired, wrong name)
  tls_handshake_failed,      // another TLS handshake failure (no common protocol or cipher, not a TLS server)
};

const std::error_category& category();
std::error_code make_error_code(Error e);

}  // namespace floe::http

template <>
struct std::is_error_code_enum<floe::http::Error> : std::true_type {};
