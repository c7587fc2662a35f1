// A small blocking Kafka client for the admin CLI: one TCP connection to one broker, one request at a time, every
// wait bounded (connect and each request have a deadline, enforced with poll(2)). It is its own process, never a
// broker's: nothing here may run on a broker's io threads.
//
// On connect it asks ApiVersions (v3, falling back to v0 when the broker answers UNSUPPORTED_VERSION) and then
// picks, for every later request, the highest version both sides know within the caller's range.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "base/result.h"
#include "protocol/api_table.h"
#include "protocol/wire.h"

namespace floe::admincli {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// "host:port" or "[v6addr]:port"; an error names the text.
Result<HostPort> parse_host_port(const std::string& text);

class KafkaClient {
 public:
  KafkaClient() = default;
  ~KafkaClient();
  KafkaClient(const KafkaClient&) = delete;
  KafkaClient& operator=(const KafkaClient&) = delete;

  // Connects (bounded by `timeout`, also the bound of every later request) and negotiates versions.
  Status connect(const HostPort& where, std::chrono::milliseconds timeout);

  // The highest version in [lo, hi] that the broker advertises for `key`; an error when there is none.
  Result<int16_t> pick_version(int16_t key, int16_t lo, int16_t hi) const;

  // Encodes `req` at a negotiated version within [lo, hi] (hi defaults to what the codec knows), sends it and
  // decodes the answer into `resp`. Returns the version used.
  template <typename Req, typename Resp>
  Result<int16_t> call(const Req& req, Resp& resp, int16_t lo = Req::kMinVersion, int16_t hi = Req::kMaxVersion) {
    Result<int16_t> v = pick_version(Req::kApiKey, lo, hi);
    if (!v) return v.error();
    proto::Bytes body;
    proto::Writer w(body);
    req.encode(w, *v);
    Result<proto::Bytes> answer = round_trip(Req::kApiKey, *v, body);
    if (!answer) return answer.error();
    proto::Reader r(*answer);
    if (!resp.decode(r, *v) || !r.ok()) return malformed(Req::kApiKey, *v);
    return *v;
  }

  const std::string& peer() const { return peer_; }

 private:
  // Sends one request frame and returns the response body (after the response header).
  Result<proto::Bytes> round_trip(int16_t key, int16_t version, const proto::Bytes& body);
  Status send_all(const proto::Bytes& frame, std::chrono::steady_clock::time_point deadline);
  Status read_exact(uint8_t* out, size_t n, std::chrono::steady_clock::time_point deadline);
  Error malformed(int16_t key, int16_t version) const;
  Status negotiate();

  int fd_ = -1;
  std::string peer_;
  std::chrono::milliseconds timeout_{10000};
  int32_t next_correlation_ = 1;
  std::map<int16_t, std::pair<int16_t, int16_t>> versions_;  // api key -> broker's [min, max]
};

}  // namespace floe::admincli
