#include "cluster/cluster_image.h"

#include <atomic>
#include <list>
#include <mutex>

#include <asio/experimental/as_tuple.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "meta/meta_store.h"

namespace floe::cluster {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "floe.cluster"; }
  std::string message(int ev) const override {
    switch (static_cast<ClusterErrc>(ev)) {
      case ClusterErrc::ok: return "ok";
      case ClusterErrc::store_error: return "metadata store error";
      case ClusterErrc::corrupt: return "corrupt cluster metadata";
      case ClusterErrc::timed_out: return "timed out";
      case ClusterErrc::closed: return "closed";
      case ClusterErrc::broker_id_in_use: return "broker id in use";
      case ClusterErrc::not_controller: return "not the controller";
      case ClusterErrc::conflict: return "metadata changed concurrently";
      case ClusterErrc::unknown_partition: return "unknown partition";
      case ClusterErrc::unknown_broker: return "unknown broker";
      case ClusterErrc::lost: return "membership lost";
      case ClusterErrc::invalid_config: return "invalid cluster setting";
    }
    return "unknown cluster error";
  }
};

Error cerr(ClusterErrc e, std::string message) { return Error{make_error_code(e), std::move(message)}; }

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

const std::error_category& cluster_category() {
  static const Category c;
  return c;
}

bool ImageState::epoch_live(int32_t id, int64_t epoch) const {
  auto it = brokers.find(id);
  return it != brokers.end() && it->second.epoch == epoch && epochs.count(EpochKey{id, epoch}) > 0;
}

struct ClusterImage::Core : std::enable_shared_from_this<Core> {
  Core(asio::any_io_executor ex, meta::MetaStore& m, std::string root, TopicCatalog* c)
      : strand(asio::make_strand(ex)), meta(m), keys(std::move(root)), catalog(c), closed_timer(strand) {
    closed_timer.expires_at(asio::steady_timer::time_point::max());
  }

  asio::strand<asio::any_io_executor> strand;
  meta::MetaStore& meta;
  ClusterKeys keys;
  TopicCatalog* catalog;

  mutable std::mutex mu;
  std::shared_ptr<const ImageState> state = std::make_shared<ImageState>();
  std::atomic<int64_t> revision{0};
  std::atomic<uint64_t> reloads{0};
  std::unique_ptr<meta::Watch> watch;  // guarded by mu (cancelled from close())
  bool closing = false;                // guarded by mu
  bool loop_done = false;              // strand
  asio::steady_timer closed_timer;     // strand; cancelled when the loop ends

  // strand only
  std::vector<std::function<void()>> subscribers;
  std::list<asio::steady_timer*> waiters;

  std::shared_ptr<const ImageState> current() const {
    std::lock_guard lock(mu);
    return state;
  }

