#include "producer/producer_state.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include <asio/experimental/concurrent_channel.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>


namespace floe::producer {

namespace {
// asio 1.22: a lone error_code signature is ambiguous, hence the int.
using Channel = asio::experimental::concurrent_channel<void(std::error_code, int)>;

}  // namespace

struct WaitState {
  std::mutex mu;
  std::optional<WaitOutcome> outcome;
  std::vector<std::shared_ptr<Channel>> channels;

  void resolve(const WaitOutcome& o) {
    std::vector<std::shared_ptr<Channel>> wake;
    {
      std::lock_guard lock(mu);
      if (outcome) return;
      outcome = o;
      wake.swap(channels);
    }
    for (auto& ch : wake) ch->try_send(std::error_code{}, 0);
  }
};

namespace {

struct PendingBatch {
  uint64_t id = 0;
  int16_t epoch = 0;
  int32_t first_seq = 0;
  int32_t last_seq = 0;
  int32_t count = 0;
  int64_t timestamp = -1;
  int64_t floor = 0;  // the table's applied_end when reserved: this batch's base offset is at least that
  bool done = false;
  int64_t base_offset = -1;
  std::shared_ptr<WaitState> wait;  // created when a retry first waits for it

  BatchOffsets offsets() const { return {base_offset, base_offset + count - 1, timestamp}; }
};

struct Entry {
  int16_t epoch = kNoProducerEpoch;           // durable epoch
  std::deque<ProducerInfo::Batch> batches;    // durable, oldest first, at most kDedupWindow
  int64_t last_timestamp = -1;
  int64_t last_offset = -1;                   // the LRU key
  std::deque<PendingBatch> pending;           // reservation order
  bool in_doubt = false;

  bool durable() const { return !batches.empty(); }
  bool pinned() const { return !pending.empty() || in_doubt; }
};

// Resolutions collected under the table lock and delivered after it is released.
using Resolutions = std::vector<std::pair<std::shared_ptr<WaitState>, WaitOutcome>>;

void deliver(Resolutions& rs) {
  for (auto& [state, outcome] : rs) state->resolve(outcome);
}

}  // namespace

struct TableCore {
  explicit TableCore(TableConfig c) : config(c) {}

  TableConfig config;
  mutable std::mutex mu;
  std::map<int64_t, Entry> entries;
  std::set<std::pair<int64_t, int64_t>> lru;  // (last_offset, producer id)
  uint64_t next_id = 1;
  size_t in_flight = 0;
  size_t in_doubt = 0;
  bool closed = false;
  uint64_t applied_batches = 0;
  int64_t applied_end = 0;  // end of the newest applied batch or restored snapshot

  Entry& insert(int64_t pid) {
    lru.emplace(-1, pid);
    return entries[pid];
  }
  void erase(std::map<int64_t, Entry>::iterator it) {
    lru.erase({it->second.last_offset, it->first});
    if (it->second.in_doubt) --in_doubt;
    entries.erase(it);
  }
  void touch(int64_t pid, Entry& e, int64_t last_offset) {
    lru.erase({e.last_offset, pid});
    e.last_offset = last_offset;
    lru.emplace(last_offset, pid);
  }
  // Evicts the least recently used producer that is not pinned. False when every producer is pinned.
  bool evict_one() {
    for (const auto& [offset, pid] : lru) {
      auto it = entries.find(pid);
      if (it != entries.end() && !it->second.pinned()) {
        erase(it);
        return true;
      }
    }
    return false;
  }

  void apply(int64_t pid, Entry& e, int16_t epoch, int32_t first_seq, int32_t last_seq, int64_t base_offset,
             int32_t count, int64_t timestamp) {
    if (e.epoch != epoch) {  // Kafka: a new epoch starts a new window
      e.batches.clear();
      e.epoch = epoch;
    }
    const int64_t last_offset = base_offset + count - 1;
    e.batches.push_back({first_seq, last_seq, last_offset, count - 1, timestamp});
    if (e.batches.size() > kDedupWindow) e.batches.pop_front();
    e.last_timestamp = timestamp;
    touch(pid, e, last_offset);
    ++applied_batches;
    applied_end = std::max(applied_end, last_offset + 1);
  }

  // Applies done reservations from the front, in reservation (= offset) order.
  void drain(int64_t pid, Entry& e) {
    while (!e.pending.empty() && e.pending.front().done) {
      const PendingBatch& p = e.pending.front();
      apply(pid, e, p.epoch, p.first_seq, p.last_seq, p.base_offset, p.count, p.timestamp);
      e.pending.pop_front();
      --in_flight;
    }
  }

