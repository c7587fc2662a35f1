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

#include "protocol/record/crc32c.h"
#include "stream/file_wal_format.h"
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

  // Where each frame of a segment file starts (seq -> offset), walking the layout of file_wal.h.
  static std::map<uint64_t, uint64_t> frame_offsets(const fs::path& path) {
    std::map<uint64_t, uint64_t> at;
    wal_format::ChunkedFile file;
    if (!file.open(path.string())) return at;
    uint64_t pos = wal_format::kSegmentHeader;
    while (const uint8_t* h = file.at(pos, wal_format::kFrameHeader)) {
      const uint32_t len = wal_format::get_u32(h);
      if (len == 0) break;
      const uint64_t seq = wal_format::get_u64(h + 8);
      if (seq != 0) at[seq] = pos;
      pos += wal_format::kFrameHeader + len;
    }
    return at;
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

// One append in flight at a time: every group is a single frame padded to whole blocks (a padding frame after it).
// Every byte must come back, across segment rolls, with and without preallocated segments.
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

// prepare_next_segment: a spare is prepared in the background whenever a roll took the last one, rolls take it
// (renamed, not created), recovery keeps it, and everything written across those rolls comes back.
TEST_F(FileWalTest, RollsTakePreparedSegments) {
  FileWalOptions o = options(64 * 1024);  // one-frame groups of one block each: 15 per segment
  o.recycle_segments = 0;                 // no recycled spares: every spare here was prepared
  auto spare_ready = [](FileWal& wal) {
    for (int i = 0; i < 2000 && wal.spare_segments() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return wal.spare_segments() == 1;
  };
  auto spare_files = [&] {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) n += e.path().extension() == ".spare";
    return n;
  };
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  {
    auto wal = open(replayed, o);
    ASSERT_TRUE(spare_ready(*wal)) << "a spare is prepared after open";
    for (uint64_t s = 1; s <= 50; ++s) {  // segments 1, 16, 31, 46: three rolls, each onto a prepared spare
      ASSERT_EQ(append_all(*wal, 1, s).front(), s);
      if (s % 15 == 0) {
        ASSERT_TRUE(spare_ready(*wal)) << "prepared again after the roll before seq " << s + 1;
      }
    }
    EXPECT_EQ(spare_files(), 1u);
  }
  size_t segments = 0;
  for (const auto& e : fs::directory_iterator(dir_)) segments += e.path().extension() == ".wal";
  EXPECT_EQ(segments, 4u);
  auto wal = open(replayed, o);  // takes the prepared spare for segment 51; the preparer makes another
  ASSERT_EQ(replayed.size(), 50u);
  for (auto& [seq, bytes] : replayed) EXPECT_EQ(bytes, payload_for(seq)) << seq;
  ASSERT_TRUE(spare_ready(*wal));
  EXPECT_EQ(append_all(*wal, 1, 51).front(), 51u);

  // Without preparation nothing is prepared, and recovery keeps no spare beyond recycle_segments.
  wal.reset();
  o.prepare_next_segment = false;
  replayed.clear();
  wal = open(replayed, o);
  ASSERT_EQ(replayed.size(), 51u);
  EXPECT_EQ(wal->spare_segments(), 0u);
  EXPECT_EQ(spare_files(), 0u);
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
    const auto frames = frame_offsets(seg);
    ASSERT_EQ(frames.count(10), 1u);
    const uint64_t end = frames.at(10) + wal_format::kFrameHeader + payload_for(10).size();
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

// A segment file written by hand in the layout of file_wal.h, for recovery's edge cases.
class CraftedSegment {
 public:
  CraftedSegment(uint64_t first_seq, uint64_t generation) : bytes_(wal_format::kSegmentHeader) {
    wal_format::encode_segment_header(bytes_.data(), first_seq, generation);
  }
  // A one-frame group (frame + padding to the block) whose crc continues from `seed`; returns its offset.
  uint64_t add_group(uint64_t seq, const std::vector<uint8_t>& payload, uint32_t seed) {
    const uint64_t at = bytes_.size();
    const size_t size = wal_format::kFrameHeader + payload.size();
    const size_t pad = wal_format::padding_bytes(size);
    bytes_.resize(at + size + pad);
    const uint32_t crc = record::crc32c(payload.data(), payload.size(), wal_format::frame_crc_start(seed, seq, 7));
    wal_format::encode_frame_header(&bytes_[at], static_cast<uint32_t>(payload.size()), crc, seq, 7);
    std::copy(payload.begin(), payload.end(), bytes_.begin() + static_cast<std::ptrdiff_t>(at + 24));
    if (pad > 0) wal_format::write_padding(&bytes_[at + size], pad, seed);
    return at;
  }
  std::vector<uint8_t>& bytes() { return bytes_; }
  // Writes the file, zero-filled to `file_bytes` (a preallocated segment).
  void write(const fs::path& path, size_t file_bytes = 64 * 1024) {
    std::vector<uint8_t> out = bytes_;
    out.resize(std::max(out.size(), file_bytes));
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, out.data(), out.size()), static_cast<ssize_t>(out.size()));
    ::close(fd);
  }

 private:
  std::vector<uint8_t> bytes_;
};

