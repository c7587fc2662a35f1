#include "meta/etcd_store.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "http/client.h"
#include "meta/json.h"
#include "meta/wakeup.h"

namespace floe::meta {

using Clock = std::chrono::steady_clock;
using detail::Wakeup;

namespace {

constexpr size_t kMaxWatchLineBytes = 64u << 20;

// --- encoding ---

void write_range(json::Writer& w, const RangeRequest& r) {
  w.begin_object().member_bytes("key", r.key).member_bytes("range_end", r.range_end);
  w.member_int64("limit", r.limit).member_int64("revision", r.revision);
  w.member_bool("serializable", r.serializable).member_bool("keys_only", r.keys_only);
  w.member_bool("count_only", r.count_only).end_object();
}
void write_put(json::Writer& w, const PutRequest& r) {
  w.begin_object().member_bytes("key", r.key).member_bytes("value", r.value).member_int64("lease", r.lease);
  w.member_bool("prev_kv", r.prev_kv).end_object();
}
void write_delete(json::Writer& w, const DeleteRequest& r) {
  w.begin_object().member_bytes("key", r.key).member_bytes("range_end", r.range_end);
  w.member_bool("prev_kv", r.prev_kv).end_object();
}

const char* result_name(Compare::Result r) {
  switch (r) {
    case Compare::Result::equal: return "EQUAL";
    case Compare::Result::greater: return "GREATER";
    case Compare::Result::less: return "LESS";
    case Compare::Result::not_equal: return "NOT_EQUAL";
  }
  return "EQUAL";
}

void write_compare(json::Writer& w, const Compare& c) {
  w.begin_object().key("result").string(result_name(c.result)).member_bytes("key", c.key);
  switch (c.target) {
    case Compare::Target::version: w.key("target").string("VERSION").key("version").int64(c.number); break;
    case Compare::Target::create_revision:
      w.key("target").string("CREATE").key("create_revision").int64(c.number);
      break;
    case Compare::Target::mod_revision: w.key("target").string("MOD").key("mod_revision").int64(c.number); break;
    case Compare::Target::value: w.key("target").string("VALUE").key("value").bytes(c.value); break;
    case Compare::Target::lease: w.key("target").string("LEASE").key("lease").int64(c.number); break;
  }
  w.end_object();
}

void write_ops(json::Writer& w, const std::vector<Op>& ops) {
  w.begin_array();
  for (const auto& op : ops) {
    w.begin_object();
    if (const auto* r = std::get_if<RangeRequest>(&op)) {
      write_range(w.key("request_range"), *r);
    } else if (const auto* p = std::get_if<PutRequest>(&op)) {
      write_put(w.key("request_put"), *p);
    } else if (const auto* d = std::get_if<DeleteRequest>(&op)) {
      write_delete(w.key("request_delete_range"), *d);
    }
    w.end_object();
  }
  w.end_array();
}

// --- decoding ---

std::optional<KeyValue> read_kv(const json::Value& v) {
  if (!v.is_object()) return std::nullopt;
  KeyValue kv;
  auto key = json::get_bytes(v, "key");
  auto value = json::get_bytes(v, "value");
  auto create = json::get_int64(v, "create_revision");
  auto mod = json::get_int64(v, "mod_revision");
  auto version = json::get_int64(v, "version");
  auto lease = json::get_int64(v, "lease");
  if (!key || !value || !create || !mod || !version || !lease) return std::nullopt;
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  kv.create_revision = *create;
  kv.mod_revision = *mod;
  kv.version = *version;
  kv.lease = *lease;
  return kv;
}

std::optional<int64_t> header_revision(const json::Value& v) {
  const json::Value* header = v.find("header");
  if (!header) return int64_t{0};
  return json::get_int64(*header, "revision");
}

std::optional<std::vector<KeyValue>> read_kvs(const json::Value& v, std::string_view name) {
  std::vector<KeyValue> out;
  const json::Value* list = v.find(name);
  if (!list) return out;
  if (!list->is_array()) return std::nullopt;
  for (const auto& item : list->items()) {
    auto kv = read_kv(item);
    if (!kv) return std::nullopt;
    out.push_back(std::move(*kv));
  }
  return out;
}

Result<RangeResponse> read_range(const json::Value& v) {
  RangeResponse r;
  auto rev = header_revision(v);
  auto kvs = read_kvs(v, "kvs");
  auto more = json::get_bool(v, "more");
  auto count = json::get_int64(v, "count");
  if (!rev || !kvs || !more || !count) return Errc::protocol;
  r.revision = *rev;
  r.kvs = std::move(*kvs);
  r.more = *more;
  r.count = *count;
  return r;
}

Result<PutResponse> read_put(const json::Value& v) {
  PutResponse r;
  auto rev = header_revision(v);
  if (!rev) return Errc::protocol;
  r.revision = *rev;
  if (const json::Value* prev = v.find("prev_kv")) {
    auto kv = read_kv(*prev);
    if (!kv) return Errc::protocol;
    r.prev_kv = std::move(*kv);
  }
  return r;
}

Result<DeleteResponse> read_delete(const json::Value& v) {
  DeleteResponse r;
  auto rev = header_revision(v);
  auto deleted = json::get_int64(v, "deleted");
  auto prev = read_kvs(v, "prev_kvs");
  if (!rev || !deleted || !prev) return Errc::protocol;
  r.revision = *rev;
  r.deleted = *deleted;
  r.prev_kvs = std::move(*prev);
  return r;
}

Result<TxnResponse> read_txn(const json::Value& v) {
  TxnResponse r;
  auto rev = header_revision(v);
  auto ok = json::get_bool(v, "succeeded");
  if (!rev || !ok) return Errc::protocol;
  r.revision = *rev;
  r.succeeded = *ok;
  if (const json::Value* list = v.find("responses")) {
    if (!list->is_array()) return Errc::protocol;
    for (const auto& item : list->items()) {
      if (const auto* x = item.find("response_range")) {
        auto rr = read_range(*x);
        if (!rr) return rr.error();
        r.responses.emplace_back(std::move(*rr));
      } else if (const auto* p = item.find("response_put")) {
        auto pr = read_put(*p);
        if (!pr) return pr.error();
        r.responses.emplace_back(std::move(*pr));
      } else if (const auto* d = item.find("response_delete_range")) {
        auto dr = read_delete(*d);
        if (!dr) return dr.error();
        r.responses.emplace_back(std::move(*dr));
      } else {
        return Errc::protocol;  // e.g. a nested txn response, which Floe never sends
      }
    }
  }
  return r;
}

// The Errc for an error answer of the gateway ({"error": ..., "code": grpc code}).
Errc map_error(const http::Response& response, std::string& message) {
  auto v = json::parse(response.body);
  int64_t code = 0;
  if (v) {
    if (const json::Value* m = v->find("error"); m && m->as_string()) message = *m->as_string();
    if (auto c = json::get_int64(*v, "code")) code = *c;
  }
  if (message.empty()) message = "HTTP " + std::to_string(response.status);
  auto has = [&](std::string_view s) { return message.find(s) != std::string::npos; };
  if (has("has been compacted")) return Errc::compacted;
  if (has("future revision")) return Errc::future_revision;
  if (has("lease not found")) return Errc::lease_not_found;
  if (has("too many operations")) return Errc::too_many_ops;
  if (has("request is too large")) return Errc::request_too_large;
  if (has("duplicate key")) return Errc::duplicate_key;
  if (code == 14 || response.status == 503) return Errc::unavailable;  // grpc Unavailable: no leader, stopping
  if (code == 3) return Errc::invalid_argument;
  return Errc::server;
}

bool nothing_sent(std::error_code ec) {
  return ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
         ec == asio::error::network_unreachable || ec == http::Error::too_many_pending ||
         ec == http::Error::bad_url;
}

std::string normalize_endpoint(std::string e) {
  if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0) e = "http://" + e;
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

struct WatchShared : std::enable_shared_from_this<WatchShared> {
  WatchShared(const asio::any_io_executor& ex, WatchRequest r)
      : request(std::move(r)), strand(asio::make_strand(ex)), data(ex), room(ex), timer(strand) {}

