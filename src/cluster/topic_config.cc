#include "cluster/topic_config.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace floe::cluster {
namespace {

constexpr std::array kKeys = {
    TopicConfigKey{"cleanup.policy", "delete", "delete (compact is not supported yet)"},
    TopicConfigKey{"compression.type", "producer", "producer: keep batches as the producer compressed them"},
    TopicConfigKey{"max.message.bytes", "1048588", "largest record batch accepted, in bytes"},
    TopicConfigKey{"message.timestamp.type", "CreateTime", "CreateTime or LogAppendTime"},
    TopicConfigKey{"min.insync.replicas", "1", "accepted for compatibility: one shared log is always in sync"},
    TopicConfigKey{"retention.bytes", "-1", "bytes kept per partition before old data is deleted; -1: no limit"},
    TopicConfigKey{"retention.ms", "604800000", "how long data is kept; -1: forever"},
    TopicConfigKey{"segment.bytes", "1073741824", "accepted for compatibility (objects are sized by the WAL)"},
    TopicConfigKey{"segment.ms", "604800000", "accepted for compatibility"},
};

std::optional<int64_t> parse_int(std::string_view v) {
  int64_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return x;
}

}  // namespace

std::span<const TopicConfigKey> topic_config_keys() { return kKeys; }

const TopicConfigKey* find_topic_config(std::string_view name) {
  for (const auto& k : kKeys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::optional<std::string> validate_topic_config(std::string_view name, std::string_view value) {
  const std::string key(name);
  if (!find_topic_config(name)) return "unknown topic config " + key;
  auto integer_at_least = [&](int64_t lo) -> std::optional<std::string> {
    auto x = parse_int(value);
    if (!x || *x < lo) return key + " must be an integer >= " + std::to_string(lo) + ", got '" + std::string(value) + "'";
    return std::nullopt;
  };
  if (name == "cleanup.policy") {
    if (value == "delete") return std::nullopt;
    if (value.find("compact") != std::string_view::npos) return "cleanup.policy=compact is not supported by Floe yet";
    return "cleanup.policy must be delete, got '" + std::string(value) + "'";
  }
  if (name == "compression.type") {
    for (std::string_view ok : {"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}) {
      if (value == ok) return std::nullopt;
    }
    return "compression.type must be producer, uncompressed, gzip, snappy, lz4 or zstd";
  }
  if (name == "message.timestamp.type") {
    if (value == "CreateTime" || value == "LogAppendTime") return std::nullopt;
    return "message.timestamp.type must be CreateTime or LogAppendTime";
  }
  if (name == "max.message.bytes") return integer_at_least(0);
  if (name == "min.insync.replicas") return integer_at_least(1);
  if (name == "retention.bytes" || name == "retention.ms") return integer_at_least(-1);
  if (name == "segment.bytes") return integer_at_least(14);
  if (name == "segment.ms") return integer_at_least(1);
  return std::nullopt;
}

std::string topic_config_value(const std::map<std::string, std::string>& overrides, std::string_view name) {
  auto it = overrides.find(std::string(name));
  if (it != overrides.end()) return it->second;
  const TopicConfigKey* k = find_topic_config(name);
  return k ? std::string(k->default_value) : std::string();
}

int64_t topic_config_int(const std::map<std::string, std::string>& overrides, std::string_view name) {
  return parse_int(topic_config_value(overrides, name)).value_or(0);
}

}  // namespace floe::cluster
