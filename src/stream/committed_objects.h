// One read of every committed object's metadata record (<meta_root>objects/<key>, object_ranges.h), shared by the
// store's load at open, acquire, the 404 re-read and the compactor's plan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>

#include "base/result.h"
#include "stream/object_index_cache.h"
#include "stream/object_ranges.h"

namespace floe::meta {
class MetaStore;
}

namespace floe::stream {

struct CommittedObject {
  ObjectRanges ranges;
  int64_t mod_revision = 0;  // of its objects/ key (compactions compare it)
  size_t value_bytes = 0;    // size of the metadata value (txn size limits)
};

// Pages through <meta_root>objects/ (500 keys a page) at ONE revision, the first page's, so the whole read is one
// linearizable snapshot and a caller may read more keys at the returned revision. `visit` sees each object once, in
// key order; an error it returns, a bad record or a failed read stops it. `context` starts error messages.
asio::awaitable<Result<int64_t>> read_committed_objects(meta::MetaStore& meta, std::string meta_root,
                                                        std::function<Status(CommittedObject&&)> visit,
                                                        std::string context);

// The same read through `cache` (object_index_cache.h): each page lists keys and mod revisions only (keys_only), at
// one revision, the first page's; the values of the (key, revision) pairs not cached are read at that revision
// (one txn of point reads when few, else one range read over them: at most one more round trip per page), decoded
// and cached. `visit` sees each object once, in key order, shared with the cache. After a complete listing the
// cache keeps only the listed objects.
asio::awaitable<Result<int64_t>> read_committed_objects_cached(
    meta::MetaStore& meta, std::string meta_root, ObjectIndexCache& cache,
    std::function<Status(const ObjectRanges&)> visit, std::string context);

// Every stream's log start (<meta_root>streams/<16 hex id>/start) at `revision` (0: the current one), by stream id.
// Read beside the objects (at the revision read_committed_objects returned) by the load at open, the compactor's
// plan and garbage collection. Keys or values that do not parse are skipped. `context` starts error messages.
asio::awaitable<Result<std::map<uint64_t, int64_t>>> read_stream_starts(meta::MetaStore& meta,
                                                                         const std::string& meta_root,
                                                                         int64_t revision, const std::string& context);

}  // namespace floe::stream
