#include "objstore/s3_store.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <random>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "objstore/s3_call.h"
#include "objstore/s3_xml.h"

// GCC 12 reports a false -Wmismatched-new-delete for asio's awaitable frames (operator new and delete are both
// asio's awaitable_frame_base members) in some coroutines here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace floe::objstore {
namespace {

using asio::awaitable;
using s3::xml_all;
using s3::xml_escape;
using s3::xml_text;

bool retriable_status(int status, std::string_view body) {
  if (status == 500 || status == 502 || status == 503 || status == 504 || status == 429) return true;
  return status == 409 && xml_text(body, "Code") == "ConditionalRequestConflict";
}

// Transport failures worth another try. Cancellation and shutdown are not; the overall deadline is checked apart.
bool retriable_transport(const std::error_code& ec) {
  return ec == http::Error::timed_out || ec == http::Error::connection_closed || ec == http::Error::bad_response ||
         ec == asio::error::connection_reset || ec == asio::error::connection_refused ||
         ec == asio::error::broken_pipe || ec == asio::error::eof || ec == asio::error::timed_out ||
         ec == asio::error::network_unreachable || ec == asio::error::host_unreachable ||
         ec == asio::error::connection_aborted;
}

std::string getenv_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::move(fallback);
}


template <typename T>
awaitable<Result<T>> guard(awaitable<Result<T>> body) {
  // Errors are values below; what lands here is an asio throw after the caller's cancellation.
  try {
    co_return co_await std::move(body);
  } catch (const std::system_error& e) {
    if (e.code() == asio::error::operation_aborted) co_return Errc::cancelled;
    log::warn("objstore", "s3 call failed: ", e.what());
    co_return Errc::io_error;
  }
}

bool cancelled(const asio::cancellation_state& cs) { return cs.cancelled() != asio::cancellation_type::none; }

}  // namespace

std::error_code s3_error(int status, std::string_view body) {
  const std::string code = xml_text(body, "Code");
  if (status == 404) return code == "NoSuchBucket" ? Errc::bucket_not_found : Errc::not_found;
  if (status == 412) return Errc::precondition_failed;
  if (status == 403) return Errc::access_denied;
  if (status == 416) return Errc::invalid_range;
  if (status == 409) return Errc::conflict;
  if (status == 429 || (status == 503 && code == "SlowDown")) return Errc::throttled;
  if (status >= 500) return Errc::unavailable;
  if (status == 400 && (code == "BadDigest" || code == "InvalidDigest" || code == "XAmzContentSHA256Mismatch")) {
    return Errc::integrity;
  }
  if (status >= 400) return Errc::invalid_argument;
  return Errc::io_error;
}

Result<S3Config> S3Config::from_url(std::string_view url) {
  S3Config c;
  if (!url.starts_with("s3://")) return Errc::invalid_argument;
  std::string_view rest = url.substr(5);
  const auto q = rest.find('?');
  std::string_view query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
  rest = rest.substr(0, q);
  const auto slash = rest.find('/');
  c.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) {
    c.prefix = std::string(rest.substr(slash + 1));
    if (!c.prefix.empty() && c.prefix.back() != '/') c.prefix.push_back('/');
  }
  if (c.bucket.empty() || c.bucket.size() > 63) {
    log::error("objstore", "s3 URL: missing or too long bucket name in ", url);
    return Errc::invalid_argument;
  }
  c.region = getenv_or("AWS_REGION", getenv_or("AWS_DEFAULT_REGION", "us-east-1"));
  c.ca_file = getenv_or("AWS_CA_BUNDLE", "");
  bool addressing_given = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = item.find('=');
    const std::string_view name = item.substr(0, eq);
    const std::string value(eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1));
    if (name == "endpoint") {
      c.endpoint = value;
    } else if (name == "region") {
      c.region = value;
    } else if (name == "addressing") {
      if (value != "path" && value != "virtual") {
        log::error("objstore", "s3 URL: addressing must be path or virtual, not ", value);
        return Errc::invalid_argument;
      }
      c.virtual_hosted = value == "virtual";
      addressing_given = true;
    } else if (name == "ca_bundle") {
      c.ca_file = value;
    } else if (name == "tls_verify") {
      if (value != "true" && value != "false") {
        log::error("objstore", "s3 URL: tls_verify must be true or false, not ", value);
        return Errc::invalid_argument;
      }
      c.tls_verify = value == "true";
    } else {
      log::error("objstore", "s3 URL: unknown parameter ", name);
      return Errc::invalid_argument;
    }
  }
  if (c.endpoint.empty()) {
    // AWS itself. Virtual-hosted addressing is AWS's default; a bucket name with a '.' would not match the
    // *.s3.REGION.amazonaws.com certificate, so such buckets stay path-style.
    c.endpoint = "https://s3." + c.region + ".amazonaws.com";
    if (!addressing_given) c.virtual_hosted = c.bucket.find('.') == std::string::npos;
  }
  auto parsed = http::parse_url(c.endpoint);
  if (!parsed) {
    log::error("objstore", "s3 URL: bad endpoint ", c.endpoint, " (http[s]://HOST[:PORT])");
    return Errc::invalid_argument;
  }
  if (parsed->scheme == "https" && !c.tls_verify) {
    log::warn("objstore", "s3 URL: tls_verify=false: the certificate of ", parsed->host,
              " is not checked (test set-ups only)");
  }
  c.credentials.access_key = getenv_or("AWS_ACCESS_KEY_ID", "");
  c.credentials.secret_key = getenv_or("AWS_SECRET_ACCESS_KEY", "");
  c.credentials.session_token = getenv_or("AWS_SESSION_TOKEN", "");
  return c;
}

