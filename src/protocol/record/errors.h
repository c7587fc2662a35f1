// Errors of the record batch library, as values (no exceptions), and the Kafka error code each one maps to.
//
// Every function that can meet bad input returns a RecordError (or a Result<T> holding one), so a broker turns a
// hostile or corrupt produce into a Kafka error code in the response instead of a crash. RecordError also plugs
// into std::error_code (make_error_code) for code that prefers that form.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>

namespace floe::record {

// Kafka error codes this module's errors map to (see kafka_error_code()).
namespace kafka_error {
inline constexpr int16_t kNone = 0;
inline constexpr int16_t kCorruptMessage = 2;                // CRC mismatch, bad sizes, undecodable payload
inline constexpr int16_t kUnsupportedForMessageFormat = 43;  // message format v0/v1 (magic 0 or 1)
inline constexpr int16_t kInvalidRecord = 87;                // a batch whose records are malformed
}  // namespace kafka_error

enum class RecordError : uint8_t {
  ok = 0,
  truncated,             // fewer bytes than the header or batchLength announces
  bad_batch_length,      // batchLength below the v2 header size or above the allowed maximum
  unsupported_magic,     // magic 0 or 1: message format v0/v1, which Floe does not store
  unknown_magic,         // magic other than 0, 1, 2
  crc_mismatch,          // CRC-32C over attributes..end differs from the crc field
  unknown_compression,   // compression bits 5, 6 or 7
  decompress_failed,     // the compressed payload is corrupt or truncated
  decompressed_too_large,// the payload inflates past the caller's bound (a "zip bomb")
  invalid_record,        // a record inside the batch is malformed, or counts/deltas disagree with the header
  compress_failed,       // the compression library reported an error while encoding
  too_large,             // a batch being built would exceed the int32 sizes of the format
};

// The Kafka error code a broker answers for this error.
constexpr int16_t kafka_error_code(RecordError e) {
  switch (e) {
    case RecordError::ok:
      return kafka_error::kNone;
    case RecordError::unsupported_magic:
      return kafka_error::kUnsupportedForMessageFormat;
    case RecordError::invalid_record:
    case RecordError::decompressed_too_large:
      return kafka_error::kInvalidRecord;
    default:
      return kafka_error::kCorruptMessage;
  }
}

// A short English description ("crc mismatch"), for logs and error messages.
const char* describe(RecordError e);

const std::error_category& record_category();
inline std::error_code make_error_code(RecordError e) { return {static_cast<int>(e), record_category()}; }

// A value or the error that prevented it. Small on purpose: ok(), error(), value(), * and ->.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(RecordError error) : error_(error) { assert(error != RecordError::ok); }  // NOLINT
  bool ok() const { return error_ == RecordError::ok; }
  explicit operator bool() const { return ok(); }
  RecordError error() const { return error_; }
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
  RecordError error_ = RecordError::ok;
};

}  // namespace floe::record

template <>
struct std::is_error_code_enum<floe::record::RecordError> : std::true_type {};
