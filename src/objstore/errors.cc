#include "objstore/errors.h"

#include <string>

namespace floe::objstore {
namespace {

class Category : public std::error_category {
 public:
  const char* name() const noexcept override { return "floe.objstore"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::not_found: return "no such key";
      case Errc::bucket_not_found: return "no such bucket";
      case Errc::precondition_failed: return "precondition failed";
      case Errc::access_denied: return "access denied";
      case Errc::invalid_range: return "range not satisfiable";
      case Errc::invalid_argument: return "invalid argument";
      case Errc::conflict: return "conflicting concurrent request";
      case Errc::throttled: return "throttled by the store (SlowDown)";
      case Errc::unavailable: return "store unavailable";
      case Errc::timed_out: return "deadline passed";
      case Errc::cancelled: return "cancelled";
      case Errc::busy: return "too many operations queued";
      case Errc::io_error: return "I/O error";
      case Errc::integrity: return "integrity check failed";
      case Errc::unsupported: return "unsupported";
      case Errc::tls: return "TLS failure (certificate rejected, or handshake failed)";
    }
    return "unknown object store error";
  }
};

}  // namespace

const std::error_category& category() {
  static const Category instance;
  return instance;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), category()}; }

}  // namespace floe::objstore
