// Deterministic WAL payloads for tests: the content of entry `seq` is a function of seq alone, so a reader can
// check every byte of what it recovers without the writer's help.
#pragma once

#include <cstdint>
#include <vector>

namespace floe::stream::testing {

inline std::vector<uint8_t> payload_for(uint64_t seq, size_t max_len = 3000) {
  size_t len = 1 + static_cast<size_t>((seq * 7919) % max_len);
  std::vector<uint8_t> p(len);
  for (size_t i = 0; i < len; ++i) p[i] = static_cast<uint8_t>(seq * 131 + i);
  return p;
}

}  // namespace floe::stream::testing
