#include "app/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

namespace floe::app {
namespace {

std::string random_cluster_id() {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  unsigned char bytes[16];
  for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;  // 22 characters
}

bool write_file_durably(const std::string& path, const std::string& content, std::string& error) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "data.dir: cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "data.dir: cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  int dir = ::open(std::filesystem::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

}  // namespace

bool DataDir::open(const std::string& path, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    error = "data.dir: cannot create '" + path + "': " + ec.message();
    return false;
  }
  path_ = path;
  std::string lock = path + "/.lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    error = "data.dir: cannot open " + lock + ": " + std::strerror(errno);
    return false;
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    error = "data.dir: '" + path + "' is in use by another floe process";
    ::close(lock_fd_);
    lock_fd_ = -1;
    return false;
  }
  return true;
}

DataDir::~DataDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

bool DataDir::cluster_id(std::string& out, std::string& error) {
  std::string file = path_ + "/cluster.id";
  if (std::filesystem::exists(file)) {
    std::ifstream in(file);
    if (std::getline(in, out) && out.size() == 22) return true;
    error = "data.dir: " + file + " is corrupt (expected a 22-character cluster id)";
    return false;
  }
  out = random_cluster_id();
  return write_file_durably(file, out + "\n", error);
}

}  // namespace floe::app
