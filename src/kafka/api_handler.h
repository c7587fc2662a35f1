// How an API handler plugs into the dispatcher. Each handler declares the versions it implements; ApiVersions
// advertises exactly those, and the dispatcher refuses anything outside them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>  // before asio/awaitable.hpp (Boost.Asio's copy needs it)

#include <asio/awaitable.hpp>

#include "kafka/request_context.h"
#include "protocol/request.h"
#include "protocol/wire.h"

namespace floe::kafka {

struct HandlerOutcome {
  enum class Kind { respond, no_response, malformed };
  Kind kind = Kind::respond;
  proto::Bytes frame;  // response header + body (net adds the size prefix)

  static HandlerOutcome malformed() { return {Kind::malformed, {}}; }
};

using HandlerFn = asio::awaitable<HandlerOutcome> (*)(RequestContext&);

struct ApiHandler {
  int16_t key;
  int16_t min_version;  // requests below are refused (the connection is closed)
  int16_t max_version;
  HandlerFn fn;
  // What ApiVersions advertises as the minimum when it differs (-1: min_version). Produce advertises v0 like Kafka
  // 4 (KAFKA-18659): librdkafka < 2.8 enables gzip, snappy and lz4 only when Produce v0-v2 are advertised, and it
  // never sends them to a broker that also offers v3+.
  int16_t advertised_min_version = -1;

  int16_t advertised_min() const { return advertised_min_version >= 0 ? advertised_min_version : min_version; }
};

// Every API Floe implements, ascending by key.
std::span<const ApiHandler> implemented_apis();
const ApiHandler* find_handler(int16_t key);

// Record bytes a response will carry (Fetch: responses[].partitions[].records), plus a little per partition; 0 for
// responses without records. The frame is reserved for them once: grown by doubling, a 50 MiB Fetch frame was copied
// and page-faulted about twice over, on the io thread (seen holding it for 0.5-1.7 s on a loaded machine).
template <typename Resp>
size_t response_records_bytes(const Resp& resp) {
  if constexpr (requires { resp.responses.front().partitions.front().records.data.size(); }) {
    size_t n = 0;
    for (const auto& t : resp.responses) {
      for (const auto& p : t.partitions) n += p.records.data.size() + 64;
    }
    return n;
  } else {
    return 0;
  }
}

// Decodes Req, runs `Fn(ctx, req)` (a coroutine returning Resp), encodes Resp after the response header.
// A body that does not decode completely is malformed.
template <typename Req, typename Resp, asio::awaitable<Resp> (*Fn)(RequestContext&, Req&)>
asio::awaitable<HandlerOutcome> typed_handler(RequestContext& ctx) {
  Req req;
  proto::Reader r(ctx.frame.body);
  if (!req.decode(r, ctx.version()) || !r.at_end()) co_return HandlerOutcome::malformed();
  Resp resp = co_await Fn(ctx, req);
  HandlerOutcome out;
  if (const size_t records = response_records_bytes(resp); records > 0) out.frame.reserve(records + 1024);
  proto::Writer w(out.frame);
  proto::write_response_header(w, *ctx.frame.api, ctx.version(), ctx.correlation_id());
  resp.encode(w, ctx.version());
  co_return out;
}

}  // namespace floe::kafka
