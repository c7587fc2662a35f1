#include "stream/committed_objects.h"

#include <utility>

#include "meta/meta_store.h"
#include "stream/stream_store_internal.h"

namespace floe::stream {

asio::awaitable<Result<int64_t>> read_committed_objects(meta::MetaStore& meta, std::string meta_root,
                                                        std::function<Status(CommittedObject&&)> visit,
                                                        std::string context) {
  const std::string prefix = meta_root + "objects/";
  int64_t revision = 0;
  std::string from = prefix;
  for (;;) {
    meta::RangeRequest req;
    req.key = from;
    req.range_end = meta::prefix_end(prefix);
    req.limit = 500;
    req.revision = revision;  // 0 on the first page: the current revision, which fixes every later page's
    auto page = co_await meta.range(req);
    if (!page) {
      co_return detail::err(Errc::io_error, context + ": cannot read committed objects: " + page.error().message());
    }
    if (revision == 0) revision = page->revision;
    for (auto& kv : page->kvs) {
      auto ranges = decode_object_ranges(std::string_view(kv.key).substr(prefix.size()), kv.value);
      if (!ranges) co_return ranges.error();
      auto st = visit(CommittedObject{std::move(*ranges), kv.mod_revision, kv.value.size()});
      if (!st) co_return st.error();
    }
    if (!page->more || page->kvs.empty()) break;
    from = page->kvs.back().key + '\0';
  }
  co_return revision;
}

}  // namespace floe::stream
