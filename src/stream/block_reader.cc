#include "stream/block_reader.h"

#include <algorithm>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "objstore/object_store.h"
#include "stream/errc.h"

namespace floe::stream {
namespace {

constexpr std::string_view kLog = "stream";
constexpr size_t kMaxCursorStreams = 100000;  // cursors are hints: past this many streams they start over

// Suspends the calling coroutine until `enlist` calls the resume function it is given (at once or later, from any
// thread); the coroutine resumes on its own executor.
asio::awaitable<void> suspend_until(std::function<void(std::function<void()>)> enlist) {
  auto initiate = [&enlist](auto handler) {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    std::function<void()> resume = [h] {
      auto ex = asio::get_associated_executor(*h);
      asio::post(ex, [h]() mutable { (*h)(); });
    };
    enlist(std::move(resume));
  };
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(initiate, asio::use_awaitable);
}

}  // namespace

BlockReader::BlockReader(asio::any_io_executor executor, objstore::ObjectStore& objects, BlockReaderConfig config)
    : executor_(std::move(executor)),
      objects_(objects),
      config_(config),
      window_max_(std::min(config.read_ahead_max_bytes, config.cache_bytes / 2)),
      buffers_(BlockBuffers::create(std::min(config.recycle_bytes, config.cache_bytes / 4))),
      cache_(config.cache_bytes) {}

BlockReader::~BlockReader() { checks_.join(); }

size_t BlockReader::plan(uint64_t stream, int64_t offset) {
  if (window_max_ == 0) return 0;
  std::lock_guard lock(mu_);
  if (cursors_.size() >= kMaxCursorStreams && !cursors_.count(stream)) cursors_.clear();
  auto& cursors = cursors_[stream];
  ++tick_;
  for (Cursor& c : cursors) {
    if (c.next == offset) {
      c.window = c.window == 0 ? std::min(kInitialWindow, window_max_) : std::min(c.window * 2, window_max_);
      c.used = tick_;
      return c.window;
    }
  }
  // Not sequential: a new reader, or one that jumped. It takes the least recently used cursor, with no window.
  Cursor* oldest = &cursors[0];
  for (Cursor& c : cursors) {
    if (c.used < oldest->used) oldest = &c;
  }
  *oldest = Cursor{offset, 0, tick_};
  return 0;
}

void BlockReader::served(uint64_t stream, int64_t offset, int64_t next) {
  if (window_max_ == 0 || next <= offset) return;
  std::lock_guard lock(mu_);
  auto it = cursors_.find(stream);
  if (it == cursors_.end()) return;
  for (Cursor& c : it->second) {
    if (c.next == offset) {
      c.next = next;
      return;
    }
  }
}

bool BlockReader::busy_locked(const BlockRef& ref) const {
  return inflight_.count(Key{ref.object, ref.block.position}) > 0 || cache_.contains(ref.object, ref.block);
}

std::shared_ptr<BlockReader::Fetch> BlockReader::register_fetch_locked(const std::string& object,
                                                                       const std::vector<BlockInfo>& blocks) {
  auto f = std::make_shared<Fetch>();
  for (const BlockInfo& b : blocks) inflight_.emplace(Key{object, b.position}, f);  // keeps an earlier one
  return f;
}

std::shared_ptr<const std::string> BlockReader::cached(const BlockRef& ref) {
  if (!cache_.contains(ref.object, ref.block)) return nullptr;
  return cache_.find(ref.object, ref.block);
}

asio::awaitable<Result<std::shared_ptr<const std::string>>> BlockReader::get(BlockRef current,
                                                                             std::vector<BlockRef> ahead) {
  if (auto hit = cache_.find(current.object, current.block)) {
    start_ahead(std::move(ahead));
    co_return hit;
  }
  // A GET of this block already in flight (read-ahead, another reader): wait for it once.
  std::shared_ptr<Fetch> pending;
  {
    std::lock_guard lock(mu_);
    auto it = inflight_.find(Key{current.object, current.block.position});
    if (it != inflight_.end()) {
      pending = it->second;
      ++joined_;
    }
  }
  if (pending) {
    std::function<void(std::function<void()>)> enlist = [this, pending](std::function<void()> resume) {
      std::unique_lock lock(mu_);
      if (!pending->done) {
        pending->waiters.push_back(std::move(resume));
        return;
      }
      lock.unlock();
      resume();
    };
    co_await suspend_until(std::move(enlist));
    auto it = pending->blocks.find(current.block.position);  // `done`: no longer written
    if (it != pending->blocks.end() && it->second->size() == current.block.size) {
      start_ahead(std::move(ahead));
      co_return it->second;
    }
    // It failed: GET the block here (below), so that the caller sees this read's own outcome.
  }

  // One GET for the block and the blocks of `ahead` right behind it in the same object.
  std::vector<BlockInfo> run{current.block};
  std::shared_ptr<Fetch> mine;
  size_t joined_run = 0;
  {
    std::lock_guard lock(mu_);
    size_t run_bytes = current.block.size;
    for (const BlockRef& next : ahead) {
      if (next.object != current.object || !share_get(run.back(), next.block)) break;
      if (run_bytes + next.block.size > kMaxReadGetBytes || busy_locked(next)) break;
      run.push_back(next.block);
      run_bytes += next.block.size;
      ++joined_run;
    }
    mine = register_fetch_locked(current.object, run);
    ++gets_;
  }
  ahead.erase(ahead.begin(), ahead.begin() + static_cast<std::ptrdiff_t>(joined_run));
  start_ahead(std::move(ahead));  // in parallel with this GET
  Status st = co_await fetch(current.object, std::move(run), mine, FetchKind::read);
  if (!st) co_return st.error();
  auto it = mine->blocks.find(current.block.position);
  if (it == mine->blocks.end()) {
    co_return Error{make_error_code(Errc::io_error), "stream: GET " + current.object + " returned no block"};
  }
  co_return it->second;
}

asio::awaitable<Status> BlockReader::fetch(std::string object, std::vector<BlockInfo> blocks,
                                           std::shared_ptr<Fetch> f, FetchKind kind) {
  const uint64_t begin = blocks.front().position;
  const uint64_t length = blocks.back().position + blocks.back().size - begin;
  const objstore::ByteRange range{begin, length};
  const auto deadline = objstore::Clock::now() + config_.get_timeout;
  std::string buffer = buffers_->take(static_cast<size_t>(length));
  auto got = co_await objects_.get_into(std::move(buffer), object, range, deadline);
  const bool answered = got.ok();
  Status st = ok_status();
  if (!got) {
    st = Error{got.error, "stream: GET " + object + ": " + got.error.message()};
  } else if (got.value.size() != length) {
    st = Error{make_error_code(Errc::io_error), "stream: GET " + object + " returned " +
                                                    std::to_string(got.value.size()) + " of " +
                                                    std::to_string(length) + " bytes"};
  } else if (length < kOffThreadBytes) {
    st = check_and_cache(object, blocks, begin, got.value, *f);
  } else {
    // Checking megabytes (CRC-32C, a copy per block of a run) runs on this reader's own thread, not on the executor
    // that completed the GET (the network threads: a multi-MiB CRC there stalls every connection).
    auto check = [this, &object, &blocks, begin, &got, &f]() -> asio::awaitable<Status> {
      co_return check_and_cache(object, blocks, begin, got.value, *f);
    };
    auto checking = asio::co_spawn(checks_, check, asio::use_awaitable);
    st = co_await std::move(checking);
  }
  {
    std::lock_guard lock(mu_);
    if (kind == FetchKind::ahead && st) {
      ++ahead_gets_;
      ahead_bytes_ += length;
    } else if (kind == FetchKind::ahead) {
      ++ahead_failures_;
    } else if (kind == FetchKind::prefetch && st) {
      ++prefetch_gets_;
      prefetch_bytes_ += length;
      prefetch_blocks_ += f->blocks.size();
    } else if (kind == FetchKind::read && answered) {
      get_bytes_ += length;
    }
  }
  finish_fetch(object, blocks, f);
  co_return st;
}

void BlockReader::finish_fetch(const std::string& object, const std::vector<BlockInfo>& blocks,
                               const std::shared_ptr<Fetch>& f) {
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(mu_);
    f->done = true;
    waiters.swap(f->waiters);
    for (const BlockInfo& b : blocks) {
      auto it = inflight_.find(Key{object, b.position});
      if (it != inflight_.end() && it->second == f) inflight_.erase(it);
    }
  }
  for (auto& resume : waiters) resume();
}

