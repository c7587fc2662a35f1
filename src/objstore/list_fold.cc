#include "objstore/list_fold.h"

#include <string>
#include <utility>

#include "objstore/errors.h"

namespace floe::objstore {

ListPage fold_delimited(std::vector<ObjectInfo> sorted, std::string_view prefix, std::string_view delimiter,
                        std::string_view after, std::size_t max_keys) {
  ListPage page;
  std::size_t items = 0;
  std::string last;
  for (ObjectInfo& object : sorted) {
    if (!after.empty() && object.key <= after) continue;
    const auto at = object.key.find(delimiter, prefix.size());
    if (at == std::string::npos) {
      if (items == max_keys) {
        page.next = last;
        break;
      }
      last = object.key;
      page.objects.push_back(std::move(object));
    } else {
      std::string group = object.key.substr(0, at + delimiter.size());
      // The group that ended the previous page, or the one just added: its keys are covered.
      if (group == after || (!page.common_prefixes.empty() && page.common_prefixes.back() == group)) continue;
      if (items == max_keys) {
        page.next = last;
        break;
      }
      last = group;
      page.common_prefixes.push_back(std::move(group));
    }
    ++items;
  }
  return page;
}

asio::awaitable<Result<ListPage>> ObjectStore::list_delimited(std::string prefix, std::string delimiter,
                                                              std::string continuation, std::size_t max_keys,
                                                              Clock::time_point deadline) {
  if (delimiter.empty() || max_keys == 0 || max_keys > 1000) co_return Errc::invalid_argument;
  std::vector<ObjectInfo> all;
  std::string token;
  for (;;) {
    auto page = co_await list(prefix, token, 1000, deadline);
    if (!page) co_return page.error;
    for (ObjectInfo& object : page.value.objects) all.push_back(std::move(object));
    if (page.value.next.empty()) break;
    token = std::move(page.value.next);
  }
  co_return fold_delimited(std::move(all), prefix, delimiter, continuation, max_keys);
}

}  // namespace floe::objstore