  // Range reads of every tracked prefix at one revision. Returns the state (catalog not touched).
  asio::awaitable<Result<ImageState>> load() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      ImageState s;
      int64_t at = 0;
      bool compacted = false;
      struct Part { std::string prefix; bool keys_only; };
      const Part parts[] = {{keys.brokers_prefix(), false}, {keys.epochs_prefix(), true},
                            {keys.assignments_prefix(), false}, {keys.topics_prefix(), false},
                            {keys.drains_prefix(), false}, {keys.controller(), false},
                            {keys.wal_prefix(), true}};
      for (const auto& part : parts) {
        meta::RangeRequest req;
        req.key = part.prefix;
        req.range_end = part.prefix == keys.controller() ? "" : meta::prefix_end(part.prefix);
        req.revision = at;
        req.keys_only = part.keys_only;
        auto r = co_await meta.range(req);
        if (!r) {
          if (r.error() == meta::Errc::compacted) {
            compacted = true;
            break;
          }
          co_return cerr(ClusterErrc::store_error, "cluster image: cannot load " + part.prefix + ": " +
                                                       r.error().message());
        }
        if (at == 0) at = r->revision;
        for (auto& kv : r->kvs) {
          if (auto st = apply_put(s, kv); !st) co_return st.error();
        }
      }
      if (compacted) continue;
      // Seal records of epochs already forgotten are history: keep only those of epochs still recorded.
      std::erase_if(s.sealing, [&](const EpochKey& e) { return s.epochs.count(e) == 0; });
      s.revision = at;
      co_return s;
    }
    co_return cerr(ClusterErrc::store_error, "cluster image: history compacted during every load attempt");
  }

  // Applies one put to `s`; returns whether something tracked changed.
  Result<bool> apply_put(ImageState& s, const meta::KeyValue& kv) {
    const std::string& k = kv.key;
    auto corrupt = [&] { return cerr(ClusterErrc::corrupt, "cluster image: bad value at " + k); };
    if (starts_with(k, keys.brokers_prefix())) {
      auto id = parse_broker_id(std::string_view(k).substr(keys.brokers_prefix().size()));
      auto b = decode_broker(kv.value);
      if (!id || !b) return corrupt();
      b->id = *id;
      b->epoch = kv.create_revision;
      s.brokers[*id] = *b;
      return true;
    }
    if (starts_with(k, keys.epochs_prefix())) {
      auto e = parse_epoch_suffix(std::string_view(k).substr(keys.epochs_prefix().size()));
      if (!e) return corrupt();
      s.epochs.insert(EpochKey{e->first, e->second});
      return true;
    }
    if (starts_with(k, keys.assignments_prefix())) {
      auto p = parse_assignment_suffix(std::string_view(k).substr(keys.assignments_prefix().size()));
      auto a = decode_assignment(kv.value);
      if (!p || !a) return corrupt();
      a->topic = p->first;
      a->partition = p->second;
      a->mod_revision = kv.mod_revision;
      s.assignments[PartitionKey{p->first, p->second}] = *a;
      return true;
    }
    if (starts_with(k, keys.topics_prefix())) {
      std::string name = k.substr(keys.topics_prefix().size());
      auto t = TopicCatalog::decode(name, kv.value);
      if (!t) return corrupt();
      s.topics[name] = *t;
      return true;
    }
    if (starts_with(k, keys.drains_prefix())) {
      auto id = parse_broker_id(std::string_view(k).substr(keys.drains_prefix().size()));
      int64_t epoch = 0;
      try {
        epoch = std::stoll(kv.value);
      } catch (...) {
        return corrupt();
      }
      if (!id) return corrupt();
      s.drains[*id] = epoch;
      return true;
    }
    if (k == keys.controller()) {
      auto c = decode_controller(kv.value);
      if (!c) return corrupt();
      c->create_revision = kv.create_revision;
      s.controller = *c;
      return true;
    }
    if (starts_with(k, keys.wal_prefix())) {
      auto m = parse_wal_marker(std::string_view(k).substr(keys.wal_prefix().size()));
      if (!m) return false;  // cursor keys and the like
      return s.sealing.insert(EpochKey{m->broker_id, m->epoch}).second;
    }
    return false;
  }

  bool apply_delete(ImageState& s, const std::string& k) {
    if (starts_with(k, keys.brokers_prefix())) {
      auto id = parse_broker_id(std::string_view(k).substr(keys.brokers_prefix().size()));
      return id && s.brokers.erase(*id) > 0;
    }
    if (starts_with(k, keys.epochs_prefix())) {
      auto e = parse_epoch_suffix(std::string_view(k).substr(keys.epochs_prefix().size()));
      if (!e) return false;
      EpochKey ek{e->first, e->second};
      bool changed = s.epochs.erase(ek) > 0;
      // A forgotten epoch's seal bookkeeping is of no further interest to the image.
      changed = s.sealing.erase(ek) > 0 || changed;
      return changed;
    }
    if (starts_with(k, keys.assignments_prefix())) {
      auto p = parse_assignment_suffix(std::string_view(k).substr(keys.assignments_prefix().size()));
      return p && s.assignments.erase(PartitionKey{p->first, p->second}) > 0;
    }
    if (starts_with(k, keys.topics_prefix())) return s.topics.erase(k.substr(keys.topics_prefix().size())) > 0;
    if (starts_with(k, keys.drains_prefix())) {
      auto id = parse_broker_id(std::string_view(k).substr(keys.drains_prefix().size()));
      return id && s.drains.erase(*id) > 0;
    }
    if (k == keys.controller()) {
      bool had = s.controller.has_value();
      s.controller.reset();
      return had;
    }
    return false;  // wal/ markers are deleted only with the epoch (above)
  }

  void publish(std::shared_ptr<const ImageState> next, bool changed) {
    {
      std::lock_guard lock(mu);
      state = std::move(next);
    }
    advance(state_revision());
    if (changed) {
      for (auto& f : subscribers) f();
    }
  }
  static asio::awaitable<Status> wait_on_strand(std::shared_ptr<Core> core, int64_t rev,
                                                std::chrono::steady_clock::time_point deadline) {
    while (core->revision.load() < rev) {
      if (core->loop_done) co_return cerr(ClusterErrc::closed, "cluster image closed");
      if (std::chrono::steady_clock::now() >= deadline) {
        co_return cerr(ClusterErrc::timed_out, "cluster image: revision " + std::to_string(rev) +
                                                   " not seen in time (at " + std::to_string(core->revision.load()) +
                                                   ")");
      }
      asio::steady_timer timer(core->strand, deadline);
      auto it = core->waiters.insert(core->waiters.end(), &timer);
      co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      core->waiters.erase(it);
    }
    co_return ok_status();
  }

  static asio::awaitable<void> close_on_strand(std::shared_ptr<Core> core) {
    while (!core->loop_done) {
      co_await core->closed_timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
    core->subscribers.clear();
  }

  // A batch of untracked events: only the revision moves (snapshots keep the revision of their last change).
  void advance(int64_t rev) {
    if (rev > revision.load()) revision.store(rev);
    for (auto* t : waiters) t->cancel();
  }

  bool tracked(const std::string& k) const {
    if (starts_with(k, keys.wal_prefix())) {
      return k.size() > 5 && (k.ends_with("/sealing") || k.ends_with("/seal"));
    }
    return starts_with(k, keys.brokers_prefix()) || starts_with(k, keys.epochs_prefix()) ||
           starts_with(k, keys.assignments_prefix()) || starts_with(k, keys.topics_prefix()) ||
           starts_with(k, keys.drains_prefix()) || k == keys.controller();
  }

  int64_t state_revision() const {
    std::lock_guard lock(mu);
    return state->revision;
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    int64_t next_rev = revision.load() + 1;
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (closing) break;
        meta::WatchRequest req;
        req.key = keys.root();
        req.range_end = meta::prefix_end(keys.root());
        req.start_revision = next_rev;
        req.prev_kv = false;
        watch = meta.watch(req);
      }
      bool reload = false;
      for (;;) {
        auto batch = co_await watch->next();
        if (!batch) {
          if (batch.error() == meta::Errc::compacted) reload = true;
          else if (batch.error() != meta::Errc::cancelled && batch.error() != meta::Errc::closed)
            log::warn("cluster", "image: watch failed: ", batch.error().message());
          break;
        }
        // Most events under the root are the WAL's commits (objects/, cursors): skip them without copying the
        // state; copy it once, at the first event the image tracks.
        std::shared_ptr<ImageState> next;
        int64_t batch_revision = 0;
        bool changed = false;
        bool bad = false;
        for (const auto& ev : batch->events) {
          batch_revision = std::max(batch_revision, ev.kv.mod_revision);
          if (!tracked(ev.kv.key)) continue;
          if (!next) next = std::make_shared<ImageState>(*current());
          if (ev.type == meta::Event::Type::put) {
            auto r = apply_put(*next, ev.kv);
            if (!r) {
              log::error("cluster", r.error().message);
              bad = true;
              continue;
            }
            if (*r && catalog != nullptr && starts_with(ev.kv.key, keys.topics_prefix())) {
              catalog->apply(next->topics[ev.kv.key.substr(keys.topics_prefix().size())]);
            }
            changed = changed || *r;
          } else {
            bool r = apply_delete(*next, ev.kv.key);
            if (r && catalog != nullptr && starts_with(ev.kv.key, keys.topics_prefix())) {
              catalog->erase(ev.kv.key.substr(keys.topics_prefix().size()));
            }
            changed = changed || r;
          }
        }
        (void)bad;  // a corrupt value is logged and skipped; the rest of the image stays usable
        if (batch_revision == 0) continue;
        next_rev = batch_revision + 1;
        if (next) {
          next->revision = std::max(next->revision, batch_revision);
          publish(std::move(next), changed);
        } else {
          advance(batch_revision);
        }
      }
      {
        std::lock_guard lock(mu);
        watch.reset();
        if (closing) break;
      }
      if (!reload) {
        // The store shut down or the watch failed for good: retry after a pause, from where we were.
        asio::steady_timer pause(strand, std::chrono::milliseconds(200));
        co_await pause.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        continue;
      }
      reloads.fetch_add(1);
      Result<ImageState> loaded = co_await load();
      if (!loaded) {
        log::warn("cluster", loaded.error().message);
        asio::steady_timer pause(strand, std::chrono::milliseconds(200));
        co_await pause.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        continue;  // next_rev is still compacted: the watch fails again and we retry the load
      }
      if (catalog != nullptr) catalog->replace_all(loaded->topics);
      next_rev = loaded->revision + 1;
      publish(std::make_shared<ImageState>(std::move(*loaded)), true);
    }
    loop_done = true;
    closed_timer.cancel();
    for (auto* t : waiters) t->cancel();
  }
};

