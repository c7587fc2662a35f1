// s3:// backend: the conformance suite against a moto server started by this binary (once, stopped at the end),
// plus retries over injected 503s and a server that accepts and never answers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>

#include "objstore/s3_store.h"
#include "objstore/tests/conformance.h"
#include "objstore/tests/moto_server.h"
#include "objstore/tests/s3_bucket.h"

namespace floe::objstore::testing {
namespace {

MotoServer* g_moto = nullptr;

class MotoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string error;
    server_ = MotoServer::start(&error);
    ASSERT_TRUE(server_) << error;
    g_moto = server_.get();
  }
  void TearDown() override {
    g_moto = nullptr;
    server_.reset();  // stops moto by PID
  }

 private:
  std::unique_ptr<MotoServer> server_;
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new MotoEnvironment);

S3Config moto_config() {
  S3Config c;
  static std::atomic<int> counter{0};
  c.bucket = "floe-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  c.endpoint = g_moto != nullptr ? g_moto->endpoint() : "http://127.0.0.1:1";
  c.credentials = {"testing", "testing", ""};
  c.backoff_base = std::chrono::milliseconds(5);
  return c;
}

std::shared_ptr<ObjectStore> make_s3_store(asio::any_io_executor ex) {
  if (g_moto == nullptr) return nullptr;
  return make_bucket(ex, moto_config());
}

INSTANTIATE_TEST_SUITE_P(S3, Conformance, ::testing::Values(Backend{"s3_moto", make_s3_store}), backend_name);

TEST(S3Moto, RetriesRecoverFromInjected503s) {
  ASSERT_NE(g_moto, nullptr);
  Loop loop;
  S3Config config = moto_config();
  config.inject_503_rate = 0.4;
  config.max_attempts = 12;  // 0.4^12: no call runs out of tries
  auto store = make_bucket(loop.executor(), config);
  ASSERT_TRUE(store);
  for (int i = 0; i < 20; ++i) {
    const std::string key = "retry/" + std::to_string(i);
    auto put = loop.run(store->put(key, "value " + std::to_string(i), in(20s)));
    ASSERT_TRUE(put) << put.error.message();
    auto got = loop.run(store->get(key, std::nullopt, in(20s)));
    ASSERT_TRUE(got) << got.error.message();
    EXPECT_EQ(got.value, "value " + std::to_string(i));
  }
  const auto st = store->stats();
  EXPECT_GT(st[Op::put].retries + st[Op::get].retries, 5u);
  EXPECT_GT(st[Op::put].errors, 0u);

  // Without enough tries the error comes back mapped (SlowDown -> throttled), not as a hang.
  S3Config strict = moto_config();
  strict.inject_503_rate = 1.0;
  strict.max_attempts = 3;
  S3Store always(loop.executor(), strict);
  EXPECT_EQ(loop.run(always.get("k", std::nullopt, in(10s))).error, Errc::throttled);
  EXPECT_EQ(always.stats()[Op::get].retries, 2u);
}

std::string pattern(std::size_t size, unsigned seed) {
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 2654435761u + seed) >> 11);
  return data;
}

TEST(S3Moto, ParallelMultipartPartsWithRetriesReadBackIdentical) {
  ASSERT_NE(g_moto, nullptr);
  Loop loop;
  S3Config config = moto_config();
  config.part_size = 5u << 20;
  config.multipart_threshold = 5u << 20;
  config.multipart_concurrency = 3;
  config.inject_503_rate = 0.2;
  config.max_attempts = 12;
  auto store = make_bucket(loop.executor(), config);
  ASSERT_TRUE(store);
  const std::string data = pattern((23u << 20) + 7, 1);  // 5 parts, the last one short
  auto put = loop.run(store->put("mp/big", data, in(60s)));
  ASSERT_TRUE(put) << put.error.message();
  auto got = loop.run(store->get("mp/big", std::nullopt, in(60s)));
  ASSERT_TRUE(got) << got.error.message();
  EXPECT_TRUE(got.value == data);
  // Initiate + 5 parts + complete, plus the retried tries.
  const auto st = store->stats()[Op::multipart];
  EXPECT_EQ(st.requests - st.retries, 7u);
}

TEST(S3Moto, CancelledMultipartStopsPromptlyAndLeavesNoUpload) {
  ASSERT_NE(g_moto, nullptr);
  Loop loop;
  S3Config config = moto_config();
  config.part_size = 5u << 20;
  config.multipart_threshold = 5u << 20;
  config.multipart_concurrency = 2;
  auto store = make_bucket(loop.executor(), config);
  ASSERT_TRUE(store);
  auto strand = asio::make_strand(loop.io());
  asio::cancellation_signal cancel;
  const auto start = std::chrono::steady_clock::now();
  auto done = asio::co_spawn(strand, store->put("mp/cancelled", pattern(120u << 20, 2), in(60s)),
                             asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
  std::this_thread::sleep_for(300ms);
  asio::post(strand, [&cancel] { cancel.emit(asio::cancellation_type::terminal); });
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(done.get().error, Errc::cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // The upload was aborted: the bucket lists no multipart upload in progress.
  http::Client client(loop.executor());
  http::Request req;
  req.url = g_moto->endpoint() + "/" + config.bucket + "?uploads";
  req.deadline = in(10s);
  auto [ec, resp] = loop.run(client.send(std::move(req)));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(resp.body.find("<Upload>"), std::string::npos) << resp.body;
  EXPECT_EQ(loop.run(store->head("mp/cancelled", in(10s))).error, Errc::not_found);
}

TEST(S3Moto, ConditionalPutOfA412AfterAnUnknownOutcomeIsAmbiguous) {
  ASSERT_NE(g_moto, nullptr);
  Loop loop;
  auto store = make_bucket(loop.executor(), moto_config());
  ASSERT_TRUE(store);
  auto r = loop.run(store->put_if_absent("wal/x", "a", in(10s)));
  ASSERT_TRUE(r);
  auto again = loop.run(store->put_if_absent("wal/x", "b", in(10s)));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again.value.created);
  EXPECT_FALSE(again.value.ambiguous);
}

TEST(S3Moto, MissingBucketIsMapped) {
  ASSERT_NE(g_moto, nullptr);
  Loop loop;
  S3Config config = moto_config();
  S3Store store(loop.executor(), config);  // never created
  EXPECT_EQ(loop.run(store.get("k", std::nullopt, in(10s))).error, Errc::bucket_not_found);
}

TEST(S3Moto, ServerThatAcceptsAndNeverAnswersHitsTheDeadline) {
  // A listener that accepts (the kernel completes the handshake from the backlog) and never reads or answers.
  uint16_t port = 0;
  const int fd = silent_listener(&port);
  ASSERT_GE(fd, 0);
  Loop loop;
  S3Config config = moto_config();
  config.endpoint = "http://127.0.0.1:" + std::to_string(port);
  config.attempt_timeout = std::chrono::milliseconds(200);
  S3Store store(loop.executor(), config);
  const auto start = std::chrono::steady_clock::now();
  auto r = loop.run(store.put("k", "v", in(700ms)));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.error, Errc::timed_out) << r.error.message();
  EXPECT_GE(took, 600ms);
  EXPECT_LT(took, 2s);
  EXPECT_GE(store.stats()[Op::put].retries, 1u);  // attempt timeouts are retried within the deadline
  ::close(fd);
}

}  // namespace
}  // namespace floe::objstore::testing
