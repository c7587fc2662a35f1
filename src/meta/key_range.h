// A key range as etcd reads it: [key, range_end); empty range_end means exactly `key`; range_end "\0" means every
// key >= `key`.
#pragma once

#include <string_view>

namespace floe::meta {

struct KeyRange {
  std::string_view key;
  std::string_view range_end;

  bool single() const { return range_end.empty(); }
  bool to_end() const { return range_end.size() == 1 && range_end[0] == '\0'; }
  bool contains(std::string_view k) const {
    if (single()) return k == key;
    if (k < key) return false;
    return to_end() || k < range_end;
  }
};

}  // namespace floe::meta