ClusterImage::ClusterImage(std::shared_ptr<Core> core) : core_(std::move(core)) {}

ClusterImage::~ClusterImage() {
  std::lock_guard lock(core_->mu);
  core_->closing = true;
  if (core_->watch) core_->watch->cancel();
}

asio::awaitable<Result<std::unique_ptr<ClusterImage>>> ClusterImage::open(asio::any_io_executor executor,
                                                                          meta::MetaStore& meta, std::string root,
                                                                          TopicCatalog* catalog) {
  auto core = std::make_shared<Core>(executor, meta, std::move(root), catalog);
  auto loaded = co_await core->load();
  if (!loaded) co_return loaded.error();
  if (catalog != nullptr) catalog->replace_all(loaded->topics);
  core->revision.store(loaded->revision);
  core->state = std::make_shared<ImageState>(std::move(*loaded));
  asio::co_spawn(core->strand, core->run(), asio::detached);
  co_return std::unique_ptr<ClusterImage>(new ClusterImage(core));
}

const ClusterKeys& ClusterImage::keys() const { return core_->keys; }
std::shared_ptr<const ImageState> ClusterImage::snapshot() const { return core_->current(); }

std::vector<BrokerInfo> ClusterImage::live_brokers() const {
  auto s = snapshot();
  std::vector<BrokerInfo> out;
  for (const auto& [id, b] : s->brokers) {
    if (s->epochs.count(EpochKey{id, b.epoch}) > 0) out.push_back(b);
  }
  return out;
}

