// One S3 request as S3Store::execute() signs, sends and retries it (internal to floe_objstore: s3_store.cc and
// s3_multipart.cc).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/client.h"
#include "objstore/s3_store.h"

namespace floe::objstore {

struct S3Store::Call {
  Op op = Op::get;
  std::string method;
  std::string key;  // full key (prefix included); empty: the bucket itself
  std::vector<std::pair<std::string, std::string>> query;
  http::Headers headers;  // extra headers, signed
  std::string body;
  // Instead of `body` (when that is empty): bytes owned by the caller, valid until execute() completes (a part of
  // a multipart upload, sent without a copy).
  std::string_view body_view;
  bool content_md5 = false;
  bool checksum_sha256 = false;

  std::string_view payload() const { return body.empty() ? body_view : std::string_view(body); }
};

}  // namespace floe::objstore