Status BlockReader::check_and_cache(const std::string& object, const std::vector<BlockInfo>& blocks, uint64_t begin,
                                   std::string& data, Fetch& f) {
  for (const BlockInfo& b : blocks) {
    const size_t at = static_cast<size_t>(b.position - begin);
    ByteSpan span(reinterpret_cast<const uint8_t*>(data.data()) + at, b.size);
    if (Status st = verify_block(b, span, object); !st) return st;
    // One block: the GET's buffer itself. Several: one copy each (into recycled memory where there is some), so that
    // evicting one frees its bytes.
    std::shared_ptr<const std::string> bytes;
    if (blocks.size() == 1) {
      bytes = buffers_->share(std::move(data));
    } else {
      std::string copy = buffers_->take(b.size);
      copy.assign(data, at, b.size);
      bytes = buffers_->share(std::move(copy));
    }
    cache_.insert(object, b, bytes);
    f.blocks.emplace(b.position, std::move(bytes));
  }
  if (blocks.size() > 1) buffers_->give_back(std::move(data));
  return ok_status();
}

void BlockReader::start_ahead(std::vector<BlockRef> ahead) {
  if (ahead.empty()) return;
  // The window's cached blocks are read next: they become the most recently used (the nearest touched last, so it
  // is evicted last), so that the blocks fetched meanwhile evict blocks past the window, not the ones about to be read.
  for (auto it = ahead.rbegin(); it != ahead.rend(); ++it) cache_.touch(it->object, it->block);
  std::lock_guard lock(mu_);
  if (stopped_) return;
  for (size_t i = 0; i < ahead.size();) {
    if (busy_locked(ahead[i])) {
      ++i;
      continue;
    }
    // A run: adjacent small blocks of one object (or one large block), none cached or being fetched.
    std::vector<BlockInfo> run{ahead[i].block};
    size_t bytes = ahead[i].block.size;
    size_t j = i + 1;
    for (; j < ahead.size(); ++j) {
      if (ahead[j].object != ahead[i].object || !share_get(run.back(), ahead[j].block)) break;
      if (busy_locked(ahead[j])) break;
      run.push_back(ahead[j].block);
      bytes += ahead[j].block.size;
    }
    // Bounded; later reads go on where this stopped.
    if (ahead_inflight_bytes_ + bytes > config_.ahead_inflight_bytes) return;
    if (ahead_running_ >= config_.ahead_inflight_gets) return;
    auto f = register_fetch_locked(ahead[i].object, run);
    ahead_inflight_bytes_ += bytes;
    ahead_inflight_peak_ = std::max(ahead_inflight_peak_, ahead_inflight_bytes_);
    ++ahead_running_;
    asio::co_spawn(executor_, ahead_task(ahead[i].object, std::move(run), std::move(f), bytes), asio::detached);
    i = j;
  }
}

