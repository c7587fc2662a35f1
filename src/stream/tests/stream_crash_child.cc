// Crash-test child for StreamStore: appends batches to three streams with several appends in flight, uploading
// often, and prints "ack <stream> <offset> <tag> <count>" for every append that completed. The parent kills it with
// SIGKILL at a random moment, reopens the store and checks every acknowledged batch.
// usage: floe_stream_crash_child ROOT ROUND [file|object EPOCH [compact]]
// compact: compaction runs in the background too (every 5 ms, grace 0), so kills land mid-compaction.
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "meta/embedded_store.h"
#include "objstore/file_store.h"
#include "stream/stream_store.h"
#include "stream_crash_util.h"

using namespace floe;

int main(int argc, char** argv) {
  if (argc != 3 && argc != 5 && argc != 6) return 2;
  std::string root = argv[1];
  const int64_t round = std::atoll(argv[2]);
  const auto kind = argc >= 5 && std::string(argv[3]) == "object" ? stream::StreamStoreConfig::WalKind::object
                                                                  : stream::StreamStoreConfig::WalKind::file;
  const uint64_t epoch = argc >= 5 ? std::strtoull(argv[4], nullptr, 10) : 0;
  asio::io_context io(1);
  auto objects = objstore::FileStore::open(root + "/bucket");
  auto meta_store = meta::EmbeddedStore::open(io.get_executor(), meta::EmbeddedConfig{.dir = root + "/meta"});
  if (!objects.ok() || !meta_store) return 3;
  std::unique_ptr<stream::StreamStore> store;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        stream::StreamStoreConfig config = stream::testing::crash_config(root, kind, epoch);
        if (argc == 6 && std::string(argv[5]) == "compact") stream::testing::crash_compaction(config);
        auto s = co_await stream::StreamStore::open(io.get_executor(), config, *objects.value, **meta_store);
        if (!s) {
          std::fprintf(stderr, "open: %s\n", s.error().message.c_str());
          std::exit(4);
        }
        store = std::move(*s);
        for (int worker = 0; worker < 8; ++worker) {
          asio::co_spawn(
              io,
              [&, worker]() -> asio::awaitable<void> {
                for (int64_t n = 0;; ++n) {
                  uint64_t stream_id = 1 + static_cast<uint64_t>((n + worker) % 3);
                  int64_t tag = (round << 32) | (static_cast<int64_t>(worker) << 24) | n;
                  int count = 1 + static_cast<int>(n % 5);
                  auto r = co_await store->append(stream_id, stream::testing::crash_batch(stream_id, tag, count), 0);
                  if (!r) continue;  // back-pressure while uploads catch up
                  char line[96];
                  int len = std::snprintf(line, sizeof line, "ack %llu %lld %lld %d\n",
                                          static_cast<unsigned long long>(stream_id), static_cast<long long>(*r),
                                          static_cast<long long>(tag), count);
                  ssize_t w = ::write(STDOUT_FILENO, line, static_cast<size_t>(len));
                  (void)w;
                }
              },
              asio::detached);
        }
      },
      asio::detached);
  io.run();
}
