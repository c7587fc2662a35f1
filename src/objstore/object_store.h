// ObjectStore: the one interface to object storage (DESIGN.md §2, §4). Backends: file:// (FileStore) and s3://
// (S3Store); decorators: FaultStore (fault injection). open_store() builds one from a URL.
//
// Every call is a C++20 coroutine, takes a deadline, and can be cancelled through the caller's asio cancellation
// slot (Errc::cancelled). Outcomes are values (Result<T>, Errc); nothing throws but std::bad_alloc. Keys are
// non-empty byte strings up to 1024 bytes, printable ASCII without '\', no empty, "." or ".." path segments, and not
// starting with '/' (the common subset of S3 and the file:// tree).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "objstore/errors.h"
#include "objstore/stats.h"

namespace floe::objstore {

using Clock = std::chrono::steady_clock;

struct PutInfo {
  bool created = true;  // false: put_if_absent found the key present ("already exists"), nothing was written
  // put_if_absent only: the store answered "exists" after an earlier try of this same call had an unknown outcome
  // (timeout, reset), so the existing object may be our own. The caller resolves it by reading it back (§4).
  bool ambiguous = false;
  std::string etag;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;
};

// A byte range [offset, offset + length), clipped to the object's end. length = nullopt: to the end.
// offset at or past the end of the object is Errc::invalid_range (as S3's 416), also for empty objects.
struct ByteRange {
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

struct ListPage {
  std::vector<ObjectInfo> objects;  // sorted by key (byte order)
  // list_delimited only: the distinct groups of keys that have the delimiter after the prefix, each the key up to
  // and including that first delimiter, sorted. Objects and groups of one page interleave in key order.
  std::vector<std::string> common_prefixes;
  std::string next;  // continuation token for the next page; empty when this was the last
};

struct DeleteFailure {
  std::string key;
  std::error_code error;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // For logs: file:///path or s3://bucket (no credentials).
  virtual std::string describe() const = 0;

  // Writes (or replaces) the object. Large objects may go up in parts (S3 multipart above the threshold).
  virtual asio::awaitable<Result<PutInfo>> put(std::string key, std::string data, Clock::time_point deadline) = 0;
  // Writes the object only if the key does not exist (If-None-Match: *), atomically: of racing writers exactly
  // one gets created = true. An existing key is PutInfo{created = false}, not an error.
  virtual asio::awaitable<Result<PutInfo>> put_if_absent(std::string key, std::string data,
                                                         Clock::time_point deadline) = 0;
  // put_if_absent() of the object made of `pieces` in order, which the caller keeps alive and unchanged until
  // this completes. file:// writes them without a contiguous copy of the whole object (a large upload's blocks are
  // the log cache's batches: no fresh multi-MiB buffer, none of its page faults); the default (s3://, which signs
  // and sends one body) concatenates them and calls put_if_absent().
  virtual asio::awaitable<Result<PutInfo>> put_if_absent_pieces(std::string key, std::vector<std::string_view> pieces,
                                                                Clock::time_point deadline);
  virtual asio::awaitable<Result<std::string>> get(std::string key, std::optional<ByteRange> range,
                                                   Clock::time_point deadline) = 0;
  // get() into `buffer`'s memory where the backend can: the answer is `buffer` itself, resized to the bytes read
  // (its contents overwritten). A buffer whose size is already at least the answer's length is neither reallocated
  // nor zero-filled first, so a reader that recycles its buffers (the block cache) saves an allocation, the page
  // faults of fresh memory and a fill per GET. The default (s3://, which receives into its own buffers) ignores
  // `buffer` and calls get().
  virtual asio::awaitable<Result<std::string>> get_into(std::string buffer, std::string key,
                                                        std::optional<ByteRange> range, Clock::time_point deadline);
  virtual asio::awaitable<Result<ObjectInfo>> head(std::string key, Clock::time_point deadline) = 0;
  // Keys starting with `prefix`, sorted, at most max_keys (1..1000) per page. `continuation` is "" for the first
  // page, then the previous page's `next`.
  virtual asio::awaitable<Result<ListPage>> list(std::string prefix, std::string continuation, std::size_t max_keys,
                                                 Clock::time_point deadline) = 0;
  // Like list(), but keys that contain `delimiter` after `prefix` are rolled up into ListPage::common_prefixes
  // (S3 ListObjectsV2 with a delimiter: list("logs/", "/") gives the objects directly in logs/ and one entry per
  // "sub-directory"). Objects and common prefixes count together against max_keys. An empty delimiter is
  // Errc::invalid_argument (use list()). This default pages through list() from the start for every page
  // (O(keys under the prefix) per page); the file:// and s3:// backends override it.
  virtual asio::awaitable<Result<ListPage>> list_delimited(std::string prefix, std::string delimiter,
                                                           std::string continuation, std::size_t max_keys,
                                                           Clock::time_point deadline);
  // Deleting a missing key succeeds (as on S3).
  virtual asio::awaitable<std::error_code> remove(std::string key, Clock::time_point deadline) = 0;
  // Deletes many keys (S3: DeleteObjects, 1000 per request). Missing keys succeed; the result lists the keys
  // that could not be deleted. The call's error is set only when nothing could be attempted.
  virtual asio::awaitable<Result<std::vector<DeleteFailure>>> remove_many(std::vector<std::string> keys,
                                                                          Clock::time_point deadline) = 0;

  virtual StatsSnapshot stats() const = 0;
};

// True when `key` is a valid object key (see above).
bool valid_key(std::string_view key);

// Start-up self-test (§4): writes a probe key twice with put_if_absent and reports whether the second write was
// refused, then deletes the probe. The object WAL refuses a store for which this is false.
asio::awaitable<Result<bool>> enforces_conditional_put(ObjectStore& store, Clock::time_point deadline);

}  // namespace floe::objstore