fs::path segment_path(const fs::path& dir, uint64_t first_seq) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.wal", static_cast<unsigned long long>(first_seq));
  return dir / name;
}

constexpr uint64_t kGeneration = 0x1111222233334444ull;     // the crafted segments' own generation
constexpr uint64_t kOldGeneration = 0x5555666677778888ull;  // an earlier life of a recycled file

// A new frame written over a stale frame of a recycled file, torn: its header and the first half of its payload
// landed, the rest is the stale frame's. Recovery keeps the frames before it and nothing after.
TEST_F(FileWalTest, RecoveryStopsAtATornFrameOverAStaleFrame) {
  fs::create_directories(dir_);
  const uint32_t seed = wal_format::generation_seed(kGeneration);
  CraftedSegment seg(1, kGeneration);
  seg.add_group(1, payload_for(1), seed);
  seg.add_group(2, payload_for(2), seed);
  const uint64_t torn_at = seg.add_group(3, payload_for(1003), wal_format::generation_seed(kOldGeneration));
  {
    // The new frame 3's header and half its payload over the stale frame.
    const auto fresh = payload_for(3);
    const uint32_t crc = record::crc32c(fresh.data(), fresh.size(), wal_format::frame_crc_start(seed, 3, 7));
    wal_format::encode_frame_header(&seg.bytes()[torn_at], static_cast<uint32_t>(fresh.size()), crc, 3, 7);
    std::copy(fresh.begin(), fresh.begin() + static_cast<std::ptrdiff_t>(fresh.size() / 2),
              seg.bytes().begin() + static_cast<std::ptrdiff_t>(torn_at + 24));
  }
  seg.write(segment_path(dir_, 1));
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  {
    auto wal = open(replayed, options(64 * 1024));
    ASSERT_EQ(replayed.size(), 2u);
    EXPECT_EQ(replayed[1], payload_for(1));
    EXPECT_EQ(replayed[2], payload_for(2));
    EXPECT_EQ(append_all(*wal, 1, 3).front(), 3u) << "the torn, never acknowledged seq is given again";
  }
  replayed.clear();
  auto wal = open(replayed, options(64 * 1024));
  ASSERT_EQ(replayed.size(), 3u);
  EXPECT_EQ(replayed[3], payload_for(3));
}

