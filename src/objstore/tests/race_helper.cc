// One racer of the file:// put-if-absent race test: waits until a wall-clock instant, then put_if_absent(KEY, its
// pid) on the FileStore at ROOT. Exit status: 0 created, 1 already existed, 2 error.
// Usage: floe_objstore_race_helper ROOT KEY START_UNIX_NS
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include "objstore/file_store.h"

int main(int argc, char** argv) {
  using namespace std::chrono;
  if (argc != 4) return 2;
  auto store = floe::objstore::FileStore::open(argv[1], {.io_threads = 1, .max_queued = 4});
  if (!store) return 2;
  const auto start = system_clock::time_point(nanoseconds(std::stoll(argv[3])));
  if (start - system_clock::now() > seconds(5)) return 2;
  std::this_thread::sleep_until(start);
  asio::io_context io(1);
  auto future = asio::co_spawn(
      io, store.value->put_if_absent(argv[2], std::to_string(::getpid()), steady_clock::now() + seconds(10)),
      asio::use_future);
  io.run();
  auto r = future.get();
  if (!r) {
    std::fprintf(stderr, "race helper: %s\n", r.error.message().c_str());
    return 2;
  }
  return r.value.created ? 0 : 1;
}