S3Store::S3Store(asio::any_io_executor executor, S3Config config)
    : config_(std::move(config)),
      endpoint_(http::parse_url(config_.endpoint).value_or(http::Url{})),
      http_(executor, [this] {
        http::ClientConfig hc;
        hc.max_connections_per_host = config_.max_connections;
        hc.max_response_bytes = std::max<std::size_t>(config_.part_size, 64u << 20) + (1u << 20);
        hc.tls.verify = config_.tls_verify;
        hc.tls.ca_file = config_.ca_file;
        return hc;
      }()) {
  if (config_.part_size < (5u << 20)) config_.part_size = 5u << 20;
  if (config_.multipart_threshold < config_.part_size) config_.multipart_threshold = config_.part_size;
  if (config_.max_attempts < 1) config_.max_attempts = 1;
}

S3Store::~S3Store() { http_.shutdown(); }

void S3Store::shutdown() { http_.shutdown(); }

double S3Store::random01() {
  // Not thread_local: a coroutine may resume on another thread than the one whose TLS address it cached.
  std::lock_guard lock(rng_mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

std::string S3Store::object_path(std::string_view key) const {
  std::string path = "/";
  if (!config_.virtual_hosted) {
    path += config_.bucket;
    if (!key.empty()) path += "/";
  }
  path += s3::uri_encode(key, true);
  return path;
}

awaitable<Result<http::Response>> S3Store::execute(Call& call, Clock::time_point deadline, bool* ambiguous) {
  // One SHA-256 of the body serves both the signature (x-amz-content-sha256, hex) and the integrity check the
  // store verifies (x-amz-checksum-sha256, base64); Content-MD5 where S3 requires it (DeleteObjects, parts).
  const std::string_view body = call.payload();
  const std::string payload_digest = s3::sha256(body);
  const std::string payload_hash = s3::hex(payload_digest);
  const std::string md5 = call.content_md5 ? s3::md5_base64(body) : std::string();
  const std::string path = object_path(call.key);
  const std::string host = config_.virtual_hosted ? config_.bucket + "." + endpoint_.authority() : endpoint_.authority();
  const std::string url_base = endpoint_.scheme + "://" + (config_.virtual_hosted
                                                ? config_.bucket + "." + endpoint_.host + ":" + std::to_string(endpoint_.port)
                                                : endpoint_.host_port()) +
                               path;
  asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
  std::error_code last;
  bool unknown_outcome = false;  // an earlier try may have reached the store and acted
  for (int attempt = 0; attempt < config_.max_attempts; ++attempt) {
    if (cancelled(cs)) co_return Errc::cancelled;
    if (attempt > 0) {
      stats_.retry(call.op);
      // Full jitter: uniform in [0, min(cap, base * 2^attempt)].
      const auto ceiling = std::min<int64_t>(config_.backoff_cap.count(),
                                             config_.backoff_base.count() << std::min(attempt, 16));
      const auto sleep = std::chrono::milliseconds(static_cast<int64_t>(random01() * static_cast<double>(ceiling)));
      if (Clock::now() + sleep >= deadline) break;
      asio::steady_timer timer(co_await asio::this_coro::executor, sleep);
      std::error_code ignored;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      if (cancelled(cs)) co_return Errc::cancelled;
    }
    if (Clock::now() >= deadline) break;

    s3::SignInput sign;
    sign.method = call.method;
    sign.canonical_uri = path;
    sign.query = call.query;
    sign.payload_hash = payload_hash;
    sign.amz_date = s3::amz_date(std::chrono::system_clock::now());
    sign.region = config_.region;
    sign.headers = {{"host", host}, {"x-amz-date", sign.amz_date}, {"x-amz-content-sha256", payload_hash}};
    if (!md5.empty()) sign.headers.emplace_back("content-md5", md5);
    if (call.checksum_sha256) sign.headers.emplace_back("x-amz-checksum-sha256", s3::base64(payload_digest));
    if (!config_.credentials.session_token.empty()) {
      sign.headers.emplace_back("x-amz-security-token", config_.credentials.session_token);
    }
    for (const auto& h : call.headers) sign.headers.push_back(h);
    const s3::Signature signature = s3::sign_v4(sign, config_.credentials);

    http::Request req;
    req.method = call.method;
    req.url = url_base + (signature.canonical_query.empty() ? "" : "?" + signature.canonical_query);
    req.headers = sign.headers;
    req.headers.emplace_back("Authorization", signature.authorization);
    req.body_ref = body;  // outlives the send (awaited here); retries send it again, no copies
    req.deadline = std::min(deadline, Clock::now() + config_.attempt_timeout);

    const auto start = Clock::now();
    std::pair<std::error_code, http::Response> result;
    if (config_.inject_503_rate > 0 && random01() < config_.inject_503_rate) {
      result.second.status = 503;
      result.second.body = "<Error><Code>SlowDown</Code><Message>injected</Message></Error>";
    } else {
      result = co_await http_.send(std::move(req));
    }
    auto& [ec, resp] = result;
    const bool failed = ec || resp.status >= 300;
    stats_.record(call.op, Clock::now() - start, body.size(), resp.body.size(), failed);
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return Errc::cancelled;
      if (ec == http::Error::shut_down) co_return Errc::unavailable;
      if (ec == http::Error::tls_certificate_rejected || ec == http::Error::tls_handshake_failed ||
          ec == http::Error::tls_setup_failed) {
        log::warn("objstore", call.method, " ", describe(), "/", call.key, ": ", ec.message());
        co_return Errc::tls;
      }
      last = ec;
      if (!retriable_transport(ec)) break;
      if (ec != asio::error::connection_refused) unknown_outcome = true;
      log::debug("objstore", call.method, " ", call.key, ": try ", attempt + 1, " failed: ", ec.message());
      continue;
    }
    if (retriable_status(resp.status, resp.body)) {
      last = s3_error(resp.status, resp.body);
      if (resp.status >= 500) unknown_outcome = true;
      log::debug("objstore", call.method, " ", call.key, ": try ", attempt + 1, " got ", resp.status);
      continue;
    }
    if (ambiguous != nullptr) *ambiguous = unknown_outcome;
    co_return std::move(resp);
  }
  if (Clock::now() >= deadline || last == http::Error::timed_out) {
    if (Clock::now() >= deadline) co_return Errc::timed_out;
  }
  if (!last) co_return Errc::timed_out;
  if (last.category() == objstore::category()) co_return last;
  co_return Errc::unavailable;
}

awaitable<Result<PutInfo>> S3Store::put_single(std::string key, std::string data, bool if_absent,
                                               Clock::time_point deadline) {
  Call call;
  call.op = Op::put;
  call.method = "PUT";
  call.key = full_key(key);
  call.body = std::move(data);
  call.checksum_sha256 = true;
  if (if_absent) call.headers.emplace_back("if-none-match", "*");
  bool ambiguous = false;
  auto r = co_await execute(call, deadline, &ambiguous);
  if (!r) co_return r.error;
  const http::Response& resp = r.value;
  PutInfo info;
  if (resp.status == 412 && if_absent) {
    info.created = false;
    info.ambiguous = ambiguous;
    co_return info;
  }
  if (resp.status != 200) co_return s3_error(resp.status, resp.body);
  if (const std::string* etag = resp.header("ETag")) info.etag = *etag;
  co_return info;
}

awaitable<Result<PutInfo>> S3Store::put(std::string key, std::string data, Clock::time_point deadline) {
  if (!valid_key(key)) co_return Errc::invalid_argument;
  if (data.size() > config_.multipart_threshold) {
    co_return co_await guard(put_multipart(std::move(key), std::move(data), deadline));
  }
  co_return co_await guard(put_single(std::move(key), std::move(data), false, deadline));
}

awaitable<Result<PutInfo>> S3Store::put_if_absent(std::string key, std::string data, Clock::time_point deadline) {
  if (!valid_key(key)) co_return Errc::invalid_argument;
  co_return co_await guard(put_single(std::move(key), std::move(data), true, deadline));
}

awaitable<Result<std::string>> S3Store::get(std::string key, std::optional<ByteRange> range,
                                            Clock::time_point deadline) {
  if (!valid_key(key)) co_return Errc::invalid_argument;
  if (range && range->length && *range->length == 0) co_return Errc::invalid_argument;
  auto body = [&]() -> awaitable<Result<std::string>> {
    Call call;
    call.op = Op::get;
    call.method = "GET";
    call.key = full_key(key);
    if (range) {
      std::string value = "bytes=" + std::to_string(range->offset) + "-";
      if (range->length) value += std::to_string(range->offset + *range->length - 1);
      call.headers.emplace_back("range", value);
    }
    auto r = co_await execute(call, deadline);
    if (!r) co_return r.error;
    if (r.value.status != 200 && r.value.status != 206) co_return s3_error(r.value.status, r.value.body);
    co_return std::move(r.value.body);
  };
  auto task = body();
  co_return co_await guard(std::move(task));
}

awaitable<Result<ObjectInfo>> S3Store::head(std::string key, Clock::time_point deadline) {
  if (!valid_key(key)) co_return Errc::invalid_argument;
  auto body = [&]() -> awaitable<Result<ObjectInfo>> {
    Call call;
    call.op = Op::head;
    call.method = "HEAD";
    call.key = full_key(key);
    auto r = co_await execute(call, deadline);
    if (!r) co_return r.error;
    if (r.value.status != 200) co_return s3_error(r.value.status, r.value.body);
    ObjectInfo info;
    info.key = key;
    if (const std::string* cl = r.value.header("Content-Length")) {
      std::from_chars(cl->data(), cl->data() + cl->size(), info.size);
    }
    if (const std::string* etag = r.value.header("ETag")) info.etag = *etag;
    co_return info;
  };
  auto task = body();
  co_return co_await guard(std::move(task));
}

awaitable<Result<ListPage>> S3Store::list(std::string prefix, std::string continuation, std::size_t max_keys,
                                          Clock::time_point deadline) {
  co_return co_await list_page(std::move(prefix), "", std::move(continuation), max_keys, deadline);
}

awaitable<Result<ListPage>> S3Store::list_delimited(std::string prefix, std::string delimiter,
                                                    std::string continuation, std::size_t max_keys,
                                                    Clock::time_point deadline) {
  if (delimiter.empty()) co_return Errc::invalid_argument;
  co_return co_await list_page(std::move(prefix), std::move(delimiter), std::move(continuation), max_keys, deadline);
}

awaitable<Result<ListPage>> S3Store::list_page(std::string prefix, std::string delimiter, std::string continuation,
                                               std::size_t max_keys, Clock::time_point deadline) {
  if (max_keys == 0 || max_keys > 1000) co_return Errc::invalid_argument;
  auto body = [&]() -> awaitable<Result<ListPage>> {
    Call call;
    call.op = Op::list;
    call.method = "GET";
    call.query = {{"list-type", "2"}, {"prefix", full_key(prefix)}, {"max-keys", std::to_string(max_keys)}};
    if (!delimiter.empty()) call.query.emplace_back("delimiter", delimiter);
    if (!continuation.empty()) call.query.emplace_back("continuation-token", continuation);
    auto r = co_await execute(call, deadline);
    if (!r) co_return r.error;
    if (r.value.status != 200) co_return s3_error(r.value.status, r.value.body);
    ListPage page;
    for (std::string_view item : xml_all(r.value.body, "Contents")) {
      ObjectInfo info;
      info.key = xml_text(item, "Key");
      if (!info.key.starts_with(config_.prefix)) continue;
      info.key.erase(0, config_.prefix.size());
      const std::string size = xml_text(item, "Size");
      std::from_chars(size.data(), size.data() + size.size(), info.size);
      info.etag = xml_text(item, "ETag");
      page.objects.push_back(std::move(info));
    }
    for (std::string_view item : xml_all(r.value.body, "CommonPrefixes")) {
      std::string group = xml_text(item, "Prefix");
      if (!group.starts_with(config_.prefix)) continue;
      page.common_prefixes.push_back(group.substr(config_.prefix.size()));
    }
    if (xml_text(r.value.body, "IsTruncated") == "true") {
      page.next = xml_text(r.value.body, "NextContinuationToken");
      if (page.next.empty()) co_return Errc::io_error;  // truncated without a way on
    }
    co_return page;
  };
  auto task = body();
  co_return co_await guard(std::move(task));
}

awaitable<std::error_code> S3Store::remove(std::string key, Clock::time_point deadline) {
  if (!valid_key(key)) co_return make_error_code(Errc::invalid_argument);
  auto body = [&]() -> awaitable<Result<bool>> {
    Call call;
    call.op = Op::remove;
    call.method = "DELETE";
    call.key = full_key(key);
    auto r = co_await execute(call, deadline);
    if (!r) co_return r.error;
    if (r.value.status != 204 && r.value.status != 200 && r.value.status != 404) {
      co_return s3_error(r.value.status, r.value.body);
    }
    co_return true;
  };
  auto task = body();
  auto r = co_await guard(std::move(task));
  co_return r.error;
}

awaitable<Result<std::vector<DeleteFailure>>> S3Store::remove_many(std::vector<std::string> keys,
                                                                   Clock::time_point deadline) {
  auto body = [&]() -> awaitable<Result<std::vector<DeleteFailure>>> {
    std::vector<DeleteFailure> failures;
    std::vector<std::string> batch;
    std::size_t at = 0;
    while (at < keys.size()) {
      batch.clear();
      for (; at < keys.size() && batch.size() < 1000; ++at) {
        if (valid_key(keys[at])) {
          batch.push_back(keys[at]);
        } else {
          failures.push_back({keys[at], make_error_code(Errc::invalid_argument)});
        }
      }
      if (batch.empty()) continue;
      Call call;
      call.op = Op::remove;
      call.method = "POST";
      call.query = {{"delete", ""}};
      call.content_md5 = true;  // required by DeleteObjects
      call.headers.emplace_back("content-type", "application/xml");
      call.body = "<Delete><Quiet>true</Quiet>";
      for (const auto& k : batch) call.body += "<Object><Key>" + xml_escape(full_key(k)) + "</Key></Object>";
      call.body += "</Delete>";
      auto r = co_await execute(call, deadline);
      std::error_code batch_error = r.error;
      if (!batch_error && r.value.status != 200) batch_error = s3_error(r.value.status, r.value.body);
      if (batch_error) {
        for (const auto& k : batch) failures.push_back({k, batch_error});
        continue;
      }
      for (std::string_view err : xml_all(r.value.body, "Error")) {
        std::string k = xml_text(err, "Key");
        if (k.starts_with(config_.prefix)) k.erase(0, config_.prefix.size());
        const std::string code = xml_text(err, "Code");
        failures.push_back({std::move(k), code == "AccessDenied" ? make_error_code(Errc::access_denied)
                                                                 : make_error_code(Errc::unavailable)});
      }
    }
    co_return failures;
  };
  auto task = body();
  co_return co_await guard(std::move(task));
}

awaitable<std::error_code> S3Store::create_bucket(Clock::time_point deadline) {
  auto body = [&]() -> awaitable<Result<bool>> {
    Call call;
    call.op = Op::put;
    call.method = "PUT";
    if (config_.region != "us-east-1") {
      call.body = "<CreateBucketConfiguration><LocationConstraint>" + xml_escape(config_.region) +
                  "</LocationConstraint></CreateBucketConfiguration>";
    }
    auto r = co_await execute(call, deadline);
    if (!r) co_return r.error;
    if (r.value.status == 200) co_return true;
    if (r.value.status == 409 && xml_text(r.value.body, "Code") == "BucketAlreadyOwnedByYou") co_return true;
    co_return s3_error(r.value.status, r.value.body);
  };
  auto task = body();
  auto r = co_await guard(std::move(task));
  co_return r.error;
}

}  // namespace floe::objstore
