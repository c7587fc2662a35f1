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
#include <random>

#include "protocol/record/crc32c.h"
#include "stream/file_wal_format.h"

namespace floe::stream {
namespace {

using namespace wal_format;

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

// pwrite until done: 0, or the errno that ended it.
int pwrite_fully(int fd, const uint8_t* p, size_t n, uint64_t at) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO;
    p += w;
    n -= static_cast<size_t>(w);
    at += static_cast<uint64_t>(w);
  }
  return 0;
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// A random generation whose crc seed is not 0 (0 is the legacy format's).
uint64_t draw_generation() {
  std::random_device rd;
  for (;;) {
    const uint64_t g = (uint64_t{rd()} << 32) ^ rd() ^
                       static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    if (generation_seed(g) != 0) return g;
  }
}

}  // namespace

Result<std::unique_ptr<FileWal>> FileWal::open(const FileWalOptions& options, const Replay& replay) {
  if (options.dir.empty() || options.max_entry_bytes == 0 || options.max_entry_bytes > UINT32_MAX) {
    return Error{Errc::invalid_argument, "file WAL: a directory and max_entry_bytes (1 to 4 GiB) are required"};
  }
  FileWalOptions o = options;
  // Room for the header block and one largest entry with its padding; whole blocks.
  o.segment_bytes = align_up(std::max<uint64_t>(o.segment_bytes,
                                                kSegmentHeader + align_up(kFrameHeader + o.max_entry_bytes) + kBlock));
  o.sync_threads = std::max<size_t>(o.sync_threads, 1);
  std::unique_ptr<FileWal> wal(new FileWal(o));
  wal->group_cap_ = std::max<size_t>(1, std::min<uint64_t>(o.max_group_bytes, o.segment_bytes - kSegmentHeader - kBlock));
  wal->generation_ = draw_generation();
  wal->crc_seed_ = generation_seed(wal->generation_);
  wal->direct_ = o.direct_io;
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) return Error{Errc::io_error, "file WAL: cannot create " + o.dir + ": " + ec.message()};
  std::string lock = o.dir + "/.lock";
  wal->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (wal->lock_fd_ < 0) return io_error("cannot open", lock);
  if (::flock(wal->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Error{Errc::locked, "file WAL: " + o.dir + " is in use by another process"};
  }
  if (auto st = wal->recover(replay); !st) return st.error();
  if (auto st = wal->open_new_segment(wal->next_seq_, true); !st) return st.error();
  wal->durable_seq_ = wal->next_seq_ - 1;
  for (size_t i = 0; i < o.sync_threads; ++i) {
    wal->flushers_.emplace_back([w = wal.get()] { w->flusher_loop(); });
  }
  if (o.prepare_next_segment && o.preallocate) {
    wal->preparer_ = std::thread([w = wal.get()] { w->preparer_loop(); });
  }
  return wal;
}

FileWal::~FileWal() {
  close();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void FileWal::preparer_loop() {
  std::unique_lock lock(segments_mu_);
  for (;;) {
    prepare_cv_.wait(lock, [&] { return prepare_wanted_ || prepare_stop_; });
    if (prepare_stop_) return;
    prepare_wanted_ = false;
    if (!spares_.empty() || !prepared_.empty()) continue;
    lock.unlock();
    // A failure here costs nothing but the head start: the next roll creates its file itself (and reports the
    // error if it fails there too); the next roll asks again.
    (void)prepare_spare();
    lock.lock();
  }
}

Status FileWal::prepare_spare() {
  std::string path;
  {
    std::lock_guard lock(segments_mu_);
    path = spare_name(next_spare_number_++);
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create", path);
  const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(options_.segment_bytes));
  // Synced whole (size, allocation, name) before a roll may take it: the roll itself then syncs only its header.
  const bool ok = rc == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || !fsync_dir(options_.dir)) {
    if (rc != 0) errno = rc;
    Error e = io_error("cannot prepare", path);
    ::unlink(path.c_str());
    return e;
  }
  std::lock_guard lock(segments_mu_);
  prepared_ = std::move(path);
  return ok_status();
}

