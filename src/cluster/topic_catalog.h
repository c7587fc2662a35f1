// The topics of the cluster, kept in the metadata store and mirrored in memory.
//
// Key <root>topics/<name>, value (big-endian):
//   +------------+---------------+-----------------+-----------+------------------------------------------+
//   | version u8 | topic id (16) | partitions i32  | count u32 | count x (key: i16 len + bytes,           |
//   |    (1)     |  (a UUID v4)  |                 |           |          value: i16 len + bytes)         |
//   +------------+---------------+-----------------+-----------+------------------------------------------+
// Only config overrides are stored; defaults come from topic_config.h. Partition p of a topic is the stream
// stream_id_of(topic id, p): a deleted and re-created topic gets a new id, so it never sees the old data.
//
// The embedded-mode catalog is loaded once and updated by its own writes (one broker). In cluster mode the
// ClusterImage (cluster_image.h) also feeds it from its watch (apply / erase / replace_all), so topics created by
// another broker appear; a broker's own writes still update it at once.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "base/result.h"
#include "protocol/wire.h"

namespace floe::meta {
class MetaStore;
}

namespace floe::cluster {

enum class CatalogErrc { ok = 0, topic_exists = 1, unknown_topic = 2, invalid_config = 3, invalid_partitions = 4,
                         store_error = 5 };
const std::error_category& catalog_category();
inline std::error_code make_error_code(CatalogErrc e) { return {static_cast<int>(e), catalog_category()}; }

struct TopicInfo {
  std::string name;
  proto::Uuid id{};
  int32_t partitions = 0;
  std::map<std::string, std::string> configs;  // overrides
};

uint64_t stream_id_of(const proto::Uuid& topic_id, int32_t partition);

// The streams of every topic in <root>topics/ at `revision` (one read at that revision, so it matches a read of
// the committed objects at the same revision): what garbage collection may treat as live (a stream not in it
// belongs to a deleted topic, whose id is never used again). nullopt when a topic record cannot be decoded (then
// nothing may be treated as deleted). Errors: the store's (e.g. the revision was compacted away).
asio::awaitable<Result<std::optional<std::set<uint64_t>>>> live_streams_at(meta::MetaStore& meta, std::string root,
                                                                          int64_t revision);

class TopicCatalog {
 public:
  static asio::awaitable<Result<std::unique_ptr<TopicCatalog>>> load(meta::MetaStore& meta, std::string root);

  std::optional<TopicInfo> find(const std::string& name) const;
  std::optional<TopicInfo> find(const proto::Uuid& id) const;
  std::vector<TopicInfo> list() const;

  // Creates a topic (configs validated; errors name the key). topic_exists when the name is taken.
  asio::awaitable<Result<TopicInfo>> create(const std::string& name, int32_t partitions,
                                            std::map<std::string, std::string> configs);
  asio::awaitable<Status> remove(const std::string& name);
  // Grows the topic to `total` partitions (never shrinks).
  asio::awaitable<Status> set_partitions(const std::string& name, int32_t total);
  // Replaces the config overrides.
  asio::awaitable<Status> set_configs(const std::string& name, std::map<std::string, std::string> configs);

  // Fed by the cluster image's watch: a topics/ key was put or deleted, or the image reloaded everything.
  void apply(TopicInfo topic);
  void erase(const std::string& name);
  void replace_all(std::map<std::string, TopicInfo> topics);

  // The value codec of <root>topics/<name> (diagram above). nullopt: not a valid record.
  static std::string encode(const TopicInfo& topic);
  static std::optional<TopicInfo> decode(const std::string& name, const std::string& value);

 private:
  TopicCatalog(meta::MetaStore& meta, std::string root) : meta_(meta), root_(std::move(root)) {}
  asio::awaitable<Status> write(const TopicInfo& topic, bool create);

  meta::MetaStore& meta_;
  std::string root_;
  mutable std::mutex mu_;
  std::map<std::string, TopicInfo> topics_;
};

}  // namespace floe::cluster

template <>
struct std::is_error_code_enum<floe::cluster::CatalogErrc> : std::true_type {};