  void stop_stream() {  // any thread
    asio::post(strand, [self = shared_from_this()]() {
      self->signal.emit(asio::cancellation_type::terminal);
      self->timer.cancel();
    });
  }

  WatchRequest request;
  std::mutex mu;
  std::deque<Event> queue;
  int64_t next_revision = 0;  // the stream resumes here: one after the newest queued event
  std::error_code error;      // terminal: compacted, closed
  int64_t compact_revision = 0;
  bool cancelled = false;
  bool finished = false;      // the stream loop has ended
  asio::strand<asio::any_io_executor> strand;
  Wakeup data;  // owner: events or an error arrived
  Wakeup room;  // stream loop: the owner drained the queue
  // Strand only:
  asio::cancellation_signal signal;
  asio::steady_timer timer;
};

}  // namespace

struct EtcdStore::Core : std::enable_shared_from_this<Core> {
  MetaStats stats;
  Core(asio::any_io_executor ex, EtcdConfig c, http::ClientConfig hc)
      : executor(ex), config(std::move(c)), client(ex, hc) {}

  asio::any_io_executor executor;
  EtcdConfig config;
  http::Client client;
  std::atomic<size_t> preferred{0};
  std::atomic<bool> closed{false};
  std::mutex mu;
  std::vector<std::weak_ptr<WatchShared>> watches;