std::string FileWal::spare_name(uint64_t number) const {
  char name[40];
  std::snprintf(name, sizeof name, "%020llu.spare", static_cast<unsigned long long>(number));
  return options_.dir + "/" + name;
}

Status FileWal::recover(const Replay& replay) {
  std::vector<Segment> found;
  std::vector<std::pair<uint64_t, std::string>> spares;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 24 && name.substr(20) == ".wal") {
      found.push_back({std::stoull(name.substr(0, 20)), entry.path().string()});
    } else if (name.size() == 26 && name.substr(20) == ".spare") {
      spares.emplace_back(std::stoull(name.substr(0, 20)), entry.path().string());
    }
  }
  std::sort(found.begin(), found.end(), [](const Segment& a, const Segment& b) { return a.first_seq < b.first_seq; });
  std::sort(spares.begin(), spares.end());

  uint64_t last_seq = 0;
  bool have_last = false;
  size_t keep = 0;  // segments [0, keep) hold valid frames
  for (size_t i = 0; i < found.size(); ++i) {
    const Segment& seg = found[i];
    if (have_last && seg.first_seq != last_seq + 1) break;  // a gap: this and later segments were never acked
    ChunkedFile file;
    if (!file.open(seg.path)) return io_error("cannot read", seg.path);
    const uint8_t* head = file.at(0, std::min<uint64_t>(kSegmentHeader, file.size()));
    const SegmentHeader header = decode_segment_header(head, head ? std::min<uint64_t>(kSegmentHeader, file.size()) : 0);
    // A header that does not name this segment: a torn header write, or a reused spare whose new header never
    // landed. Nothing in it was acknowledged (its header is synced before any frame is written).
    if (header.kind == SegmentHeader::invalid ||
        (header.kind == SegmentHeader::valid && header.first_seq != seg.first_seq)) {
      break;
    }
    const bool legacy = header.kind == SegmentHeader::legacy;
    const uint32_t seed = legacy ? 0 : generation_seed(header.generation);
    uint64_t pos = legacy ? 0 : kSegmentHeader;
    size_t frames = 0;
    bool invalid = false;
    while (const uint8_t* h = file.at(pos, kFrameHeader)) {
      const uint32_t len = get_u32(h);
      if (len == 0) break;  // the unwritten, preallocated rest
      const uint64_t seq = get_u64(h + 8);
      const bool padding = seq == 0 && !legacy;
      const uint64_t expected = frames == 0 ? seg.first_seq : last_seq + 1;
      const bool plausible = padding ? len <= kMaxPaddingPayload : (len <= options_.max_entry_bytes && seq == expected);
      const uint8_t* f = plausible ? file.at(pos, kFrameHeader + len) : nullptr;
      if (!f || record::crc32c(f + kFrameHeader, len, frame_crc_start(seed, seq, get_u64(f + 16))) != get_u32(f + 4)) {
        invalid = true;
        break;
      }
      pos += kFrameHeader + len;
      if (padding) continue;
      replay(WalEntry{seq, get_u64(f + 16), std::span<const uint8_t>(f + kFrameHeader, len)});
      last_seq = seq;
      have_last = true;
      ++frames;
    }
    if (frames == 0) break;  // created but never written (crash right after the roll): nothing acked in it
    keep = i + 1;
    // Past the last frame: zeros, or stale bytes of a recycled file. The next segment goes on from here when it
    // starts at the next seq (the writer rolled); otherwise this is where the valid prefix ends.
    if (invalid && !(i + 1 < found.size() && found[i + 1].first_seq == last_seq + 1)) {
      // Cut the rest off: no unacknowledged bytes stay behind the valid prefix. (New frames always go to a new
      // segment, so this file is never written again.)
      if (::truncate(seg.path.c_str(), static_cast<off_t>(pos)) != 0) return io_error("cannot truncate", seg.path);
      break;
    }
  }
  for (size_t i = keep; i < found.size(); ++i) {
    if (::unlink(found[i].path.c_str()) != 0) return io_error("cannot remove", found[i].path);
  }
  // Spares: the newest recycle_segments (at least the prepared one) of full size stay for reuse, the rest go.
  const size_t keep_spares = std::max<size_t>(options_.recycle_segments, options_.prepare_next_segment ? 1 : 0);
  size_t removed_spares = 0;
  for (auto it = spares.rbegin(); it != spares.rend(); ++it) {
    next_spare_number_ = std::max(next_spare_number_, it->first + 1);
    if (spares_.size() < keep_spares && file_size(it->second) >= options_.segment_bytes) {
      spares_.insert(spares_.begin(), it->second);
    } else {
      if (::unlink(it->second.c_str()) != 0) return io_error("cannot remove", it->second);
      ++removed_spares;
    }
  }
  if ((keep < found.size() || removed_spares > 0) && !fsync_dir(options_.dir)) {
    return io_error("cannot sync", options_.dir);
  }
  found.resize(keep);
  segments_ = std::move(found);
  next_seq_ = have_last ? last_seq + 1 : 1;
  return ok_status();
}

