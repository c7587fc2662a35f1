#include "http/errors.h"

#include <string>

namespace floe::http {
namespace {

class Category : public std::error_category {
 public:
  const char* name() const noexcept override { return "floe.http"; }
  std::string message(int value) const override {
    switch (static_cast<Error>(value)) {
      case Error::timed_out: return "deadline passed";
      case Error::shut_down: return "HTTP client shut down";
      case Error::bad_url: return "malformed URL";
      case Error::unsupported_scheme: return "unsupported URL scheme (http:// and https:// only)";
      case Error::bad_request: return "invalid request (method or header)";
      case Error::bad_response: return "malformed HTTP response";
      case Error::response_too_large: return "response above the configured bound";
      case Error::too_many_pending: return "too many requests waiting for a connection to this host";
      case Error::connection_closed: return "connection closed before the response was complete";
      case Error::tls_setup_failed: return "TLS set-up failed (CA bundle or context)";
      case Error::tls_certificate_rejected:
        return "the server's TLS certificate was rejected (untrusted, expired or not for this host)";
      case Error::tls_handshake_failed: return "TLS handshake failed";
    }
    return "unknown HTTP client error";
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    if (static_cast<Error>(value) == Error::timed_out) return std::errc::timed_out;
    return {value, *this};
  }
};

}  // namespace

const std::error_category& category() {
  static const Category instance;
  return instance;
}

std::error_code make_error_code(Error e) { return {static_cast<int>(e), category()}; }

}  // namespace floe::http
