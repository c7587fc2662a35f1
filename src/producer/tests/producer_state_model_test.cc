// Randomized model test: a reference model of Kafka's idempotence rules, written from the rules directly over the
// list of every batch a producer got accepted (in reservation = offset order, failed ones removed), against
// ProducerStateTable over random reserve / complete / fail / retry sequences with out-of-order completion. At the end
// (and at checkpoints) the table's state must equal a replay of the committed log into a fresh table, and survive a
// snapshot round trip. Bounded: a fixed number of seeds and operations, and a wall-clock limit.
#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <map>
#include <random>
#include <sstream>

#include "producer/producer_state.h"
#include "producer/tests/test_util.h"

namespace floe::producer {

// Readable failures.
void describe(const ProducerInfo& p, std::ostream* os) {
  *os << "{pid " << p.producer_id << " epoch " << p.epoch << " last_ts " << p.last_timestamp << " last_offset "
      << p.last_offset << " batches";
  for (const auto& b : p.batches) {
    *os << " [" << b.first_sequence << "-" << b.last_sequence << " @" << b.last_offset << " d" << b.offset_delta
        << " t" << b.timestamp << "]";
  }
  *os << "}";
}

namespace {

using testing::batch;
using Kind = Decision::Kind;

struct ModelBatch {
  BatchMeta meta;
  int64_t base_offset = 0;  // assigned at reservation, in order
  bool done = false;
  bool failed = false;
};

struct ModelProducer {
  std::vector<ModelBatch> batches;  // every reserved batch, in reservation order
  bool in_doubt = false;
};

struct Expected {
  Kind kind = Kind::append;
  Errc error = Errc::ok;
  BatchOffsets offsets;     // duplicate
  size_t wait_index = 0;    // wait: which batch
};

class Model {
 public:
  Expected decide(const BatchMeta& b) const {
    if (!b.idempotent()) return {};
    if (b.producer_epoch < 0 || b.base_sequence < 0 || b.record_count <= 0) return err(Errc::invalid_batch);
    auto it = producers.find(b.producer_id);
    if (it == producers.end()) return {};
    const ModelProducer& p = it->second;
    if (p.in_doubt) return err(Errc::in_doubt);
    std::vector<size_t> live;
    for (size_t i = 0; i < p.batches.size(); ++i) {
      if (!p.batches[i].failed) live.push_back(i);
    }
    if (live.empty()) return {};  // unknown producer: any sequence
    const BatchMeta& last = p.batches[live.back()].meta;
    const int16_t epoch = last.producer_epoch;
    if (b.producer_epoch == epoch) {
      // The last five batches of the current epoch.
      for (size_t k = 0; k < live.size() && k < kDedupWindow; ++k) {
        const ModelBatch& m = p.batches[live[live.size() - 1 - k]];
        if (m.meta.producer_epoch != epoch) break;
        if (m.meta.base_sequence == b.base_sequence && m.meta.last_sequence() == b.last_sequence()) {
          Expected e;
          if (m.done) {
            e.kind = Kind::duplicate;
            e.offsets = {m.base_offset, m.base_offset + m.meta.record_count - 1, m.meta.max_timestamp};
          } else {
            e.kind = Kind::wait;
            e.wait_index = live[live.size() - 1 - k];
          }
          return e;
        }
      }
      if (!in_sequence(last.last_sequence(), b.base_sequence)) return err(Errc::out_of_order_sequence);
    } else if (b.producer_epoch < epoch) {
      return err(Errc::invalid_producer_epoch);
    } else if (b.base_sequence != 0) {
      return err(Errc::out_of_order_sequence);
    }
    // Unapplied: from the first live batch that is not done, every live batch after it.
    size_t unapplied = 0;
    bool blocked = false;
    for (size_t i : live) {
      if (!p.batches[i].done) blocked = true;
      if (blocked) ++unapplied;
    }
    if (unapplied >= kDedupWindow) return err(Errc::too_many_in_flight);
    return {};
  }

  std::map<int64_t, ModelProducer> producers;

