// Rolling a sorted key listing up by a delimiter into one page (internal to floe_objstore: the default
// ObjectStore::list_delimited and FileStore).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "objstore/object_store.h"

namespace floe::objstore {

// `sorted`: objects whose keys start with `prefix`, sorted by key. Skips what a page ending at `after` (the last
// object key or common prefix returned, "" for the first page) already covered, then takes up to max_keys items
// (objects and common prefixes) in key order. ListPage::next is the last item when more remain.
ListPage fold_delimited(std::vector<ObjectInfo> sorted, std::string_view prefix, std::string_view delimiter,
                        std::string_view after, std::size_t max_keys);

}  // namespace floe::objstore
