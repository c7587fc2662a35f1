// Deterministic pseudo-random values for generated round-trip tests (see protocol/msg_sample.h). Test support.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "protocol/wire.h"

namespace floe::proto {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}

  uint64_t next() {  // splitmix64
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
  bool chance(uint32_t one_in) { return below(one_in) == 0; }
  Uuid uuid() {
    Uuid u;
    for (auto& b : u) b = static_cast<uint8_t>(next());
    return u;
  }
  std::string text() {
    std::string s(below(9), 'a');
    for (auto& c : s) c = static_cast<char>('a' + below(26));
    return s;
  }
  Bytes bytes() {
    Bytes b(below(9));
    for (auto& x : b) x = static_cast<uint8_t>(next());
    return b;
  }
  RecordsView records() {
    auto owned = std::make_shared<Bytes>(bytes());
    return RecordsView::of(ByteSpan(*owned), owned);
  }

 private:
  uint64_t state_;
};

}  // namespace floe::proto