asio::awaitable<void> BlockReader::ahead_task(std::string object, std::vector<BlockInfo> blocks,
                                              std::shared_ptr<Fetch> f, size_t bytes) {
  Status st = co_await fetch(object, std::move(blocks), f, FetchKind::ahead);
  if (!st) log::debug(kLog, "read-ahead failed: ", st.error().message);
  {
    std::lock_guard lock(mu_);
    ahead_inflight_bytes_ -= bytes;
  }
  end_background_task();
}

void BlockReader::end_background_task() {
  std::vector<std::function<void()>> idle;
  {
    std::lock_guard lock(mu_);
    if (--ahead_running_ == 0) idle.swap(idle_waiters_);
  }
  for (auto& resume : idle) resume();
}

// The registered spans of one prefetch() call, taken in order by its workers.
struct BlockReader::PrefetchQueue {
  struct Item {
    PrefetchSpan span;
    std::shared_ptr<Fetch> fetch;
  };
  std::vector<Item> items;
  size_t next = 0;  // guarded by mu_
};

void BlockReader::prefetch(std::vector<PrefetchSpan> spans, size_t parallel) {
  if (spans.empty()) return;
  auto queue = std::make_shared<PrefetchQueue>();
  size_t workers = 0;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    for (PrefetchSpan& span : spans) {
      // Only the blocks nobody has or fetches; a span left with none is dropped.
      std::erase_if(span.blocks, [&](const BlockInfo& b) { return busy_locked(BlockRef{b, span.object}); });
      if (span.blocks.empty()) continue;
      auto f = register_fetch_locked(span.object, span.blocks);
      queue->items.push_back({std::move(span), std::move(f)});
    }
    workers = std::min(std::max<size_t>(parallel, 1), queue->items.size());
    ahead_running_ += workers;
  }
  for (size_t i = 0; i < workers; ++i) asio::co_spawn(executor_, prefetch_worker(queue), asio::detached);
}