  // POSTs `body` to `path` (see the header for failover rules) and returns the parsed 200 answer.
  asio::awaitable<Result<json::Value>> call(std::string path, std::string body, bool idempotent) {
    const auto deadline = Clock::now() + config.request_timeout;
    const size_t n = config.endpoints.size();
    const size_t start = preferred.load();
    std::error_code last = make_error_code(Errc::unavailable);
    for (size_t i = 0; i < n; ++i) {
      if (closed) co_return Errc::closed;
      if (Clock::now() >= deadline) co_return Errc::timeout;
      const size_t idx = (start + i) % n;
      http::Request request;
      request.method = "POST";
      request.url = config.endpoints[idx] + path;
      request.headers = {{"Content-Type", "application/json"}};
      request.body = body;
      request.deadline = deadline;
      auto [ec, response] = co_await client.send(std::move(request));
      if (ec) {
        if (ec == http::Error::shut_down || closed) co_return Errc::closed;
        log::debug("meta", "etcd ", config.endpoints[idx], path, ": ", ec.message());
        const Errc mapped = ec == http::Error::timed_out ? Errc::timeout : Errc::unavailable;
        if (idempotent || nothing_sent(ec)) {
          last = make_error_code(mapped);
          continue;
        }
        co_return ec == http::Error::timed_out ? Errc::timeout : Errc::ambiguous;
      }
      if (response.status == 200) {
        auto value = json::parse(response.body);
        if (!value || !value->is_object()) {
          log::warn("meta", "etcd ", config.endpoints[idx], path, ": unparsable answer (", response.body.size(),
                    " bytes)");
          co_return Errc::protocol;
        }
        preferred = idx;
        co_return std::move(*value);
      }
      std::string message;
      const Errc err = map_error(response, message);
      if (err == Errc::server) log::warn("meta", "etcd ", config.endpoints[idx], path, ": ", message);
      if (err == Errc::unavailable && idempotent) {
        last = make_error_code(err);
        continue;
      }
      preferred = idx;
      co_return err;
    }
    co_return last;
  }

  asio::awaitable<Result<RangeResponse>> client_range(RangeRequest request) {
    json::Writer w;
    write_range(w, request);
    auto v = co_await call("/v3/kv/range", w.take(), true);
    if (!v) co_return v.error();
    co_return read_range(*v);
  }

  static asio::awaitable<void> run_watch(std::shared_ptr<Core> core, std::shared_ptr<WatchShared> w);
};

namespace {

class EtcdWatch final : public Watch {
 public:
  explicit EtcdWatch(std::shared_ptr<WatchShared> w, size_t batch) : w_(std::move(w)), batch_(batch) {}
  ~EtcdWatch() override { cancel(); }

  asio::awaitable<Result<WatchBatch>> next() override {
    auto w = w_;
    for (;;) {
      {
        std::lock_guard lock(w->mu);
        if (w->cancelled) co_return Errc::cancelled;
        if (!w->queue.empty()) {
          WatchBatch batch;
          while (!w->queue.empty()) {
            const int64_t rev = w->queue.front().kv.mod_revision;
            if (batch.events.size() >= batch_ && batch.events.back().kv.mod_revision != rev) break;
            batch.events.push_back(std::move(w->queue.front()));
            w->queue.pop_front();
          }
          w->room.notify();
          co_return batch;
        }
        if (w->error) co_return w->error;
      }
      co_await w->data.wait();
    }
  }

  void cancel() override {
    {
      std::lock_guard lock(w_->mu);
      if (w_->cancelled) return;
      w_->cancelled = true;
    }
    w_->data.notify();
    w_->room.notify();
    w_->stop_stream();
  }

