// Child process of the kill -9 test (embedded_test.cc): opens the embedded store in argv[1] and runs 8 writers that
// commit txns as fast as they can. After each acknowledged txn it writes "<writer> <seq>\n" to stdout (one write(2),
// so a line is either whole or absent). Exits by itself after 60 s; the test kills it long before.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "meta/embedded_store.h"

namespace {

asio::awaitable<void> writer(floe::meta::MetaStore& store, int id, std::chrono::steady_clock::time_point end) {
  const std::string filler(300, static_cast<char>('a' + id));
  for (int seq = 0; std::chrono::steady_clock::now() < end && seq < 1'000'000; ++seq) {
    floe::meta::TxnRequest t;
    const std::string last = "crash/last/" + std::to_string(id);
    t.success.emplace_back(floe::meta::PutRequest{"crash/w" + std::to_string(id) + "/" + std::to_string(seq), filler});
    t.success.emplace_back(floe::meta::PutRequest{last, std::to_string(seq)});
    auto r = co_await store.txn(std::move(t));
    if (!r) {
      std::fprintf(stderr, "crash child: txn failed: %s\n", r.error().message().c_str());
      co_return;
    }
    const std::string line = std::to_string(id) + " " + std::to_string(seq) + "\n";
    if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) co_return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  asio::io_context io;
  floe::meta::EmbeddedConfig config;
  config.dir = argv[1];
  config.snapshot_bytes = 128 * 1024;  // snapshots and journal rotation happen during the run too
  auto store = floe::meta::EmbeddedStore::open(io.get_executor(), config);
  if (!store) {
    std::fprintf(stderr, "crash child: open failed: %s\n", store.error().message().c_str());
    return 1;
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int id = 0; id < 8; ++id) asio::co_spawn(io, writer(**store, id, end), asio::detached);
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  (*store)->shutdown();
  return 0;
}
