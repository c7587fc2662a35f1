#include "objstore/file_store.h"
#include "objstore/list_fold.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <random>

#include "base/direct_io.h"
#include "base/log.h"

namespace floe::objstore {
namespace {

constexpr std::string_view kObjectSuffix = ".o";
constexpr int kMaxDirRaces = 8;  // a concurrent delete may remove a directory between mkdir and rename/link
// Objects at least this large are written with O_DIRECT (base/direct_io.h): segment objects of megabytes are
// written once, fsynced at once and read back rarely (the log cache serves the tail), so copying them into the
// page cache only costs CPU and leaves dirty pages whose write-back delays the WAL's fdatasync. Small objects
// (seal markers, metadata-sized ones) stay buffered.
constexpr std::size_t kDirectWriteMin = 256 * 1024;
constexpr std::size_t kDirectBounceBytes = 1 << 20;

std::error_code from_errno(int err) {
  switch (err) {
    case ENOENT: return Errc::not_found;
    case EACCES:
    case EPERM:
    case EROFS: return Errc::access_denied;
    case ENAMETOOLONG:
    case EINVAL: return Errc::invalid_argument;
    default: return Errc::io_error;
  }
}

bool plain_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

std::string encode_segment(std::string_view seg) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(seg.size());
  for (char c : seg) {
    if (plain_char(c)) {
      out.push_back(c);
    } else {
      const auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// nullopt for names that are not ours (temp dir, stray files).
std::optional<std::string> decode_segment(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '%') {
      if (i + 2 >= name.size()) return std::nullopt;
      const int hi = hex_value(name[i + 1]);
      const int lo = hex_value(name[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (plain_char(c)) {
      out.push_back(c);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::error_code fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return from_errno(errno);
  std::error_code ec;
  if (::fsync(fd) != 0) ec = from_errno(errno);
  ::close(fd);
  return ec;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// mkdir -p of `dir` below `root` (which exists); each directory created is fsynced into its parent.
std::error_code make_dirs(const std::string& root, const std::string& dir) {
  if (dir.size() <= root.size()) return {};
  std::size_t at = root.size() + 1;
  while (at <= dir.size()) {
    const auto slash = dir.find('/', at);
    const std::string part = dir.substr(0, slash);
    if (::mkdir(part.c_str(), 0755) == 0) {
      if (auto ec = fsync_path(parent_of(part))) return ec;
    } else if (errno != EEXIST) {
      return from_errno(errno);
    }
    if (slash == std::string::npos) break;
    at = slash + 1;
  }
  return {};
}

std::string etag_of(const struct stat& st) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull +
                    static_cast<unsigned long long>(st.st_mtim.tv_nsec),
                static_cast<unsigned long long>(st.st_ino));
  return buf;
}

std::string temp_name() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[96];
  std::snprintf(buf, sizeof buf, "%d-%llu-%016llx.tmp", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1)), static_cast<unsigned long long>(rng()));
  return buf;
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Walks `dir` (which holds keys starting with `key_prefix`), collecting keys that start with `prefix` and sort
// after `after`.
void walk(const std::string& dir, const std::string& key_prefix, const std::string& prefix, const std::string& after,
          std::vector<ObjectInfo>& out, std::error_code& ec) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno != ENOENT && errno != ENOTDIR) ec = from_errno(errno);
    return;
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    const bool is_object = name.size() > kObjectSuffix.size() && name.ends_with(kObjectSuffix);
    auto decoded = decode_segment(is_object ? name.substr(0, name.size() - kObjectSuffix.size()) : name);
    if (!decoded) continue;
    const std::string key = key_prefix + *decoded;
    const std::string path = dir + "/" + std::string(name);
    if (is_object) {
      if (!key.starts_with(prefix) || key <= after) continue;
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) continue;  // deleted meanwhile
      if (!S_ISREG(st.st_mode)) continue;
      out.push_back(ObjectInfo{key, static_cast<uint64_t>(st.st_size), etag_of(st)});
    } else {
      const std::string sub = key + "/";
      // Descend only where keys can match: sub is a prefix of `prefix`, or `prefix` is a prefix of sub.
      if (!(prefix.starts_with(sub) || sub.starts_with(prefix))) continue;
      walk(path, sub, prefix, after, out, ec);
      if (ec) break;
    }
  }
  ::closedir(d);
}

}  // namespace

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 1024 || key.front() == '/') return false;
  for (char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e || c == '\\') return false;
  }
  std::size_t at = 0;
  while (at <= key.size()) {
    const auto slash = key.find('/', at);
    const std::string_view seg = key.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  return true;
}

