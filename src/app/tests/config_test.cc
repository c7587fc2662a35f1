#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

namespace floe::app {
namespace {

std::map<std::string, std::string> g_env;
std::optional<std::string> lookup(const std::string& k) {
  auto it = g_env.find(k);
  if (it == g_env.end()) return std::nullopt;
  return it->second;
}

ConfigResult parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  g_env = std::move(env);
  return parse_serve_config(args, &lookup);
}

TEST(Config, DefaultsAreTheEmbeddedBroker) {
  auto r = parse({});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.config.listen.host, "127.0.0.1");
  EXPECT_EQ(r.config.listen.port, 9092);
  EXPECT_EQ(r.config.data_dir, "./floe-data");
  EXPECT_EQ(r.config.socket_request_max_bytes, 104857600);
}

TEST(Config, FlagBeatsEnvironmentBeatsFile) {
  std::string path = ::testing::TempDir() + "/floe-config-test.conf";
  {
    std::ofstream f(path);
    f << "# comment\nnode.id = 3\nlisten = 127.0.0.1:1000\nzone=a\n";
  }
  auto r = parse({"--config", path, "--listen", "127.0.0.1:3000"},
                 {{"FLOE_LISTEN", "127.0.0.1:2000"}, {"FLOE_NODE_ID", "4"}});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.config.listen.port, 3000);
  EXPECT_EQ(r.config.node_id, 4);
  EXPECT_EQ(r.config.zone, "a");
  std::remove(path.c_str());
}

TEST(Config, BadValuesNameTheKey) {
  EXPECT_EQ(parse({"--node-id", "x"}).error.rfind("node.id: ", 0), 0u);
  EXPECT_EQ(parse({"--listen", "nocolon"}).error.rfind("listen: ", 0), 0u);
  EXPECT_EQ(parse({}, {{"FLOE_SOCKET_REQUEST_MAX_BYTES", "-5"}}).error.rfind("socket.request.max.bytes: ", 0), 0u);
  EXPECT_NE(parse({"--bogus", "1"}).error.find("unknown flag '--bogus'"), std::string::npos);
  EXPECT_NE(parse({"--node-id"}).error.find("needs a value"), std::string::npos);
  EXPECT_NE(parse({"--config", "/nonexistent/floe.conf"}).error.find("cannot read"), std::string::npos);
}

TEST(Config, WildcardListenNeedsAdvertise) {
  EXPECT_EQ(parse({"--listen", "0.0.0.0:9092"}).error.rfind("advertise: ", 0), 0u);
  EXPECT_EQ(parse({"--listen", "0.0.0.0:9092", "--advertise", "broker1:9092"}).error, "");
}

TEST(Config, InlineFlagValuesAndIpv6) {
  auto r = parse({"--listen=[::1]:9093", "--log-level=debug"});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.config.listen.host, "::1");
  EXPECT_EQ(r.config.listen.port, 9093);
  EXPECT_EQ(r.config.log_level, log::Level::debug);
}

TEST(Config, HelpListsEveryKey) {
  EXPECT_TRUE(parse({"--help"}).help);
  std::string u = serve_usage();
  for (const char* k : {"node.id", "listen", "advertise", "zone", "data.dir", "log.level", "socket.request.max.bytes",
                        "connections.max.idle.ms", "io.threads", "io.stall.warn.ms", "shutdown.drain.ms", "http"}) {
    EXPECT_NE(u.find(k), std::string::npos) << k;
  }
}

TEST(Config, HttpAddress) {
  auto r = parse({});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.config.http.host, "127.0.0.1");
  EXPECT_EQ(r.config.http.port, 9644);
  r = parse({"--http", "127.0.0.1:0"});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.config.http.port, 0);
  r = parse({}, {{"FLOE_HTTP", "[::1]:9700"}});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.config.http.host, "::1");
  EXPECT_EQ(r.config.http.port, 9700);
  EXPECT_EQ(parse({"--http", "9644"}).error.rfind("http: ", 0), 0u);
  EXPECT_EQ(parse({"--http", "h:70000"}).error.rfind("http: ", 0), 0u);
}

TEST(Config, EffectiveConfigLineHasEveryKeyWithItsValue) {
  auto r = parse({"--node-id", "3", "--zone", "z 1", "--http", "127.0.0.1:0", "--log-level", "warn"});
  ASSERT_EQ(r.error, "");
  const std::string line = effective_config_line(r.config);
  EXPECT_EQ(line,
            "node.id=3 listen=127.0.0.1:9092 advertise=(listen) zone=\"z 1\" data.dir=./floe-data log.level=warn "
            "socket.request.max.bytes=104857600 connections.max.idle.ms=600000 io.threads=1 "
            "io.stall.warn.ms=500 shutdown.drain.ms=30000 auto.create.topics.enable=true num.partitions=1 meta=embedded "
            "objects=(data.dir/objects) broker.session.timeout.ms=3000 controller.answer.timeout.ms=1000 "
            "partition.open.parallelism=32 "
            "partition.open.wait.ms=5000 partition.open.max.waiters=1000 partition.open.max.wait.bytes=67108864 "
            "offsets.topic.num.partitions=50 "
            "upload.bytes=8388608 "
            "upload.ms=250 log.cache.bytes=134217728 block.cache.bytes=134217728 read.ahead.max.bytes=16777216 "
            "log.retention.check.interval.ms=300000 "
            "producer.snapshot.interval.ms=2000 object.gc.grace.ms=60000 compaction.interval.ms=30000 "
            "compaction.target.bytes=67108864 compaction.min.objects=8 compaction.max.age.ms=300000 "
            "compaction.dead.bytes=16777216 compaction.dead.max.age.ms=3600000 "
            "wal=file wal.flush.ms=50 wal.flush.eager=false wal.flush.min.ms=5 "
            "wal.batch.bytes=4194304 wal.inflight=4 wal.put.hedge.ms=150 http=127.0.0.1:0");
}