  void finish(int64_t pid, uint64_t id, std::optional<int64_t> base_offset, bool ambiguous) {
    Resolutions rs;
    {
      std::lock_guard lock(mu);
      auto it = entries.find(pid);
      if (it == entries.end()) return;  // closed, or already finished
      Entry& e = it->second;
      auto p = e.pending.begin();
      while (p != e.pending.end() && p->id != id) ++p;
      if (p == e.pending.end() || p->done) return;
      if (base_offset) {
        p->done = true;
        p->base_offset = *base_offset;
        if (p->wait) rs.emplace_back(p->wait, WaitOutcome{Errc::ok, p->offsets()});
      } else {
        if (p->wait) rs.emplace_back(p->wait, WaitOutcome{ambiguous ? Errc::in_doubt : Errc::original_failed, {}});
        e.pending.erase(p);
        --in_flight;
        if (ambiguous && !e.in_doubt) {
          e.in_doubt = true;
          ++in_doubt;
        }
      }
      drain(pid, e);
      if (!e.durable() && !e.pinned()) erase(it);
    }
    deliver(rs);
  }
};

// ---------------------------------------------------------------------------------------------------------------

int32_t increment_sequence(int32_t sequence, int32_t increment) {
  if (sequence > std::numeric_limits<int32_t>::max() - increment) {
    return increment - (std::numeric_limits<int32_t>::max() - sequence) - 1;
  }
  return sequence + increment;
}

bool in_sequence(int32_t last_sequence, int32_t next_sequence) {
  return int64_t{next_sequence} == int64_t{last_sequence} + 1 ||
         (next_sequence == 0 && last_sequence == std::numeric_limits<int32_t>::max());
}

BatchMeta BatchMeta::from_header(const record::BatchHeader& h) {
  BatchMeta m;
  m.producer_id = h.producer_id;
  m.producer_epoch = h.producer_epoch;
  m.base_sequence = h.base_sequence;
  m.record_count = h.last_offset_delta + 1;
  m.max_timestamp = h.max_timestamp;
  m.control = h.is_control();
  return m;
}

int32_t BatchMeta::last_sequence() const { return increment_sequence(base_sequence, record_count - 1); }

// ---------------------------------------------------------------------------------------------------------------

Reservation::Reservation(Reservation&& other) noexcept
    : core_(std::move(other.core_)), producer_id_(other.producer_id_), id_(other.id_) {
  other.core_.reset();
}

Reservation& Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (active()) fail(true);
    core_ = std::move(other.core_);
    other.core_.reset();
    producer_id_ = other.producer_id_;
    id_ = other.id_;
  }
  return *this;
}

Reservation::~Reservation() {
  if (active()) fail(true);
}

void Reservation::complete(int64_t base_offset) {
  if (!core_) return;
  auto core = std::move(core_);
  core_.reset();
  core->finish(producer_id_, id_, base_offset, false);
}

void Reservation::fail(bool ambiguous) {
  if (!core_) return;
  auto core = std::move(core_);
  core_.reset();
  core->finish(producer_id_, id_, std::nullopt, ambiguous);
}

// ---------------------------------------------------------------------------------------------------------------

std::optional<WaitOutcome> InFlightWait::ready() const {
  if (!state_) return WaitOutcome{Errc::closed, {}};
  std::lock_guard lock(state_->mu);
  return state_->outcome;
}

asio::awaitable<WaitOutcome> InFlightWait::result() const {
  std::shared_ptr<WaitState> state = state_;
  if (!state) co_return WaitOutcome{Errc::closed, {}};
  auto executor = co_await asio::this_coro::executor;
  auto channel = std::make_shared<Channel>(executor, 1);
  std::optional<WaitOutcome> now;
  {
    std::lock_guard lock(state->mu);
    if (state->outcome) {
      now = state->outcome;
    } else {
      state->channels.push_back(channel);
    }
  }
  if (now) co_return *now;
  std::error_code ec;
  (void)co_await channel->async_receive(asio::redirect_error(asio::use_awaitable, ec));
  std::lock_guard lock(state->mu);
  co_return state->outcome ? *state->outcome : WaitOutcome{Errc::closed, {}};
}

// ---------------------------------------------------------------------------------------------------------------

ProducerStateTable::ProducerStateTable(TableConfig config) : core_(std::make_shared<TableCore>(config)) {}

ProducerStateTable::~ProducerStateTable() { close(); }