 private:
  static Expected err(Errc e) {
    Expected x;
    x.kind = Kind::error;
    x.error = e;
    return x;
  }
};

// How often each decision came up over all seeds: the test insists every rule was exercised.
std::map<std::pair<int, int>, int> g_seen;
int g_captures_checked = 0;  // mid-run captures restored and replayed
int g_captures_lowered = 0;  // of which an in-flight batch pulled next_offset below the asked offset

struct Live {
  int64_t pid;
  size_t index;
  Reservation reservation;
};

void run_seed(uint32_t seed, int ops) {
  std::mt19937 rng(seed);
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  TableConfig config;
  config.max_producers = 1000;  // no eviction here: the unit tests cover the cap
  ProducerStateTable table(config);
  Model model;
  std::vector<Live> live;
  struct PendingWait {
    InFlightWait wait;
    int64_t pid;
    size_t index;
  };
  std::vector<PendingWait> waits;
  int64_t next_offset = 0;
  int64_t clock = 1'000'000;
  std::vector<ProducerSnapshot> captures;
  std::mt19937_64 capture_rng(seed);

  auto check_waits = [&]() {
    for (auto it = waits.begin(); it != waits.end();) {
      const ModelBatch& m = model.producers[it->pid].batches[it->index];
      auto ready = it->wait.ready();
      if (!m.done && !m.failed) {
        ASSERT_FALSE(ready) << "seed " << seed;
        ++it;
        continue;
      }
      ASSERT_TRUE(ready) << "seed " << seed;
      if (m.done) {
        EXPECT_EQ(ready->error, Errc::ok);
        EXPECT_EQ(ready->offsets.base_offset, m.base_offset);
      } else {
        EXPECT_TRUE(ready->error == Errc::original_failed || ready->error == Errc::in_doubt);
      }
      it = waits.erase(it);
    }
  };

  for (int op = 0; op < ops; ++op) {
    const int what = pick(100);
    if (what < 55 || live.empty()) {
      // A new batch or a retry.
      const int64_t pid = pick(4);
      const ModelProducer& mp = model.producers[pid];
      BatchMeta b;
      const ModelBatch* last = nullptr;
      for (auto it = mp.batches.rbegin(); it != mp.batches.rend(); ++it) {
        if (!it->failed) {
          last = &*it;
          break;
        }
      }
      const int shape = pick(100);
      const int32_t count = 1 + pick(3);
      ++clock;
      if (shape < 8 && pid == 3) {
        b = batch(pid, 0, kMax - pick(4), count, clock);  // near the wrap
      } else if (!last || shape < 12) {
        b = batch(pid, static_cast<int16_t>(pick(2)), pick(3) == 0 ? pick(50) : 0, count, clock);
      } else if (shape < 60) {
        b = batch(pid, last->meta.producer_epoch, increment_sequence(last->meta.last_sequence(), 1), count, clock);
      } else if (shape < 80 && !mp.batches.empty()) {
        // Retry of one of the last few batches, same shape and timestamp.
        b = mp.batches[mp.batches.size() - 1 - static_cast<size_t>(pick(std::min<int>(7, mp.batches.size())))].meta;
      } else if (shape < 88) {
        b = batch(pid, static_cast<int16_t>(last->meta.producer_epoch + 1), pick(4) == 0 ? 3 : 0, count, clock);
      } else if (shape < 94) {
        b = batch(pid, static_cast<int16_t>(std::max(0, last->meta.producer_epoch - 1)), 0, count, clock);
      } else if (shape < 97) {
        b = batch(pid, last->meta.producer_epoch, increment_sequence(last->meta.last_sequence(), 2 + pick(3)), count,
                  clock);
      } else {
        b = batch(pid, last->meta.producer_epoch, -1, count, clock);
      }
      const Expected want = model.decide(b);
      Decision got = table.check_and_reserve(b);
      ASSERT_EQ(got.kind, want.kind) << "seed " << seed << " op " << op << " got error "
                                     << static_cast<int>(got.error) << " want error " << static_cast<int>(want.error);
      ++g_seen[{static_cast<int>(want.kind), static_cast<int>(want.error)}];
      switch (want.kind) {
        case Kind::error: ASSERT_EQ(got.error, want.error) << "seed " << seed << " op " << op; break;
        case Kind::duplicate: ASSERT_EQ(got.duplicate, want.offsets) << "seed " << seed << " op " << op; break;
        case Kind::wait: waits.push_back({got.wait, pid, want.wait_index}); break;
        case Kind::append: {
          ModelBatch m;
          m.meta = b;
          m.base_offset = next_offset;
          next_offset += b.record_count;
          auto& batches = model.producers[pid].batches;
          batches.push_back(m);
          live.push_back({pid, batches.size() - 1, std::move(got.reservation)});
          break;
        }
      }
    } else {
      // Finish a random in-flight batch: mostly complete, sometimes fail, rarely ambiguously.
      const size_t i = static_cast<size_t>(pick(static_cast<int>(live.size())));
      Live l = std::move(live[i]);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
      ModelProducer& mp = model.producers[l.pid];
      ModelBatch& m = mp.batches[l.index];
      const int how = pick(100);
      if (how < 80) {
        l.reservation.complete(m.base_offset);
        m.done = true;
      } else if (how < 98 || mp.in_doubt) {
        l.reservation.fail();
        m.failed = true;
      } else {
        l.reservation.fail(true);
        m.failed = true;
        mp.in_doubt = true;
      }
    }
    check_waits();
    if (::testing::Test::HasFatalFailure()) return;
    // Now and then a capture at a random offset while batches are in flight (as a snapshot at the committed end
    // is): checked at the end against the final log.
    if (op % 37 == 0) {
      bool any_in_doubt = false;
      for (const auto& [pid, p] : model.producers) any_in_doubt |= p.in_doubt;
      // Its own generator: the operations stay those of the seed.
      const auto up_to = static_cast<int64_t>(capture_rng() % static_cast<uint64_t>(next_offset + 1));
      auto cap = table.capture(up_to);
      if (cap.ok() && cap->next_offset < up_to) ++g_captures_lowered;
      ASSERT_EQ(cap.ok(), !any_in_doubt) << "seed " << seed << " op " << op;
      if (cap.ok()) captures.push_back(std::move(*cap));
    }
  }

  // Finish everything in flight; the committed log replayed into a fresh table must give the same state.
  for (auto& l : live) {
    ModelBatch& m = model.producers[l.pid].batches[l.index];
    l.reservation.complete(m.base_offset);
    m.done = true;
  }
  live.clear();
  check_waits();
  EXPECT_EQ(table.in_flight(), 0u);

  std::vector<std::pair<int64_t, BatchMeta>> log;
  for (const auto& [pid, p] : model.producers) {
    for (const auto& m : p.batches) {
      if (m.done) log.emplace_back(m.base_offset, m.meta);
    }
  }
  std::sort(log.begin(), log.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  ProducerStateTable replay(config);
  for (const auto& [offset, meta] : log) replay.observe(meta, offset);
  EXPECT_EQ(table.producers(), replay.producers()) << "seed " << seed;
  // Every capture taken along the way, restored and followed by the log from its offset, gives the same state.
  for (const ProducerSnapshot& cap : captures) {
    ProducerStateTable restored(config);
    ASSERT_TRUE(restored.restore(cap).ok());
    for (const auto& [offset, meta] : log) {
      // As a load reads the log: from the batch that holds next_offset on.
      if (offset + meta.record_count - 1 >= cap.next_offset) restored.observe(meta, offset);
    }
    if (restored.producers() != replay.producers()) {
      std::ostringstream os;
      for (const auto& p : restored.producers()) describe(p, &os), os << "\n";
      os << "vs replay:\n";
      for (const auto& p : replay.producers()) describe(p, &os), os << "\n";
      os << "capture:\n";
      for (const auto& p : cap.producers) describe(p, &os), os << "\n";
      FAIL() << "seed " << seed << " capture at " << cap.next_offset << "\n" << os.str();
    }
    ++g_captures_checked;
  }

  bool any_in_doubt = false;
  for (const auto& [pid, p] : model.producers) any_in_doubt |= p.in_doubt;
  auto snap = table.snapshot(next_offset);
  if (any_in_doubt) {
    EXPECT_FALSE(snap.ok());
    snap = replay.snapshot(next_offset);
  }
  ASSERT_TRUE(snap.ok()) << "seed " << seed;
  ProducerStateTable restored(config);
  auto from = restored.restore(*snap);
  ASSERT_TRUE(from.ok());
  EXPECT_EQ(*from, next_offset);
  EXPECT_EQ(restored.producers(), replay.producers()) << "seed " << seed;
  EXPECT_EQ(*restored.snapshot(next_offset), *snap);
}

TEST(ProducerStateModel, RandomOperationsMatchTheReferenceModel) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (uint32_t seed = 1; seed <= 200 && std::chrono::steady_clock::now() < deadline; ++seed) {
    run_seed(seed, 1500);
    if (HasFailure()) break;
  }
  auto seen = [](Kind k, Errc e = Errc::ok) { return g_seen[{static_cast<int>(k), static_cast<int>(e)}]; };
  EXPECT_GT(seen(Kind::append), 1000);
  EXPECT_GT(g_captures_checked, 500);
  EXPECT_GT(g_captures_lowered, 100);
  EXPECT_GT(seen(Kind::duplicate), 100);
  EXPECT_GT(seen(Kind::wait), 100);
  for (Errc e : {Errc::out_of_order_sequence, Errc::invalid_producer_epoch, Errc::invalid_batch, Errc::in_doubt,
                 Errc::too_many_in_flight}) {
    EXPECT_GT(seen(Kind::error, e), 10) << make_error_code(e).message();
  }
}

}  // namespace
}  // namespace floe::producer