// Stale frames with a valid crc: of this generation but an old seq (behind the last frame of a segment the writer
// rolled from: recovery goes on into the next segment), and of the expected seq but an earlier generation
// (recovery stops). A reused spare whose new header never landed names another segment: nothing in it counts.
TEST_F(FileWalTest, RecoveryStopsAtStaleFramesWithAValidCrc) {
  const uint32_t seed = wal_format::generation_seed(kGeneration);
  const uint32_t old_seed = wal_format::generation_seed(kOldGeneration);
  {
    fs::create_directories(dir_);
    CraftedSegment first(10, kGeneration), second(12, kGeneration);
    first.add_group(10, payload_for(10), seed);
    first.add_group(11, payload_for(11), seed);
    first.add_group(4, payload_for(4), seed);  // stale: this generation, an old seq
    second.add_group(12, payload_for(12), seed);
    second.add_group(13, payload_for(13), seed);
    second.add_group(5, payload_for(5), seed);
    first.write(segment_path(dir_, 10));
    second.write(segment_path(dir_, 12));
    std::map<uint64_t, std::vector<uint8_t>> replayed;
    auto wal = open(replayed, options(64 * 1024));
    ASSERT_EQ(replayed.size(), 4u);
    for (uint64_t s = 10; s <= 13; ++s) EXPECT_EQ(replayed[s], payload_for(s)) << s;
    EXPECT_EQ(wal->next_seq(), 14u);
  }
  fs::remove_all(dir_);
  {
    fs::create_directories(dir_);
    CraftedSegment first(10, kGeneration), reused(12, kOldGeneration);
    first.add_group(10, payload_for(10), seed);
    first.add_group(11, payload_for(11), seed);
    first.add_group(12, payload_for(1012), old_seed);  // stale: the expected seq, an earlier generation
    reused.add_group(12, payload_for(12), old_seed);
    first.write(segment_path(dir_, 10));
    CraftedSegment spare(3, kOldGeneration);  // a spare renamed to 12 whose new header never landed
    spare.add_group(12, payload_for(12), old_seed);
    spare.write(segment_path(dir_, 12));
    std::map<uint64_t, std::vector<uint8_t>> replayed;
    auto wal = open(replayed, options(64 * 1024));
    ASSERT_EQ(replayed.size(), 2u);
    EXPECT_EQ(replayed[10], payload_for(10));
    EXPECT_EQ(replayed[11], payload_for(11));
    EXPECT_EQ(wal->next_seq(), 12u);
  }
}

