// file:// backend: the conformance suite, the multi-process put-if-absent race, and units that need no server
// (SigV4 and digest vectors, S3 error mapping, fault injection, the blocking pool).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

#include "objstore/blocking_pool.h"
#include "objstore/fault_store.h"
#include "objstore/file_store.h"
#include "objstore/s3_sign.h"
#include "objstore/s3_store.h"
#include "objstore/tests/conformance.h"

extern char** environ;

namespace floe::objstore::testing {
namespace {

namespace fs = std::filesystem;

// A temp directory removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "floe-objstore-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::shared_ptr<ObjectStore> make_file_store(asio::any_io_executor) {
  // Each store owns a fresh directory, removed when the store goes.
  struct Owned : TempDir {
    std::unique_ptr<FileStore> store;
  };
  auto owned = std::make_shared<Owned>();
  auto store = FileStore::open(owned->path() + "/bucket");
  if (!store) return nullptr;
  owned->store = std::move(store.value);
  FileStore* raw = owned->store.get();
  return std::shared_ptr<ObjectStore>(owned, raw);
}

INSTANTIATE_TEST_SUITE_P(File, Conformance, ::testing::Values(Backend{"file", make_file_store}), backend_name);

// A store that forwards everything but list_delimited, so the conformance suite runs ObjectStore's default
// list_delimited (paging through list()) against file://.
class ListThrough final : public ObjectStore {
 public:
  explicit ListThrough(std::shared_ptr<ObjectStore> inner) : inner_(std::move(inner)) {}
  std::string describe() const override { return inner_->describe(); }
  asio::awaitable<Result<PutInfo>> put(std::string k, std::string d, Clock::time_point t) override {
    return inner_->put(std::move(k), std::move(d), t);
  }
  asio::awaitable<Result<PutInfo>> put_if_absent(std::string k, std::string d, Clock::time_point t) override {
    return inner_->put_if_absent(std::move(k), std::move(d), t);
  }
  asio::awaitable<Result<std::string>> get(std::string k, std::optional<ByteRange> r, Clock::time_point t) override {
    return inner_->get(std::move(k), r, t);
  }
  asio::awaitable<Result<ObjectInfo>> head(std::string k, Clock::time_point t) override {
    return inner_->head(std::move(k), t);
  }
  asio::awaitable<Result<ListPage>> list(std::string p, std::string c, std::size_t n, Clock::time_point t) override {
    return inner_->list(std::move(p), std::move(c), n, t);
  }
  asio::awaitable<std::error_code> remove(std::string k, Clock::time_point t) override {
    return inner_->remove(std::move(k), t);
  }
  asio::awaitable<Result<std::vector<DeleteFailure>>> remove_many(std::vector<std::string> k,
                                                                  Clock::time_point t) override {
    return inner_->remove_many(std::move(k), t);
  }
  StatsSnapshot stats() const override { return inner_->stats(); }

 private:
  std::shared_ptr<ObjectStore> inner_;
};

std::shared_ptr<ObjectStore> make_list_through_store(asio::any_io_executor ex) {
  return std::make_shared<ListThrough>(make_file_store(ex));
}

INSTANTIATE_TEST_SUITE_P(DefaultListDelimited, Conformance,
                         ::testing::Values(Backend{"file_default_delimited", make_list_through_store}), backend_name);

// ---- the race ------------------------------------------------------------------------------------------------

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

// Exit status of `pid`, waiting at most `limit`; kills it (by pid) and returns -1 on timeout.
int wait_exit(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(1ms);
  }
}

TEST(FileStoreRace, EightProcessesOneWinnerFiftyRounds) {
  TempDir dir;
  const std::string root = dir.path() + "/shared-bucket";
  ASSERT_TRUE(FileStore::open(root));
  constexpr int kRounds = 50;
  constexpr int kRacers = 8;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "wal/1/1/" + std::to_string(100000 + round);
    const auto start = std::chrono::system_clock::now() + 40ms;
    const std::string start_ns = std::to_string(
        std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count());
    std::vector<pid_t> pids;
    for (int i = 0; i < kRacers; ++i) {
      const pid_t pid = spawn({FLOE_RACE_HELPER, root, key, start_ns});
      ASSERT_GT(pid, 0);
      pids.push_back(pid);
    }
    int winners = 0, losers = 0;
    pid_t winner = -1;
    for (pid_t pid : pids) {
      const int code = wait_exit(pid, 10s);
      if (code == 0) {
        ++winners;
        winner = pid;
      } else if (code == 1) {
        ++losers;
      }
    }
    ASSERT_EQ(winners, 1) << "round " << round;
    ASSERT_EQ(losers, kRacers - 1) << "round " << round;
    std::ifstream in(FileStore::open(root).value->path_of(key));
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_EQ(content, std::to_string(winner)) << "round " << round;
  }
  // No temp files are left behind.
  EXPECT_TRUE(fs::is_empty(root + "/.tmp"));
}

