#include "objstore/open.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "base/log.h"
#include "objstore/file_store.h"
#include "objstore/s3_store.h"

#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>

namespace floe::objstore {

asio::awaitable<Result<bool>> enforces_conditional_put(ObjectStore& store, Clock::time_point deadline) {
  // A unique probe key, so concurrent self-tests (several brokers starting) do not disturb each other.
  static std::atomic<uint64_t> counter{0};
  const std::string key = ".floe-probe/" + std::to_string(::getpid()) + "-" +
                          std::to_string(Clock::now().time_since_epoch().count()) + "-" +
                          std::to_string(counter.fetch_add(1));
  auto first = co_await store.put_if_absent(key, "first", deadline);
  if (!first) co_return first.error;
  auto second = co_await store.put_if_absent(key, "second", deadline);
  auto removed = co_await store.remove(key, deadline);
  if (removed) log::warn("objstore", "could not delete the self-test probe ", key, ": ", removed.message());
  if (!second) co_return second.error;
  const bool enforced = first.value.created && !second.value.created;
  if (!enforced) {
    log::warn("objstore", store.describe(), " does not enforce If-None-Match: a second conditional write of ", key,
              " succeeded");
  }
  co_return enforced;
}

Result<std::shared_ptr<ObjectStore>> open_store(std::string_view url, asio::any_io_executor executor) {
  if (url.starts_with("file://")) {
    auto store = FileStore::open(std::string(url.substr(7)));
    if (!store) {
      log::error("objstore", "cannot open ", url, ": ", store.error.message());
      return store.error;
    }
    return std::shared_ptr<ObjectStore>(std::move(store.value));
  }
  if (url.starts_with("s3://")) {
    auto config = S3Config::from_url(url);
    if (!config) return config.error;
    return std::shared_ptr<ObjectStore>(std::make_shared<S3Store>(std::move(executor), std::move(config.value)));
  }
  log::error("objstore", "unknown object store URL ", url, " (file:///path or s3://bucket?endpoint=...)");
  return Errc::invalid_argument;
}

}  // namespace floe::objstore
