#include "cluster/topic_catalog.h"

#include <random>

#include "cluster/topic_config.h"
#include "meta/meta_store.h"

namespace floe::cluster {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "floe.catalog"; }
  std::string message(int ev) const override {
    switch (static_cast<CatalogErrc>(ev)) {
      case CatalogErrc::ok: return "ok";
      case CatalogErrc::topic_exists: return "topic already exists";
      case CatalogErrc::unknown_topic: return "unknown topic";
      case CatalogErrc::invalid_config: return "invalid config";
      case CatalogErrc::invalid_partitions: return "invalid partitions";
      case CatalogErrc::store_error: return "metadata store error";
    }
    return "unknown catalog error";
  }
};

}  // namespace

std::string TopicCatalog::encode(const TopicInfo& t) {
  proto::Bytes out;
  proto::Writer w(out);
  w.i8(1);
  w.uuid(t.id);
  w.i32(t.partitions);
  w.u32(static_cast<uint32_t>(t.configs.size()));
  for (const auto& [k, v] : t.configs) {
    w.string(k, false);
    w.string(v, false);
  }
  return std::string(out.begin(), out.end());
}

std::optional<TopicInfo> TopicCatalog::decode(const std::string& name, const std::string& value) {
  proto::Reader r(proto::ByteSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  if (r.i8() != 1) return std::nullopt;
  TopicInfo t;
  t.name = name;
  t.id = r.uuid();
  t.partitions = r.i32();
  uint32_t n = r.u32();
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    std::string k = r.string(false);
    t.configs[k] = r.string(false);
  }
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return t;
}

namespace {

// Not thread_local: GCC 12 may cache a thread-local's address across a coroutine's suspension points.
proto::Uuid random_uuid() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  proto::Uuid u;
  for (auto& b : u) b = static_cast<uint8_t>(rng());
  u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x40);  // version 4
  u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);  // variant 1
  return u;
}

Error error(CatalogErrc e, std::string message) { return Error{make_error_code(e), std::move(message)}; }

}  // namespace

const std::error_category& catalog_category() {
  static const Category c;
  return c;
}

uint64_t stream_id_of(const proto::Uuid& topic_id, int32_t partition) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64 over the id and the partition
  for (uint8_t b : topic_id) h = (h ^ b) * 1099511628211ull;
  for (int i = 3; i >= 0; --i) h = (h ^ static_cast<uint8_t>(static_cast<uint32_t>(partition) >> (8 * i))) * 1099511628211ull;
  return h;
}

asio::awaitable<Result<std::optional<std::set<uint64_t>>>> live_streams_at(meta::MetaStore& meta, std::string root,
                                                                          int64_t revision) {
  const std::string prefix = root + "topics/";
  meta::RangeRequest req;
  req.key = prefix;
  req.range_end = meta::prefix_end(prefix);
  req.revision = revision;
  auto r = co_await meta.range(req);
  if (!r) co_return error(CatalogErrc::store_error, "topics: cannot read at revision " + std::to_string(revision) +
                                                        ": " + r.error().message());
  std::set<uint64_t> live;
  for (const auto& kv : r->kvs) {
    auto t = TopicCatalog::decode(kv.key.substr(prefix.size()), kv.value);
    if (!t) co_return std::optional<std::set<uint64_t>>();
    for (int32_t p = 0; p < t->partitions; ++p) live.insert(stream_id_of(t->id, p));
  }
  co_return std::optional<std::set<uint64_t>>(std::move(live));
}

asio::awaitable<Result<std::unique_ptr<TopicCatalog>>> TopicCatalog::load(meta::MetaStore& meta, std::string root) {
  std::unique_ptr<TopicCatalog> c(new TopicCatalog(meta, std::move(root)));
  const std::string prefix = c->root_ + "topics/";
  meta::RangeRequest req;
  req.key = prefix;
  req.range_end = meta::prefix_end(prefix);
  auto r = co_await meta.range(req);
  if (!r) co_return error(CatalogErrc::store_error, "topics: cannot load: " + r.error().message());
  for (const auto& kv : r->kvs) {
    std::string name = kv.key.substr(prefix.size());
    auto t = decode(name, kv.value);
    if (!t) co_return error(CatalogErrc::store_error, "topics: record of " + name + " is corrupt");
    c->topics_[name] = std::move(*t);
  }
  co_return c;
}