Status FileWal::open_new_segment(uint64_t first_seq, bool sync_now) {
  const std::string path = segment_name(options_.dir, first_seq);
  std::string spare;
  {
    std::lock_guard lock(segments_mu_);
    // A recycled file first (its blocks are written: no extent conversion at fdatasync), else the prepared one.
    if (!spares_.empty()) {
      spare = spares_.front();
      spares_.erase(spares_.begin());
    } else {
      spare = std::move(prepared_);
      prepared_.clear();
    }
    prepare_wanted_ = true;  // the preparer makes the next one (if none is left) while this segment fills
  }
  prepare_cv_.notify_one();
  int fd = -1;
  if (!spare.empty() && ::rename(spare.c_str(), path.c_str()) == 0) {
    // A recycled file: its blocks are written already (no preallocation, no extent conversion at sync). Its old
    // frames stay behind the new ones; the new header's generation tells them apart (see file_wal.h).
    fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open", path);
  } else {
    if (!spare.empty()) ::unlink(spare.c_str());
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
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
  }
  auto file = std::make_shared<SegmentFile>();
  file->fd = fd;
  file->path = path;
  if (direct_.load(std::memory_order_relaxed) && !set_direct(fd, true)) direct_ = false;
  AlignedBuffer header(kSegmentHeader);
  encode_segment_header(header.data(), first_seq, generation_);
  if (Status st = write_at(*file, header.data(), kSegmentHeader, 0); !st) return st;
  // At open: the header (and the file's size and allocation) is durable before any frame is written to it. At a
  // roll the first group's flusher syncs them instead (see the header comment), off the placement lock.
  if (sync_now && (::fsync(fd) != 0 || !fsync_dir(options_.dir))) return io_error("cannot sync new segment", path);
  {
    std::lock_guard lock(mu_);
    current_ = std::move(file);
  }
  write_pos_ = kSegmentHeader;
  std::lock_guard lock(segments_mu_);
  segments_.push_back({first_seq, path});
  return ok_status();
}

Status FileWal::write_at(const SegmentFile& file, const uint8_t* data, size_t size, uint64_t at) {
  int rc = pwrite_fully(file.fd, data, size, at);
  if (rc == EINVAL && direct_.load(std::memory_order_relaxed)) {
    // The file system refused O_DIRECT at the first write: buffered from now on (same layout, same syncs).
    direct_ = false;
    if (!set_direct(file.fd, false)) return io_error("cannot clear O_DIRECT on", file.path);
    rc = pwrite_fully(file.fd, data, size, at);
  }
  if (rc != 0) {
    errno = rc;
    return io_error("cannot write", file.path);
  }
  return ok_status();
}

uint64_t FileWal::append(std::span<const uint8_t> payload, Callback done) {
  const std::span<const uint8_t> parts[] = {payload};
  return append_parts(parts, std::move(done));
}