TEST(FileStore, LayoutKeepsObjectsAndPrefixesApart) {
  TempDir dir;
  auto store = FileStore::open(dir.path() + "/b");
  ASSERT_TRUE(store);
  EXPECT_EQ(store.value->path_of("wal/1/00000001"), dir.path() + "/b/wal/1/00000001.o");
  EXPECT_EQ(store.value->path_of("x.o/y"), dir.path() + "/b/x%2Eo/y.o");
  EXPECT_FALSE(FileStore::open("relative/path"));
}

TEST(FileStore, GetIntoReadsIntoTheGivenBuffersMemory) {
  TempDir dir;
  auto opened = FileStore::open(dir.path() + "/b");
  ASSERT_TRUE(opened);
  FileStore& store = *opened.value;
  Loop loop;
  std::string object(100000, 'x');
  for (size_t i = 0; i < object.size(); ++i) object[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(loop.run(store.put("k", object, in(10s))).ok());

  // A buffer already long enough: the answer is that memory, shrunk to the object, every byte overwritten.
  std::string buffer(150000, '#');
  const char* memory = buffer.data();
  auto whole = loop.run(store.get_into(std::move(buffer), "k", std::nullopt, in(10s)));
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole.value, object);
  EXPECT_EQ(whole.value.data(), memory) << "no new allocation";

  // A range into the same memory again.
  auto part = loop.run(store.get_into(std::move(whole.value), "k", ByteRange{1000, 5000}, in(10s)));
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(part.value, object.substr(1000, 5000));
  EXPECT_EQ(part.value.data(), memory);

  // A short buffer grows; a missing key is not_found as with get().
  auto grown = loop.run(store.get_into(std::string(10, '#'), "k", ByteRange{99990, std::nullopt}, in(10s)));
  ASSERT_TRUE(grown.ok());
  EXPECT_EQ(grown.value, object.substr(99990));
  auto missing = loop.run(store.get_into(std::string(), "nope", std::nullopt, in(10s)));
  EXPECT_EQ(missing.error, make_error_code(Errc::not_found));
}

// ---- SigV4 and digests (moto does not verify them; these are the published vectors) -------------------------