  int64_t compact_revision() const override {
    std::lock_guard lock(w_->mu);
    return w_->compact_revision;
  }

 private:
  std::shared_ptr<WatchShared> w_;
  size_t batch_;
};

}  // namespace

asio::awaitable<void> EtcdStore::Core::run_watch(std::shared_ptr<Core> core, std::shared_ptr<WatchShared> w) {
  auto backoff = core->config.watch_backoff_min;
  const size_t capacity = std::max<size_t>(core->config.watch_queue_events, 2);
  size_t endpoint = core->preferred.load();
  bool reported_outage = false;
  auto stopped = [&] {
    std::lock_guard lock(w->mu);
    return w->cancelled || core->closed.load() || static_cast<bool>(w->error);
  };
  auto sleep_backoff = [&]() -> asio::awaitable<void> {
    w->timer.expires_after(backoff);
    std::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min(backoff * 2, core->config.watch_backoff_max);
  };

  // "From the next revision": pin it now, so that a reconnect before the first event loses nothing.
  for (int attempt = 0; !stopped() && w->next_revision == 0; ++attempt) {
    RangeRequest probe;
    probe.key = w->request.key;
    probe.count_only = true;
    auto r = co_await core->client_range(probe);
    if (r) {
      std::lock_guard lock(w->mu);
      w->next_revision = r->revision + 1;
    } else {
      co_await sleep_backoff();
    }
  }

  while (!stopped()) {
    // Room in the queue before (re)connecting.
    for (;;) {
      {
        std::lock_guard lock(w->mu);
        if (w->queue.size() < capacity / 2 || w->cancelled || core->closed) break;
      }
      co_await w->room.wait();
    }
    if (stopped()) break;

    int64_t start = 0;
    {
      std::lock_guard lock(w->mu);
      start = w->next_revision;
    }
    json::Writer body;
    body.begin_object().key("create_request").begin_object();
    body.member_bytes("key", w->request.key).member_bytes("range_end", w->request.range_end);
    body.member_int64("start_revision", start).member_bool("prev_kv", w->request.prev_kv);
    body.end_object().end_object();

    http::Request request;
    request.method = "POST";
    request.url = core->config.endpoints[endpoint % core->config.endpoints.size()] + "/v3/watch";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = body.take();
    request.deadline = Clock::time_point::max();

    std::string buffer;
    bool overflow = false;
    bool healthy = false;  // the server accepted the watch
    std::string failure;
    auto handle_line = [&](std::string_view line) -> bool {
      auto v = json::parse(line);
      const json::Value* result = v ? v->find("result") : nullptr;
      if (!result) {
        failure = v && v->find("error") && v->find("error")->as_string() ? *v->find("error")->as_string()
                                                                          : "unparsable watch message";
        return false;
      }
      if (json::get_bool(*result, "created").value_or(false)) healthy = true;
      if (json::get_bool(*result, "canceled").value_or(false)) {
        const int64_t compact = json::get_int64(*result, "compact_revision").value_or(0);
        std::lock_guard lock(w->mu);
        if (compact > 0) {
          w->compact_revision = compact;
          w->error = make_error_code(Errc::compacted);
        } else {
          auto reason = result->find("cancel_reason");
          failure = reason && reason->as_string() ? *reason->as_string() : "watch canceled by the server";
        }
        return false;
      }
      const json::Value* events = result->find("events");
      if (!events) return true;
      if (!events->is_array()) {
        failure = "events is not an array";
        return false;
      }
      std::vector<Event> batch;
      for (const auto& item : events->items()) {
        Event e;
        const json::Value* type = item.find("type");
        if (type && type->as_string() && *type->as_string() == "DELETE") e.type = Event::Type::del;
        const json::Value* kv = item.find("kv");
        auto parsed = kv ? read_kv(*kv) : std::nullopt;
        if (!parsed) {
          failure = "bad event";
          return false;
        }
        e.kv = std::move(*parsed);
        if (const json::Value* prev = item.find("prev_kv")) {
          auto p = read_kv(*prev);
          if (!p) {
            failure = "bad prev_kv";
            return false;
          }
          e.prev_kv = std::move(*p);
        }
        batch.push_back(std::move(e));
      }
      std::lock_guard lock(w->mu);
      // One message holds whole revisions, and a txn's events share one revision: compare against the floor as
      // it was before this message, or every event of a revision after its first would be dropped.
      const int64_t floor = w->next_revision;
      for (auto& e : batch) {
        if (e.kv.mod_revision < floor) continue;  // already delivered before a reconnect
        w->next_revision = std::max(w->next_revision, e.kv.mod_revision + 1);
        w->queue.push_back(std::move(e));
      }
      w->data.notify();
      if (w->queue.size() >= capacity) {
        overflow = true;
        return false;
      }
      return true;
    };
    auto on_data = [&](std::string_view piece) -> bool {
      buffer.append(piece);
      size_t begin = 0;
      bool go_on = true;
      for (size_t nl; go_on && (nl = buffer.find('\n', begin)) != std::string::npos; begin = nl + 1) {
        std::string_view line(buffer.data() + begin, nl - begin);
        if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
        go_on = handle_line(line);
      }
      buffer.erase(0, begin);
      if (go_on && buffer.size() > kMaxWatchLineBytes) {
        failure = "watch message too long";
        go_on = false;
      }
      return go_on;
    };

    if (stopped()) break;
    auto stream = core->client.stream(std::move(request), on_data);
    auto [ec, response] = co_await asio::co_spawn(
        w->strand, std::move(stream), asio::bind_cancellation_slot(w->signal.slot(), asio::use_awaitable));
    if (stopped()) break;
    if (overflow) {
      backoff = core->config.watch_backoff_min;
      continue;
    }
    if (!ec && response.status != 200) failure = "HTTP " + std::to_string(response.status) + " " + response.body;
    if (healthy) {
      backoff = core->config.watch_backoff_min;
      if (reported_outage) log::info("meta", "etcd watch stream back at revision ", start);
      reported_outage = false;
    }
    if (!reported_outage) {
      log::warn("meta", "etcd watch stream to ", core->config.endpoints[endpoint % core->config.endpoints.size()],
                " ended (", ec ? ec.message() : (failure.empty() ? "server closed it" : failure),
                "); reconnecting from revision ", start);
      reported_outage = true;
    }
    ++endpoint;
    co_await sleep_backoff();
  }
  {
    std::lock_guard lock(w->mu);
    if (!w->error && !w->cancelled) w->error = make_error_code(Errc::closed);
    w->finished = true;
  }
  w->data.notify();
}

Result<std::unique_ptr<EtcdStore>> EtcdStore::create(asio::any_io_executor executor, EtcdConfig config) {
  if (config.endpoints.empty()) return Errc::invalid_argument;
  for (auto& e : config.endpoints) {
    e = normalize_endpoint(std::move(e));
    if (e.size() <= 7) return Errc::invalid_argument;
  }
  http::ClientConfig hc;
  hc.max_connections_per_host = config.max_connections_per_endpoint;
  hc.connect_timeout = std::min<std::chrono::milliseconds>(config.request_timeout, std::chrono::milliseconds(1000));
  hc.default_timeout = config.request_timeout;
  auto core = std::make_shared<Core>(executor, std::move(config), hc);
  return std::unique_ptr<EtcdStore>(new EtcdStore(std::move(core)));
}

EtcdStore::EtcdStore(std::shared_ptr<Core> core) : core_(std::move(core)) {}
EtcdStore::~EtcdStore() { shutdown(); }

void EtcdStore::shutdown() {
  if (core_->closed.exchange(true)) return;
  core_->client.shutdown();
  std::lock_guard lock(core_->mu);
  for (auto& weak : core_->watches) {
    if (auto w = weak.lock()) {
      w->data.notify();
      w->room.notify();
      w->stop_stream();
    }
  }
  core_->watches.clear();
}

MetaStatsSnapshot EtcdStore::stats() const { return core_->stats.snapshot(); }

asio::awaitable<Result<RangeResponse>> EtcdStore::range(RangeRequest request) {
  if (request.key.empty() || request.limit < 0) co_return Errc::invalid_argument;
  auto core = core_;
  MetaStats::Timer timer(core->stats, MetaOp::range);
  co_return co_await core->client_range(request);
}

asio::awaitable<Result<PutResponse>> EtcdStore::put(PutRequest request) {
  if (request.key.empty()) co_return Errc::invalid_argument;
  if (request.key.size() + request.value.size() + 16 > core_->config.limits.max_bytes) {
    co_return Errc::request_too_large;
  }
  auto core = core_;
  MetaStats::Timer timer(core->stats, MetaOp::put);
  json::Writer w;
  write_put(w, request);
  auto v = co_await core->call("/v3/kv/put", w.take(), false);
  if (!v) co_return v.error();
  co_return read_put(*v);
}

asio::awaitable<Result<DeleteResponse>> EtcdStore::del(DeleteRequest request) {
  if (request.key.empty()) co_return Errc::invalid_argument;
  auto core = core_;
  MetaStats::Timer timer(core->stats, MetaOp::del);
  json::Writer w;
  write_delete(w, request);
  auto v = co_await core->call("/v3/kv/deleterange", w.take(), false);
  if (!v) co_return v.error();
  co_return read_delete(*v);
}

asio::awaitable<Result<TxnResponse>> EtcdStore::txn(TxnRequest request) {
  if (auto ec = validate_txn(request, core_->config.limits)) co_return ec;
  auto core = core_;
  MetaStats::Timer timer(core->stats, MetaOp::txn);
  json::Writer w;
  w.begin_object();
  if (!request.compares.empty()) {
    w.key("compare").begin_array();
    for (const auto& c : request.compares) write_compare(w, c);
    w.end_array();
  }
  if (!request.success.empty()) write_ops(w.key("success"), request.success);
  if (!request.failure.empty()) write_ops(w.key("failure"), request.failure);
  w.end_object();
  auto v = co_await core->call("/v3/kv/txn", w.take(), false);
  if (!v) co_return v.error();
  co_return read_txn(*v);
}

asio::awaitable<Result<LeaseGrantResponse>> EtcdStore::lease_grant(int64_t ttl_seconds, int64_t id) {
  if (ttl_seconds <= 0 || id < 0) co_return Errc::invalid_argument;
  auto core = core_;
  json::Writer w;
  w.begin_object().key("TTL").int64(ttl_seconds).member_int64("ID", id).end_object();
  auto v = co_await core->call("/v3/lease/grant", w.take(), false);
  if (!v) co_return v.error();
  if (const json::Value* e = v->find("error"); e && e->as_string() && !e->as_string()->empty()) {
    log::warn("meta", "etcd lease grant: ", *e->as_string());
    co_return Errc::server;
  }
  auto got_id = json::get_int64(*v, "ID");
  auto ttl = json::get_int64(*v, "TTL");
  if (!got_id || !ttl || *got_id == 0) co_return Errc::protocol;
  co_return LeaseGrantResponse{*got_id, *ttl};
}

asio::awaitable<Result<int64_t>> EtcdStore::lease_keepalive(int64_t id) {
  auto core = core_;
  json::Writer w;
  w.begin_object().key("ID").int64(id).end_object();
  auto v = co_await core->call("/v3/lease/keepalive", w.take(), true);
  if (!v) co_return v.error();
  // A streamed answer: {"result": {...}} (one message for one request).
  const json::Value* result = v->find("result");
  if (!result) co_return Errc::protocol;
  auto ttl = json::get_int64(*result, "TTL");
  if (!ttl) co_return Errc::protocol;
  if (*ttl <= 0) co_return Errc::lease_not_found;
  co_return *ttl;
}

asio::awaitable<std::error_code> EtcdStore::lease_revoke(int64_t id) {
  auto core = core_;
  json::Writer w;
  w.begin_object().key("ID").int64(id).end_object();
  auto v = co_await core->call("/v3/lease/revoke", w.take(), false);
  co_return v ? std::error_code{} : v.error();
}

asio::awaitable<std::error_code> EtcdStore::compact(int64_t revision) {
  auto core = core_;
  json::Writer w;
  w.begin_object().key("revision").int64(revision).key("physical").boolean(true).end_object();
  auto v = co_await core->call("/v3/kv/compaction", w.take(), false);
  co_return v ? std::error_code{} : v.error();
}

std::unique_ptr<Watch> EtcdStore::watch(WatchRequest request) {
  auto w = std::make_shared<WatchShared>(core_->executor, std::move(request));
  w->next_revision = w->request.start_revision;
  {
    std::lock_guard lock(core_->mu);
    std::erase_if(core_->watches, [](const std::weak_ptr<WatchShared>& x) { return x.expired(); });
    core_->watches.push_back(w);
    if (core_->closed) {
      w->error = make_error_code(Errc::closed);
      return std::make_unique<EtcdWatch>(std::move(w), 1000);
    }
  }
  auto run = Core::run_watch(core_, w);
  asio::co_spawn(w->strand, std::move(run), asio::detached);
  return std::make_unique<EtcdWatch>(std::move(w), 1000);
}

}  // namespace floe::meta