std::optional<TopicInfo> TopicCatalog::find(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::optional<TopicInfo> TopicCatalog::find(const proto::Uuid& id) const {
  std::lock_guard lock(mu_);
  for (const auto& [name, t] : topics_) {
    if (t.id == id) return t;
  }
  return std::nullopt;
}

std::vector<TopicInfo> TopicCatalog::list() const {
  std::lock_guard lock(mu_);
  std::vector<TopicInfo> out;
  for (const auto& [name, t] : topics_) out.push_back(t);
  return out;
}

asio::awaitable<Status> TopicCatalog::write(const TopicInfo& topic, bool create) {
  meta::TxnRequest txn;
  const std::string key = root_ + "topics/" + topic.name;
  // Create only when absent; update only while the topic exists (a concurrent delete wins).
  txn.compares.push_back(meta::Compare::version(key, create ? meta::Compare::Result::equal
                                                            : meta::Compare::Result::greater, 0));
  meta::PutRequest put;
  put.key = key;
  put.value = encode(topic);
  txn.success.push_back(put);
  auto r = co_await meta_.txn(txn);
  if (!r) co_return error(CatalogErrc::store_error, "topic " + topic.name + ": " + r.error().message());
  if (!r->succeeded) {
    co_return create ? error(CatalogErrc::topic_exists, "topic " + topic.name + " already exists")
                     : error(CatalogErrc::unknown_topic, "topic " + topic.name + " does not exist");
  }
  std::lock_guard lock(mu_);
  topics_[topic.name] = topic;
  co_return ok_status();
}

void TopicCatalog::apply(TopicInfo topic) {
  std::lock_guard lock(mu_);
  std::string name = topic.name;
  topics_[name] = std::move(topic);
}

void TopicCatalog::erase(const std::string& name) {
  std::lock_guard lock(mu_);
  topics_.erase(name);
}

void TopicCatalog::replace_all(std::map<std::string, TopicInfo> topics) {
  std::lock_guard lock(mu_);
  topics_ = std::move(topics);
}

asio::awaitable<Result<TopicInfo>> TopicCatalog::create(const std::string& name, int32_t partitions,
                                                        std::map<std::string, std::string> configs) {
  if (partitions <= 0 || partitions > 100000) {
    co_return error(CatalogErrc::invalid_partitions, "partitions must be between 1 and 100000");
  }
  for (const auto& [k, v] : configs) {
    if (auto e = validate_topic_config(k, v)) co_return error(CatalogErrc::invalid_config, *e);
  }
  if (find(name)) co_return error(CatalogErrc::topic_exists, "topic " + name + " already exists");
  TopicInfo t{name, random_uuid(), partitions, std::move(configs)};
  if (Status st = co_await write(t, true); !st) co_return st.error();
  co_return t;
}

asio::awaitable<Status> TopicCatalog::remove(const std::string& name) {
  meta::DeleteRequest del;
  del.key = root_ + "topics/" + name;
  auto r = co_await meta_.del(del);
  if (!r) co_return error(CatalogErrc::store_error, "topic " + name + ": " + r.error().message());
  if (r->deleted == 0) co_return error(CatalogErrc::unknown_topic, "topic " + name + " does not exist");
  std::lock_guard lock(mu_);
  topics_.erase(name);
  co_return ok_status();
}

asio::awaitable<Status> TopicCatalog::set_partitions(const std::string& name, int32_t total) {
  auto t = find(name);
  if (!t) co_return error(CatalogErrc::unknown_topic, "topic " + name + " does not exist");
  if (total <= t->partitions || total > 100000) {
    co_return error(CatalogErrc::invalid_partitions, "topic " + name + " has " + std::to_string(t->partitions) +
                                                         " partitions; the new count must be larger");
  }
  t->partitions = total;
  co_return co_await write(*t, false);
}

asio::awaitable<Status> TopicCatalog::set_configs(const std::string& name, std::map<std::string, std::string> configs) {
  auto t = find(name);
  if (!t) co_return error(CatalogErrc::unknown_topic, "topic " + name + " does not exist");
  for (const auto& [k, v] : configs) {
    if (auto e = validate_topic_config(k, v)) co_return error(CatalogErrc::invalid_config, *e);
  }
  t->configs = std::move(configs);
  co_return co_await write(*t, false);
}

}  // namespace floe::cluster
