#include "stream/file_wal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "protocol/record/crc32c.h"

namespace floe::stream {
namespace {

constexpr size_t kFrameHeader = 24;  // len, crc, seq, epoch

// FileWal::process_stats(): relaxed atomics updated off the lock, summed over every FileWal of the process.
struct ProcessCounters {
  std::atomic<uint64_t> appends{0}, append_bytes{0}, refused{0}, syncs{0}, pending_bytes{0};
  Log2Histogram append_latency_us, sync_latency_us, sync_entries, sync_bytes;
};
ProcessCounters& process_counters() {
  static ProcessCounters counters;
  return counters;
}

Error io_error(const std::string& what, const std::string& path) {
  return Error{Errc::io_error, "file WAL: " + what + " " + path + ": " + std::strerror(errno)};
}

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}
uint32_t get_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t get_u64(const uint8_t* p) { return (uint64_t{get_u32(p)} << 32) | get_u32(p + 4); }

std::string segment_name(const std::string& dir, uint64_t first_seq) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.wal", static_cast<unsigned long long>(first_seq));
  return dir + "/" + name;
}

bool fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

bool write_all(int fd, const uint8_t* p, size_t n, uint64_t at) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
    at += static_cast<uint64_t>(w);
  }
  return true;
}

// Reads a segment file front to back in chunks, so that recovery reads only the written part of a preallocated
// (mostly zero) file.
class ChunkedFile {
 public:
  ~ChunkedFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd_ < 0 || ::fstat(fd_, &st) != 0) return false;
    size_ = static_cast<uint64_t>(st.st_size);
    return true;
  }
  // Bytes [pos, pos + n), valid until the next call; nullptr when the file is shorter or unreadable.
  const uint8_t* at(uint64_t pos, size_t n) {
    if (pos + n > size_) return nullptr;
    if (pos >= start_ && pos + n <= start_ + buf_.size()) return buf_.data() + (pos - start_);
    size_t want = static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(n, 1 << 20), size_ - pos));
    buf_.resize(want);
    size_t got = 0;
    while (got < want) {
      ssize_t r = ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(pos + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    buf_.resize(got);
    start_ = pos;
    return got >= n ? buf_.data() : nullptr;
  }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t start_ = 0;
  std::vector<uint8_t> buf_;
};

}  // namespace

Result<std::unique_ptr<FileWal>> FileWal::open(const FileWalOptions& options, const Replay& replay) {
  if (options.dir.empty() || options.max_entry_bytes == 0 ||
      options.segment_bytes < options.max_entry_bytes + kFrameHeader) {
    return Error{Errc::invalid_argument, "file WAL: segment_bytes must hold the largest entry"};
  }
  std::unique_ptr<FileWal> wal(new FileWal(options));
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Error{Errc::io_error, "file WAL: cannot create " + options.dir + ": " + ec.message()};
  std::string lock = options.dir + "/.lock";
  wal->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (wal->lock_fd_ < 0) return io_error("cannot open", lock);
  if (::flock(wal->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Error{Errc::locked, "file WAL: " + options.dir + " is in use by another process"};
  }
  if (auto st = wal->recover(replay); !st) return st.error();
  if (auto st = wal->open_new_segment(wal->next_seq_); !st) return st.error();
  wal->durable_seq_ = wal->next_seq_ - 1;
  for (size_t i = 0; i < std::max<size_t>(options.sync_threads, 1); ++i) {
    wal->flushers_.emplace_back([w = wal.get()] { w->flusher_loop(); });
  }
  return wal;
}

FileWal::~FileWal() {
  close();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status FileWal::recover(const Replay& replay) {
  std::vector<Segment> found;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 24 || name.substr(20) != ".wal") continue;
    found.push_back({std::stoull(name.substr(0, 20)), entry.path().string()});
  }
  std::sort(found.begin(), found.end(), [](const Segment& a, const Segment& b) { return a.first_seq < b.first_seq; });

  uint64_t last_seq = 0;
  bool have_last = false;
  size_t keep = 0;  // segments [0, keep) hold valid frames
  for (size_t i = 0; i < found.size(); ++i) {
    const Segment& seg = found[i];
    if (have_last && seg.first_seq != last_seq + 1) break;  // a gap: this and later segments were never acked
    ChunkedFile file;
    if (!file.open(seg.path)) return io_error("cannot read", seg.path);
    uint64_t pos = 0;
    size_t frames = 0;
    bool torn = false;
    while (const uint8_t* h = file.at(pos, kFrameHeader)) {
      uint32_t len = get_u32(h);
      if (len == 0) break;  // the unwritten, preallocated rest
      uint64_t seq = get_u64(h + 8);
      uint64_t expected = frames == 0 ? seg.first_seq : last_seq + 1;
      const uint8_t* f =
          len <= options_.max_entry_bytes && seq == expected ? file.at(pos, kFrameHeader + len) : nullptr;
      if (!f || record::crc32c(f + kFrameHeader, len, record::crc32c(f + 8, 16)) != get_u32(f + 4)) {
        torn = true;
        break;
      }
      replay(WalEntry{seq, get_u64(f + 16), std::span<const uint8_t>(f + kFrameHeader, len)});
      last_seq = seq;
      have_last = true;
      ++frames;
      pos += kFrameHeader + len;
    }
    if (frames == 0) break;  // created but never written (crash right after the roll): nothing acked in it
    keep = i + 1;
    if (torn) {
      // Cut the torn write off so that no stale bytes can ever follow a new frame.
      // (New frames always go to a new segment, so a short partial header left at a file's end is harmless.)
      if (::truncate(seg.path.c_str(), static_cast<off_t>(pos)) != 0) return io_error("cannot truncate", seg.path);
      break;
    }
  }
  for (size_t i = keep; i < found.size(); ++i) {
    if (::unlink(found[i].path.c_str()) != 0) return io_error("cannot remove", found[i].path);
  }
  if (keep < found.size() && !fsync_dir(options_.dir)) return io_error("cannot sync", options_.dir);
  found.resize(keep);
  segments_ = std::move(found);
  next_seq_ = have_last ? last_seq + 1 : 1;
  return ok_status();
}

