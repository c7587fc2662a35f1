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
  // Codes added with the object WAL (append them: the values above are stable).
  ambiguous,    // the append's outcome is unknown: it may still become durable (Kafka: REQUEST_TIMED_OUT, retriable)
  unavailable,  // the WAL stopped or cannot write now; this append was not written (retriable, maybe elsewhere)
  not_owner,    // owned_streams_only: the stream is not acquired by this store (Kafka: NOT_LEADER_OR_FOLLOWER)
  timed_out,    // a bounded wait (release) ran out; nothing was lost, the caller may retry
  conflict,     // a guarded metadata txn lost a compare (compaction: nothing changed; plan again)
  image_lagging,  // cluster mode: this broker's metadata image lags past half the gc grace; committed reads wait
                  // until it catches up (DESIGN §7; Kafka: REPLICA_NOT_AVAILABLE, retriable)
};

const std::error_category& stream_category();
inline std::error_code make_error_code(Errc e) { return {static_cast<int>(e), stream_category()}; }

// True when a failed append may still have been written (it can reappear after a restart or a seal): io_error
// (file WAL) and ambiguous (object WAL). An idempotent producer's reservation must then stay in doubt.
bool append_may_have_landed(std::error_code ec);

}  // namespace floe::stream

template <>
struct std::is_error_code_enum<floe::stream::Errc> : std::true_type {};
