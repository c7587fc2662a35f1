#include "meta/errors.h"

#include <string>

namespace floe::meta {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "meta"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::ok: return "ok";
      case Errc::compacted: return "required revision has been compacted";
      case Errc::future_revision: return "required revision is a future revision";
      case Errc::lease_not_found: return "lease not found";
      case Errc::too_many_ops: return "too many operations in txn request";
      case Errc::request_too_large: return "request is too large";
      case Errc::duplicate_key: return "duplicate key given in txn request";
      case Errc::invalid_argument: return "invalid argument";
      case Errc::unavailable: return "metadata store unavailable";
      case Errc::timeout: return "metadata request timed out";
      case Errc::ambiguous: return "outcome of the write is unknown";
      case Errc::protocol: return "unexpected answer from the metadata server";
      case Errc::closed: return "metadata store is shut down";
      case Errc::io: return "metadata journal I/O error";
      case Errc::corrupt: return "metadata journal or snapshot is corrupt";
      case Errc::locked: return "metadata directory is locked by another process";
      case Errc::cancelled: return "watch cancelled";
      case Errc::server: return "metadata server error";
    }
    return "unknown meta error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& meta_category() {
  static const Category category;
  return category;
}

}  // namespace floe::meta
