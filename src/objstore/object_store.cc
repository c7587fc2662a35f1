// Defaults of the ObjectStore interface that backends may override (list_delimited's is in list_fold.cc).
#include "objstore/object_store.h"

namespace floe::objstore {

asio::awaitable<Result<std::string>> ObjectStore::get_into(std::string /*buffer*/, std::string key,
                                                           std::optional<ByteRange> range, Clock::time_point deadline) {
  co_return co_await get(std::move(key), range, deadline);
}

}  // namespace floe::objstore