std::optional<BrokerInfo> ClusterImage::broker(int32_t id) const {
  auto s = snapshot();
  auto it = s->brokers.find(id);
  if (it == s->brokers.end()) return std::nullopt;
  return it->second;
}

std::optional<Assignment> ClusterImage::assignment(const std::string& topic, int32_t partition) const {
  auto s = snapshot();
  auto it = s->assignments.find(PartitionKey{topic, partition});
  if (it == s->assignments.end()) return std::nullopt;
  return it->second;
}

std::vector<Assignment> ClusterImage::assignments() const {
  auto s = snapshot();
  std::vector<Assignment> out;
  out.reserve(s->assignments.size());
  for (const auto& [k, a] : s->assignments) out.push_back(a);
  return out;
}

std::vector<Assignment> ClusterImage::assignments_of(int32_t broker_id, int64_t epoch) const {
  auto s = snapshot();
  std::vector<Assignment> out;
  for (const auto& [k, a] : s->assignments) {
    if (a.broker_id == broker_id && a.broker_epoch == epoch && !a.released) out.push_back(a);
  }
  return out;
}

std::optional<int32_t> ClusterImage::controller_id() const {
  auto s = snapshot();
  if (!s->controller) return std::nullopt;
  return s->controller->broker_id;
}

std::optional<ControllerRecord> ClusterImage::controller() const { return snapshot()->controller; }
int64_t ClusterImage::revision() const { return core_->revision.load(); }
uint64_t ClusterImage::reloads() const { return core_->reloads.load(); }

asio::awaitable<Status> ClusterImage::wait_for_revision(int64_t rev, std::chrono::milliseconds timeout) {
  auto core = core_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // The waiter list belongs to the strand: the wait itself runs there.
  co_return co_await asio::co_spawn(core->strand, Core::wait_on_strand(core, rev, deadline), asio::use_awaitable);
}

void ClusterImage::subscribe(std::function<void()> on_change, bool call_now) {
  auto core = core_;
  asio::post(core->strand, [core, call_now, f = std::move(on_change)]() mutable {
    core->subscribers.push_back(std::move(f));
    if (call_now) core->subscribers.back()();
  });
}

asio::awaitable<void> ClusterImage::close() {
  auto core = core_;
  {
    std::lock_guard lock(core->mu);
    core->closing = true;
    if (core->watch) core->watch->cancel();
  }
  co_await asio::co_spawn(core->strand, Core::close_on_strand(core), asio::use_awaitable);
}

}  // namespace floe::cluster
