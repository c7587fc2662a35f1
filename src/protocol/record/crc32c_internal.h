// Internals shared by the two CRC-32C implementations. Everything here works on the raw CRC register (no initial
// value, no final xor); crc32c.cc applies the conditioning.
#pragma once

#include <cstddef>
#include <cstdint>

namespace floe::record::detail {

inline constexpr uint32_t kCrc32cPoly = 0x82F63B78;  // Castagnoli, bit-reflected

// Product of two polynomials modulo P in the reflected representation (bit 31 is the x^0 coefficient).
constexpr uint32_t crc32c_multmod(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kCrc32cPoly : b >> 1;
  }
  return product;
}

// x^(8n) mod P: multiplying a raw register by it is the same as feeding it n zero bytes.
constexpr uint32_t crc32c_x8n(uint64_t n) {
  uint32_t result = 1u << 31;     // x^0
  uint32_t square = 1u << 23;     // x^8
  while (n != 0) {
    if (n & 1) result = crc32c_multmod(square, result);
    square = crc32c_multmod(square, square);
    n >>= 1;
  }
  return result;
}

// "Append `len` zero bytes to a raw register" for one fixed len, as four byte-indexed tables, so the hardware
// path can join its three interleaved streams with 8 lookups per block instead of a 32-step multiplication.
struct ZeroShift {
  uint32_t table[4][256];
  uint32_t apply(uint32_t reg) const {
    return table[0][reg & 0xff] ^ table[1][(reg >> 8) & 0xff] ^ table[2][(reg >> 16) & 0xff] ^ table[3][reg >> 24];
  }
};

// Bytes per stream of the hardware path's interleaved blocks: long blocks for the bulk, short ones for the rest.
inline constexpr size_t kLongBlock = 8192;
inline constexpr size_t kShortBlock = 256;
extern const ZeroShift kShiftLong;   // shifts by kLongBlock bytes
extern const ZeroShift kShiftShort;  // shifts by kShortBlock bytes

uint32_t crc32c_software_raw(uint32_t reg, const uint8_t* p, size_t n);
uint32_t crc32c_hardware_raw(uint32_t reg, const uint8_t* p, size_t n);  // SSE4.2 only; x86-64 only

}  // namespace floe::record::detail
