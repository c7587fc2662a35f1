// FaultStore: a decorator that injects faults into any ObjectStore, for the tests of every layer above and for
// benchmarks under cloud-like latency.
//   - error rate per operation: the call fails with Errc::unavailable (like a 503) before reaching the store;
//   - ambiguous error rate per operation: the call reaches the store, then fails with Errc::unavailable anyway
//     (the write may have happened: what a timeout after sending looks like);
//   - added latency per operation from a distribution: fixed, or log-normal given a median and a p99
//     (cloud_profile(): 4 MiB PUT median 60 ms / p99 400 ms, ...); a delay that would pass the call's deadline ends
//     at the deadline with Errc::timed_out;
//   - an outage switch: every call fails with Errc::unavailable at once.
// Settings can change while calls run (thread-safe). Delays run on the caller's executor (a timer, no blocking).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>

#include "objstore/object_store.h"

namespace floe::objstore {

struct Latency {
  enum class Kind { none, fixed, lognormal };
  Kind kind = Kind::none;
  std::chrono::microseconds fixed{0};
  std::chrono::microseconds median{0};
  std::chrono::microseconds p99{0};

  static Latency constant(std::chrono::microseconds d) { return {Kind::fixed, d, {}, {}}; }
  static Latency lognormal(std::chrono::microseconds median, std::chrono::microseconds p99) {
    return {Kind::lognormal, {}, median, p99};
  }
};

struct FaultConfig {
  std::array<double, kOpCount> error_rate{};
  std::array<double, kOpCount> ambiguous_error_rate{};
  std::array<Latency, kOpCount> latency{};
  uint64_t seed = 0;  // 0: random

  FaultConfig& errors(Op op, double rate) { error_rate[static_cast<std::size_t>(op)] = rate; return *this; }
  FaultConfig& ambiguous(Op op, double rate) { ambiguous_error_rate[static_cast<std::size_t>(op)] = rate; return *this; }
  FaultConfig& delay(Op op, Latency l) { latency[static_cast<std::size_t>(op)] = l; return *this; }
  // Object-store latency as seen from a cloud VM: PUT (4 MiB) median 60 ms / p99 400 ms, GET median 30 / p99 200,
  // HEAD, LIST and DELETE median 20 / p99 100.
  static FaultConfig cloud_profile();
};

class FaultStore final : public ObjectStore {
 public:
  FaultStore(std::shared_ptr<ObjectStore> inner, FaultConfig config);

  void set_config(const FaultConfig& config);
  void set_outage(bool down) { outage_.store(down); }
  bool outage() const { return outage_.load(); }
  uint64_t injected_errors() const { return injected_.load(); }
  ObjectStore& inner() { return *inner_; }

  std::string describe() const override { return "faulty(" + inner_->describe() + ")"; }
  asio::awaitable<Result<PutInfo>> put(std::string key, std::string data, Clock::time_point deadline) override;
  asio::awaitable<Result<PutInfo>> put_if_absent(std::string key, std::string data,
                                                 Clock::time_point deadline) override;
  asio::awaitable<Result<std::string>> get(std::string key, std::optional<ByteRange> range,
                                           Clock::time_point deadline) override;
  asio::awaitable<Result<std::string>> get_into(std::string buffer, std::string key, std::optional<ByteRange> range,
                                                Clock::time_point deadline) override;
  asio::awaitable<Result<ObjectInfo>> head(std::string key, Clock::time_point deadline) override;
  asio::awaitable<Result<ListPage>> list(std::string prefix, std::string continuation, std::size_t max_keys,
                                         Clock::time_point deadline) override;
  asio::awaitable<Result<ListPage>> list_delimited(std::string prefix, std::string delimiter, std::string continuation,
                                                   std::size_t max_keys, Clock::time_point deadline) override;
  asio::awaitable<std::error_code> remove(std::string key, Clock::time_point deadline) override;
  asio::awaitable<Result<std::vector<DeleteFailure>>> remove_many(std::vector<std::string> keys,
                                                                  Clock::time_point deadline) override;
  StatsSnapshot stats() const override { return inner_->stats(); }

 private:
  struct Plan {
    std::error_code before;  // fail without calling the store
    bool after = false;      // call the store, then fail
    std::chrono::microseconds delay{0};
  };
  Plan plan(Op op);
  // Sleeps plan.delay bounded by the deadline; the error to return instead of calling the store, if any.
  asio::awaitable<std::error_code> prelude(const Plan& plan, Clock::time_point deadline);

  std::shared_ptr<ObjectStore> inner_;
  std::mutex mu_;
  FaultConfig config_;
  std::mt19937_64 rng_;
  std::atomic<bool> outage_{false};
  std::atomic<uint64_t> injected_{0};
};

}  // namespace floe::objstore
