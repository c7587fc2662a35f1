// Record batch v2 throughput: CRC-32C against memcpy, and encode / decode (with CRC check) per codec, on ~1 MiB
// batches of 1000 records with 1 KiB values. Prints medians over several repetitions. Usage:
//   floe_bench_record_batch [repetitions]      (default 15)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/record/batch_builder.h"
#include "protocol/record/batch_view.h"
#include "protocol/record/crc32c.h"
#include "protocol/record/record_set.h"

namespace {

using namespace floe::record;
using Clock = std::chrono::steady_clock;

constexpr size_t kRecords = 1000;
constexpr size_t kValueSize = 1024;
constexpr size_t kMiB = 1 << 20;

// Keeps the compiler from dropping work whose result is otherwise unused.
template <typename T>
void keep(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

// Median over `reps` runs of the seconds one call of `fn` takes; each run repeats `fn` `inner` times.
template <typename Fn>
double median_seconds(int reps, int inner, Fn&& fn) {
  std::vector<double> runs;
  fn();  // warm-up: page faults, lazily created codec contexts
  for (int r = 0; r < reps; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < inner; ++i) fn();
    runs.push_back(std::chrono::duration<double>(Clock::now() - start).count() / inner);
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

// Values that look like JSON log lines: a few words, numbers and ids, so codecs see realistic redundancy.
std::vector<Bytes> make_values(uint64_t seed) {
  static constexpr std::string_view kWords[] = {"\"user\":", "\"event\":", "\"click\"", "\"view\"", "\"ts\":",
                                                "\"session\":", "\"page\":", "\"/home\"", "\"/cart\"", ", ", "{", "}"};
  std::mt19937_64 rng(seed);
  std::vector<Bytes> values(kRecords);
  for (Bytes& v : values) {
    while (v.size() < kValueSize) {
      if (rng() % 3 == 0) {
        const std::string n = std::to_string(rng() % 100'000'000);
        v.insert(v.end(), n.begin(), n.end());
      } else {
        const std::string_view w = kWords[rng() % std::size(kWords)];
        v.insert(v.end(), w.begin(), w.end());
      }
    }
    v.resize(kValueSize);
  }
  return values;
}

// Encodes one batch into `out`, reusing the builder's and out's buffers as a producer loop would.
void build_batch(const std::vector<Bytes>& values, BatchBuilder& b, Bytes& out) {
  static const std::string_view kHeaderValue = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const Header headers[] = {{"traceparent", ByteSpan(reinterpret_cast<const uint8_t*>(kHeaderValue.data()),
                                                     kHeaderValue.size())}};
  b.clear();
  char key[32];
  for (size_t i = 0; i < values.size(); ++i) {
    const int n = std::snprintf(key, sizeof key, "user-%zu", i % 97);
    const ByteSpan key_bytes(reinterpret_cast<const uint8_t*>(key), static_cast<size_t>(n));
    if (b.add({.key = key_bytes, .value = ByteSpan(values[i]), .timestamp = 1'700'000'000'000 + int64_t(i),
               .headers = headers}) != RecordError::ok)
      std::abort();
  }
  out.clear();
  if (b.build(out) != RecordError::ok) std::abort();
}

Bytes encode_once(const std::vector<Bytes>& values, Compression codec) {
  BatchBuilder b({.compression = codec, .producer_id = 1000, .producer_epoch = 0, .base_sequence = 0});
  Bytes out;
  build_batch(values, b, out);
  return out;
}

// What a broker does with a produced batch: parse, CRC, decompress, walk every record and header. `scratch` is
// the decompression buffer, reused from batch to batch.
size_t decode_batch(ByteSpan bytes, Bytes& scratch) {
  Result<BatchView> batch = BatchView::parse(bytes);
  if (!batch || batch->verify_crc() != RecordError::ok) std::abort();
  Result<RecordSet> set = RecordSet::open(*batch, kDefaultMaxDecompressedBytes, std::move(scratch));
  if (!set) std::abort();
  size_t total = 0;
  RecordReader reader = set->reader();
  for (RecordView r; reader.next(r);) {
    total += r.value ? r.value->size() : 0;
    for (const Header& h : r.headers()) total += h.key.size();
  }
  if (reader.error() != RecordError::ok) std::abort();
  scratch = std::move(*set).take_buffer();
  return total;
}

double gbps(double bytes, double seconds) { return bytes / seconds / 1e9; }

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(3, std::atoi(argv[1])) : 15;
  const std::vector<Bytes> values = make_values(42);
  const Bytes plain = encode_once(values, Compression::none);
  const double batch_bytes = static_cast<double>(plain.size());

  std::printf("floe record batch v2 benchmark: %zu records x %zu B values (+key, 1 header) = %.2f MiB per batch, "
              "median of %d runs\n\n", kRecords, kValueSize, batch_bytes / kMiB, reps);

  // memcpy and CRC-32C over the same 1 MiB, measured in the same process.
  const Bytes src(plain.begin(), plain.begin() + std::min(plain.size(), kMiB));
  Bytes dst(src.size());
  const double buf = static_cast<double>(src.size());
  const double t_memcpy = median_seconds(reps, 200, [&] {
    std::memcpy(dst.data(), src.data(), src.size());
    keep(dst.data());
  });
  const double t_crc = median_seconds(reps, 200, [&] { keep(crc32c(src.data(), src.size())); });
  const double t_crc_sw = median_seconds(reps, 50, [&] { keep(crc32c_software(src.data(), src.size())); });
  const char* hw = crc32c_hardware_available() ? "crc32c 1 MiB (sse4.2, 3 streams)" : "crc32c 1 MiB (no sse4.2: table)";
  std::printf("%-34s %7.2f GB/s\n", "memcpy 1 MiB", gbps(buf, t_memcpy));
  std::printf("%-34s %7.2f GB/s   crc/memcpy = %.2f\n", hw, gbps(buf, t_crc), t_memcpy / t_crc);
  std::printf("%-34s %7.2f GB/s\n\n", "crc32c 1 MiB (slicing-by-8)", gbps(buf, t_crc_sw));

  std::printf("%-7s %11s %7s | %12s %14s | %17s %14s | %13s\n", "codec", "batch bytes", "ratio", "encode GB/s",
              "encode rec/s", "decode+crc GB/s", "decode rec/s", "validate GB/s");
  const Compression codecs[] = {Compression::none, Compression::gzip, Compression::snappy, Compression::lz4,
                                Compression::zstd};
  for (Compression codec : codecs) {
    const Bytes encoded = encode_once(values, codec);
    const int inner = codec == Compression::gzip ? 2 : 10;
    BatchBuilder builder({.compression = codec, .producer_id = 1000, .producer_epoch = 0, .base_sequence = 0});
    Bytes out, scratch;
    const double t_encode = median_seconds(reps, inner, [&] {
      build_batch(values, builder, out);
      keep(out.data());
    });
    const double t_decode = median_seconds(reps, inner * 2, [&] { keep(decode_batch(encoded, scratch)); });
    Bytes validate_scratch;
    const double t_validate = median_seconds(reps, inner * 2, [&] {
      Result<BatchView> batch = BatchView::parse(encoded);
      if (!batch || validate_batch(*batch, {.scratch = &validate_scratch}) != RecordError::ok) std::abort();
    });
    // Throughput is counted in uncompressed batch bytes, so codecs compare on the same work.
    std::printf("%-7s %11zu %6.2fx | %12.3f %14.0f | %17.3f %14.0f | %13.3f\n", compression_name(codec),
                encoded.size(), batch_bytes / static_cast<double>(encoded.size()), gbps(batch_bytes, t_encode),
                kRecords / t_encode, gbps(batch_bytes, t_decode), kRecords / t_decode, gbps(batch_bytes, t_validate));
  }
  std::printf("\nencode = BatchBuilder from record views, compression, CRC; decode = parse, CRC check, decompress, "
              "walk every record and header; validate = validate_batch as the broker runs it on produce (CRC, decompress, "
              "check every record; lz4 through a 256 KiB window).\nGB/s count uncompressed batch bytes; buffers are reused between "
              "batches, as a producer or broker loop would.\n");
  return 0;
}
