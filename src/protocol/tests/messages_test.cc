// Generated message codecs: every API and version round-trips, known encodings are byte-exact, truncated
// input fails cleanly, and request frames captured from real clients re-encode to the same bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "protocol/api_table.h"
#include "protocol/msg/api_versions.h"
#include "protocol/msg/fetch.h"
#include "protocol/msg/metadata.h"
#include "protocol/msg/produce.h"
#include "protocol/msg_dispatch.h"
#include "protocol/msg_sample.h"
#include "protocol/request.h"

namespace floe::proto {
namespace {

constexpr int kSeedsPerVersion = 25;

template <typename T>
Bytes encode(const T& msg, int16_t version) {
  Bytes out;
  Writer w(out);
  msg.encode(w, version);
  return out;
}

TEST(Messages, TableHasEveryRequiredApi) {
  EXPECT_EQ(all_apis().size(), 51u);
  ASSERT_NE(find_api(0), nullptr);
  EXPECT_EQ(find_api(0)->name, "Produce");
  EXPECT_EQ(find_api(18)->name, "ApiVersions");
  EXPECT_EQ(find_api(18)->first_flexible_version, 3);
  EXPECT_EQ(find_api(18)->response_header_version(3), 0);  // ApiVersions: always header v0
  EXPECT_EQ(find_api(3)->response_header_version(9), 1);
  EXPECT_EQ(find_api(3)->request_header_version(8), 1);
  EXPECT_EQ(find_api(12345), nullptr);
}

TEST(Messages, EveryApiAndVersionRoundTrips) {
  int checked = 0;
  for (const ApiInfo& api : all_apis()) {
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
      for (bool request : {true, false}) {
        for (uint64_t seed = 0; seed < kSeedsPerVersion; ++seed) {
          std::string err = roundtrip_sample(api.key, v, request, seed * 7919 + static_cast<uint64_t>(api.key));
          ASSERT_EQ(err, "") << api.name << (request ? " request" : " response") << " v" << v << " seed " << seed;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 51 * 2 * kSeedsPerVersion);
}

TEST(Messages, HeadersRoundTrip) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    for (int16_t v = 0; v <= 2; ++v) ASSERT_EQ(roundtrip_header_sample(true, v, seed), "") << "request v" << v;
    for (int16_t v = 0; v <= 1; ++v) ASSERT_EQ(roundtrip_header_sample(false, v, seed), "") << "response v" << v;
  }
}

// Every strict prefix of a valid encoding must be rejected: the codec never reads past the end, never
// accepts a half message.
TEST(Messages, TruncatedBodiesAreRejected) {
  for (const ApiInfo& api : all_apis()) {
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
      for (bool request : {true, false}) {
        for (uint64_t seed = 0; seed < 3; ++seed) {
          Bytes full = sample_bytes(api.key, v, request, seed);
          ASSERT_TRUE(decode_any(api.key, v, request, full, nullptr)) << api.name << " v" << v;
          for (size_t n = 0; n < full.size(); ++n) {
            ByteSpan cut(full.data(), n);
            ASSERT_FALSE(decode_any(api.key, v, request, cut, nullptr))
                << api.name << (request ? " request" : " response") << " v" << v << " prefix " << n;
          }
        }
      }
    }
  }
  MetadataRequest req;
  req.topics.emplace();
  req.topics->push_back({});
  req.topics->back().name = "orders";
  for (int16_t v : {int16_t{1}, int16_t{9}, int16_t{12}}) {
    Bytes full = encode(req, v);
    for (size_t n = 0; n < full.size(); ++n) {
      Bytes cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
      EXPECT_FALSE(decode_any(3, v, true, cut, nullptr)) << "v" << v << " prefix " << n;
    }
    EXPECT_TRUE(decode_any(3, v, true, full, nullptr));
  }
}

TEST(Messages, ApiVersionsRequestBytes) {
  ApiVersionsRequest req;
  req.client_software_name = "a";
  req.client_software_version = "1";
  EXPECT_EQ(encode(req, 0), Bytes{});
  EXPECT_EQ(encode(req, 3), (Bytes{2, 'a', 2, '1', 0}));
}

TEST(Messages, ApiVersionsResponseTaggedFieldBytes) {
  ApiVersionsResponse resp;
  resp.api_keys.push_back({18, 0, 4, {}});
  resp.finalized_features_epoch = 5;  // tagged (tag 1), written because it is not the default -1
  Bytes expected{0, 0,           // error_code
                 2,              // compact array: 1 element
                 0, 18, 0, 0, 0, 4, 0,  // api key 18, 0..4, no tags
                 0, 0, 0, 0,     // throttle_time_ms
                 1,              // one tagged field
                 1, 8, 0, 0, 0, 0, 0, 0, 0, 5};
  EXPECT_EQ(encode(resp, 3), expected);
  ApiVersionsResponse back;
  Reader r(expected);
  ASSERT_TRUE(back.decode(r, 3));
  EXPECT_EQ(back.finalized_features_epoch, 5);
  EXPECT_EQ(back, resp);
  // v0: no throttle time, classic array.
  EXPECT_EQ(encode(resp, 0), (Bytes{0, 0, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4}));
}

TEST(Messages, MetadataRequestNullTopicsMeansAllFromV1) {
  MetadataRequest req;  // topics = null
  EXPECT_EQ(encode(req, 1), (Bytes{0xff, 0xff, 0xff, 0xff}));
  // v0 cannot express null: an empty list (which v0 brokers read as "all topics").
  EXPECT_EQ(encode(req, 0), (Bytes{0, 0, 0, 0}));
  Bytes null_v0{0xff, 0xff, 0xff, 0xff};
  EXPECT_FALSE(decode_any(3, 0, true, null_v0, nullptr)) << "null array where the version forbids it";
}

TEST(Messages, ProduceRecordsAreAViewIntoTheFrame) {
  ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 1000;
  auto& t = req.topic_data.emplace_back();
  t.name = "t";
  Bytes payload{1, 2, 3, 4};
  t.partition_data.push_back({0, RecordsView::of(payload), {}});
  Bytes wire = encode(req, 9);
  ProduceRequest back;
  Reader r(wire);
  ASSERT_TRUE(back.decode(r, 9));
  const auto& rec = back.topic_data[0].partition_data[0].records;
  ASSERT_FALSE(rec.null);
  EXPECT_GE(rec.data.data(), wire.data());
  EXPECT_LT(rec.data.data(), wire.data() + wire.size());
  EXPECT_EQ(back, req);
}

// Request frames captured from real clients (src/protocol/tests/captures, see its README): header and body
// decode, and encoding them again gives exactly the captured bytes.
TEST(Messages, CapturedClientRequestsAreByteExact) {
  namespace fs = std::filesystem;
  fs::path dir = FLOE_CAPTURES_DIR;
  if (!fs::exists(dir)) GTEST_SKIP() << "no captures";
  int checked = 0;
  std::set<std::string> apis_seen;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".bin") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    Bytes frame((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    RequestFrame f;
    ASSERT_EQ(parse_request_frame(frame, f), FrameStatus::ok) << entry.path();
    Bytes again;
    Writer w(again);
    f.header.encode(w, f.header_version);
    ASSERT_TRUE(decode_any(f.header.request_api_key, f.header.request_api_version, true, f.body, &again))
        << entry.path();
    EXPECT_EQ(again, frame) << entry.path() << " re-encodes differently";
    apis_seen.insert(std::string(f.api->name));
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no captures";
  for (const char* name : {"ApiVersions", "Metadata", "Produce", "Fetch"}) {
    EXPECT_TRUE(apis_seen.count(name)) << "no capture of " << name;
  }
}

}  // namespace
}  // namespace floe::proto