Status FileWal::open_new_segment(uint64_t first_seq) {
  std::string path = segment_name(options_.dir, first_seq);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create", path);
  if (options_.preallocate) {
    int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(options_.segment_bytes));
    if (rc != 0 && rc != EOPNOTSUPP) {
      errno = rc;
      ::close(fd);
      ::unlink(path.c_str());
      return io_error("cannot preallocate", path);
    }
  }
  if (::fsync(fd) != 0 || !fsync_dir(options_.dir)) {
    ::close(fd);
    return io_error("cannot sync new segment", path);
  }
  auto file = std::make_shared<SegmentFile>();
  file->fd = fd;
  file->path = path;
  {
    std::lock_guard lock(mu_);
    current_ = std::move(file);
  }
  write_pos_ = 0;
  std::lock_guard lock(segments_mu_);
  segments_.push_back({first_seq, path});
  return ok_status();
}

uint64_t FileWal::append(std::span<const uint8_t> payload, Callback done) {
  const std::span<const uint8_t> parts[] = {payload};
  return append_parts(parts, std::move(done));
}

uint64_t FileWal::append_parts(std::span<const std::span<const uint8_t>> parts, Callback done) {
  size_t size = 0;
  for (const auto& p : parts) size += p.size();
  if (size == 0 || size > options_.max_entry_bytes) {
    process_counters().refused.fetch_add(1, std::memory_order_relaxed);
    done(make_error_code(size == 0 ? Errc::invalid_argument : Errc::too_large), 0);
    return 0;
  }
  std::error_code refuse;
  uint64_t seq = 0;
  const size_t frame_bytes = kFrameHeader + size;
  const auto queued = std::chrono::steady_clock::now();  // the append latency starts here (read outside the lock)
  {
    std::lock_guard lock(mu_);
    if (closing_)
      refuse = make_error_code(Errc::closed);
    else if (failed_)
      refuse = failed_;
    else if (queued_bytes_ + frame_bytes > options_.max_buffered_bytes && queued_bytes_ > 0) {
      refuse = make_error_code(Errc::too_large);  // back-pressure: the disk is behind; the caller retries
    } else {
      seq = next_seq_++;
      if (queue_.empty() || (!queue_.back().pending.empty() &&
                             queue_.back().bytes.size() + frame_bytes > options_.max_group_bytes)) {
        if (spare_groups_.empty()) {
          queue_.emplace_back();
        } else {
          queue_.push_back(std::move(spare_groups_.back()));
          spare_groups_.pop_back();
        }
        queue_.back().first_seq = seq;
      }
      Group& group = queue_.back();
      // Appended with insert (not resize + memcpy): no zero-filling of bytes about to be overwritten.
      uint8_t header[kFrameHeader];
      put_u32(header, static_cast<uint32_t>(size));
      put_u64(header + 8, seq);
      put_u64(header + 16, options_.epoch);
      uint32_t crc = record::crc32c(header + 8, 16);
      for (const auto& p : parts) crc = record::crc32c(p.data(), p.size(), crc);
      put_u32(header + 4, crc);
      std::vector<uint8_t>& buffer = group.bytes;
      if (buffer.capacity() < buffer.size() + frame_bytes) {
        buffer.reserve(std::max(buffer.size() + frame_bytes,
                                std::min(2 * buffer.capacity(), options_.max_group_bytes)));
      }
      buffer.insert(buffer.end(), header, header + kFrameHeader);
      for (const auto& p : parts) buffer.insert(buffer.end(), p.begin(), p.end());
      group.frame_ends.push_back(buffer.size());
      queued_bytes_ += frame_bytes;
      // Counted before the writer can see the entry, so its completion never runs ahead of these.
      ProcessCounters& counters = process_counters();
      counters.appends.fetch_add(1, std::memory_order_relaxed);
      counters.append_bytes.fetch_add(size, std::memory_order_relaxed);
      counters.pending_bytes.fetch_add(frame_bytes, std::memory_order_relaxed);
      group.pending.push_back({seq, std::move(done), queued, frame_bytes});
    }
  }
  if (refuse) {
    process_counters().refused.fetch_add(1, std::memory_order_relaxed);
    done(refuse, 0);
    return 0;
  }
  cv_.notify_one();
  return seq;
}