// Segments written by the writer before segment headers existed (frames from offset 0, crc without a generation,
// no padding) are still recovered.
TEST_F(FileWalTest, LegacySegmentsWithoutAHeaderAreRecovered) {
  fs::create_directories(dir_);
  std::vector<uint8_t> bytes;
  for (uint64_t s = 1; s <= 5; ++s) {
    const auto p = payload_for(s);
    const size_t at = bytes.size();
    bytes.resize(at + 24 + p.size());
    const uint32_t crc = record::crc32c(p.data(), p.size(), wal_format::frame_crc_start(0, s, 7));
    wal_format::encode_frame_header(&bytes[at], static_cast<uint32_t>(p.size()), crc, s, 7);
    std::copy(p.begin(), p.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at + 24));
  }
  bytes.resize(64 * 1024);
  {
    int fd = ::open(segment_path(dir_, 1).c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  {
    auto wal = open(replayed, options(64 * 1024));
    ASSERT_EQ(replayed.size(), 5u);
    for (uint64_t s = 1; s <= 5; ++s) EXPECT_EQ(replayed[s], payload_for(s)) << s;
    EXPECT_EQ(append_all(*wal, 3, 6).back(), 8u);
  }
  replayed.clear();
  auto wal = open(replayed, options(64 * 1024));
  EXPECT_EQ(replayed.size(), 8u);
}

// Padding: a frame that leaves fewer than 25 bytes of its block gets a padding frame spanning one more block, and
// such groups fill a segment exactly to its end; padding frames longer than the largest entry are recovered too.
TEST_F(FileWalTest, PaddingAtASegmentEndAndLongerThanAnEntry) {
  auto make = [](uint64_t seq, size_t size) {
    std::vector<uint8_t> p(size);
    for (size_t i = 0; i < size; ++i) p[i] = static_cast<uint8_t>(seq * 31 + i);
    return p;
  };
  {
    // Frames of 4084 bytes: 12 bytes left in the block, so each group is two blocks; 3 groups fill a segment.
    FileWalOptions o = options(4096 + 3 * 8192);
    std::map<uint64_t, std::vector<uint8_t>> replayed;
    {
      auto wal = open(replayed, o);
      for (uint64_t s = 1; s <= 7; ++s) {
        std::promise<uint64_t> done;
        wal->append(make(s, 4060), [&](std::error_code ec, uint64_t seq) { done.set_value(ec ? 0 : seq); });
        ASSERT_EQ(done.get_future().get(), s);
      }
    }
    const auto frames = frame_offsets(segment_path(dir_, 4));
    ASSERT_EQ(frames.size(), 3u);
    EXPECT_EQ(frames.at(4), 4096u);
    EXPECT_EQ(frames.at(5), 4096u + 8192);
    EXPECT_EQ(frames.at(6), 4096u + 2 * 8192) << "the third group ends exactly at the segment's end";
    auto wal = open(replayed, o);
    ASSERT_EQ(replayed.size(), 7u);
    for (uint64_t s = 1; s <= 7; ++s) EXPECT_EQ(replayed[s], make(s, 4060)) << s;
  }
  fs::remove_all(dir_);
  {
    FileWalOptions o = options(64 * 1024);
    o.max_entry_bytes = 100;  // padding frames carry up to 4096 bytes
    std::map<uint64_t, std::vector<uint8_t>> replayed;
    {
      auto wal = open(replayed, o);
      for (uint64_t s = 1; s <= 40; ++s) {
        std::promise<uint64_t> done;
        wal->append(make(s, 1 + s % 100), [&](std::error_code ec, uint64_t seq) { done.set_value(ec ? 0 : seq); });
        ASSERT_EQ(done.get_future().get(), s);
      }
    }
    auto wal = open(replayed, o);
    ASSERT_EQ(replayed.size(), 40u);
    for (uint64_t s = 1; s <= 40; ++s) EXPECT_EQ(replayed[s], make(s, 1 + s % 100)) << s;
  }
}

// Trimmed segments become spares and later rolls reuse them: the reused file still holds its earlier frames (this
// open's generation, old seqs) behind the new ones; they are never replayed, also after a torn write.
TEST_F(FileWalTest, RecycledSegmentsNeverReplayTheirStaleFrames) {
  FileWalOptions o = options(64 * 1024);  // one-frame groups of one block each: 15 per segment
  o.recycle_segments = 2;
  o.prepare_next_segment = false;  // only recycled spares, counted below
  auto one_at_a_time = [](FileWal& wal, uint64_t from, uint64_t to) {
    for (uint64_t s = from; s <= to; ++s) ASSERT_EQ(append_all(wal, 1, s).front(), s);
  };
  std::map<uint64_t, std::vector<uint8_t>> replayed;
  {
    auto wal = open(replayed, o);
    one_at_a_time(*wal, 1, 60);  // segments 1, 16, 31, 46
    auto removed = wal->trim_below(46);
    ASSERT_TRUE(removed);
    EXPECT_EQ(*removed, 3u);
    EXPECT_EQ(wal->spare_segments(), 2u) << "two recycled, the third deleted";
    one_at_a_time(*wal, 61, 70);  // segment 61 reuses segment 1's file: stale frames 11..15 follow frame 70
    EXPECT_EQ(wal->spare_segments(), 1u);
  }
  const auto frames = frame_offsets(segment_path(dir_, 61));
  EXPECT_EQ(frames.count(11), 1u) << "the reused file still holds its earlier frames";
  {
    auto wal = open(replayed, o);  // reuses the other spare for segment 71
    ASSERT_EQ(replayed.size(), 25u);
    EXPECT_EQ(replayed.begin()->first, 46u);
    EXPECT_EQ(replayed.rbegin()->first, 70u);
    for (auto& [seq, bytes] : replayed) EXPECT_EQ(bytes, payload_for(seq)) << seq;
    EXPECT_EQ(wal->next_seq(), 71u);
    EXPECT_EQ(wal->spare_segments(), 0u);
  }
  {
    // Tear frame 70: recovery keeps 46..69 and gives 70 again.
    const auto at = frame_offsets(segment_path(dir_, 61)).at(70);
    int fd = ::open(segment_path(dir_, 61).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    uint8_t junk = 0x5a;
    ASSERT_EQ(::pwrite(fd, &junk, 1, static_cast<off_t>(at + 24 + payload_for(70).size() - 1)), 1);
    ::close(fd);
  }
  replayed.clear();
  {
    auto wal = open(replayed, o);
    ASSERT_EQ(replayed.size(), 24u);
    EXPECT_EQ(replayed.rbegin()->first, 69u);
    one_at_a_time(*wal, 70, 72);
  }
  replayed.clear();
  auto wal = open(replayed, o);
  ASSERT_EQ(replayed.size(), 27u);
  for (auto& [seq, bytes] : replayed) EXPECT_EQ(bytes, payload_for(seq)) << seq;
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
    // Whole trimmed segments become spares (recycle_segments), which the next rounds' opens and rolls reuse, so
    // kills also land in recycled files (RecycledSegmentsNeverReplayTheirStaleFrames checks the reuse itself).
    ASSERT_TRUE(wal->trim_below(trimmed_below));
  }
  EXPECT_GT(acked.size(), 100u) << "the child acknowledged too little for the test to mean anything";
}

}  // namespace
}  // namespace floe::stream
