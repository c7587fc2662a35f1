// Small helpers shared by the record library's tests.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "protocol/record/batch_header.h"
#include "protocol/record/compression.h"

namespace floe::record::test {

inline ByteSpan bytes_of(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

inline std::string string_of(ByteSpan b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

inline Bytes from_hex(std::string_view hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

inline Bytes random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Text-like bytes: words from a small vocabulary, so that every codec finds something to compress.
inline Bytes text_bytes(size_t n, uint64_t seed) {
  static constexpr std::string_view kWords[] = {"kafka ", "floe ", "record ", "batch ", "offset ", "stream ",
                                                "partition ", "leader ", "epoch ", "commit ", "{\"id\":", "42, "};
  std::mt19937_64 rng(seed);
  Bytes out;
  out.reserve(n + 16);
  while (out.size() < n) {
    std::string_view w = kWords[rng() % std::size(kWords)];
    out.insert(out.end(), w.begin(), w.end());
  }
  out.resize(n);
  return out;
}

inline constexpr Compression kAllCodecs[] = {Compression::none, Compression::gzip, Compression::snappy,
                                             Compression::lz4, Compression::zstd};

}  // namespace floe::record::test