FileWal::SegmentFile::~SegmentFile() {
  if (fd >= 0) ::close(fd);
}

void FileWal::flusher_loop() {
  Group group;
  for (;;) {
    uint64_t ticket = 0;
    std::error_code write_ec;
    std::shared_ptr<SegmentFile> file;
    {
      // One flusher writes at a time, and it takes its group while holding write_mu_, so groups reach the file in
      // seq order; the others wait here (or sync what they wrote) meanwhile.
      std::unique_lock writing(write_mu_);
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
        if (queue_.empty()) return;  // closing and drained (every group taken is completed by its flusher)
        group = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= group.bytes.size();
        ticket = syncs_started_++;
        write_ec = failed_;  // after a failure nothing more is written: the group fails, in order
      }
      if (!write_ec) {
        if (Status st = write_group(group); !st) {
          write_ec = st.error().code;
          std::lock_guard lock(mu_);
          if (!failed_) failed_ = write_ec;  // at once: no later group is written after a failed write
        }
      }
      file = current_;  // the file this group ended in (an earlier one was synced when the writer rolled)
    }
    // The sync, on this thread: the appends of this group are completed right after it, with no hand-off.
    std::error_code sync_ec;
    ProcessCounters& counters = process_counters();
    const bool any_written = !write_ec;
    if (any_written) {
      const auto sync_start = std::chrono::steady_clock::now();
      if (::fdatasync(file->fd) != 0) sync_ec = io_error("cannot sync", file->path).code;
      counters.sync_latency_us.record(std::chrono::steady_clock::now() - sync_start);
    }
    std::error_code earlier_failure;
    {
      std::unique_lock lock(mu_);
      // Completions go in the order the groups were taken: a later sync may return first, but it must not ack before
      // an earlier one's result is known (a write-back error is reported to one fdatasync only; once any failed,
      // the WAL is failed and nothing after it is acked).
      sync_cv_.wait(lock, [&] { return syncs_finished_ == ticket; });
      earlier_failure = failed_;
      if (sync_ec && !failed_) failed_ = sync_ec;
      if (!sync_ec && !earlier_failure && any_written) {
        durable_seq_ = group.pending.back().seq;
        ++syncs_;
      }
    }
    const std::error_code ec = write_ec ? write_ec : (earlier_failure ? earlier_failure : sync_ec);
    if (!ec) {
      counters.syncs.fetch_add(1, std::memory_order_relaxed);
      counters.sync_entries.record(group.pending.size());
      counters.sync_bytes.record(group.bytes.size());
    }
    const auto completed = std::chrono::steady_clock::now();
    for (Pending& p : group.pending) {
      counters.append_latency_us.record(completed - p.queued);
      counters.pending_bytes.fetch_sub(p.bytes, std::memory_order_relaxed);
      p.done(ec, ec ? 0 : p.seq);
    }
    group.bytes.clear();
    group.frame_ends.clear();
    group.pending.clear();
    {
      std::lock_guard lock(mu_);
      ++syncs_finished_;  // the next group's completions may run now (they follow these callbacks)
      if (spare_groups_.size() <= options_.sync_threads) spare_groups_.push_back(std::move(group));
      group = Group{};
    }
    sync_cv_.notify_all();
  }
}

