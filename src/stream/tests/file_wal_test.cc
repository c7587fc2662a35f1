#include "stream/file_wal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "wal_test_util.h"

namespace floe::stream {
namespace {

namespace fs = std::filesystem;
using testing_util_payload = std::vector<uint8_t>;
using floe::stream::testing::payload_for;

class FileWalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("floe-wal-" + std::to_string(getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  FileWalOptions options(uint64_t segment_bytes = 1 << 20) {
    FileWalOptions o;
    o.dir = dir_.string();
    o.segment_bytes = segment_bytes;
    o.max_entry_bytes = 8192;
    o.epoch = 7;
    return o;
  }

  // Opens and returns everything replayed (seq -> payload).
  std::unique_ptr<FileWal> open(std::map<uint64_t, std::vector<uint8_t>>& replayed, FileWalOptions o) {
    auto wal = FileWal::open(o, [&](const WalEntry& e) {
      EXPECT_EQ(replayed.count(e.seq), 0u);
      replayed[e.seq] = std::vector<uint8_t>(e.payload.begin(), e.payload.end());
    });
    EXPECT_TRUE(wal) << (wal ? "" : wal.error().message);
    return wal ? std::move(*wal) : nullptr;
  }

  // Appends and waits for each result.
  static std::vector<uint64_t> append_all(FileWal& wal, uint64_t count, uint64_t first_payload_seq) {
    std::vector<std::promise<uint64_t>> done(count);
    for (uint64_t i = 0; i < count; ++i) {
      auto p = payload_for(first_payload_seq + i);
      wal.append(p, [&done, i](std::error_code ec, uint64_t seq) { done[i].set_value(ec ? 0 : seq); });
    }
    std::vector<uint64_t> seqs;
    for (auto& d : done) seqs.push_back(d.get_future().get());
    return seqs;
  }

  fs::path dir_;
};

TEST_F(FileWalTest, AppendsAreReplayedAfterReopen) {
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  {
    auto wal = open(replayed, options());
    EXPECT_TRUE(replayed.empty());
    auto seqs = append_all(*wal, 500, 1);
    for (uint64_t i = 0; i < 500; ++i) ASSERT_EQ(seqs[i], i + 1);
    EXPECT_EQ(wal->durable_seq(), 500u);
    EXPECT_LT(wal->syncs(), 500u) << "group commit: one sync covers many appends";
  }
  auto wal = open(replayed, options());
  ASSERT_EQ(replayed.size(), 500u);
  for (auto& [seq, bytes] : replayed) ASSERT_EQ(bytes, payload_for(seq)) << seq;
  EXPECT_EQ(wal->next_seq(), 501u);
}

// Several syncs in flight (sync_threads): a later sync may return first, yet every completion comes in seq order,
// from several appending threads and across segment rolls, and each completed seq is durable when it is reported.
TEST_F(FileWalTest, SeveralSyncersCompleteInSeqOrder) {
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  constexpr int kThreads = 4, kPerThread = 300;
  {
    FileWalOptions o = options(256 * 1024);
    o.sync_threads = 4;
    auto wal = open(replayed, o);
    std::mutex mu;
    std::vector<uint64_t> completed;  // in callback order
    bool durable_lagged = false;
    std::atomic<int> outstanding{kThreads * kPerThread};
    std::vector<std::thread> appenders;
    for (int t = 0; t < kThreads; ++t) {
      appenders.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto p = payload_for(static_cast<uint64_t>(t * kPerThread + i));
          wal->append(p, [&](std::error_code ec, uint64_t seq) {
            EXPECT_FALSE(ec) << ec.message();
            {
              std::lock_guard lock(mu);
              completed.push_back(seq);
              if (wal->durable_seq() < seq) durable_lagged = true;
            }
            outstanding.fetch_sub(1);
          });
          if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      });
    }
    for (auto& a : appenders) a.join();
    for (int i = 0; i < 2000 && outstanding.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(outstanding.load(), 0);
    std::lock_guard lock(mu);
    ASSERT_EQ(completed.size(), static_cast<size_t>(kThreads * kPerThread));
    for (size_t i = 0; i < completed.size(); ++i) ASSERT_EQ(completed[i], i + 1) << "completion " << i;
    EXPECT_FALSE(durable_lagged) << "an append completed before durable_seq covered it";
  }
  auto wal = open(replayed, options(256 * 1024));
  ASSERT_EQ(replayed.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(replayed.rbegin()->first, static_cast<uint64_t>(kThreads * kPerThread));
}

// One append in flight at a time: every group is a single frame that starts inside the block the previous one
// ended in, so each direct write rewrites that partial block (its earlier frames unchanged) and pads the rest with
// zeros. Every byte must come back, across segment rolls, with and without preallocated segments.
TEST_F(FileWalTest, OneAtATimeAppendsRewriteThePartialBlockIntact) {
  for (bool preallocate : {true, false}) {
    fs::remove_all(dir_);
    std::map<uint64_t, std::vector<uint8_t>> replayed;
    FileWalOptions o = options(64 * 1024);
    o.preallocate = preallocate;
    {
      auto wal = open(replayed, o);
      for (uint64_t i = 1; i <= 120; ++i) ASSERT_EQ(append_all(*wal, 1, i).front(), i);
    }
    auto wal = open(replayed, o);
    ASSERT_EQ(replayed.size(), 120u) << "preallocate " << preallocate;
    for (uint64_t i = 1; i <= 120; ++i) EXPECT_EQ(replayed[i], payload_for(i)) << i;
    EXPECT_EQ(append_all(*wal, 1, 500).front(), 121u);
  }
}

TEST_F(FileWalTest, SegmentsRollAndSeqsStayDense) {
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  {
    auto wal = open(replayed, options(64 * 1024));
    append_all(*wal, 400, 1);  // ~600 KiB: about ten segments
  }
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.path().extension() == ".wal";
  EXPECT_GT(files, 5u);
  auto wal = open(replayed, options(64 * 1024));
  ASSERT_EQ(replayed.size(), 400u);
  EXPECT_EQ(replayed.begin()->first, 1u);
  EXPECT_EQ(replayed.rbegin()->first, 400u);
}

TEST_F(FileWalTest, TornTailIsCutAndNewAppendsFollowIt) {
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  {
    auto wal = open(replayed, options());
    append_all(*wal, 10, 1);
  }
  // Tear the last frame: overwrite a byte of its payload, as a crash during the write would leave it.
  fs::path seg;
  for (const auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() == ".wal" && (seg.empty() || e.path() < seg)) seg = e.path();
  }
  {
    std::map<uint64_t, std::vector<uint8_t>> probe;
    uint64_t end = 0;
    for (uint64_t s = 1; s <= 10; ++s) end += 24 + payload_for(s).size();
    int fd = ::open(seg.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    uint8_t junk = 0x5a;
    ASSERT_EQ(::pwrite(fd, &junk, 1, static_cast<off_t>(end - 1)), 1);
    ::close(fd);
  }
  {
    auto wal = open(replayed, options());
    ASSERT_EQ(replayed.size(), 9u) << "the torn 10th entry is dropped";
    auto seqs = append_all(*wal, 5, 100);
    EXPECT_EQ(seqs.front(), 10u) << "the next append reuses the dropped (never acknowledged) seq";
  }
  replayed.clear();
  auto wal = open(replayed, options());
  ASSERT_EQ(replayed.size(), 14u);
  EXPECT_EQ(replayed[10], payload_for(100));
  EXPECT_EQ(replayed[14], payload_for(104));
}

TEST_F(FileWalTest, SecondOpenOfTheSameDirectoryIsRefused) {
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  auto wal = open(replayed, options());
  auto second = FileWal::open(options(), [](const WalEntry&) {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, make_error_code(Errc::locked));
}

TEST_F(FileWalTest, TrimDeletesWholeSegmentsBelowASeq) {
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  {
    auto wal = open(replayed, options(64 * 1024));
    append_all(*wal, 400, 1);
    auto removed = wal->trim_below(200);
    ASSERT_TRUE(removed);
    EXPECT_GT(*removed, 0u);
    auto all = wal->trim_below(UINT64_MAX);
    ASSERT_TRUE(all);
  }
  auto wal = open(replayed, options(64 * 1024));
  ASSERT_FALSE(replayed.empty());
  EXPECT_GT(replayed.begin()->first, 200u) << "segments wholly below 200 are gone";
  EXPECT_EQ(replayed.rbegin()->first, 400u) << "the current segment always stays";
  EXPECT_EQ(wal->next_seq(), 401u);
}

TEST_F(FileWalTest, BadAppendsFailAsValues) {
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  auto wal = open(replayed, options());
  std::promise<std::error_code> too_big, empty, closed;
  std::vector<uint8_t> big(9000, 1);
  wal->append(big, [&](std::error_code ec, uint64_t) { too_big.set_value(ec); });
  wal->append({}, [&](std::error_code ec, uint64_t) { empty.set_value(ec); });
  EXPECT_EQ(too_big.get_future().get(), make_error_code(Errc::too_large));
  EXPECT_EQ(empty.get_future().get(), make_error_code(Errc::invalid_argument));
  wal->close();
  std::vector<uint8_t> one{1};
  wal->append(one, [&](std::error_code ec, uint64_t) { closed.set_value(ec); });
  EXPECT_EQ(closed.get_future().get(), make_error_code(Errc::closed));
}

// The flusher that synced a group completes it itself: completions come from at most sync_threads threads, none of
// them the appender's, each after durable_seq covers it, in seq order.
TEST_F(FileWalTest, EachGroupIsCompletedByTheFlusherThatSyncedIt) {
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  FileWalOptions o = options();
  o.sync_threads = 2;
  auto wal = open(replayed, o);
  std::mutex mu;
  std::set<std::thread::id> completing;
  std::vector<uint64_t> completed;
  std::atomic<int> outstanding{200};
  for (int i = 0; i < 200; ++i) {
    auto p = payload_for(static_cast<uint64_t>(i));
    wal->append(p, [&](std::error_code ec, uint64_t seq) {
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_GE(wal->durable_seq(), seq);
      std::lock_guard lock(mu);
      completing.insert(std::this_thread::get_id());
      completed.push_back(seq);
      outstanding.fetch_sub(1);
    });
    if (i % 20 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  for (int i = 0; i < 2000 && outstanding.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(outstanding.load(), 0);
  std::lock_guard lock(mu);
  EXPECT_LE(completing.size(), 2u);
  EXPECT_EQ(completing.count(std::this_thread::get_id()), 0u);
  for (size_t i = 0; i < completed.size(); ++i) ASSERT_EQ(completed[i], i + 1);
  EXPECT_GE(wal->syncs(), 1u);
}

TEST_F(FileWalTest, AsyncAppendCompletesOnTheCallersExecutor) {
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  auto wal = open(replayed, options());
  asio::io_context io;
  auto io_thread = std::this_thread::get_id();
  auto fut = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<uint64_t> {
        auto p = payload_for(1);
        uint64_t seq = co_await wal->async_append(p, asio::use_awaitable);
        EXPECT_EQ(std::this_thread::get_id(), io_thread);
        co_return seq;
      },
      asio::use_future);
  io.run();
  EXPECT_EQ(fut.get(), 1u);
}

// kill -9 at random moments while a child appends: every entry the child saw acknowledged is present with identical
// bytes, and seqs are dense. 100 rounds on one directory, so later rounds also recover earlier crashes' tails.
TEST_F(FileWalTest, KillNineNeverLosesAnAcknowledgedAppend) {
  std::mt19937_64 rng(12345);
  std::set<uint64_t> acked;
  uint64_t trimmed_below = 0;  // trim_below(x) keeps every entry >= x; below it entries may be gone
  for (int round = 0; round < 100; ++round) {
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::execl(FLOE_WAL_CRASH_CHILD, FLOE_WAL_CRASH_CHILD, dir_.c_str(), "262144", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 30000));  // the crash point
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early, status " << status;
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
    ::close(out[0]);
    for (size_t pos = 0; (pos = text.find("ack ", pos)) != std::string::npos; pos += 4) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) break;  // a half-written line: the ack was being printed, not necessarily seen
      acked.insert(std::stoull(text.substr(pos + 4, nl - pos - 4)));
    }

    std::map<uint64_t, std::vector<uint8_t>> replayed;
    auto wal = open(replayed, options(262144));
    ASSERT_TRUE(wal);
    uint64_t expect = replayed.empty() ? 0 : replayed.begin()->first;
    for (auto& [seq, bytes] : replayed) {
      ASSERT_EQ(seq, expect++) << "round " << round << ": seqs not dense";
      ASSERT_EQ(bytes, payload_for(seq)) << "round " << round << ": seq " << seq << " corrupted";
    }
    for (auto it = acked.lower_bound(trimmed_below); it != acked.end(); ++it) {
      ASSERT_EQ(replayed.count(*it), 1u) << "round " << round << ": acked seq " << *it << " lost";
    }
    // Keep the directory small, as uploads and commits will: entries below the last one are "committed".
    trimmed_below = replayed.empty() ? 0 : replayed.rbegin()->first;
    ASSERT_TRUE(wal->trim_below(trimmed_below));
  }
  EXPECT_GT(acked.size(), 100u) << "the child acknowledged too little for the test to mean anything";
}

}  // namespace
}  // namespace floe::stream
