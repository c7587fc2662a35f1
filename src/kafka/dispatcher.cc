#include "kafka/dispatcher.h"

#include <exception>

#include "base/log.h"
#include "kafka/api_handler.h"
#include "kafka/api_versions.h"

namespace floe::kafka {
namespace {

constexpr std::string_view kLog = "kafka";
constexpr int16_t kApiVersionsKey = 18;

net::Reply close_reply() { return net::Reply{{}, net::Reply::Action::close}; }

std::string client_of(const proto::RequestFrame& f) { return f.header.client_id.value_or("(null)"); }

}  // namespace

asio::awaitable<net::Reply> Dispatcher::handle(net::ConnectionContext& conn, std::vector<uint8_t> bytes) {
  proto::RequestFrame frame;
  switch (proto::parse_request_frame(bytes, frame)) {
    case proto::FrameStatus::truncated:
      log::warn(kLog, "malformed request header (", bytes.size(), " bytes) from ", conn.peer(), "; closing");
      co_return close_reply();
    case proto::FrameStatus::unknown_api:
      log::warn(kLog, "unknown API key ", frame.header.request_api_key, " from ", conn.peer(), " (client ",
                client_of(frame), "); closing");
      co_return close_reply();
    case proto::FrameStatus::ok:
      break;
  }
  const int16_t key = frame.header.request_api_key;
  const int16_t version = frame.header.request_api_version;
  const ApiHandler* handler = find_handler(key);
  if (handler && key == kApiVersionsKey && version > handler->max_version) {
    co_return net::Reply{unsupported_api_versions_frame(frame.header.correlation_id), net::Reply::Action::send};
  }
  if (!handler || version < handler->min_version || version > handler->max_version) {
    log::warn(kLog, "unsupported ", frame.api->name, " v", version, " from ", conn.peer(), " (client ",
              client_of(frame), "); closing");
    co_return close_reply();
  }

  RequestContext ctx{frame, conn, identity_};
  HandlerOutcome out;
  try {
    out = co_await handler->fn(ctx);
  } catch (const std::exception& e) {
    log::error(kLog, frame.api->name, " v", version, " from ", conn.peer(), " failed: ", e.what(), "; closing");
    co_return close_reply();
  }
  switch (out.kind) {
    case HandlerOutcome::Kind::malformed:
      log::warn(kLog, "malformed ", frame.api->name, " v", version, " request (", bytes.size(), " bytes) from ",
                conn.peer(), " (client ", client_of(frame), "); closing");
      co_return close_reply();
    case HandlerOutcome::Kind::no_response:
      co_return net::Reply{{}, net::Reply::Action::none};
    case HandlerOutcome::Kind::respond:
      break;
  }
  co_return net::Reply{std::move(out.frame), net::Reply::Action::send};
}

}  // namespace floe::kafka