Status FileWal::write_group(const Group& group) {
  const std::vector<uint8_t>& bytes = group.bytes;
  const std::vector<size_t>& frame_ends = group.frame_ends;
  const uint64_t first_seq = group.first_seq;
  size_t flushed = 0;  // bytes[0, flushed) are written
  size_t frame_start = 0;
  for (size_t i = 0; i < frame_ends.size(); ++i) {
    size_t frame_size = frame_ends[i] - frame_start;
    uint64_t unwritten = frame_start - flushed;
    if (write_pos_ + unwritten + frame_size > options_.segment_bytes) {
      // Roll: the frames so far go to the current segment, which is synced before the next one becomes current,
      // so the syncer's sync of the current file always covers everything written earlier.
      if (!write_all(current_->fd, bytes.data() + flushed, unwritten, write_pos_) || ::fdatasync(current_->fd) != 0) {
        return io_error("cannot write", current_->path);
      }
      flushed = frame_start;
      if (auto st = open_new_segment(first_seq + i); !st) return st;
    }
    frame_start = frame_ends[i];
  }
  size_t rest = bytes.size() - flushed;
  if (!write_all(current_->fd, bytes.data() + flushed, rest, write_pos_)) {
    return io_error("cannot write", current_->path);
  }
  write_pos_ += rest;
  return ok_status();
}

Result<size_t> FileWal::trim_below(uint64_t seq) {
  std::lock_guard lock(segments_mu_);
  size_t removed = 0;
  // A segment may go when the next one starts at or below `seq`; the last (current) segment always stays.
  while (segments_.size() >= 2 && segments_[1].first_seq <= seq) {
    if (::unlink(segments_.front().path.c_str()) != 0) return io_error("cannot remove", segments_.front().path);
    segments_.erase(segments_.begin());
    ++removed;
  }
  if (removed > 0 && !fsync_dir(options_.dir)) return io_error("cannot sync", options_.dir);
  return removed;
}

void FileWal::close() {
  {
    std::lock_guard lock(mu_);
    if (closing_ && flushers_.empty()) return;
    closing_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : flushers_) {
    if (t.joinable()) t.join();
  }
  flushers_.clear();
  std::lock_guard lock(mu_);
  current_.reset();
}

uint64_t FileWal::next_seq() const {
  std::lock_guard lock(mu_);
  return next_seq_;
}

uint64_t FileWal::durable_seq() const {
  std::lock_guard lock(mu_);
  return durable_seq_;
}

FileWalStatsSnapshot FileWal::process_stats() {
  const ProcessCounters& c = process_counters();
  FileWalStatsSnapshot s;
  s.appends = c.appends.load(std::memory_order_relaxed);
  s.append_bytes = c.append_bytes.load(std::memory_order_relaxed);
  s.refused = c.refused.load(std::memory_order_relaxed);
  s.syncs = c.syncs.load(std::memory_order_relaxed);
  s.pending_bytes = c.pending_bytes.load(std::memory_order_relaxed);
  s.append_latency_us = c.append_latency_us.snapshot();
  s.sync_latency_us = c.sync_latency_us.snapshot();
  s.sync_entries = c.sync_entries.snapshot();
  s.sync_bytes = c.sync_bytes.snapshot();
  return s;
}

uint64_t FileWal::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

}  // namespace floe::stream
