#include "objstore/s3_sign.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <stdexcept>

namespace floe::objstore::s3 {
namespace {

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) throw std::runtime_error("EVP_Digest");
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string lower_trim(std::string_view s, bool lower) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (lower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!lower && (c == ' ' || c == '\t')) {  // sequential spaces collapse to one in values
      if (space) continue;
      space = true;
      out.push_back(' ');
      continue;
    }
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(kHex[u >> 4]);
    out.push_back(kHex[u & 15]);
  }
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string sha256(std::string_view data) { return digest(EVP_sha256(), data); }
std::string sha256_hex(std::string_view data) { return hex(sha256(data)); }
std::string md5_base64(std::string_view data) { return base64(digest(EVP_md5(), data)); }

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), out, &len) == nullptr) {
    throw std::runtime_error("HMAC");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      const auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Signature sign_v4(const SignInput& in, const Credentials& credentials) {
  Signature out;
  // Canonical query: encoded names and values, sorted by name then value.
  std::vector<std::pair<std::string, std::string>> query;
  query.reserve(in.query.size());
  for (const auto& [k, v] : in.query) query.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(query.begin(), query.end());
  for (const auto& [k, v] : query) {
    if (!out.canonical_query.empty()) out.canonical_query.push_back('&');
    out.canonical_query.append(k).append("=").append(v);
  }
  // Canonical headers: lower-case names, trimmed values, sorted by name.
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(in.headers.size());
  for (const auto& [k, v] : in.headers) headers.emplace_back(lower_trim(k, true), lower_trim(v, false));
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers, signed_headers;
  for (const auto& [k, v] : headers) {
    canonical_headers.append(k).append(":").append(v).append("\n");
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers.append(k);
  }
  out.canonical_request = in.method + "\n" + in.canonical_uri + "\n" + out.canonical_query + "\n" +
                          canonical_headers + "\n" + signed_headers + "\n" + in.payload_hash;
  const std::string day = in.amz_date.substr(0, 8);
  const std::string scope = day + "/" + in.region + "/" + in.service + "/aws4_request";
  out.string_to_sign =
      "AWS4-HMAC-SHA256\n" + in.amz_date + "\n" + scope + "\n" + sha256_hex(out.canonical_request);
  std::string key = hmac_sha256("AWS4" + credentials.secret_key, day);
  key = hmac_sha256(key, in.region);
  key = hmac_sha256(key, in.service);
  key = hmac_sha256(key, "aws4_request");
  const std::string signature = hex(hmac_sha256(key, out.string_to_sign));
  out.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key + "/" + scope +
                      ", SignedHeaders=" + signed_headers + ", Signature=" + signature;
  return out;
}

}  // namespace floe::objstore::s3
