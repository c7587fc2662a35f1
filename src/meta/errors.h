// Errors of the metadata store, as values: meta::Errc plugs into std::error_code, and Result<T> carries a value or
// the std::error_code that prevented it (an Errc, or a system/transport error from below).
#pragma once

#include <cassert>
#include <optional>
#include <system_error>
#include <utility>

namespace floe::meta {

enum class Errc {
  ok = 0,
  compacted,          // the requested revision was compacted away (reads and watches)
  future_revision,    // the requested revision is newer than the store's
  lease_not_found,    // the lease does not exist (never granted, revoked or expired)
  too_many_ops,       // a txn with more compares or ops in one branch than the limit (etcd: 128)
  request_too_large,  // a request over the byte limit (etcd: 1.5 MiB)
  duplicate_key,      // a txn that writes one key twice in one branch
  invalid_argument,   // empty key, negative limit, bad TTL, ...
  unavailable,        // no endpoint answered (connection refused, every endpoint down); nothing was applied
  timeout,            // the deadline passed; for a write the outcome is unknown
  ambiguous,          // a write whose outcome is unknown (connection lost after sending)
  protocol,           // the server's answer did not parse or made no sense
  closed,             // the store was shut down
  io,                 // the journal could not be written or synced; the embedded store refuses writes from then on
  corrupt,            // on-disk state that cannot be recovered (not a torn tail)
  locked,             // another process holds the embedded store's directory
  cancelled,          // the watch was cancelled by its owner
  server,             // any other error the server reported (logged with its message)
};

const std::error_category& meta_category();
inline std::error_code make_error_code(Errc e) { return {static_cast<int>(e), meta_category()}; }

// A value or the error that prevented it. ok(), error(), value(), * and ->.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(std::error_code error) : error_(error) { assert(error); }  // NOLINT
  Result(Errc error) : error_(make_error_code(error)) { assert(error != Errc::ok); }  // NOLINT
  bool ok() const { return !error_; }
  explicit operator bool() const { return ok(); }
  std::error_code error() const { return error_; }
  // Only when ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  std::error_code error_;
};

}  // namespace floe::meta

template <>
struct std::is_error_code_enum<floe::meta::Errc> : std::true_type {};
