#include "protocol/request.h"

namespace floe::proto {

FrameStatus parse_request_frame(ByteSpan frame, RequestFrame& out) {
  Reader peek(frame);
  int16_t key = peek.i16();
  int16_t version = peek.i16();
  if (!peek.ok()) return FrameStatus::truncated;
  out.api = find_api(key);
  out.header_version = out.api ? out.api->request_header_version(version) : 1;
  Reader r(frame);
  if (!out.header.decode(r, out.header_version)) return FrameStatus::truncated;
  out.body = ByteSpan(r.position(), r.remaining());
  return out.api ? FrameStatus::ok : FrameStatus::unknown_api;
}

void write_response_header(Writer& w, const ApiInfo& api, int16_t version, int32_t correlation_id) {
  w.i32(correlation_id);
  if (api.response_header_version(version) >= 1) w.uvarint(0);
}

}  // namespace floe::proto
