#include "stream/errc.h"

#include <string>

namespace floe::stream {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "floe.stream"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok:
        return "ok";
      case Errc::corrupt_object:
        return "corrupt segment object";
      case Errc::corrupt_wal:
        return "corrupt WAL";
      case Errc::io_error:
        return "I/O error";
      case Errc::closed:
        return "closed";
      case Errc::too_large:
        return "too large";
      case Errc::invalid_argument:
        return "invalid argument";
      case Errc::locked:
        return "locked by another process";
      case Errc::out_of_range:
        return "offset out of range";
      case Errc::ambiguous:
        return "append outcome unknown (it may still become durable)";
      case Errc::unavailable:
        return "WAL unavailable (not written)";
      case Errc::not_owner:
        return "stream not owned by this broker";
      case Errc::timed_out:
        return "timed out";
      case Errc::conflict:
        return "metadata changed concurrently";
      case Errc::image_lagging:
        return "metadata image lags; committed reads wait until it catches up";
    }
    return "unknown stream error";
  }
};

}  // namespace

const std::error_category& stream_category() {
  static const Category category;
  return category;
}

bool append_may_have_landed(std::error_code ec) { return ec == Errc::io_error || ec == Errc::ambiguous; }

}  // namespace floe::stream
