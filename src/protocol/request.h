// Splitting a request frame into its header and body, and writing response headers.
//
// Request frame (after the 4-byte size prefix that net/ strips):
//   +-------------+-----------------+----------------+------------------------+----------------+------+
//   | api_key i16 | api_version i16 | correlation i32| client_id nullable str | tagged (hdr v2)| body |
//   +-------------+-----------------+----------------+------------------------+----------------+------+
// Header v1 for non-flexible API versions, v2 (tagged fields) for flexible ones. client_id is always a classic
// int16-length string, even in v2.
// Response: correlation i32, then a tagged-field section for response header v1 (flexible versions, except
// ApiVersions, whose response header is always v0 so an old client can read the error), then the body.
#pragma once

#include <cstdint>

#include "protocol/api_table.h"
#include "protocol/msg/header.h"
#include "protocol/wire.h"

namespace floe::proto {

enum class FrameStatus {
  ok,
  truncated,    // shorter than a header
  unknown_api,  // api key Floe has no definition of (header parsed as v1)
};

struct RequestFrame {
  RequestHeader header;
  int16_t header_version = 1;
  const ApiInfo* api = nullptr;  // null for an unknown key
  ByteSpan body;                 // view into the frame
};

// Parses the header. The header version follows from the API's first flexible version; versions above Floe's
// known maximum use the same rule so that ApiVersions can still answer an unknown newer version.
FrameStatus parse_request_frame(ByteSpan frame, RequestFrame& out);

// Appends the response header for (api, version) to `w`.
void write_response_header(Writer& w, const ApiInfo& api, int16_t version, int32_t correlation_id);

}  // namespace floe::proto
