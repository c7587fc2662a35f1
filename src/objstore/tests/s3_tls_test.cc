// s3:// over https: the conformance suite against a moto server speaking TLS with a self-signed certificate made
// here (trusted through a CA bundle), plus what happens without that trust: a certificate that is not trusted or
// does not name the host is Errc::tls at once (no retries, no hang); tls_verify=false connects anyway.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "objstore/s3_store.h"
#include "objstore/tests/conformance.h"
#include "objstore/tests/moto_server.h"
#include "objstore/tests/s3_bucket.h"

namespace floe::objstore::testing {
namespace {

MotoServer* g_moto = nullptr;
TestCertificate g_cert;

class MotoTlsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("floe-s3-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::string error;
    ASSERT_TRUE(make_test_certificate(dir_.string(), &g_cert, &error)) << error;
    server_ = MotoServer::start(&error, &g_cert);
    ASSERT_TRUE(server_) << error;
    g_moto = server_.get();
  }
  void TearDown() override {
    g_moto = nullptr;
    server_.reset();  // stops moto by PID
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<MotoServer> server_;
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new MotoTlsEnvironment);

S3Config tls_config() {
  S3Config c;
  static std::atomic<int> counter{0};
  c.bucket = "floe-tls-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  c.endpoint = g_moto != nullptr ? g_moto->endpoint() : "https://127.0.0.1:1";
  c.credentials = {"testing", "testing", ""};
  c.backoff_base = std::chrono::milliseconds(5);
  c.ca_file = g_cert.cert_file;
  return c;
}

std::shared_ptr<ObjectStore> make_tls_store(asio::any_io_executor ex) {
  if (g_moto == nullptr) return nullptr;
  return make_bucket(ex, tls_config());
}

INSTANTIATE_TEST_SUITE_P(S3Tls, Conformance, ::testing::Values(Backend{"s3_moto_tls", make_tls_store}),
                         backend_name);

// moto (werkzeug) closes every connection after its response, so pooled TLS connections are checked against a
// small HTTP/1.1 keep-alive server over TLS.
const char* kKeepAliveServer = R"PY(
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = (self.path * 1000).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
)PY";

TEST(S3Tls, KeepAliveReusesTlsConnections) {
  std::string error;
  auto server = MotoServer::start_script(kKeepAliveServer, g_cert, &error);
  ASSERT_TRUE(server) << error;
  Loop loop;
  http::ClientConfig config;
  config.tls.ca_file = g_cert.cert_file;
  http::Client client(loop.executor(), config);
  for (int i = 0; i < 20; ++i) {
    http::Request req;
    req.url = "https://127.0.0.1:" + std::to_string(server->port()) + "/r" + std::to_string(i);
    req.deadline = in(10s);
    auto [ec, resp] = loop.run(client.send(std::move(req)));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(resp.status, 200);
    std::string expected;
    for (int k = 0; k < 1000; ++k) expected += "/r" + std::to_string(i);
    EXPECT_EQ(resp.body, expected);
  }
  const auto st = client.stats();
  EXPECT_EQ(st.connections_opened, 1u);  // one handshake, the other 19 requests on the same connection
  EXPECT_EQ(st.connections_reused, 19u);
}

TEST(S3Tls, UntrustedCertificateIsATlsErrorNotAHang) {
  ASSERT_NE(g_moto, nullptr);
  Loop loop;
  S3Config config = tls_config();
  config.ca_file.clear();  // the system store does not trust the self-signed certificate
  S3Store store(loop.executor(), config);
  const auto start = std::chrono::steady_clock::now();
  auto r = loop.run(store.put("k", "v", in(20s)));
  EXPECT_EQ(r.error, Errc::tls) << r.error.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(store.stats()[Op::put].retries, 0u);  // a rejected certificate is not retried
}

TEST(S3Tls, CertificateForAnotherHostIsRejected) {
  ASSERT_NE(g_moto, nullptr);
  Loop loop;
  S3Config config = tls_config();  // trusted CA, but the certificate names IP 127.0.0.1, not "localhost"
  config.endpoint = "https://localhost:" + std::to_string(g_moto->port());
  S3Store store(loop.executor(), config);
  EXPECT_EQ(loop.run(store.head("k", in(20s))).error, Errc::tls);
}

TEST(S3Tls, UrlOptionsCaBundleFromEnvironmentAndVerifyOptOut) {
  ASSERT_NE(g_moto, nullptr);
  Loop loop;
  const std::string bucket = tls_config().bucket;
  // AWS_CA_BUNDLE, like the AWS CLI.
  const char* inherited = std::getenv("AWS_CA_BUNDLE");
  const std::string saved = inherited != nullptr ? inherited : "";
  ::setenv("AWS_CA_BUNDLE", g_cert.cert_file.c_str(), 1);
  auto trusted = S3Config::from_url("s3://" + bucket + "?endpoint=" + g_moto->endpoint());
  if (inherited != nullptr) {
    ::setenv("AWS_CA_BUNDLE", saved.c_str(), 1);
  } else {
    ::unsetenv("AWS_CA_BUNDLE");
  }
  ASSERT_TRUE(trusted);
  EXPECT_EQ(trusted.value.ca_file, g_cert.cert_file);
  trusted.value.credentials = {"testing", "testing", ""};
  auto store = make_bucket(loop.executor(), trusted.value);
  ASSERT_TRUE(store);
  ASSERT_TRUE(loop.run(store->put("x", "through the CA bundle", in(10s))));

  // tls_verify=false: no CA given, the self-signed certificate is accepted.
  auto unverified = S3Config::from_url("s3://" + bucket + "?endpoint=" + g_moto->endpoint() + "&tls_verify=false");
  ASSERT_TRUE(unverified);
  EXPECT_FALSE(unverified.value.tls_verify);
  unverified.value.credentials = {"testing", "testing", ""};
  S3Store open_store(loop.executor(), unverified.value);
  auto got = loop.run(open_store.get("x", std::nullopt, in(10s)));
  ASSERT_TRUE(got) << got.error.message();
  EXPECT_EQ(got.value, "through the CA bundle");
}

TEST(S3Tls, HandshakeWithAServerThatNeverAnswersHitsTheDeadline) {
  // A listener that accepts and never speaks: the TLS handshake waits, bounded by the call's deadline.
  uint16_t port = 0;
  const int fd = silent_listener(&port);
  ASSERT_GE(fd, 0);
  Loop loop;
  S3Config config = tls_config();
  config.endpoint = "https://127.0.0.1:" + std::to_string(port);
  config.attempt_timeout = std::chrono::milliseconds(200);
  S3Store store(loop.executor(), config);
  const auto start = std::chrono::steady_clock::now();
  auto r = loop.run(store.get("k", std::nullopt, in(700ms)));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.error, Errc::timed_out) << r.error.message();
  EXPECT_GE(took, 600ms);
  EXPECT_LT(took, 2s);
  ::close(fd);
}

}  // namespace
}  // namespace floe::objstore::testing