Decision ProducerStateTable::check_and_reserve(const BatchMeta& b) {
  Decision d;
  if (!b.idempotent() || b.control) {
    d.kind = Decision::Kind::append;
    return d;
  }
  auto error = [&d](Errc e) {
    d.kind = Decision::Kind::error;
    d.error = e;
    return std::move(d);
  };
  if (b.producer_epoch < 0 || b.base_sequence < 0 || b.record_count <= 0) return error(Errc::invalid_batch);
  const int32_t last_seq = b.last_sequence();
  TableCore& c = *core_;
  std::lock_guard lock(c.mu);
  if (c.closed) return error(Errc::closed);
  auto it = c.entries.find(b.producer_id);
  Entry* e = nullptr;
  if (it != c.entries.end()) {
    e = &it->second;
    if (e->in_doubt) return error(Errc::in_doubt);
    // The producer's state as if every reservation were already applied.
    const bool any_pending = !e->pending.empty();
    const int16_t epoch = any_pending ? e->pending.back().epoch : e->epoch;
    const int32_t last = any_pending ? e->pending.back().last_seq : e->batches.back().last_sequence;
    if (b.producer_epoch == epoch) {
      // Duplicate: one of the last five batches of the current epoch, newest first (in flight, then durable).
      size_t seen = 0;
      bool epoch_break = false;
      for (auto p = e->pending.rbegin(); p != e->pending.rend() && seen < kDedupWindow; ++p, ++seen) {
        if (p->epoch != epoch) {
          epoch_break = true;
          break;
        }
        if (p->first_seq == b.base_sequence && p->last_seq == last_seq) {
          if (p->done) {
            d.kind = Decision::Kind::duplicate;
            d.duplicate = p->offsets();
          } else {
            if (!p->wait) p->wait = std::make_shared<WaitState>();
            d.kind = Decision::Kind::wait;
            d.wait = InFlightWait(p->wait);
          }
          return d;
        }
      }
      if (!epoch_break && e->epoch == epoch) {
        for (auto q = e->batches.rbegin(); q != e->batches.rend() && seen < kDedupWindow; ++q, ++seen) {
          if (q->first_sequence == b.base_sequence && q->last_sequence == last_seq) {
            d.kind = Decision::Kind::duplicate;
            d.duplicate = {q->last_offset - q->offset_delta, q->last_offset, q->timestamp};
            return d;
          }
        }
      }
      if (!in_sequence(last, b.base_sequence)) return error(Errc::out_of_order_sequence);
    } else if (b.producer_epoch < epoch) {
      return error(Errc::invalid_producer_epoch);
    } else if (b.base_sequence != 0) {  // an epoch bump starts at sequence 0
      return error(Errc::out_of_order_sequence);
    }
    if (e->pending.size() >= c.config.max_in_flight_per_producer) return error(Errc::too_many_in_flight);
  } else {
    if (c.config.strict_unknown_producer && b.base_sequence != 0) return error(Errc::unknown_producer_id);
    if (c.entries.size() >= c.config.max_producers && !c.evict_one()) return error(Errc::too_many_producers);
    e = &c.insert(b.producer_id);
  }
  PendingBatch p;
  p.id = c.next_id++;
  p.epoch = b.producer_epoch;
  p.first_seq = b.base_sequence;
  p.last_seq = last_seq;
  p.count = b.record_count;
  p.timestamp = b.max_timestamp;
  p.floor = c.applied_end;
  e->pending.push_back(std::move(p));
  ++c.in_flight;
  d.kind = Decision::Kind::append;
  d.reservation = Reservation(core_, b.producer_id, e->pending.back().id);
  return d;
}

void ProducerStateTable::observe(const BatchMeta& b, int64_t base_offset) {
  if (!b.idempotent() || b.control || b.record_count <= 0) return;
  TableCore& c = *core_;
  std::lock_guard lock(c.mu);
  auto it = c.entries.find(b.producer_id);
  Entry* e = nullptr;
  if (it != c.entries.end()) {
    e = &it->second;
    if (e->last_offset >= base_offset + b.record_count - 1) return;  // already applied
  } else {
    // During recovery nothing is pinned; live, the table may exceed the cap by pinned producers only.
    if (c.entries.size() >= c.config.max_producers) (void)c.evict_one();
    e = &c.insert(b.producer_id);
  }
  c.apply(b.producer_id, *e, b.producer_epoch, b.base_sequence, b.last_sequence(), base_offset, b.record_count,
          b.max_timestamp);
}

