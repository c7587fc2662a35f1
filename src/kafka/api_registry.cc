// The table of implemented APIs. Adding an API: write its handler, add one line here with the versions it serves.
#include <algorithm>
#include <array>

#include "kafka/api_handler.h"
#include "kafka/api_versions.h"
#include "kafka/metadata.h"

namespace floe::kafka {
namespace {

constexpr std::array kHandlers = {
    ApiHandler{3, 0, 12, &typed_handler<proto::MetadataRequest, proto::MetadataResponse, &handle_metadata>},
    ApiHandler{18, 0, 4, &typed_handler<proto::ApiVersionsRequest, proto::ApiVersionsResponse, &handle_api_versions>},
};

static_assert(std::is_sorted(kHandlers.begin(), kHandlers.end(),
                             [](const ApiHandler& a, const ApiHandler& b) { return a.key < b.key; }));

}  // namespace

std::span<const ApiHandler> implemented_apis() { return kHandlers; }

const ApiHandler* find_handler(int16_t key) {
  for (const ApiHandler& h : kHandlers) {
    if (h.key == key) return &h;
  }
  return nullptr;
}

}  // namespace floe::kafka
