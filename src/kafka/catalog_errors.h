// The Kafka error code for a topic catalog error (cluster/topic_catalog.h).
#pragma once

#include <system_error>

#include "cluster/topic_catalog.h"
#include "kafka/errors.h"

namespace floe::kafka {

inline int16_t catalog_error_code(std::error_code ec) {
  if (ec == cluster::CatalogErrc::topic_exists) return code(Errc::topic_already_exists);
  if (ec == cluster::CatalogErrc::unknown_topic) return code(Errc::unknown_topic_or_partition);
  if (ec == cluster::CatalogErrc::invalid_config) return code(Errc::invalid_config);
  if (ec == cluster::CatalogErrc::invalid_partitions) return code(Errc::invalid_partitions);
  return code(Errc::unknown_server_error);
}

}  // namespace floe::kafka