Result<ProducerSnapshot> ProducerStateTable::capture(int64_t up_to) const {
  const TableCore& c = *core_;
  std::lock_guard lock(c.mu);
  if (c.in_doubt > 0) {
    return Error{make_error_code(Errc::in_doubt),
                 "producer snapshot: " + std::to_string(c.in_doubt) + " producer(s) in doubt; reload the partition"};
  }
  ProducerSnapshot s;
  s.next_offset = up_to;
  for (const auto& [pid, e] : c.entries) {
    for (const PendingBatch& p : e.pending) s.next_offset = std::min(s.next_offset, p.floor);
  }
  for (const auto& [pid, e] : c.entries) {
    ProducerInfo info;
    for (const auto& b : e.batches) {
      if (b.last_offset < s.next_offset) info.batches.push_back(b);
    }
    if (info.batches.empty()) continue;
    info.producer_id = pid;
    info.epoch = e.epoch;
    info.last_offset = info.batches.back().last_offset;
    info.last_timestamp = info.batches.size() == e.batches.size() ? e.last_timestamp : info.batches.back().timestamp;
    s.producers.push_back(std::move(info));
  }
  return s;
}

Result<std::vector<uint8_t>> ProducerStateTable::snapshot(int64_t up_to) const {
  auto s = capture(up_to);
  if (!s) return s.error();
  return encode_snapshot(*s);
}

Result<int64_t> ProducerStateTable::restore(std::span<const uint8_t> blob) {
  auto s = decode_snapshot(blob);
  if (!s) return s.error();
  return restore(*s);
}

Result<int64_t> ProducerStateTable::restore(const ProducerSnapshot& s) {
  TableCore& c = *core_;
  std::lock_guard lock(c.mu);
  if (!c.entries.empty()) {
    return Error{make_error_code(Errc::not_empty), "producer snapshot: restore into a table that holds state"};
  }
  for (const ProducerInfo& p : s.producers) {
    Entry e;
    e.epoch = p.epoch;
    e.batches.assign(p.batches.begin(), p.batches.end());
    e.last_timestamp = p.last_timestamp;
    e.last_offset = p.last_offset;
    c.lru.emplace(e.last_offset, p.producer_id);
    c.entries.emplace(p.producer_id, std::move(e));
  }
  while (c.entries.size() > c.config.max_producers && c.evict_one()) {
  }
  c.applied_end = std::max(c.applied_end, s.next_offset);
  return s.next_offset;
}

uint64_t ProducerStateTable::applied_batches() const {
  std::lock_guard lock(core_->mu);
  return core_->applied_batches;
}

int64_t ProducerStateTable::applied_end() const {
  std::lock_guard lock(core_->mu);
  return core_->applied_end;
}

size_t ProducerStateTable::expire(int64_t now_ms) {
  TableCore& c = *core_;
  std::lock_guard lock(c.mu);
  size_t n = 0;
  for (auto it = c.entries.begin(); it != c.entries.end();) {
    const Entry& e = it->second;
    if (!e.pinned() && now_ms - e.last_timestamp >= c.config.producer_id_expiration_ms) {
      auto next = std::next(it);
      c.erase(it);
      it = next;
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

void ProducerStateTable::close() {
  Resolutions rs;
  {
    TableCore& c = *core_;
    std::lock_guard lock(c.mu);
    c.closed = true;
    for (auto it = c.entries.begin(); it != c.entries.end();) {
      Entry& e = it->second;
      for (auto& p : e.pending) {
        if (p.wait && !p.done) rs.emplace_back(p.wait, WaitOutcome{Errc::closed, {}});
      }
      c.in_flight -= e.pending.size();
      e.pending.clear();
      auto next = std::next(it);
      if (!e.durable()) c.erase(it);
      it = next;
    }
  }
  deliver(rs);
}

size_t ProducerStateTable::size() const {
  std::lock_guard lock(core_->mu);
  return core_->entries.size();
}

size_t ProducerStateTable::in_flight() const {
  std::lock_guard lock(core_->mu);
  return core_->in_flight;
}

namespace {
ProducerInfo info_of(int64_t pid, const Entry& e) {
  ProducerInfo info;
  info.producer_id = pid;
  info.epoch = e.epoch;
  info.last_timestamp = e.last_timestamp;
  info.last_offset = e.last_offset;
  info.batches.assign(e.batches.begin(), e.batches.end());
  return info;
}
}  // namespace

std::optional<ProducerInfo> ProducerStateTable::producer(int64_t producer_id) const {
  std::lock_guard lock(core_->mu);
  auto it = core_->entries.find(producer_id);
  if (it == core_->entries.end() || !it->second.durable()) return std::nullopt;
  return info_of(it->first, it->second);
}

std::vector<ProducerInfo> ProducerStateTable::producers() const {
  std::lock_guard lock(core_->mu);
  std::vector<ProducerInfo> out;
  for (const auto& [pid, e] : core_->entries) {
    if (e.durable()) out.push_back(info_of(pid, e));
  }
  return out;
}

}  // namespace floe::producer