TEST(Config, ClusterModeSettings) {
  auto r = parse({"--meta", "etcd://127.0.0.1:2379,10.0.0.2:2379", "--objects", "s3://b?endpoint=http://h:9000",
                  "--broker-session-timeout-ms", "4000"});
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(r.config.cluster_mode());
  EXPECT_EQ(r.config.meta_endpoints, (std::vector<std::string>{"http://127.0.0.1:2379", "http://10.0.0.2:2379"}));
  EXPECT_EQ(r.config.objects, "s3://b?endpoint=http://h:9000");
  EXPECT_EQ(r.config.broker_session_timeout_ms, 4000);
  EXPECT_FALSE(parse({}).config.cluster_mode());
  EXPECT_FALSE(parse({"--meta", "embedded"}).config.cluster_mode());
  EXPECT_EQ(parse({"--meta", "zk://x:1"}).error.rfind("meta: ", 0), 0u);
  EXPECT_EQ(parse({"--meta", "etcd://"}).error.rfind("meta: ", 0), 0u);
  EXPECT_EQ(parse({"--meta", "etcd://h"}).error.rfind("meta: ", 0), 0u);
  EXPECT_EQ(parse({"--objects", "relative/dir"}).error.rfind("objects: ", 0), 0u);
  EXPECT_EQ(parse({"--broker-session-timeout-ms", "500"}).error.rfind("broker.session.timeout.ms: ", 0), 0u);
  EXPECT_TRUE(parse({}, {{"FLOE_META", "etcd://127.0.0.1:2379"}}).config.cluster_mode());
}

TEST(Config, WalKindAndObjectWalSettings) {
  auto r = parse({"--wal", "object", "--wal-flush-ms", "250", "--wal-batch-bytes", "1048576", "--wal-inflight", "8"});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.config.wal, ServeConfig::Wal::object);
  EXPECT_EQ(r.config.wal_flush_ms, 250);
  EXPECT_EQ(r.config.wal_batch_bytes, 1048576);
  EXPECT_EQ(r.config.wal_inflight, 8);
  EXPECT_EQ(parse({}).config.wal, ServeConfig::Wal::file);
  EXPECT_EQ(parse({}, {{"FLOE_WAL", "object"}}).config.wal, ServeConfig::Wal::object);
  EXPECT_EQ(parse({"--wal", "disk"}).error, "wal: expected file or object, got 'disk'");
  EXPECT_EQ(parse({"--wal-flush-ms", "0"}).error.rfind("wal.flush.ms: ", 0), 0u);
  EXPECT_EQ(parse({"--wal-inflight", "x"}).error.rfind("wal.inflight: ", 0), 0u);
  EXPECT_EQ(parse({"--wal-batch-bytes", "10"}).error.rfind("wal.batch.bytes: ", 0), 0u);
  EXPECT_EQ(parse({"--wal-put-hedge-ms", "0"}).config.wal_put_hedge_ms, 0);
  EXPECT_EQ(parse({"--wal-put-hedge-ms", "-1"}).error.rfind("wal.put.hedge.ms: ", 0), 0u);
  EXPECT_FALSE(parse({}).config.wal_flush_eager);
  EXPECT_EQ(parse({}).config.wal_flush_min_ms, 5);
  EXPECT_TRUE(parse({"--wal-flush-eager", "true"}).config.wal_flush_eager);
  EXPECT_TRUE(parse({}, {{"FLOE_WAL_FLUSH_EAGER", "true"}}).config.wal_flush_eager);
  EXPECT_FALSE(parse({"--wal-flush-eager", "false"}).config.wal_flush_eager);
  EXPECT_EQ(parse({"--wal-flush-eager", "yes"}).error, "wal.flush.eager: expected true or false, got 'yes'");
  EXPECT_EQ(parse({"--wal-flush-min-ms", "0"}).config.wal_flush_min_ms, 0);
  EXPECT_EQ(parse({"--wal-flush-min-ms", "-1"}).error.rfind("wal.flush.min.ms: ", 0), 0u);
}

TEST(Config, SecretEntriesAreRedactedAndValuesQuoted) {
  EXPECT_EQ(format_config_entries({{"a", "1"}, {"s3.secret", "hunter2", true}, {"dir", "/x y"}, {"e", ""},
                                   {"q", "a\"b\\c=d"}}),
            "a=1 s3.secret=<redacted> dir=\"/x y\" e=\"\" q=\"a\\\"b\\\\c=d\"");
  EXPECT_EQ(format_config_entries({{"token", "", true}}), "token=<redacted>");
}

}  // namespace
}  // namespace floe::app
