// Helpers shared by the stream_store*.cc files (not part of the module's interface).
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "stream/errc.h"

namespace floe::stream::detail {

inline constexpr std::string_view kLog = "stream";
// File WAL payload: stream u64, first i64, last i64, max timestamp i64, then the batches.
inline constexpr size_t kEntryHeader = 32;

std::string random_hex(size_t bytes);
std::string stream_key(uint64_t id);  // 16 hex digits, as in streams/<id>/start
inline Error err(Errc e, std::string message) { return Error{make_error_code(e), std::move(message)}; }

}  // namespace floe::stream::detail
