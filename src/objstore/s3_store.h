// s3:// backend for any S3-compatible store (AWS S3, MinIO, Ceph RGW, moto) over floe::http (http or https).
//
// URL: s3://BUCKET[/PREFIX]?endpoint=http[s]://HOST[:PORT]&region=REGION&addressing=path|virtual
//                          &ca_bundle=PATH&tls_verify=true|false
//   endpoint   default: AWS, https://s3.REGION.amazonaws.com (with virtual addressing unless the bucket has a '.')
//   region     default: AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1
//   addressing default: path (http://HOST:PORT/BUCKET/KEY); virtual: http://BUCKET.HOST:PORT/KEY
//   ca_bundle  PEM file of trusted CAs for https; default: AWS_CA_BUNDLE, then the system trust store
//   tls_verify default true: the certificate chain and host name are verified. false is for test set-ups only
//              (self-signed certificates without a CA bundle): it gives up protection against interception.
// Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (x-amz-security-token).
// A rejected certificate or failed handshake is Errc::tls (not retried; the reason is logged).
//
// Every request is signed with SigV4 over the SHA-256 of its body (x-amz-content-sha256, which S3 verifies); a
// PUT also carries that digest as x-amz-checksum-sha256 and multipart parts and DeleteObjects carry Content-MD5
// (both verified by the store): a corrupted upload is rejected (Errc::integrity), never stored. Retries: jittered exponential backoff (full jitter) on 5xx, 429/SlowDown, 409
// ConditionalRequestConflict, attempt timeouts, resets and refused connections; never on other 4xx; bounded by
// max_attempts and the call's deadline. Connections: a keep-alive pool of at most max_connections.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "http/client.h"
#include "objstore/object_store.h"
#include "objstore/s3_sign.h"

namespace floe::objstore {

struct S3Config {
  std::string bucket;
  std::string prefix;  // prepended to every key ("" or ending in '/')
  std::string endpoint = "";  // http://host:port or https://host[:port]
  std::string region = "us-east-1";
  bool virtual_hosted = false;
  bool tls_verify = true;  // https: verify the store's certificate and host name
  std::string ca_file;     // https: PEM bundle of trusted CAs; empty: the system trust store
  s3::Credentials credentials;

  std::size_t max_connections = 64;
  std::size_t multipart_threshold = 16u << 20;  // put() above this size uses multipart upload
  std::size_t part_size = 16u << 20;            // 5 MiB .. 5 GiB
  std::size_t multipart_concurrency = 4;        // parts of one upload in flight at once (1: one after the other)
  int max_attempts = 6;                         // tries per HTTP request
  std::chrono::milliseconds backoff_base{25};
  std::chrono::milliseconds backoff_cap{2000};
  std::chrono::milliseconds attempt_timeout{30000};  // one try; the call's deadline bounds all of them
  // Fault injection at the transport (drills and tests): this fraction of requests is answered by a synthetic
  // 503 SlowDown without reaching the store.
  double inject_503_rate = 0.0;

  // Parses an s3:// URL and reads the AWS_* environment. Errors: Errc::invalid_argument (with a log line naming
  // the problem, e.g. an endpoint that is not http[s]://HOST[:PORT]).
  static Result<S3Config> from_url(std::string_view url);
};

class S3Store final : public ObjectStore {
 public:
  S3Store(asio::any_io_executor executor, S3Config config);
  ~S3Store() override;

  std::string describe() const override { return "s3://" + config_.bucket + (config_.prefix.empty() ? "" : "/" + config_.prefix); }
  asio::awaitable<Result<PutInfo>> put(std::string key, std::string data, Clock::time_point deadline) override;
  asio::awaitable<Result<PutInfo>> put_if_absent(std::string key, std::string data,
                                                 Clock::time_point deadline) override;
  asio::awaitable<Result<std::string>> get(std::string key, std::optional<ByteRange> range,
                                           Clock::time_point deadline) override;
  asio::awaitable<Result<ObjectInfo>> head(std::string key, Clock::time_point deadline) override;
  asio::awaitable<Result<ListPage>> list(std::string prefix, std::string continuation, std::size_t max_keys,
                                         Clock::time_point deadline) override;
  asio::awaitable<Result<ListPage>> list_delimited(std::string prefix, std::string delimiter, std::string continuation,
                                                   std::size_t max_keys, Clock::time_point deadline) override;
  asio::awaitable<std::error_code> remove(std::string key, Clock::time_point deadline) override;
  asio::awaitable<Result<std::vector<DeleteFailure>>> remove_many(std::vector<std::string> keys,
                                                                  Clock::time_point deadline) override;
  StatsSnapshot stats() const override { return stats_.snapshot(); }

  // Creates the bucket (tests, tools, embedded set-up). An existing bucket owned by us is success.
  asio::awaitable<std::error_code> create_bucket(Clock::time_point deadline);
  // Aborts running requests and closes connections.
  void shutdown();
  // The transport's counters (connections opened and reused).
  http::ClientStats transport_stats() const { return http_.stats(); }

  struct Call;
  struct PartUploads;

 private:
  asio::awaitable<Result<http::Response>> execute(Call& call, Clock::time_point deadline, bool* ambiguous = nullptr);
  asio::awaitable<Result<PutInfo>> put_single(std::string key, std::string data, bool if_absent,
                                              Clock::time_point deadline);
  asio::awaitable<Result<ListPage>> list_page(std::string prefix, std::string delimiter, std::string continuation,
                                              std::size_t max_keys, Clock::time_point deadline);
  asio::awaitable<Result<PutInfo>> put_multipart(std::string key, std::string data, Clock::time_point deadline);
  asio::awaitable<std::error_code> upload_parts(std::shared_ptr<PartUploads> uploads);
  asio::awaitable<void> part_worker(std::shared_ptr<PartUploads> uploads);
  std::string object_path(std::string_view key) const;  // encoded path
  std::string full_key(std::string_view key) const { return config_.prefix + std::string(key); }

  double random01();

  S3Config config_;
  http::Url endpoint_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_{std::random_device{}()};
  Stats stats_;
  http::Client http_;
};

// Maps an S3 error response to an Errc (exposed for tests).
std::error_code s3_error(int status, std::string_view body);

}  // namespace floe::objstore
