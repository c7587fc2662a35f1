// Defaults of the ObjectStore interface that backends may override (list_delimited's is in list_fold.cc).
#include "objstore/object_store.h"

namespace floe::objstore {

asio::awaitable<Result<std::string>> ObjectStore::get_into(std::string /*buffer*/, std::string key,
                                                           std::optional<ByteRange> range, Clock::time_point deadline) {
  co_return co_await get(std::move(key), range, deadline);
}

asio::awaitable<Result<PutInfo>> ObjectStore::put_if_absent_pieces(std::string key,
                                                                   std::vector<std::string_view> pieces,
                                                                   Clock::time_point deadline) {
  std::size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  std::string data;
  data.reserve(size);
  for (std::string_view p : pieces) data.append(p);
  co_return co_await put_if_absent(std::move(key), std::move(data), deadline);
}

}  // namespace floe::objstore
