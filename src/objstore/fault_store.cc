#include "objstore/fault_store.h"

#include <cmath>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace floe::objstore {

FaultConfig FaultConfig::cloud_profile() {
  using std::chrono::milliseconds;
  FaultConfig c;
  c.delay(Op::put, Latency::lognormal(milliseconds(60), milliseconds(400)));
  c.delay(Op::multipart, Latency::lognormal(milliseconds(60), milliseconds(400)));
  c.delay(Op::get, Latency::lognormal(milliseconds(30), milliseconds(200)));
  for (Op op : {Op::head, Op::list, Op::remove}) c.delay(op, Latency::lognormal(milliseconds(20), milliseconds(100)));
  return c;
}

FaultStore::FaultStore(std::shared_ptr<ObjectStore> inner, FaultConfig config)
    : inner_(std::move(inner)), config_(config), rng_(config.seed != 0 ? config.seed : std::random_device{}()) {}

void FaultStore::set_config(const FaultConfig& config) {
  std::lock_guard lock(mu_);
  config_ = config;
  if (config.seed != 0) rng_.seed(config.seed);
}

FaultStore::Plan FaultStore::plan(Op op) {
  Plan p;
  if (outage_.load()) {
    injected_.fetch_add(1);
    p.before = Errc::unavailable;
    return p;
  }
  std::lock_guard lock(mu_);
  const auto i = static_cast<std::size_t>(op);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const Latency& l = config_.latency[i];
  if (l.kind == Latency::Kind::fixed) {
    p.delay = l.fixed;
  } else if (l.kind == Latency::Kind::lognormal && l.median.count() > 0) {
    // ln(latency) ~ N(mu, sigma): the median is e^mu, the p99 is e^(mu + 2.326 sigma).
    const double mu = std::log(static_cast<double>(l.median.count()));
    const double ratio = std::max(1.0, static_cast<double>(l.p99.count()) / static_cast<double>(l.median.count()));
    const double sigma = std::log(ratio) / 2.3263;
    std::lognormal_distribution<double> dist(mu, sigma);
    p.delay = std::chrono::microseconds(static_cast<int64_t>(dist(rng_)));
  }
  if (uniform(rng_) < config_.error_rate[i]) {
    p.before = Errc::unavailable;
    injected_.fetch_add(1);
  } else if (uniform(rng_) < config_.ambiguous_error_rate[i]) {
    p.after = true;
    injected_.fetch_add(1);
  }
  return p;
}

asio::awaitable<std::error_code> FaultStore::prelude(const Plan& p, Clock::time_point deadline) {
  if (p.delay.count() > 0) {
    const bool too_late = Clock::now() + p.delay >= deadline;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    if (too_late) {
      timer.expires_at(deadline);
    } else {
      timer.expires_after(p.delay);
    }
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return make_error_code(Errc::cancelled);
    if (too_late) co_return make_error_code(Errc::timed_out);
  }
  co_return p.before;
}

asio::awaitable<Result<PutInfo>> FaultStore::put(std::string key, std::string data, Clock::time_point deadline) {
  const Plan p = plan(Op::put);
  if (auto ec = co_await prelude(p, deadline)) co_return ec;
  auto r = co_await inner_->put(std::move(key), std::move(data), deadline);
  if (p.after && r.ok()) co_return Errc::unavailable;
  co_return r;
}

asio::awaitable<Result<PutInfo>> FaultStore::put_if_absent(std::string key, std::string data,
                                                           Clock::time_point deadline) {
  const Plan p = plan(Op::put);
  if (auto ec = co_await prelude(p, deadline)) co_return ec;
  auto r = co_await inner_->put_if_absent(std::move(key), std::move(data), deadline);
  if (p.after && r.ok()) co_return Errc::unavailable;
  co_return r;
}

asio::awaitable<Result<std::string>> FaultStore::get(std::string key, std::optional<ByteRange> range,
                                                     Clock::time_point deadline) {
  const Plan p = plan(Op::get);
  if (auto ec = co_await prelude(p, deadline)) co_return ec;
  auto r = co_await inner_->get(std::move(key), range, deadline);
  if (p.after && r.ok()) co_return Errc::unavailable;
  co_return r;
}

asio::awaitable<Result<std::string>> FaultStore::get_into(std::string buffer, std::string key,
                                                          std::optional<ByteRange> range, Clock::time_point deadline) {
  const Plan p = plan(Op::get);
  if (auto ec = co_await prelude(p, deadline)) co_return ec;
  auto r = co_await inner_->get_into(std::move(buffer), std::move(key), range, deadline);
  if (p.after && r.ok()) co_return Errc::unavailable;
  co_return r;
}

asio::awaitable<Result<ObjectInfo>> FaultStore::head(std::string key, Clock::time_point deadline) {
  const Plan p = plan(Op::head);
  if (auto ec = co_await prelude(p, deadline)) co_return ec;
  auto r = co_await inner_->head(std::move(key), deadline);
  if (p.after && r.ok()) co_return Errc::unavailable;
  co_return r;
}

asio::awaitable<Result<ListPage>> FaultStore::list(std::string prefix, std::string continuation, std::size_t max_keys,
                                                   Clock::time_point deadline) {
  const Plan p = plan(Op::list);
  if (auto ec = co_await prelude(p, deadline)) co_return ec;
  auto r = co_await inner_->list(std::move(prefix), std::move(continuation), max_keys, deadline);
  if (p.after && r.ok()) co_return Errc::unavailable;
  co_return r;
}

asio::awaitable<Result<ListPage>> FaultStore::list_delimited(std::string prefix, std::string delimiter,
                                                             std::string continuation, std::size_t max_keys,
                                                             Clock::time_point deadline) {
  const Plan p = plan(Op::list);
  if (auto ec = co_await prelude(p, deadline)) co_return ec;
  auto r = co_await inner_->list_delimited(std::move(prefix), std::move(delimiter), std::move(continuation), max_keys,
                                           deadline);
  if (p.after && r.ok()) co_return Errc::unavailable;
  co_return r;
}

asio::awaitable<std::error_code> FaultStore::remove(std::string key, Clock::time_point deadline) {
  const Plan p = plan(Op::remove);
  if (auto ec = co_await prelude(p, deadline)) co_return ec;
  auto ec = co_await inner_->remove(std::move(key), deadline);
  if (p.after && !ec) co_return make_error_code(Errc::unavailable);
  co_return ec;
}

asio::awaitable<Result<std::vector<DeleteFailure>>> FaultStore::remove_many(std::vector<std::string> keys,
                                                                            Clock::time_point deadline) {
  const Plan p = plan(Op::remove);
  if (auto ec = co_await prelude(p, deadline)) co_return ec;
  auto r = co_await inner_->remove_many(std::move(keys), deadline);
  if (p.after && r.ok()) co_return Errc::unavailable;
  co_return r;
}

}  // namespace floe::objstore