void FileWal::start_group_locked(size_t frame_bytes) {
  if (spare_groups_.empty()) {
    queue_.emplace_back();
  } else {
    queue_.push_back(std::move(spare_groups_.back()));
    spare_groups_.pop_back();
  }
  // Room for the frames (up to the cap, or this one frame) and the padding the flusher adds.
  queue_.back().buffer.reserve_discard(std::max(group_cap_, frame_bytes) + kMaxPaddingPayload + 2 * kFrameHeader);
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
  // The payload's CRC outside the lock (the flushers take it to pop and complete groups); under it, only combined
  // with the crc of the (generation, seq, epoch) prefix once the seq is known.
  uint32_t payload_crc = 0;
  for (const auto& p : parts) payload_crc = record::crc32c(p.data(), p.size(), payload_crc);
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
      if (queue_.empty() || queue_.back().size + frame_bytes > group_cap_) start_group_locked(frame_bytes);
      Group& group = queue_.back();
      uint8_t* out = group.buffer.data() + group.size;
      size_t at = kFrameHeader;
      for (const auto& p : parts) {
        if (p.empty()) continue;
        std::memcpy(out + at, p.data(), p.size());
        at += p.size();
      }
      const uint32_t crc = record::crc32c_combine(frame_crc_start(crc_seed_, seq, options_.epoch), payload_crc, size);
      encode_frame_header(out, static_cast<uint32_t>(size), crc, seq, options_.epoch);
      group.size += frame_bytes;
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

Status FileWal::place_group(Group& group, std::shared_ptr<SegmentFile>& file, uint64_t& at, size_t& length) {
  const size_t padding = padding_bytes(group.size);
  if (padding > 0) write_padding(group.buffer.data() + group.size, padding, crc_seed_);
  length = group.size + padding;
  if (write_pos_ + length > options_.segment_bytes) {
    // Roll: the group goes wholly to a new segment. Groups still being written to the old one are synced by their
    // own flushers before anything after them completes; recovery goes on into the new segment because it starts
    // at the seq right after the old one's last frame.
    if (Status st = open_new_segment(group.pending.front().seq, false); !st) return st;
    group.sync_dir = true;  // its flusher syncs the new segment's header (its fdatasync) and name
  }
  at = write_pos_;
  write_pos_ += length;
  file = current_;
  return ok_status();
}

void FileWal::flusher_loop() {
  Group group;
  for (;;) {
    uint64_t ticket = 0;
    std::error_code write_ec;
    std::shared_ptr<SegmentFile> file;
    uint64_t at = 0;
    size_t length = 0;
    {
      // One flusher takes and places a group at a time, so groups lie in the file in seq order (and in ticket
      // order); the writes and syncs below run concurrently.
      std::unique_lock placing(write_mu_);
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
        if (queue_.empty()) return;  // closing and drained (every group taken is completed by its flusher)
        group = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= group.size;
        ticket = syncs_started_++;
        write_ec = failed_;  // after a failure nothing more is written: the group fails, in order
      }
      if (!write_ec) {
        if (Status st = place_group(group, file, at, length); !st) write_ec = st.error().code;
      }
    }
    ProcessCounters& counters = process_counters();
    std::error_code sync_ec;
    if (!write_ec) {
      if (Status st = write_at(*file, group.buffer.data(), length, at); !st) {
        write_ec = st.error().code;
      } else {
        // The sync, on this thread: the appends of this group are completed right after it, with no hand-off.
        const auto sync_start = std::chrono::steady_clock::now();
        if (::fdatasync(file->fd) != 0) sync_ec = io_error("cannot sync", file->path).code;
        counters.sync_latency_us.record(std::chrono::steady_clock::now() - sync_start);
        if (!sync_ec && group.sync_dir && !fsync_dir(options_.dir)) {
          sync_ec = io_error("cannot sync the directory of", file->path).code;
        }
      }
    }
    if (write_ec) {
      std::lock_guard lock(mu_);
      if (!failed_) failed_ = write_ec;  // at once: no later group is placed after a failed one
    }
    std::error_code earlier_failure;
    {
      std::unique_lock lock(mu_);
      // Completions go in the order the groups were taken: a later sync may return first, but it must not ack before
      // an earlier one's result is known (a write-back error is reported to one fdatasync only; once any failed,
      // the WAL is failed and nothing after it is acked).
      sync_cv_.wait(lock, [&] { return syncs_finished_ == ticket; });
      earlier_failure = failed_;  // (when this group's own write failed, ec below is that failure anyway)
      if (sync_ec && !failed_) failed_ = sync_ec;
      if (!sync_ec && !earlier_failure && !write_ec) {
        durable_seq_ = group.pending.back().seq;
        ++syncs_;
      }
    }
    const std::error_code ec = write_ec ? write_ec : (earlier_failure ? earlier_failure : sync_ec);
    if (!ec) {
      counters.syncs.fetch_add(1, std::memory_order_relaxed);
      counters.sync_entries.record(group.pending.size());
      counters.sync_bytes.record(group.size);  // frame bytes (the padding not counted)
    }
    const auto completed = std::chrono::steady_clock::now();
    for (Pending& p : group.pending) {
      counters.append_latency_us.record(completed - p.queued);
      counters.pending_bytes.fetch_sub(p.bytes, std::memory_order_relaxed);
      p.done(ec, ec ? 0 : p.seq);
    }
    group.size = 0;
    group.pending.clear();
    group.sync_dir = false;
    {
      std::lock_guard lock(mu_);
      ++syncs_finished_;  // the next group's completions may run now (they follow these callbacks)
      if (spare_groups_.size() <= options_.sync_threads) spare_groups_.push_back(std::move(group));
      group = Group{};
    }
    sync_cv_.notify_all();
  }
}