TEST(S3Sign, DigestVectors) {
  EXPECT_EQ(s3::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s3::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(s3::md5_base64(""), "1B2M2Y8AsgTpgAmY7PhCfg==");  // d41d8cd98f00b204e9800998ecf8427e (RFC 1321)
  EXPECT_EQ(s3::md5_base64("abc"), "kAFQmDzST7DWlj99KOF/cg==");  // 900150983cd24fb0d6963f7d28e17f72
  EXPECT_EQ(s3::hex(s3::hmac_sha256("Jefe", "what do ya want for nothing?")),  // RFC 4231 case 2
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(s3::uri_encode("a b/c~d*é", true), "a%20b/c~d%2A%C3%A9");
  EXPECT_EQ(s3::uri_encode("a/b", false), "a%2Fb");
}

s3::Credentials example_credentials() {
  return {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
}

TEST(S3Sign, AwsGetObjectExample) {
  s3::SignInput in;
  in.method = "GET";
  in.canonical_uri = "/test.txt";
  in.payload_hash = s3::sha256_hex("");
  in.amz_date = "20130524T000000Z";
  in.region = "us-east-1";
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                {"Range", "bytes=0-9"},
                {"x-amz-content-sha256", in.payload_hash},
                {"x-amz-date", in.amz_date}};
  const auto sig = s3::sign_v4(in, example_credentials());
  EXPECT_EQ(sig.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(S3Sign, AwsListObjectsExample) {
  s3::SignInput in;
  in.method = "GET";
  in.canonical_uri = "/";
  in.query = {{"prefix", "J"}, {"max-keys", "2"}};
  in.payload_hash = s3::sha256_hex("");
  in.amz_date = "20130524T000000Z";
  in.region = "us-east-1";
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                {"x-amz-content-sha256", in.payload_hash},
                {"x-amz-date", in.amz_date}};
  const auto sig = s3::sign_v4(in, example_credentials());
  EXPECT_EQ(sig.canonical_query, "max-keys=2&prefix=J");
  EXPECT_TRUE(sig.authorization.ends_with(
      "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
      << sig.authorization;
}

TEST(S3Store, ErrorMapping) {
  EXPECT_EQ(s3_error(404, "<Error><Code>NoSuchKey</Code></Error>"), Errc::not_found);
  EXPECT_EQ(s3_error(404, "<Error><Code>NoSuchBucket</Code></Error>"), Errc::bucket_not_found);
  EXPECT_EQ(s3_error(412, ""), Errc::precondition_failed);
  EXPECT_EQ(s3_error(403, "<Error><Code>AccessDenied</Code></Error>"), Errc::access_denied);
  EXPECT_EQ(s3_error(416, ""), Errc::invalid_range);
  EXPECT_EQ(s3_error(503, "<Error><Code>SlowDown</Code></Error>"), Errc::throttled);
  EXPECT_EQ(s3_error(500, ""), Errc::unavailable);
  EXPECT_EQ(s3_error(409, "<Error><Code>ConditionalRequestConflict</Code></Error>"), Errc::conflict);
  EXPECT_EQ(s3_error(400, "<Error><Code>BadDigest</Code></Error>"), Errc::integrity);
  EXPECT_EQ(s3_error(400, "<Error><Code>InvalidArgument</Code></Error>"), Errc::invalid_argument);
}

TEST(S3Store, ConfigFromUrl) {
  const char* inherited = std::getenv("AWS_CA_BUNDLE");
  const std::string saved_ca_bundle = inherited != nullptr ? inherited : "";
  ::unsetenv("AWS_CA_BUNDLE");
  ::setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
  ::setenv("AWS_SESSION_TOKEN", "TOK", 1);
  ::setenv("AWS_REGION", "eu-west-1", 1);
  auto c = S3Config::from_url("s3://bkt/pre?endpoint=http://127.0.0.1:9000&addressing=virtual");
  ASSERT_TRUE(c);
  EXPECT_EQ(c.value.bucket, "bkt");
  EXPECT_EQ(c.value.prefix, "pre/");
  EXPECT_EQ(c.value.region, "eu-west-1");
  EXPECT_TRUE(c.value.virtual_hosted);
  EXPECT_EQ(c.value.credentials.access_key, "AK");
  EXPECT_EQ(c.value.credentials.session_token, "TOK");
  auto r = S3Config::from_url("s3://bkt?endpoint=http://h:1&region=us-west-2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value.region, "us-west-2");
  EXPECT_FALSE(r.value.virtual_hosted);
  EXPECT_TRUE(r.value.tls_verify);
  EXPECT_TRUE(r.value.ca_file.empty());
  // No endpoint: AWS over https, virtual-hosted unless the bucket name has a '.'.
  auto aws = S3Config::from_url("s3://bkt?region=eu-central-1");
  ASSERT_TRUE(aws);
  EXPECT_EQ(aws.value.endpoint, "https://s3.eu-central-1.amazonaws.com");
  EXPECT_TRUE(aws.value.virtual_hosted);
  auto dotted = S3Config::from_url("s3://my.bkt");
  ASSERT_TRUE(dotted);
  EXPECT_EQ(dotted.value.endpoint, "https://s3.eu-west-1.amazonaws.com");
  EXPECT_FALSE(dotted.value.virtual_hosted);
  auto pathy = S3Config::from_url("s3://bkt?addressing=path");
  ASSERT_TRUE(pathy);
  EXPECT_FALSE(pathy.value.virtual_hosted);
  ::setenv("AWS_CA_BUNDLE", "/etc/env-ca.pem", 1);
  auto tls = S3Config::from_url("s3://bkt?endpoint=https://h:8443&tls_verify=false");
  ASSERT_TRUE(tls);
  EXPECT_FALSE(tls.value.tls_verify);
  EXPECT_EQ(tls.value.ca_file, "/etc/env-ca.pem");
  auto bundle = S3Config::from_url("s3://bkt?endpoint=https://h&ca_bundle=/tmp/ca.pem");
  ASSERT_TRUE(bundle);
  EXPECT_EQ(bundle.value.ca_file, "/tmp/ca.pem");  // the URL's bundle over AWS_CA_BUNDLE
  ::unsetenv("AWS_CA_BUNDLE");
  EXPECT_EQ(S3Config::from_url("s3://bkt?endpoint=https://h&tls_verify=no").error, Errc::invalid_argument);
  EXPECT_EQ(S3Config::from_url("s3://bkt?endpoint=ftp://h").error, Errc::invalid_argument);
  EXPECT_EQ(S3Config::from_url("s3://?endpoint=http://h:1").error, Errc::invalid_argument);
  EXPECT_EQ(S3Config::from_url("s3://b?endpoint=http://h:1&bogus=1").error, Errc::invalid_argument);
  for (const char* v : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"}) ::unsetenv(v);
  if (inherited != nullptr) ::setenv("AWS_CA_BUNDLE", saved_ca_bundle.c_str(), 1);
}

// ---- fault injection -----------------------------------------------------------------------------------------

TEST(FaultStore, ErrorRatesOutageAndAmbiguousWrites) {
  Loop loop;
  auto inner = make_file_store(loop.executor());
  FaultStore faulty(inner, FaultConfig{}.errors(Op::get, 1.0).ambiguous(Op::put, 1.0));
  // Ambiguous: the write happened, the caller was told it failed.
  EXPECT_EQ(loop.run(faulty.put("k", "v", in(5s))).error, Errc::unavailable);
  EXPECT_EQ(loop.run(inner->get("k", std::nullopt, in(5s))).value, "v");
  EXPECT_EQ(loop.run(faulty.get("k", std::nullopt, in(5s))).error, Errc::unavailable);
  EXPECT_TRUE(loop.run(faulty.head("k", in(5s))));  // other ops unaffected
  faulty.set_outage(true);
  EXPECT_EQ(loop.run(faulty.head("k", in(5s))).error, Errc::unavailable);
  EXPECT_EQ(loop.run(faulty.remove("k", in(5s))), Errc::unavailable);
  faulty.set_outage(false);
  FaultConfig half = FaultConfig{}.errors(Op::head, 0.5);
  half.seed = 7;
  faulty.set_config(half);
  int failed = 0;
  for (int i = 0; i < 400; ++i) failed += loop.run(faulty.head("k", in(5s))).ok() ? 0 : 1;
  EXPECT_GT(failed, 140);
  EXPECT_LT(failed, 260);
}

TEST(FaultStore, AddedLatencyAndDeadlines) {
  Loop loop;
  FaultStore faulty(make_file_store(loop.executor()), FaultConfig{}.delay(Op::put, Latency::constant(80ms)));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop.run(faulty.put("k", "v", in(5s))));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 80ms);
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(loop.run(faulty.put("k", "v", in(30ms))).error, Errc::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 75ms);

  // The cloud profile: a log-normal PUT latency with median ~60 ms and p99 ~400 ms (checked loosely on 200 draws).
  FaultConfig cloud = FaultConfig::cloud_profile();
  cloud.seed = 11;
  cloud.delay(Op::head, Latency::lognormal(6ms, 40ms));  // the PUT shape, 10x faster to keep the test short
  faulty.set_config(cloud);
  std::vector<double> ms;
  for (int i = 0; i < 200; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(loop.run(faulty.head("k", in(5s))));
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  EXPECT_GT(ms[100], 4.0);
  EXPECT_LT(ms[100], 15.0);
  EXPECT_GT(ms[197], 15.0);
}

TEST(BlockingPool, BoundedQueueAndSkippedExpiredJobs) {
  Loop loop;
  BlockingPool pool(1, 2);
  std::atomic<bool> release{false};
  auto slow = [&release]() -> Result<int> {
    for (int i = 0; i < 5000 && !release; ++i) std::this_thread::sleep_for(1ms);
    return 1;
  };
  auto quick = []() -> Result<int> { return 2; };
  auto first = asio::co_spawn(loop.io(), pool.run<int>(slow, in(10s)), asio::use_future);
  std::this_thread::sleep_for(20ms);  // the thread is busy with `first`
  // One at a time: the io threads would otherwise start them in any order.
  auto expired = asio::co_spawn(loop.io(), pool.run<int>(quick, in(30ms)), asio::use_future);
  std::this_thread::sleep_for(10ms);
  auto queued = asio::co_spawn(loop.io(), pool.run<int>(quick, in(10s)), asio::use_future);
  std::this_thread::sleep_for(10ms);
  auto rejected = asio::co_spawn(loop.io(), pool.run<int>(quick, in(10s)), asio::use_future);
  ASSERT_EQ(rejected.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(rejected.get().error, Errc::busy);
  std::this_thread::sleep_for(40ms);  // `expired` passes its deadline while it waits
  release = true;
  ASSERT_EQ(first.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(first.get().value, 1);
  ASSERT_EQ(expired.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(expired.get().error, Errc::timed_out);
  ASSERT_EQ(queued.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(queued.get().value, 2);
}

}  // namespace
}  // namespace floe::objstore::testing
