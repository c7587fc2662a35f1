// The metadata record of one committed segment object: the value of key <root>/objects/<object key> (DESIGN §5:
// one key per object, never one per partition). It repeats the object's index so that a reader can plan ranged
// GETs from metadata alone.
//
//   +------------+----------------+-----------+------------------------------------------------+
//   | version u8 | object_size u64| count u32 | count x 48-byte block entries, as in the index |
//   |    (1)     |                |           | (segment_object.h: stream, first/last offset,  |
//   |            |                |           |  max timestamp, position, size, block CRC-32C) |
//   +------------+----------------+-----------+------------------------------------------------+
//   big-endian; nothing may follow the last entry.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "stream/segment_object.h"

namespace floe::stream {

struct ObjectRanges {
  std::string key;  // the object's key in the object store
  uint64_t object_size = 0;
  std::vector<BlockInfo> blocks;
};

std::string encode_object_ranges(const ObjectRanges& ranges);
// `key` names the object in errors and is stored in the result.
Result<ObjectRanges> decode_object_ranges(std::string_view key, std::string_view value);

}  // namespace floe::stream
