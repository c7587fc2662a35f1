// The embedded store's on-disk formats: journal files and the snapshot file. Blocking file I/O: call only from the
// store's sync pool or while opening the store, never on a network thread.
//
// A journal file is `journal-<first index, 20 digits>.log`: an 8-byte magic "FLOEMJ1\n", then framed records.
// The snapshot file (`snapshot`, written as `snapshot.tmp`, fsynced, renamed) is the same magic with "S" for "J"
// ("FLOEMS1\n"), then framed records: one header, the leases, the keys, one end record.
//
// One framed record (all integers little-endian):
//
//   0               4               8                       16     17
//   +---------------+---------------+-----------------------+------+-----------------------------+
//   | length (u32)  | crc (u32)     | index (u64)           | type | payload (length - 9 bytes)  |
//   +---------------+---------------+-----------------------+------+-----------------------------+
//                                   |<---------------- length bytes, covered by crc --------------->|
//
//   crc = CRC-32 (zlib, IEEE) of the `length` bytes after the crc field. 9 <= length <= kMaxRecordBytes.
//   index: journal records are numbered 1, 2, 3, ... without gaps across files; snapshot records carry 0.
//
// Payloads (str = u32 length + bytes; i64 little-endian two's complement):
//   1 apply        i64 revision, i64 revoked lease (0: none), u32 n, n x { u8 kind (0 put, 1 delete), str key,
//                  str value, i64 lease }
//   2 lease grant  i64 id, i64 ttl seconds
//   3 compact      i64 revision
//   10 snapshot header   i64 revision, i64 next lease id, u64 last journal index, u64 lease count, u64 key count
//   11 snapshot lease    i64 id, i64 ttl
//   12 snapshot key      str key, str value, i64 create revision, i64 mod revision, i64 version, i64 lease
//   13 snapshot end      u64 number of records before it
//
// After kill -9 the last record of the newest journal file may be torn (short, or its crc fails): recovery drops it
// and truncates the file there. It was never acknowledged: a write is acked only after fdatasync covered it. A bad
// record anywhere else is corruption (Errc::corrupt), and the store refuses to open.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "meta/errors.h"
#include "meta/kv_state.h"

namespace floe::meta::journal {

inline constexpr std::string_view kJournalMagic = "FLOEMJ1\n";
inline constexpr std::string_view kSnapshotMagic = "FLOEMS1\n";
inline constexpr size_t kHeaderBytes = 8;
inline constexpr size_t kFrameBytes = 8;       // length + crc
inline constexpr size_t kMinRecordLength = 9;  // index + type
inline constexpr size_t kMaxRecordBytes = 256u << 20;

enum class Type : uint8_t {
  apply = 1,
  lease_grant = 2,
  compact = 3,
  snap_header = 10,
  snap_lease = 11,
  snap_key = 12,
  snap_end = 13,
};

// Appends one framed record to `out`.
void frame(std::string& out, uint64_t index, Type type, std::string_view payload);

std::string encode_apply(const Effect& effect);
std::string encode_lease_grant(int64_t id, int64_t ttl);
std::string encode_i64(int64_t value);

// A payload reader: every get fails (returns false) past the end instead of reading out of bounds.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u8(uint8_t& v);
  bool u32(uint32_t& v);
  bool u64(uint64_t& v);
  bool i64(int64_t& v);
  bool str(std::string& v);
  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
};
void put_u32(std::string& out, uint32_t v);
void put_u64(std::string& out, uint64_t v);
void put_str(std::string& out, std::string_view s);

bool decode_apply(std::string_view payload, Effect& effect);

struct Record {
  uint64_t index = 0;
  Type type{};
  std::string_view payload;
};

struct ScanResult {
  uint64_t valid_bytes = 0;  // the file's length up to the end of the last good record
  bool torn = false;         // bytes after valid_bytes that are not a good record
};

// Reads a journal or snapshot file (with `magic`) and calls on_record for each good record until the first bad one
// or the end. An error from on_record stops the scan and is returned. A file shorter than the magic counts as empty
// and torn; a wrong magic is corrupt.
Result<ScanResult> scan_file(const std::string& path, std::string_view magic,
                             const std::function<std::error_code(const Record&)>& on_record);

// Blocking file helpers returning std::error_code (errno) values.
std::error_code write_all(int fd, std::string_view data);
std::error_code sync_dir(const std::string& dir);

}  // namespace floe::meta::journal
