// Result<T>: a value or an Error (an error_code for programs plus a one-line message for people), for expected
// failures that need to say *which* thing failed (an object key, a file path). Small on purpose.
#pragma once

#include <cassert>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace floe {

struct Error {
  std::error_code code;
  std::string message;  // one line, names the thing that failed
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result() requires std::is_default_constructible_v<T> : v_(T{}) {}  // (asio's co_spawn needs one)
  Result(T value) : v_(std::move(value)) {}     // NOLINT: implicit, like std::expected
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

// For operations with no value.
struct Done {};
using Status = Result<Done>;
inline Status ok_status() { return Done{}; }

}  // namespace floe
