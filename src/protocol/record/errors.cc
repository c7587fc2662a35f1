#include "protocol/record/errors.h"

#include <string>

namespace floe::record {

const char* describe(RecordError e) {
  switch (e) {
    case RecordError::ok: return "ok";
    case RecordError::truncated: return "truncated record batch";
    case RecordError::bad_batch_length: return "invalid batch length";
    case RecordError::unsupported_magic: return "message format v0/v1 (magic 0 or 1) is not supported";
    case RecordError::unknown_magic: return "unknown magic byte";
    case RecordError::crc_mismatch: return "record batch CRC mismatch";
    case RecordError::unknown_compression: return "unknown compression codec";
    case RecordError::decompress_failed: return "corrupt compressed records";
    case RecordError::decompressed_too_large: return "decompressed records exceed the size limit";
    case RecordError::invalid_record: return "malformed record";
    case RecordError::compress_failed: return "compression failed";
    case RecordError::too_large: return "record batch too large";
  }
  return "unknown record error";
}

namespace {

class RecordCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "floe.record"; }
  std::string message(int code) const override { return describe(static_cast<RecordError>(code)); }
};

}  // namespace

const std::error_category& record_category() {
  static const RecordCategory category;
  return category;
}

}  // namespace floe::record
