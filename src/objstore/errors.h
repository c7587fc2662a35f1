// Error codes of the object store (category "floe.objstore") and the small Result<T> every call returns.
// Expected outcomes are values: "already exists" on put_if_absent is a field of PutInfo, not an error; a missing key
// is Errc::not_found.
#pragma once

#include <system_error>
#include <type_traits>
#include <utility>

namespace floe::objstore {

enum class Errc {
  not_found = 1,        // no such key (S3 404 NoSuchKey)
  bucket_not_found,     // S3 404 NoSuchBucket, or the file:// root is missing
  precondition_failed,  // S3 412 on a conditional request other than put_if_absent
  access_denied,        // S3 403, EACCES/EPERM
  invalid_range,        // S3 416: the range starts at or beyond the end of the object
  invalid_argument,     // a bad key, bad range, S3 400 (other than the ones below)
  conflict,             // S3 409 that is still there after the retries
  throttled,            // S3 503 SlowDown / 429 still there after the retries
  unavailable,          // 5xx, resets, refused connections still there after the retries; injected outage
  timed_out,            // the deadline passed
  cancelled,            // the caller's cancellation slot fired
  busy,                 // a bounded queue (file:// I/O pool) is full
  io_error,             // local I/O failure (file://), or a malformed response from the store
  integrity,            // the store rejected the upload's checksum (BadDigest, XAmzContentSHA256Mismatch)
  unsupported,          // a feature the backend does not have (e.g. an endpoint scheme other than http/https)
  tls,                  // the store's TLS certificate was rejected, or the TLS handshake or set-up failed
};

const std::error_category& category();
std::error_code make_error_code(Errc e);

// A value or an error. `value` is meaningful only when `ok()`.
template <typename T>
struct Result {
  std::error_code error;
  T value{};

  Result() = default;
  Result(T v) : value(std::move(v)) {}  // NOLINT: implicit on purpose (co_return value;)
  Result(std::error_code ec) : error(ec) {}  // NOLINT
  Result(Errc e) : error(make_error_code(e)) {}  // NOLINT
  bool ok() const { return !error; }
  explicit operator bool() const { return ok(); }
};

}  // namespace floe::objstore

template <>
struct std::is_error_code_enum<floe::objstore::Errc> : std::true_type {};
