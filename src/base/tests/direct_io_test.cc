#include "base/direct_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace floe {
namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> out(std::filesystem::file_size(path));
  int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::read(fd, out.data(), out.size()), static_cast<ssize_t>(out.size()));
  ::close(fd);
  return out;
}

class DirectIoTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = GetParam() + "/floe-direct-io-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_.data()), nullptr) << GetParam();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

// Every size class: empty, below one block, exactly aligned, unaligned tails, more than one bounce buffer.
TEST_P(DirectIoTest, AppendWritesExactBytesForEverySize) {
  AlignedBuffer bounce(2 * kDirectAlign);
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097}, size_t{8192 + 100},
                      size_t{5 * 4096}, size_t{5 * 4096 + 7}}) {
    std::vector<uint8_t> data(size);
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i * 31 + size);
    const std::string path = dir_ + "/f" + std::to_string(size);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0);
    // An unaligned source address too: the bounce buffer makes it legal.
    std::vector<uint8_t> shifted(size + 1);
    std::copy(data.begin(), data.end(), shifted.begin() + 1);
    ASSERT_TRUE(append_direct(fd, shifted.data() + 1, size, bounce)) << size;
    // O_DIRECT is left off: a plain unaligned write still works.
    const uint8_t tail[3] = {1, 2, 3};
    ASSERT_EQ(::write(fd, tail, 3), 3);
    ::close(fd);
    data.insert(data.end(), tail, tail + 3);
    EXPECT_EQ(read_file(path), data) << size;
  }
}

// Pieces of every length (empty ones too) written as one run: chunks of the bounce buffer cross piece boundaries.
TEST_P(DirectIoTest, AppendPiecesWritesTheirConcatenation) {
  AlignedBuffer bounce(2 * kDirectAlign);
  const std::vector<std::vector<size_t>> layouts = {{},
                                                    {0},
                                                    {1},
                                                    {4096},
                                                    {4095, 1},
                                                    {1, 4095, 4097},
                                                    {0, 9000, 0, 3},
                                                    {100, 8192, 300, 4096, 5},
                                                    {3 * 4096 + 11, 2 * 4096},
                                                    {7, 7, 7, 7, 8192 * 2 + 1}};
  int round = 0;
  for (const auto& sizes : layouts) {
    std::vector<std::string> owned;
    std::string expected;
    for (size_t size : sizes) {
      std::string piece(size, '\0');
      for (size_t i = 0; i < size; ++i) piece[i] = static_cast<char>(i * 13 + size + owned.size());
      expected += piece;
      owned.push_back(std::move(piece));
    }
    std::vector<std::string_view> pieces(owned.begin(), owned.end());
    const std::string path = dir_ + "/p" + std::to_string(round++);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(append_direct(fd, pieces, bounce)) << round;
    ::close(fd);
    const std::vector<uint8_t> got = read_file(path);
    EXPECT_EQ(std::string(got.begin(), got.end()), expected) << round;
  }
}

TEST_P(DirectIoTest, NoBounceBufferMeansBufferedWrites) {
  AlignedBuffer none;
  std::vector<uint8_t> data(3 * kDirectAlign, 0x5a);
  const std::string path = dir_ + "/plain";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(append_direct(fd, data.data(), data.size(), none));
  ::close(fd);
  EXPECT_EQ(read_file(path), data);
}

TEST(AlignedBufferTest, IsAlignedAndGrowsOnly) {
  AlignedBuffer b(1);
  EXPECT_EQ(b.capacity(), kDirectAlign);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kDirectAlign, 0u);
  b.reserve_discard(3 * kDirectAlign + 1);
  EXPECT_EQ(b.capacity(), 4 * kDirectAlign);
  b.reserve_discard(kDirectAlign);
  EXPECT_EQ(b.capacity(), 4 * kDirectAlign);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kDirectAlign, 0u);
}

// The build directory's file system (O_DIRECT on ext4/xfs) and /dev/shm (tmpfs: refused, the buffered fallback).
std::vector<std::string> dirs() {
  std::vector<std::string> out{std::filesystem::current_path().string()};
  if (std::filesystem::is_directory("/dev/shm")) out.push_back("/dev/shm");
  return out;
}
INSTANTIATE_TEST_SUITE_P(FileSystems, DirectIoTest, ::testing::ValuesIn(dirs()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param == "/dev/shm" ? std::string("tmpfs") : std::string("build_dir");
                         });

}  // namespace
}  // namespace floe
