// AWS Signature Version 4 for S3 and the digests it needs (OpenSSL EVP): SHA-256, HMAC-SHA256, MD5 (Content-MD5),
// hex, base64, and S3's URI encoding.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace floe::objstore::s3 {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty unless temporary credentials
};

std::string hex(std::string_view bytes);
std::string base64(std::string_view bytes);
std::string sha256(std::string_view data);  // raw 32 bytes
std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string md5_base64(std::string_view data);                         // the Content-MD5 header value

// S3 URI encoding: unreserved characters (A-Z a-z 0-9 - . _ ~) stay, '/' stays when keep_slash, the rest is %XX
// (upper-case hex).
std::string uri_encode(std::string_view s, bool keep_slash);

// "YYYYMMDDTHHMMSSZ" (UTC)
std::string amz_date(std::chrono::system_clock::time_point t);

struct SignInput {
  std::string method;
  std::string canonical_uri;  // already URI-encoded path ("/bucket/key" or "/key")
  std::vector<std::pair<std::string, std::string>> query;    // raw names and values (not encoded)
  std::vector<std::pair<std::string, std::string>> headers;  // every header to sign: host, x-amz-date, ...
  std::string payload_hash;                                  // hex SHA-256 of the body, or UNSIGNED-PAYLOAD
  std::string amz_date;                                      // same as the x-amz-date header
  std::string region;
  std::string service = "s3";
};

struct Signature {
  std::string authorization;    // the Authorization header value
  std::string canonical_query;  // encoded and sorted: append to the path after '?'
  std::string canonical_request;
  std::string string_to_sign;
};

Signature sign_v4(const SignInput& in, const Credentials& credentials);

}  // namespace floe::objstore::s3
