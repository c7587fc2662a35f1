#include "kafka/api_versions.h"

#include "kafka/errors.h"

namespace floe::kafka {
namespace {

std::vector<proto::ApiVersionsResponse::ApiVersion> supported_versions() {
  std::vector<proto::ApiVersionsResponse::ApiVersion> out;
  for (const ApiHandler& h : implemented_apis()) out.push_back({h.key, h.advertised_min(), h.max_version, {}});
  return out;
}

// KIP-511: the client software name and version must match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
bool valid_software_field(const std::string& s) {
  if (s.empty()) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

asio::awaitable<proto::ApiVersionsResponse> handle_api_versions(RequestContext& ctx, proto::ApiVersionsRequest& req) {
  proto::ApiVersionsResponse resp;
  if (ctx.version() >= 3 &&
      (!valid_software_field(req.client_software_name) || !valid_software_field(req.client_software_version))) {
    resp.error_code = code(Errc::invalid_request);
    co_return resp;
  }
  resp.api_keys = supported_versions();
  co_return resp;
}

proto::Bytes unsupported_api_versions_frame(int32_t correlation_id) {
  proto::ApiVersionsResponse resp;
  resp.error_code = code(Errc::unsupported_version);
  resp.api_keys = supported_versions();
  proto::Bytes out;
  proto::Writer w(out);
  w.i32(correlation_id);  // response header v0
  resp.encode(w, 0);
  return out;
}

}  // namespace floe::kafka
