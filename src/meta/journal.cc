#include "meta/journal.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

namespace floe::meta::journal {
namespace {

std::error_code last_errno() { return {errno, std::generic_category()}; }

uint32_t crc(std::string_view data) {
  uLong c = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; records are below 4 GiB (kMaxRecordBytes).
  c = crc32(c, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
  return static_cast<uint32_t>(c);
}

uint32_t load_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

bool Reader::u8(uint8_t& v) {
  if (data_.empty()) return false;
  v = static_cast<uint8_t>(data_[0]);
  data_.remove_prefix(1);
  return true;
}
bool Reader::u32(uint32_t& v) {
  if (data_.size() < 4) return false;
  v = load_u32(data_.data());
  data_.remove_prefix(4);
  return true;
}
bool Reader::u64(uint64_t& v) {
  if (data_.size() < 8) return false;
  v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(data_[i]);
  data_.remove_prefix(8);
  return true;
}
bool Reader::i64(int64_t& v) {
  uint64_t u = 0;
  if (!u64(u)) return false;
  v = static_cast<int64_t>(u);
  return true;
}
bool Reader::str(std::string& v) {
  uint32_t n = 0;
  if (!u32(n) || data_.size() < n) return false;
  v.assign(data_.substr(0, n));
  data_.remove_prefix(n);
  return true;
}

void frame(std::string& out, uint64_t index, Type type, std::string_view payload) {
  std::string body;
  body.reserve(kMinRecordLength + payload.size());
  put_u64(body, index);
  body.push_back(static_cast<char>(type));
  body.append(payload);
  put_u32(out, static_cast<uint32_t>(body.size()));
  put_u32(out, crc(body));
  out.append(body);
}

std::string encode_apply(const Effect& effect) {
  std::string out;
  put_u64(out, static_cast<uint64_t>(effect.revision));
  put_u64(out, static_cast<uint64_t>(effect.revoked_lease));
  put_u32(out, static_cast<uint32_t>(effect.changes.size()));
  for (const auto& c : effect.changes) {
    out.push_back(c.del ? 1 : 0);
    put_str(out, c.key);
    put_str(out, c.value);
    put_u64(out, static_cast<uint64_t>(c.lease));
  }
  return out;
}

bool decode_apply(std::string_view payload, Effect& effect) {
  Reader r(payload);
  uint32_t n = 0;
  if (!r.i64(effect.revision) || !r.i64(effect.revoked_lease) || !r.u32(n)) return false;
  if (n > payload.size()) return false;  // each change takes more than one byte: a bound before reserving
  effect.changes.clear();
  effect.changes.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Change c;
    uint8_t kind = 0;
    if (!r.u8(kind) || kind > 1 || !r.str(c.key) || !r.str(c.value) || !r.i64(c.lease)) return false;
    c.del = kind == 1;
    effect.changes.push_back(std::move(c));
  }
  return r.done();
}

std::string encode_lease_grant(int64_t id, int64_t ttl) {
  std::string out;
  put_u64(out, static_cast<uint64_t>(id));
  put_u64(out, static_cast<uint64_t>(ttl));
  return out;
}

std::string encode_i64(int64_t value) {
  std::string out;
  put_u64(out, static_cast<uint64_t>(value));
  return out;
}

Result<ScanResult> scan_file(const std::string& path, std::string_view magic,
                             const std::function<std::error_code(const Record&)>& on_record) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return last_errno();
  std::string data;
  {
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        auto ec = last_errno();
        ::close(fd);
        return ec;
      }
      if (n == 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);

  ScanResult result;
  if (data.size() < kHeaderBytes) {
    result.torn = !data.empty();
    return result;
  }
  if (std::string_view(data).substr(0, kHeaderBytes) != magic) return Errc::corrupt;
  size_t pos = kHeaderBytes;
  result.valid_bytes = pos;
  while (pos < data.size()) {
    if (data.size() - pos < kFrameBytes) break;
    const uint32_t length = load_u32(data.data() + pos);
    const uint32_t sum = load_u32(data.data() + pos + 4);
    if (length < kMinRecordLength || length > kMaxRecordBytes || data.size() - pos - kFrameBytes < length) break;
    std::string_view body(data.data() + pos + kFrameBytes, length);
    if (crc(body) != sum) break;
    Reader r(body);
    Record record;
    uint8_t type = 0;
    r.u64(record.index);
    r.u8(type);
    record.type = static_cast<Type>(type);
    record.payload = body.substr(kMinRecordLength);
    if (auto ec = on_record(record)) return ec;
    pos += kFrameBytes + length;
    result.valid_bytes = pos;
  }
  result.torn = result.valid_bytes != data.size();
  return result;
}

std::error_code write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_errno();
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::error_code sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return last_errno();
  std::error_code ec;
  if (::fsync(fd) != 0) ec = last_errno();
  ::close(fd);
  return ec;
}

}  // namespace floe::meta::journal
