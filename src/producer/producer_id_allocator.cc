#include "producer/producer_id_allocator.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <limits>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"

namespace floe::producer {

namespace {
// A short, growing, jittered pause between compare-and-set rounds (up to ~16 ms), so racing allocators spread out.
asio::awaitable<void> backoff(int attempt) {
  static std::atomic<uint64_t> counter{0};
  const uint64_t jitter = (counter.fetch_add(0x9E3779B97F4A7C15ull) >> 40) % 1000;
  const auto micros = std::chrono::microseconds((250ll << std::min(attempt, 6)) / 4 + static_cast<int64_t>(jitter));
  asio::steady_timer timer(co_await asio::this_coro::executor, micros);
  std::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}
}  // namespace

ProducerIdAllocator::ProducerIdAllocator(meta::MetaStore& store, AllocatorConfig config)
    : store_(store), config_(std::move(config)) {
  if (config_.block_size < 1) config_.block_size = 1;
  if (config_.max_attempts < 1) config_.max_attempts = 1;
}

std::optional<int64_t> ProducerIdAllocator::take_local() {
  std::lock_guard lock(mu_);
  while (!blocks_.empty()) {
    Block& b = blocks_.front();
    if (b.next < b.end) return b.next++;
    blocks_.pop_front();
  }
  return std::nullopt;
}

uint64_t ProducerIdAllocator::blocks_taken() const {
  std::lock_guard lock(mu_);
  return blocks_taken_;
}

asio::awaitable<Result<ProducerIdAllocator::Block>> ProducerIdAllocator::take_block() {
  const std::string& key = config_.counter_key;
  for (int attempt = 0; attempt < config_.max_attempts; ++attempt) {
    auto current = co_await store_.get(key);
    if (!current) {
      // EmbeddedStore answers a latest read with `compacted` while the store's very first write is applied but not
      // yet synced (visible revision 0 below the applied one); a fresh read a moment later succeeds.
      if (current.error() == meta::Errc::compacted) {
        co_await backoff(attempt);
        continue;
      }
      co_return Error{current.error(), "producer ids: reading " + key + ": " + current.error().message()};
    }
    int64_t start = 0;
    int64_t mod_revision = 0;
    if (*current) {
      const std::string& v = (*current)->value;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), start);
      if (ec != std::errc{} || end != v.data() + v.size() || start < 0) {
        co_return Error{make_error_code(Errc::id_counter_corrupt), "producer ids: " + key + " holds '" + v + "'"};
      }
      mod_revision = (*current)->mod_revision;
    }
    if (start > std::numeric_limits<int64_t>::max() - config_.block_size) {
      co_return Error{make_error_code(Errc::id_space_exhausted), "producer ids: counter at " + std::to_string(start)};
    }
    const int64_t end = start + config_.block_size;
    meta::TxnRequest txn;
    // A missing key has mod_revision 0, so the same compare also guards the first creation.
    txn.compares.push_back(meta::Compare::mod_revision(key, meta::Compare::Result::equal, mod_revision));
    txn.success.emplace_back(meta::PutRequest{key, std::to_string(end)});
    auto response = co_await store_.txn(std::move(txn));
    if (!response) {
      const auto ec = response.error();
      if (ec == meta::Errc::ambiguous || ec == meta::Errc::timeout) {
        log::warn("producer", "id block txn on ", key, " outcome unknown (", ec.message(), "); reading again");
        continue;
      }
      co_return Error{ec, "producer ids: txn on " + key + ": " + ec.message()};
    }
    if (response->succeeded) co_return Block{start, end};
    co_await backoff(attempt);  // another broker took a block meanwhile
  }
  co_return Error{make_error_code(Errc::id_conflict_retries),
                  "producer ids: lost " + std::to_string(config_.max_attempts) + " races on " + key};
}

asio::awaitable<Result<ProducerIdAndEpoch>> ProducerIdAllocator::next() {
  // Each round either hands out a local id or adds one block; a block taken here can be used up by concurrent
  // callers before this one gets an id, so this is bounded too.
  for (int round = 0; round < config_.max_attempts; ++round) {
    if (auto id = take_local()) co_return ProducerIdAndEpoch{*id, 0};
    auto block = co_await take_block();
    if (!block) co_return block.error();
    std::lock_guard lock(mu_);
    ++blocks_taken_;
    blocks_.push_back(*block);
  }
  co_return Error{make_error_code(Errc::id_conflict_retries), "producer ids: every new block was used up by others"};
}

asio::awaitable<InitProducerIdAnswer> ProducerIdAllocator::init_idempotent(int64_t request_producer_id,
                                                                           int16_t request_epoch) {
  const bool no_id = request_producer_id == -1;
  const bool no_epoch = request_epoch == -1;
  if (no_id != no_epoch) co_return InitProducerIdAnswer{kafka_error::kInvalidRequest, {}};
  auto id = co_await next();
  if (!id) {
    log::warn("producer", "InitProducerId: ", id.error().message);
    const auto& ec = id.error().code;
    const int16_t code = ec.category() == producer_category() ? kafka_error_code(static_cast<Errc>(ec.value()))
                                                              : kafka_error::kCoordinatorLoadInProgress;
    co_return InitProducerIdAnswer{code, {}};
  }
  co_return InitProducerIdAnswer{kafka_error::kNone, *id};
}

}  // namespace floe::producer
