// Embedded-store specifics: kill -9 of a child process mid-write keeps every acknowledged txn; a torn or corrupt
// journal tail is dropped; snapshots and journal rotation recover the same state; a second process is locked out.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "meta/embedded_store.h"
#include "meta/kv_state.h"
#include "meta/tests/test_support.h"

namespace floe::meta {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "floe-meta-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class EmbeddedTest : public ::testing::Test {
 protected:
  std::unique_ptr<EmbeddedStore> open(uint64_t snapshot_bytes = 64ull << 20) {
    EmbeddedConfig config;
    config.dir = dir_.path();
    config.snapshot_bytes = snapshot_bytes;
    auto store = EmbeddedStore::open(io_.executor(), config);
    EXPECT_TRUE(store.ok()) << store.error().message();
    return store ? std::move(*store) : nullptr;
  }
  std::optional<KeyValue> get(MetaStore& store, std::string key) {
    auto r = io_.run(store.get(std::move(key)));
    EXPECT_TRUE(r.ok());
    return r ? *r : std::nullopt;
  }
  void put(MetaStore& store, std::string key, std::string value) {
    auto r = io_.run(store.put(PutRequest{std::move(key), std::move(value)}));
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  std::vector<fs::path> journals() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      if (e.path().filename().string().rfind("journal-", 0) == 0) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_;
  testing::IoThreads io_;
};

TEST_F(EmbeddedTest, EveryAcknowledgedTxnSurvivesKill9OfTheWriterProcess) {
  for (int round = 0; round < 3; ++round) {
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::execl(FLOE_META_CRASH_CHILD, FLOE_META_CRASH_CHILD, dir_.path().c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    // Read acks until 400 arrived (or 15 s), then kill -9 while the writers keep going.
    std::string acks;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    ::fcntl(out[0], F_SETFL, O_NONBLOCK);
    size_t lines = 0;
    while (lines < 400 && std::chrono::steady_clock::now() < deadline) {
      char buf[4096];
      ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n > 0) {
        acks.append(buf, static_cast<size_t>(n));
        lines = static_cast<size_t>(std::count(acks.begin(), acks.end(), '\n'));
      } else if (n == 0) {
        break;
      } else {
        std::this_thread::sleep_for(1ms);
      }
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited by itself (status " << status << ")";
    // What it wrote before dying was acknowledged too.
    ::fcntl(out[0], F_SETFL, 0);
    for (;;) {
      char buf[4096];
      ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      acks.append(buf, static_cast<size_t>(n));
    }
    ::close(out[0]);
    ASSERT_GE(lines, 400u) << "round " << round << ": too few acks before the deadline";

    std::map<int, int> newest;
    std::vector<std::pair<int, int>> acked;
    std::istringstream in(acks);
    int w = 0, seq = 0;
    while (in >> w >> seq) {
      acked.emplace_back(w, seq);
      newest[w] = std::max(newest.count(w) ? newest[w] : -1, seq);
    }
    auto store = open();
    ASSERT_NE(store, nullptr);
    for (auto [writer, s] : acked) {
      // Each round's writers restart at seq 0 and overwrite: the key holds the filler either way.
      ASSERT_TRUE(get(*store, "crash/w" + std::to_string(writer) + "/" + std::to_string(s)).has_value())
          << "round " << round << ": acknowledged txn " << writer << "/" << s << " lost";
    }
    for (auto [writer, s] : newest) {
      auto last = get(*store, "crash/last/" + std::to_string(writer));
      ASSERT_TRUE(last.has_value());
      EXPECT_GE(std::stoi(last->value), s) << "round " << round;
    }
    store->shutdown();
  }
}

TEST_F(EmbeddedTest, TornAndCorruptJournalTailsAreDroppedAndWritingGoesOn) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 10; ++i) put(*store, "t/" + std::to_string(i), "v");
  }
  auto files = journals();
  ASSERT_EQ(files.size(), 1u);
  const auto good_size = fs::file_size(files[0]);
  {
    // A torn record: a frame header announcing 100 bytes, then only 5 of them.
    std::ofstream f(files[0], std::ios::app | std::ios::binary);
    const char torn[] = {100, 0, 0, 0, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'};
    f.write(torn, sizeof torn);
  }
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(get(*store, "t/" + std::to_string(i)).has_value());
    EXPECT_EQ(fs::file_size(files[0]), good_size);  // truncated at the last good record
    put(*store, "t/after", "1");
  }
  {
    // Flip a byte inside the last record: its crc fails, so it is a torn tail too (never acknowledged).
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('X');
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(get(*store, "t/after").has_value());
  EXPECT_TRUE(get(*store, "t/9").has_value());
  put(*store, "t/again", "1");
  EXPECT_TRUE(get(*store, "t/again").has_value());
}

TEST_F(EmbeddedTest, SnapshotsRotateTheJournalAndRecoverTheSameState) {
  int64_t revision = 0;
  {
    auto store = open(8 * 1024);
    ASSERT_NE(store, nullptr);
    auto lease = io_.run(store->lease_grant(600));
    ASSERT_TRUE(lease.ok());
    for (int i = 0; i < 300; ++i) put(*store, "s/" + std::to_string(i % 50), std::string(100, 'a' + i % 26));
    ASSERT_TRUE(io_.run(store->put(PutRequest{"s/leased", "x", lease->id})).ok());
    auto r = io_.run(store->range(RangeRequest{"s/", prefix_end("s/")}));
    ASSERT_TRUE(r.ok());
    revision = r->revision;
  }
  EXPECT_TRUE(fs::exists(dir_.path() + "/snapshot"));
  EXPECT_LE(journals().size(), 2u) << "old journals are deleted after a snapshot";
  auto store = open(8 * 1024);
  ASSERT_NE(store, nullptr);
  auto r = io_.run(store->range(RangeRequest{"s/", prefix_end("s/")}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->revision, revision);
  EXPECT_EQ(r->count, 51);
  auto kv = get(*store, "s/49");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->version, 6);
  EXPECT_EQ(kv->value, std::string(100, 'a' + 299 % 26));
  // The lease came back with its keys: revoking it deletes them.
  auto leased = get(*store, "s/leased");
  ASSERT_TRUE(leased.has_value());
  EXPECT_FALSE(io_.run(store->lease_revoke(leased->lease)));
  EXPECT_FALSE(get(*store, "s/leased").has_value());
}

TEST_F(EmbeddedTest, ASecondOpenOfTheDirectoryIsRefused) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  EmbeddedConfig config;
  config.dir = dir_.path();
  auto second = EmbeddedStore::open(io_.executor(), config);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error(), Errc::locked);
}

// Reads see the durable revision; before the first write is durable that is revision 0, the empty store. It is
// not "compacted" (a worker once spun on that error in the compare-and-set conformance test).
TEST(KvStateTest, RevisionZeroReadsAsEmptyUntilSomethingIsCompacted) {
  KvState state(100);
  TxnRequest t;
  t.success.emplace_back(PutRequest{"k", "v", 0, false});
  Effect effect;
  ASSERT_TRUE(state.txn(t, effect));
  ASSERT_EQ(state.revision(), 1);
  RangeRequest r;
  r.key = "k";
  auto at_zero = state.range(r, 0);
  ASSERT_TRUE(at_zero) << at_zero.error().message();
  EXPECT_TRUE(at_zero->kvs.empty());
  auto now = state.range(r, 1);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->kvs.size(), 1u);
}

}  // namespace
}  // namespace floe::meta
