// Catch-up reads from objects for floe_bench_stream (stream_read_bench.cc).
#pragma once

#include <cstddef>
#include <string>

namespace floe::bench {

// Writes `total_mib` of one stream into 4 MiB objects under `dir` (a forked child), then prints catch-up read MiB/s
// with and without the block cache next to the raw GET throughput of the same objects, on file:// and under the
// cloud profile (unless `file_only`), and the reader's resident memory against the configured cache bounds.
void catch_up_read_cases(const std::string& dir, size_t total_mib, bool file_only = false);

}  // namespace floe::bench
