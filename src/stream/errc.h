// Error codes of the stream module (category "floe.stream").
#pragma once

#include <system_error>

namespace floe::stream {

enum class Errc {
  ok = 0,
  corrupt_object,  // a segment object failed a structural or checksum check
  corrupt_wal,     // a WAL file is damaged before its valid tail (not a torn last write)
  io_error,        // the OS refused a read, write, fsync, ...
  closed,          // the WAL or stream was closed
  too_large,       // an entry or object over its configured bound
  invalid_argument,
  locked,        // another process holds the WAL directory
  out_of_range,  // an offset outside [log start, high watermark]
};

const std::error_category& stream_category();
inline std::error_code make_error_code(Errc e) { return {static_cast<int>(e), stream_category()}; }

}  // namespace floe::stream

template <>
struct std::is_error_code_enum<floe::stream::Errc> : std::true_type {};
