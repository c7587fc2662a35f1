// CRC-32C: portable slicing-by-8, the zero-shift tables of the hardware path, and the runtime dispatch.
#include "protocol/record/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#include "protocol/record/crc32c_internal.h"

namespace floe::record {
namespace detail {
namespace {

using SliceTables = std::array<std::array<uint32_t, 256>, 8>;

// Slicing-by-8: table[k][b] is the register after byte b followed by k zero bytes.
constexpr SliceTables make_slice_tables() {
  SliceTables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t reg = b;
    for (int bit = 0; bit < 8; ++bit) reg = (reg & 1) ? (reg >> 1) ^ kCrc32cPoly : reg >> 1;
    t[0][b] = reg;
  }
  for (size_t k = 1; k < 8; ++k)
    for (size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  return t;
}

constexpr SliceTables kSlice = make_slice_tables();

constexpr ZeroShift make_zero_shift(size_t len) {
  ZeroShift s{};
  const uint32_t x8n = crc32c_x8n(len);
  for (uint32_t byte = 0; byte < 4; ++byte)
    for (uint32_t b = 0; b < 256; ++b) s.table[byte][b] = crc32c_multmod(x8n, b << (8 * byte));
  return s;
}

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

}  // namespace

constexpr ZeroShift kShiftLong = make_zero_shift(kLongBlock);
constexpr ZeroShift kShiftShort = make_zero_shift(kShortBlock);

uint32_t crc32c_software_raw(uint32_t reg, const uint8_t* p, size_t n) {
  while (n >= 8) {
    const uint64_t v = load_le64(p) ^ reg;
    reg = kSlice[7][v & 0xff] ^ kSlice[6][(v >> 8) & 0xff] ^ kSlice[5][(v >> 16) & 0xff] ^
          kSlice[4][(v >> 24) & 0xff] ^ kSlice[3][(v >> 32) & 0xff] ^ kSlice[2][(v >> 40) & 0xff] ^
          kSlice[1][(v >> 48) & 0xff] ^ kSlice[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- != 0) reg = (reg >> 8) ^ kSlice[0][(reg ^ *p++) & 0xff];
  return reg;
}

}  // namespace detail

namespace {

using RawFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

RawFn pick_implementation() {
  return crc32c_hardware_available() ? detail::crc32c_hardware_raw : detail::crc32c_software_raw;
}

}  // namespace

bool crc32c_hardware_available() {
#if defined(__x86_64__)
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
#else
  return false;
#endif
}

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  static const RawFn impl = pick_implementation();
  return ~impl(~crc, static_cast<const uint8_t*>(data), n);
}

uint32_t crc32c_software(const void* data, size_t n, uint32_t crc) {
  return ~detail::crc32c_software_raw(~crc, static_cast<const uint8_t*>(data), n);
}

uint32_t crc32c_hardware(const void* data, size_t n, uint32_t crc) {
  return ~detail::crc32c_hardware_raw(~crc, static_cast<const uint8_t*>(data), n);
}

// With conditioning, crc(a+b) = crc(a)·x^(8|b|) xor crc(b): the initial values and final xors cancel out.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b) {
  return detail::crc32c_multmod(detail::crc32c_x8n(len_b), crc_a) ^ crc_b;
}

}  // namespace floe::record
