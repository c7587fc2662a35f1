// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka record batch v2.
//
// crc32c() picks, once per process, the SSE4.2 crc32 instruction (three interleaved streams) when the CPU has it,
// else a portable slicing-by-8 table implementation. Both give identical results; tests check that.
//
// Conventions are the usual ones (initial value and final xor 0xFFFFFFFF are applied inside), so that
//   crc32c("123456789") == 0xE3069283 and crc32c(b, crc32c(a)) == crc32c(a + b)  (incremental update).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace floe::record {

// CRC-32C of n bytes, continuing from `crc` (the result of an earlier call over the preceding bytes; 0 to start).
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
inline uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc = 0) {
  return crc32c(data.data(), data.size(), crc);
}

// CRC-32C of a + b from crc_a = crc32c(a), crc_b = crc32c(b) and len_b = size of b, without touching the data.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b);

// The two implementations, for tests and the benchmark. crc32c_hardware must only be called when
// crc32c_hardware_available() is true.
uint32_t crc32c_software(const void* data, size_t n, uint32_t crc = 0);
uint32_t crc32c_hardware(const void* data, size_t n, uint32_t crc = 0);
bool crc32c_hardware_available();

}  // namespace floe::record
