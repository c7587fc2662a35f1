// Topic configuration keys Floe understands, their defaults and validation (CreateTopics, AlterConfigs,
// IncrementalAlterConfigs, DescribeConfigs all use this table).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace floe::cluster {

struct TopicConfigKey {
  std::string_view name;
  std::string_view default_value;
  std::string_view doc;
};

// Every supported key, sorted by name.
std::span<const TopicConfigKey> topic_config_keys();
const TopicConfigKey* find_topic_config(std::string_view name);

// Checks one key=value; returns an error message (naming the key) or nullopt when valid.
std::optional<std::string> validate_topic_config(std::string_view name, std::string_view value);

// The effective value: the override if set, else the default.
std::string topic_config_value(const std::map<std::string, std::string>& overrides, std::string_view name);
int64_t topic_config_int(const std::map<std::string, std::string>& overrides, std::string_view name);

}  // namespace floe::cluster