Result<size_t> FileWal::trim_below(uint64_t seq) {
  const uint64_t durable = durable_seq();
  // One trim at a time; segments_mu_ itself is held only to pick the files and to publish the new spares, not
  // across the renames, unlinks and the directory sync: a roll (under the placement lock) takes segments_mu_ too.
  std::lock_guard trimming(trim_mu_);
  struct Victim {
    Segment segment;
    std::string spare;  // empty: deleted
  };
  std::vector<Victim> victims;
  {
    std::lock_guard lock(segments_mu_);
    size_t recycled = spares_.size();
    // A segment may go when the next one starts at or below `seq`; the last (current) segment always stays.
    while (segments_.size() >= 2 && segments_[1].first_seq <= seq) {
      Victim v{segments_.front(), {}};
      // Reused only when every frame in it is durable: no write to it can still be in flight.
      if (segments_[1].first_seq <= durable + 1 && recycled < options_.recycle_segments &&
          file_size(v.segment.path) >= options_.segment_bytes) {
        v.spare = spare_name(next_spare_number_++);
        ++recycled;
      }
      victims.push_back(std::move(v));
      segments_.erase(segments_.begin());
    }
  }
  std::vector<std::string> spares;
  Status status = ok_status();
  size_t done = 0;
  for (; done < victims.size(); ++done) {
    const Victim& v = victims[done];
    if (!v.spare.empty()) {
      if (::rename(v.segment.path.c_str(), v.spare.c_str()) != 0) {
        status = io_error("cannot recycle", v.segment.path);
        break;
      }
      spares.push_back(v.spare);
    } else if (::unlink(v.segment.path.c_str()) != 0) {
      status = io_error("cannot remove", v.segment.path);
      break;
    }
  }
  if (done > 0 && !fsync_dir(options_.dir) && status) status = io_error("cannot sync", options_.dir);
  {
    std::lock_guard lock(segments_mu_);
    for (std::string& spare : spares) spares_.push_back(std::move(spare));
    // After a failure the files not removed stay segments (the oldest ones), as before the trim.
    for (size_t i = victims.size(); i-- > done;) segments_.insert(segments_.begin(), std::move(victims[i].segment));
  }
  if (!status) return status.error();
  return done;
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
  {
    std::lock_guard lock(segments_mu_);
    prepare_stop_ = true;
  }
  prepare_cv_.notify_all();
  if (preparer_.joinable()) preparer_.join();
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

bool FileWal::direct_io() const { return direct_.load(std::memory_order_relaxed); }

size_t FileWal::spare_segments() const {
  std::lock_guard lock(segments_mu_);
  return spares_.size() + (prepared_.empty() ? 0 : 1);
}

uint64_t FileWal::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

}  // namespace floe::stream