asio::awaitable<void> BlockReader::prefetch_worker(std::shared_ptr<PrefetchQueue> queue) {
  for (;;) {
    PrefetchQueue::Item* item = nullptr;
    bool stopped = false;
    {
      std::lock_guard lock(mu_);
      if (queue->next < queue->items.size()) item = &queue->items[queue->next++];
      stopped = stopped_;
    }
    if (!item) break;
    if (stopped) {  // abandoned: its waiters GET for themselves
      finish_fetch(item->span.object, item->span.blocks, item->fetch);
      continue;
    }
    Status st = co_await fetch(item->span.object, item->span.blocks, item->fetch, FetchKind::prefetch);
    if (!st) log::debug(kLog, "prefetch failed: ", st.error().message);
    item->fetch.reset();  // its blocks are cached; readers that joined hold their own reference
  }
  end_background_task();
}

asio::awaitable<void> BlockReader::stop() {
  std::function<void(std::function<void()>)> enlist = [this](std::function<void()> resume) {
    std::unique_lock lock(mu_);
    stopped_ = true;
    if (ahead_running_ > 0) {
      idle_waiters_.push_back(std::move(resume));
      return;
    }
    lock.unlock();
    resume();
  };
  co_await suspend_until(std::move(enlist));
}

BlockReader::Stats BlockReader::stats() const {
  Stats s;
  s.cache = cache_.stats();
  std::lock_guard lock(mu_);
  s.gets = gets_;
  s.get_bytes = get_bytes_;
  s.ahead_gets = ahead_gets_;
  s.ahead_bytes = ahead_bytes_;
  s.ahead_failures = ahead_failures_;
  s.joined = joined_;
  s.prefetch_gets = prefetch_gets_;
  s.prefetch_bytes = prefetch_bytes_;
  s.prefetch_blocks = prefetch_blocks_;
  s.ahead_inflight_bytes = ahead_inflight_bytes_;
  s.ahead_inflight_peak = ahead_inflight_peak_;
  s.ahead_inflight_limit = config_.ahead_inflight_bytes;
  s.window_max = window_max_;
  s.buffers = buffers_->stats();
  return s;
}

}  // namespace floe::stream