Result<std::unique_ptr<FileStore>> FileStore::open(std::string root, FileStoreConfig config) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty() || root.front() != '/') return Errc::invalid_argument;
  if (auto ec = make_dirs("", root); ec && ec != Errc::not_found) {
    // make_dirs from "" creates every component; EEXIST on existing ones is fine.
    return ec;
  }
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) return from_errno(errno);
  if (!S_ISDIR(st.st_mode)) return Errc::invalid_argument;
  const std::string tmp = root + "/.tmp";
  if (::mkdir(tmp.c_str(), 0755) != 0 && errno != EEXIST) return from_errno(errno);
  // Temp files of writers that crashed: older than an hour, so no live writer still owns them. Bounded sweep.
  if (DIR* d = ::opendir(tmp.c_str())) {
    int budget = 10000;
    const auto now = ::time(nullptr);
    while (dirent* e = ::readdir(d)) {
      if (--budget < 0) break;
      const std::string path = tmp + "/" + e->d_name;
      struct stat ts {};
      if (e->d_name[0] != '.' && ::stat(path.c_str(), &ts) == 0 && S_ISREG(ts.st_mode) && now - ts.st_mtime > 3600) {
        ::unlink(path.c_str());
      }
    }
    ::closedir(d);
  }
  return std::unique_ptr<FileStore>(new FileStore(std::move(root), config));
}

FileStore::FileStore(std::string root, FileStoreConfig config)
    : root_(std::move(root)), tmp_dir_(root_ + "/.tmp"), pool_(config.io_threads, config.max_queued) {}

FileStore::~FileStore() { pool_.stop(); }

std::string FileStore::path_of(std::string_view key) const {
  std::string path = root_;
  std::size_t at = 0;
  for (;;) {
    const auto slash = key.find('/', at);
    path.push_back('/');
    path += encode_segment(key.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at));
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  path += kObjectSuffix;
  return path;
}

Result<PutInfo> FileStore::write_object(const std::string& key, std::span<const std::string_view> pieces,
                                        bool if_absent) {
  const std::string tmp = tmp_dir_ + "/" + temp_name();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return from_errno(errno);
  struct Unlink {
    const std::string& path;
    bool armed = true;
    ~Unlink() {
      if (armed) ::unlink(path.c_str());
    }
  } cleanup{tmp};
  std::size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  bool written = true;
  if (size >= kDirectWriteMin) {
    // Not in a coroutine: write_object runs on a blocking-pool thread, which keeps its bounce buffer.
    thread_local AlignedBuffer bounce(kDirectBounceBytes);
    written = append_direct(fd, pieces, bounce);
  } else {
    for (std::string_view p : pieces) written = written && write_all(fd, p.data(), p.size());
  }
  written = written && ::fsync(fd) == 0;
  const int write_errno = errno;
  struct stat st {};
  ::fstat(fd, &st);
  ::close(fd);
  if (!written) return from_errno(write_errno);

  const std::string final_path = path_of(key);
  const std::string dir = parent_of(final_path);
  PutInfo info;
  info.etag = etag_of(st);
  for (int attempt = 0;; ++attempt) {
    if (auto ec = make_dirs(root_, dir)) return ec;
    const int rc = if_absent ? ::link(tmp.c_str(), final_path.c_str()) : ::rename(tmp.c_str(), final_path.c_str());
    if (rc == 0) break;
    if (if_absent && errno == EEXIST) {
      info.created = false;
      info.etag.clear();
      return info;
    }
    if (errno == ENOENT && attempt < kMaxDirRaces) continue;  // the directory was removed by a delete: again
    return from_errno(errno);
  }
  if (!if_absent) cleanup.armed = false;  // renamed away
  if (auto ec = fsync_path(dir)) return ec;
  return info;
}

Result<std::string> FileStore::read_object(const std::string& key, const std::optional<ByteRange>& range,
                                           std::string out) {
  const int fd = ::open(path_of(key).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return from_errno(errno);
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return from_errno(errno);
  const auto size = static_cast<uint64_t>(st.st_size);
  uint64_t offset = 0, length = size;
  if (range) {
    if (range->offset >= size) return Errc::invalid_range;
    offset = range->offset;
    length = std::min(range->length.value_or(size - offset), size - offset);
  }
  // A recycled buffer at least this long only shrinks (no allocation, no fill); pread overwrites every byte kept.
  out.resize(static_cast<std::size_t>(length));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return from_errno(errno);
    if (n == 0) {  // truncated under us: cannot happen with atomic writes, report rather than pad
      return Errc::io_error;
    }
    done += static_cast<std::size_t>(n);
  }
  return out;
}

