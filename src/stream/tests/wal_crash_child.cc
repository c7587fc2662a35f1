// Crash-test child: appends deterministic entries to a file WAL as fast as it can and prints "ack <seq>" for each
// entry the WAL reports durable. The parent kills it with SIGKILL at a random moment and checks that every printed
// seq survived. usage: floe_wal_crash_child DIR SEGMENT_BYTES
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "stream/file_wal.h"
#include "wal_test_util.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  floe::stream::FileWalOptions opts;
  opts.dir = argv[1];
  opts.segment_bytes = std::strtoull(argv[2], nullptr, 10);
  opts.max_entry_bytes = 4096;
  opts.epoch = static_cast<uint64_t>(getpid());
  auto wal = floe::stream::FileWal::open(opts, [](const floe::stream::WalEntry&) {});
  if (!wal) {
    std::fprintf(stderr, "%s\n", wal.error().message.c_str());
    return 1;
  }
  std::atomic<uint64_t> inflight{0};
  for (;;) {
    // Keep a bounded number of appends outstanding so that group commit batches several of them.
    while (inflight.load() >= 64) usleep(100);
    uint64_t seq_guess = (*wal)->next_seq();
    auto payload = floe::stream::testing::payload_for(seq_guess);
    inflight.fetch_add(1);
    (*wal)->append(payload, [&inflight](std::error_code ec, uint64_t seq) {
      if (!ec) {
        char line[40];
        int n = std::snprintf(line, sizeof line, "ack %llu\n", static_cast<unsigned long long>(seq));
        ssize_t w = ::write(STDOUT_FILENO, line, static_cast<size_t>(n));
        (void)w;
      }
      inflight.fetch_sub(1);
    });
  }
}
