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
    }
    return "unknown stream error";
  }
};

}  // namespace

const std::error_category& stream_category() {
  static const Category category;
  return category;
}

}  // namespace floe::stream
