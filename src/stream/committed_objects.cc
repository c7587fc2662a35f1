#include "stream/committed_objects.h"

#include <charconv>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

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

namespace floe::stream {

namespace {

constexpr int64_t kPageKeys = 500;
constexpr size_t kPointReadsPerTxn = 128;  // etcd's --max-txn-ops

// The values of `missing` (indexes into `listed`, in key order) at `revision`: decoded, cached and put in `got`.
asio::awaitable<Status> read_missing_values(meta::MetaStore& meta, const std::string& prefix, int64_t revision,
                                            const std::vector<meta::KeyValue>& listed,
                                            const std::vector<size_t>& missing, ObjectIndexCache& cache,
                                            std::vector<std::shared_ptr<const ObjectRanges>>& got,
                                            const std::string& context) {
  std::vector<meta::KeyValue> values;
  if (missing.size() <= kPointReadsPerTxn) {
    meta::TxnRequest txn;
    for (size_t i : missing) {
      meta::RangeRequest req;
      req.key = listed[i].key;
      req.revision = revision;
      txn.success.push_back(std::move(req));
    }
    auto r = co_await meta.txn(std::move(txn));
    if (!r) co_return detail::err(Errc::io_error, context + ": cannot read committed objects: " + r.error().message());
    for (auto& resp : r->responses) {
      auto* range = std::get_if<meta::RangeResponse>(&resp);
      if (range) {
        for (auto& kv : range->kvs) values.push_back(std::move(kv));
      }
    }
  } else {
    // Many: one range read from the first missing key through the last (cached ones in between come along).
    meta::RangeRequest req;
    req.key = listed[missing.front()].key;
    req.range_end = listed[missing.back()].key + '\0';
    req.revision = revision;
    auto r = co_await meta.range(req);
    if (!r) co_return detail::err(Errc::io_error, context + ": cannot read committed objects: " + r.error().message());
    values = std::move(r->kvs);
  }
  std::unordered_map<std::string_view, const meta::KeyValue*> by_key;
  for (const auto& kv : values) by_key.emplace(kv.key, &kv);
  for (size_t i : missing) {
    auto it = by_key.find(listed[i].key);
    // At one revision the listing and the values agree: anything else is a broken store.
    if (it == by_key.end() || it->second->mod_revision != listed[i].mod_revision) {
      co_return detail::err(Errc::io_error, context + ": committed object " + listed[i].key +
                                                " changed between its listing and its value at revision " +
                                                std::to_string(revision));
    }
    auto ranges = decode_object_ranges(std::string_view(listed[i].key).substr(prefix.size()), it->second->value);
    if (!ranges) co_return ranges.error();
    auto shared = std::make_shared<const ObjectRanges>(std::move(*ranges));
    cache.insert(listed[i].mod_revision, shared, it->second->value.size());
    got[i] = std::move(shared);
  }
  co_return ok_status();
}

}  // namespace

asio::awaitable<Result<int64_t>> read_committed_objects_cached(meta::MetaStore& meta, std::string meta_root,
                                                               ObjectIndexCache& cache,
                                                               std::function<Status(const ObjectRanges&)> visit,
                                                               std::string context) {
  const std::string prefix = meta_root + "objects/";
  int64_t revision = 0;
  std::string from = prefix;
  std::unordered_set<std::string> listed_keys;
  for (;;) {
    meta::RangeRequest req;
    req.key = from;
    req.range_end = meta::prefix_end(prefix);
    req.limit = kPageKeys;
    req.revision = revision;  // 0 on the first page: the current revision (linearizable), which fixes the rest
    req.keys_only = true;
    auto page = co_await meta.range(req);
    if (!page) {
      co_return detail::err(Errc::io_error, context + ": cannot read committed objects: " + page.error().message());
    }
    if (revision == 0) revision = page->revision;
    std::vector<std::shared_ptr<const ObjectRanges>> got(page->kvs.size());
    std::vector<size_t> missing;
    for (size_t i = 0; i < page->kvs.size(); ++i) {
      std::string key = page->kvs[i].key.substr(prefix.size());
      got[i] = cache.find(key, page->kvs[i].mod_revision);
      if (!got[i]) missing.push_back(i);
      listed_keys.insert(std::move(key));
    }
    if (!missing.empty()) {
      Status st = co_await read_missing_values(meta, prefix, revision, page->kvs, missing, cache, got, context);
      if (!st) co_return st.error();
    }
    for (const auto& ranges : got) {
      auto st = visit(*ranges);
      if (!st) co_return st.error();
    }
    if (!page->more || page->kvs.empty()) break;
    from = page->kvs.back().key + '\0';
  }
  cache.retain_only(listed_keys);
  co_return revision;
}

asio::awaitable<Result<std::map<uint64_t, int64_t>>> read_stream_starts(meta::MetaStore& meta,
                                                                         const std::string& meta_root,
                                                                         int64_t revision, const std::string& context) {
  const std::string prefix = meta_root + "streams/";
  meta::RangeRequest req;
  req.key = prefix;
  req.range_end = meta::prefix_end(prefix);
  req.revision = revision;
  auto read = co_await meta.range(req);
  if (!read) co_return detail::err(Errc::io_error, context + ": cannot read stream starts: " + read.error().message());
  std::map<uint64_t, int64_t> starts;
  for (const auto& kv : read->kvs) {
    const std::string_view rest = std::string_view(kv.key).substr(prefix.size());  // <16 hex>/start
    if (rest.size() != 16 + 6 || rest.substr(16) != "/start") continue;
    uint64_t id = 0;
    int64_t start = 0;
    if (std::from_chars(rest.data(), rest.data() + 16, id, 16).ec != std::errc()) continue;
    if (std::from_chars(kv.value.data(), kv.value.data() + kv.value.size(), start).ec != std::errc()) continue;
    starts[id] = start;
  }
  co_return starts;
}

}  // namespace floe::stream