Result<ObjectInfo> FileStore::stat_object(const std::string& key) {
  struct stat st {};
  if (::stat(path_of(key).c_str(), &st) != 0) return from_errno(errno);
  if (!S_ISREG(st.st_mode)) return Errc::not_found;
  return ObjectInfo{key, static_cast<uint64_t>(st.st_size), etag_of(st)};
}

Result<std::vector<ObjectInfo>> FileStore::collect(const std::string& prefix, const std::string& after) {
  // Start at the deepest directory that the prefix names in full.
  std::string dir = root_;
  std::string key_prefix;
  const auto last_slash = prefix.rfind('/');
  if (last_slash != std::string::npos) {
    std::string_view full = std::string_view(prefix).substr(0, last_slash);
    std::size_t at = 0;
    for (;;) {
      const auto slash = full.find('/', at);
      std::string_view seg = full.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
      if (seg.empty()) return std::vector<ObjectInfo>{};  // no valid key has an empty segment
      dir += "/" + encode_segment(seg);
      if (slash == std::string_view::npos) break;
      at = slash + 1;
    }
    key_prefix = prefix.substr(0, last_slash + 1);
  }
  std::vector<ObjectInfo> found;
  std::error_code ec;
  walk(dir, key_prefix, prefix, after, found, ec);
  if (ec) return ec;
  return found;
}

