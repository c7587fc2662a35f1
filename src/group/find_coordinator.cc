#include "group/find_coordinator.h"

#include "group/errors.h"
#include "group/java_hash.h"

namespace floe::group {
namespace {

asio::awaitable<CoordinatorEndpoint> lookup(CoordinatorLocator& locator, int8_t key_type, const std::string& key,
                                            std::optional<std::string>& message) {
  CoordinatorEndpoint e;
  if (key_type != static_cast<int8_t>(CoordinatorKeyType::group) &&
      key_type != static_cast<int8_t>(CoordinatorKeyType::transaction)) {
    e.error_code = code(Errc::invalid_request);
    message = "unknown coordinator key type " + std::to_string(key_type);
    co_return e;
  }
  if (key.empty()) {
    e.error_code = code(Errc::invalid_request);
    message = "empty coordinator key";
    co_return e;
  }
  auto type = static_cast<CoordinatorKeyType>(key_type);
  int32_t partitions = locator.partition_count(type);
  if (partitions <= 0) {
    e.error_code = code(Errc::coordinator_not_available);
    message = "the coordinator topic is not available";
    co_return e;
  }
  e = co_await locator.locate(type, coordinator_partition(key, partitions));
  if (e.error_code != 0) {
    e.node_id = -1;
    e.host.clear();
    e.port = -1;
  }
  co_return e;
}

}  // namespace

asio::awaitable<proto::FindCoordinatorResponse> find_coordinator(CoordinatorLocator& locator, int16_t version,
                                                                 proto::FindCoordinatorRequest req) {
  proto::FindCoordinatorResponse resp;
  const int8_t key_type = version >= 1 ? req.key_type : int8_t{0};
  if (version >= 4) {
    for (const auto& key : req.coordinator_keys) {
      std::optional<std::string> message;
      CoordinatorEndpoint e = co_await lookup(locator, key_type, key, message);
      auto& c = resp.coordinators.emplace_back();
      c.key = key;
      c.node_id = e.node_id;
      c.host = e.host;
      c.port = e.port;
      c.error_code = e.error_code;
      c.error_message = message;
    }
    co_return resp;
  }
  std::optional<std::string> message;
  CoordinatorEndpoint e = co_await lookup(locator, key_type, req.key, message);
  resp.error_code = e.error_code;
  resp.error_message = message;
  resp.node_id = e.node_id;
  resp.host = e.host;
  resp.port = e.port;
  co_return resp;
}

}  // namespace floe::group
