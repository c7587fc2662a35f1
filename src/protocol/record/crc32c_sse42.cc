// CRC-32C with the SSE4.2 crc32 instruction. Only this function is compiled for SSE4.2 (target attribute), so the
// library still runs on CPUs without it; crc32c.cc calls it only after __builtin_cpu_supports("sse4.2").
//
// The instruction has a latency of about 3 cycles and a throughput of 1 per cycle, so one dependent chain reaches a
// third of the possible speed. Large inputs are therefore cut into blocks of three equal parts whose CRCs are
// computed in three independent chains, then joined: crc(A+B) = shift(crc(A), |B|) xor crc_from_zero(B), where
// shift (appending |B| zero bytes) is a fixed linear map precomputed as tables (crc32c_internal.h).
#include <cstring>

#include "protocol/record/crc32c_internal.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace floe::record::detail {

#if defined(__x86_64__)

namespace {

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);  // x86 is little-endian, as the instruction expects
  return v;
}

template <size_t kBlock>
__attribute__((target("sse4.2"), always_inline)) inline uint32_t three_streams(uint32_t reg, const uint8_t*& p,
                                                                               size_t& n, const ZeroShift& shift) {
  while (n >= 3 * kBlock) {
    uint64_t c0 = reg, c1 = 0, c2 = 0;
    for (size_t i = 0; i < kBlock; i += 8) {
      c0 = _mm_crc32_u64(c0, load64(p + i));
      c1 = _mm_crc32_u64(c1, load64(p + kBlock + i));
      c2 = _mm_crc32_u64(c2, load64(p + 2 * kBlock + i));
    }
    reg = shift.apply(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
    reg = shift.apply(reg) ^ static_cast<uint32_t>(c2);
    p += 3 * kBlock;
    n -= 3 * kBlock;
  }
  return reg;
}

}  // namespace

__attribute__((target("sse4.2"))) uint32_t crc32c_hardware_raw(uint32_t reg, const uint8_t* p, size_t n) {
  while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {  // align the 8-byte loads
    reg = _mm_crc32_u8(reg, *p++);
    --n;
  }
  reg = three_streams<kLongBlock>(reg, p, n, kShiftLong);
  reg = three_streams<kShortBlock>(reg, p, n, kShiftShort);
  uint64_t c = reg;
  for (; n >= 8; n -= 8, p += 8) c = _mm_crc32_u64(c, load64(p));
  reg = static_cast<uint32_t>(c);
  for (; n != 0; --n) reg = _mm_crc32_u8(reg, *p++);
  return reg;
}

#else

uint32_t crc32c_hardware_raw(uint32_t reg, const uint8_t* p, size_t n) { return crc32c_software_raw(reg, p, n); }

#endif

}  // namespace floe::record::detail