Result<ListPage> FileStore::list_objects(const std::string& prefix, const std::string& continuation,
                                         std::size_t max_keys) {
  auto collected = collect(prefix, continuation);
  if (!collected) return collected.error;
  std::vector<ObjectInfo>& found = collected.value;
  ListPage page;
  if (found.size() > max_keys) {
    std::partial_sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(max_keys), found.end(),
                      [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    found.resize(max_keys);
    page.next = found.back().key;
  } else {
    std::sort(found.begin(), found.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  }
  page.objects = std::move(found);
  return page;
}

std::error_code FileStore::remove_object(const std::string& key) {
  const std::string path = path_of(key);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return {};
    return from_errno(errno);
  }
  std::string dir = parent_of(path);
  if (auto ec = fsync_path(dir)) return ec;
  // Remove directories left empty (a racing writer re-creates them: see kMaxDirRaces).
  while (dir.size() > root_.size() && ::rmdir(dir.c_str()) == 0) dir = parent_of(dir);
  return {};
}

// ---------------------------------------------------------------------------------------------------------------

namespace {
template <typename T>
void record(Stats& stats, Op op, Clock::time_point start, uint64_t sent, const Result<T>& r, uint64_t received) {
  stats.record(op, Clock::now() - start, sent, received, !r.ok());
}
}  // namespace

asio::awaitable<Result<PutInfo>> FileStore::put(std::string key, std::string data, Clock::time_point deadline) {
  if (!valid_key(key)) co_return Errc::invalid_argument;
  const auto start = Clock::now();
  const std::string_view whole[] = {data};
  auto fn = [this, &key, &whole] { return write_object(key, whole, false); };
  auto r = co_await pool_.run<PutInfo>(fn, deadline);
  record(stats_, Op::put, start, data.size(), r, 0);
  co_return r;
}

asio::awaitable<Result<PutInfo>> FileStore::put_if_absent(std::string key, std::string data,
                                                          Clock::time_point deadline) {
  if (!valid_key(key)) co_return Errc::invalid_argument;
  const auto start = Clock::now();
  const std::string_view whole[] = {data};
  auto fn = [this, &key, &whole] { return write_object(key, whole, true); };
  auto r = co_await pool_.run<PutInfo>(fn, deadline);
  record(stats_, Op::put, start, data.size(), r, 0);
  co_return r;
}

asio::awaitable<Result<PutInfo>> FileStore::put_if_absent_pieces(std::string key, std::vector<std::string_view> pieces,
                                                                 Clock::time_point deadline) {
  if (!valid_key(key)) co_return Errc::invalid_argument;
  const auto start = Clock::now();
  std::size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  auto fn = [this, &key, &pieces] { return write_object(key, pieces, true); };
  auto r = co_await pool_.run<PutInfo>(fn, deadline);
  record(stats_, Op::put, start, size, r, 0);
  co_return r;
}

asio::awaitable<Result<std::string>> FileStore::get(std::string key, std::optional<ByteRange> range,
                                                    Clock::time_point deadline) {
  std::string fresh;
  co_return co_await get_into(std::move(fresh), std::move(key), range, deadline);
}

asio::awaitable<Result<std::string>> FileStore::get_into(std::string buffer, std::string key,
                                                         std::optional<ByteRange> range, Clock::time_point deadline) {
  if (!valid_key(key)) co_return Errc::invalid_argument;
  if (range && range->length && *range->length == 0) co_return Errc::invalid_argument;
  const auto start = Clock::now();
  auto fn = [this, &key, &range, &buffer] { return read_object(key, range, std::move(buffer)); };
  auto r = co_await pool_.run<std::string>(fn, deadline);
  record(stats_, Op::get, start, 0, r, r.ok() ? r.value.size() : 0);
  co_return r;
}

asio::awaitable<Result<ObjectInfo>> FileStore::head(std::string key, Clock::time_point deadline) {
  if (!valid_key(key)) co_return Errc::invalid_argument;
  const auto start = Clock::now();
  auto fn = [this, &key] { return stat_object(key); };
  auto r = co_await pool_.run<ObjectInfo>(fn, deadline);
  record(stats_, Op::head, start, 0, r, 0);
  co_return r;
}

asio::awaitable<Result<ListPage>> FileStore::list(std::string prefix, std::string continuation, std::size_t max_keys,
                                                  Clock::time_point deadline) {
  if (max_keys == 0 || max_keys > 1000) co_return Errc::invalid_argument;
  const auto start = Clock::now();
  auto fn = [this, &prefix, &continuation, max_keys] { return list_objects(prefix, continuation, max_keys); };
  auto r = co_await pool_.run<ListPage>(fn, deadline);
  record(stats_, Op::list, start, 0, r, 0);
  co_return r;
}

asio::awaitable<Result<ListPage>> FileStore::list_delimited(std::string prefix, std::string delimiter,
                                                            std::string continuation, std::size_t max_keys,
                                                            Clock::time_point deadline) {
  if (delimiter.empty() || max_keys == 0 || max_keys > 1000) co_return Errc::invalid_argument;
  const auto start = Clock::now();
  auto fn = [this, &prefix, &delimiter, &continuation, max_keys]() -> Result<ListPage> {
    auto collected = collect(prefix, continuation);
    if (!collected) return collected.error;
    std::sort(collected.value.begin(), collected.value.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return fold_delimited(std::move(collected.value), prefix, delimiter, continuation, max_keys);
  };
  auto r = co_await pool_.run<ListPage>(fn, deadline);
  record(stats_, Op::list, start, 0, r, 0);
  co_return r;
}

asio::awaitable<std::error_code> FileStore::remove(std::string key, Clock::time_point deadline) {
  if (!valid_key(key)) co_return make_error_code(Errc::invalid_argument);
  const auto start = Clock::now();
  auto fn = [this, &key]() -> Result<bool> {
    if (auto ec = remove_object(key)) return ec;
    return true;
  };
  auto r = co_await pool_.run<bool>(fn, deadline);
  record(stats_, Op::remove, start, 0, r, 0);
  co_return r.error;
}

asio::awaitable<Result<std::vector<DeleteFailure>>> FileStore::remove_many(std::vector<std::string> keys,
                                                                           Clock::time_point deadline) {
  const auto start = Clock::now();
  auto fn = [this, &keys, deadline]() -> Result<std::vector<DeleteFailure>> {
    std::vector<DeleteFailure> failures;
    for (const auto& key : keys) {
      if (!valid_key(key)) {
        failures.push_back({key, make_error_code(Errc::invalid_argument)});
      } else if (Clock::now() >= deadline) {
        failures.push_back({key, make_error_code(Errc::timed_out)});
      } else if (auto ec = remove_object(key)) {
        failures.push_back({key, ec});
      }
    }
    return failures;
  };
  auto r = co_await pool_.run<std::vector<DeleteFailure>>(fn, deadline);
  record(stats_, Op::remove, start, 0, r, 0);
  co_return r;
}

}  // namespace floe::objstore
