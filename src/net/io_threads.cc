#include "net/io_threads.h"

#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>

#include "base/log.h"
#include "net/stall_watchdog.h"

namespace floe::net {
namespace {

void run_one(asio::io_context& io) {
  while (true) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      log::error("net", "exception escaped an io handler: ", e.what());
    } catch (...) {
      log::error("net", "unknown exception escaped an io handler");
    }
  }
}

}  // namespace

void run_io_threads(asio::io_context& io, unsigned threads, StallWatchdog* watchdog) {
  std::vector<std::thread> extra;
  for (unsigned i = 1; i < threads; ++i) {
    extra.emplace_back([&io, watchdog] {
      StallWatchdog::IoThreadScope registered(watchdog);
      run_one(io);
    });
  }
  {
    StallWatchdog::IoThreadScope registered(watchdog);
    run_one(io);
  }
  for (auto& thread : extra) thread.join();
}

}  // namespace floe::net
