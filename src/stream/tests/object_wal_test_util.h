// Shared by the object WAL tests (object_wal_test.cc, object_wal_cut_test.cc): an io thread, running a coroutine
// to completion from a test thread, and an object store that forwards to another one.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

#include "objstore/object_store.h"

namespace floe::stream {
namespace {

using namespace std::chrono_literals;
using objstore::Clock;

// An io_context run by one thread of its own, until destroyed.
struct IoThread {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~IoThread() {
    work.reset();
    io.stop();
    thread.join();
  }
};

// (asio's co_spawn needs a default-constructible result; meta::Result is not, so results travel in an optional.)
template <typename T>
asio::awaitable<std::optional<T>> boxed(asio::awaitable<T> op) {
  co_return std::optional<T>(co_await std::move(op));
}

template <typename T>
T run_on(asio::io_context& io, asio::awaitable<T> op) {
  if constexpr (std::is_void_v<T>) {
    auto fut = asio::co_spawn(io, std::move(op), asio::use_future);
    if (fut.wait_for(60s) != std::future_status::ready) {
      ADD_FAILURE() << "operation did not finish in 60 s";
      std::abort();  // a hang: nothing sensible to continue with
    }
    fut.get();
  } else {
    auto fut = asio::co_spawn(io, boxed(std::move(op)), asio::use_future);
    if (fut.wait_for(60s) != std::future_status::ready) {
      ADD_FAILURE() << "operation did not finish in 60 s";
      std::abort();
    }
    return std::move(*fut.get());
  }
}

// Forwards everything to an inner store; tests override what they need.
class ForwardingStore : public objstore::ObjectStore {
 public:
  explicit ForwardingStore(objstore::ObjectStore& inner) : inner_(inner) {}
  std::string describe() const override { return "fwd(" + inner_.describe() + ")"; }
  asio::awaitable<objstore::Result<objstore::PutInfo>> put(std::string k, std::string d, Clock::time_point t) override {
    co_return co_await inner_.put(std::move(k), std::move(d), t);
  }
  asio::awaitable<objstore::Result<objstore::PutInfo>> put_if_absent(std::string k, std::string d,
                                                                     Clock::time_point t) override {
    co_return co_await inner_.put_if_absent(std::move(k), std::move(d), t);
  }
  asio::awaitable<objstore::Result<std::string>> get(std::string k, std::optional<objstore::ByteRange> r,
                                                     Clock::time_point t) override {
    co_return co_await inner_.get(std::move(k), r, t);
  }
  asio::awaitable<objstore::Result<objstore::ObjectInfo>> head(std::string k, Clock::time_point t) override {
    co_return co_await inner_.head(std::move(k), t);
  }
  asio::awaitable<objstore::Result<objstore::ListPage>> list(std::string p, std::string c, std::size_t n,
                                                             Clock::time_point t) override {
    co_return co_await inner_.list(std::move(p), std::move(c), n, t);
  }
  asio::awaitable<std::error_code> remove(std::string k, Clock::time_point t) override {
    co_return co_await inner_.remove(std::move(k), t);
  }
  asio::awaitable<objstore::Result<std::vector<objstore::DeleteFailure>>> remove_many(std::vector<std::string> k,
                                                                                      Clock::time_point t) override {
    co_return co_await inner_.remove_many(std::move(k), t);
  }
  objstore::StatsSnapshot stats() const override { return inner_.stats(); }

 protected:
  objstore::ObjectStore& inner_;
};

}  // namespace
}  // namespace floe::stream
