#include "meta/meta_store.h"

#include <set>

#include "meta/key_range.h"

namespace floe::meta {

std::string_view meta_op_name(MetaOp op) {
  switch (op) {
    case MetaOp::range: return "range";
    case MetaOp::txn: return "txn";
    case MetaOp::put: return "put";
    case MetaOp::del: return "delete";
    case MetaOp::count_: break;
  }
  return "?";
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

asio::awaitable<Result<std::optional<KeyValue>>> MetaStore::get(std::string key, bool serializable) {
  RangeRequest request;
  request.key = std::move(key);
  request.serializable = serializable;
  auto response = co_await range(std::move(request));
  if (!response) co_return response.error();
  if (response->kvs.empty()) co_return std::optional<KeyValue>{};
  co_return std::optional<KeyValue>{std::move(response->kvs.front())};
}

namespace {

constexpr size_t kPerItemOverhead = 16;  // tags, lengths and numbers of one protobuf message, roughly

std::error_code check_branch(const std::vector<Op>& ops, size_t& bytes) {
  std::set<std::string_view> puts;
  for (const auto& op : ops) {
    if (const auto* put = std::get_if<PutRequest>(&op)) {
      if (put->key.empty()) return Errc::invalid_argument;
      if (!puts.insert(put->key).second) return Errc::duplicate_key;
      bytes += put->key.size() + put->value.size() + kPerItemOverhead;
    } else if (const auto* range = std::get_if<RangeRequest>(&op)) {
      if (range->key.empty() || range->limit < 0) return Errc::invalid_argument;
      bytes += range->key.size() + range->range_end.size() + kPerItemOverhead;
    } else if (const auto* del = std::get_if<DeleteRequest>(&op)) {
      if (del->key.empty()) return Errc::invalid_argument;
      bytes += del->key.size() + del->range_end.size() + kPerItemOverhead;
    }
  }
  for (const auto& op : ops) {
    if (const auto* del = std::get_if<DeleteRequest>(&op)) {
      KeyRange range{del->key, del->range_end};
      for (auto key : puts) {
        if (range.contains(key)) return Errc::duplicate_key;
      }
    }
  }
  return {};
}

}  // namespace

std::error_code validate_txn(const TxnRequest& request, const TxnLimits& limits) {
  if (request.compares.size() > limits.max_ops || request.success.size() > limits.max_ops ||
      request.failure.size() > limits.max_ops) {
    return Errc::too_many_ops;
  }
  size_t bytes = 0;
  for (const auto& compare : request.compares) {
    if (compare.key.empty()) return Errc::invalid_argument;
    bytes += compare.key.size() + compare.value.size() + kPerItemOverhead;
  }
  if (auto ec = check_branch(request.success, bytes)) return ec;
  if (auto ec = check_branch(request.failure, bytes)) return ec;
  if (bytes > limits.max_bytes) return Errc::request_too_large;
  return {};
}

}  // namespace floe::meta
