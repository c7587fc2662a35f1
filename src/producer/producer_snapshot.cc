#include "producer/producer_snapshot.h"

#include <algorithm>
#include <string>

#include "producer/errors.h"
#include "protocol/record/batch_header.h"
#include "protocol/record/crc32c.h"

namespace floe::producer {
namespace {

constexpr uint32_t kMagic = 0x46505354;  // "FPST"
constexpr size_t kCrcAt = 5;
constexpr size_t kBodyAt = 9;

Error corrupt(const std::string& what) {
  return Error{make_error_code(Errc::corrupt_snapshot), "producer snapshot: " + what};
}

class Writer {
 public:
  void u8(uint8_t v) { out.push_back(v); }
  void u16(uint16_t v) {
    uint8_t b[2];
    record::store_be16(b, v);
    out.insert(out.end(), b, b + 2);
  }
  void u32(uint32_t v) {
    uint8_t b[4];
    record::store_be32(b, v);
    out.insert(out.end(), b, b + 4);
  }
  void u64(uint64_t v) {
    uint8_t b[8];
    record::store_be64(b, v);
    out.insert(out.end(), b, b + 8);
  }
  std::vector<uint8_t> out;
};

// Callers check has() before reading.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in, size_t pos) : in_(in), pos_(pos) {}
  bool has(size_t n) const { return in_.size() - pos_ >= n; }
  size_t left() const { return in_.size() - pos_; }
  uint8_t u8() { return in_[pos_++]; }
  uint16_t u16() {
    auto v = record::load_be16(in_.data() + pos_);
    pos_ += 2;
    return v;
  }
  uint32_t u32() {
    auto v = record::load_be32(in_.data() + pos_);
    pos_ += 4;
    return v;
  }
  uint64_t u64() {
    auto v = record::load_be64(in_.data() + pos_);
    pos_ += 8;
    return v;
  }

 private:
  std::span<const uint8_t> in_;
  size_t pos_;
};

// Why `s` is not a valid snapshot (the rules decode enforces), or empty.
std::string invalid_reason(const ProducerSnapshot& s) {
  if (s.next_offset < 0) return "negative next offset";
  if (s.producers.size() > kMaxSnapshotProducers) return std::to_string(s.producers.size()) + " producers";
  if (s.leader_epochs.size() > kMaxSnapshotEpochs) return std::to_string(s.leader_epochs.size()) + " epochs";
  int64_t previous = kNoProducerId;
  for (const ProducerInfo& p : s.producers) {
    const std::string who = "producer " + std::to_string(p.producer_id);
    if (p.producer_id <= previous) return "producer ids not ascending at " + who;
    previous = p.producer_id;
    if (p.epoch < 0) return who + ": negative epoch";
    if (p.batches.empty() || p.batches.size() > kDedupWindow) return who + ": batch count";
    if (p.last_offset != p.batches.back().last_offset) return who + ": last offset is not its newest batch's";
    int64_t below = -1;
    for (const ProducerInfo::Batch& b : p.batches) {
      if (b.first_sequence < 0 || b.last_sequence < 0 || b.offset_delta < 0 || b.last_offset < b.offset_delta ||
          b.last_offset <= below || b.last_offset >= s.next_offset) {
        return who + ": bad batch";
      }
      below = b.last_offset;
    }
  }
  const EpochStart* before = nullptr;
  for (const EpochStart& e : s.leader_epochs) {
    if (e.epoch < 0 || e.start_offset < 0 || e.start_offset > s.next_offset) return "bad leader epoch entry";
    if (before && (e.epoch <= before->epoch || e.start_offset < before->start_offset)) {
      return "leader epochs not ascending";
    }
    before = &e;
  }
  return {};
}

}  // namespace

size_t bound_snapshot(ProducerSnapshot& s, const SnapshotBounds& bounds, int64_t now_ms) {
  const size_t before = s.producers.size();
  std::erase_if(s.producers, [&](const ProducerInfo& p) {
    return now_ms - p.last_timestamp >= bounds.producer_id_expiration_ms;
  });
  const size_t cap = std::min(bounds.max_producers, kMaxSnapshotProducers);
  if (s.producers.size() > cap) {
    // Keep the most recently active; ties by producer id so that the result does not depend on the input order.
    std::sort(s.producers.begin(), s.producers.end(), [](const ProducerInfo& a, const ProducerInfo& b) {
      return a.last_timestamp != b.last_timestamp ? a.last_timestamp > b.last_timestamp
                                                  : a.producer_id > b.producer_id;
    });
    s.producers.resize(cap);
    std::sort(s.producers.begin(), s.producers.end(),
              [](const ProducerInfo& a, const ProducerInfo& b) { return a.producer_id < b.producer_id; });
  }
  if (s.leader_epochs.size() > kMaxSnapshotEpochs) {
    s.leader_epochs.erase(s.leader_epochs.begin(),
                          s.leader_epochs.end() - static_cast<std::ptrdiff_t>(kMaxSnapshotEpochs));
  }
  return before - s.producers.size();
}

Result<std::vector<uint8_t>> encode_snapshot(const ProducerSnapshot& s) {
  if (std::string why = invalid_reason(s); !why.empty()) return corrupt("cannot encode: " + why);
  Writer w;
  w.out.reserve(kSnapshotHeaderBytes + s.producers.size() * (kSnapshotProducerBytes + 2 * kSnapshotBatchBytes) +
                s.leader_epochs.size() * kSnapshotEpochBytes);
  w.u32(kMagic);
  w.u8(kSnapshotVersion);
  w.u32(0);  // crc, filled in below
  w.u64(static_cast<uint64_t>(s.next_offset));
  w.u32(static_cast<uint32_t>(s.producers.size()));
  w.u16(static_cast<uint16_t>(s.leader_epochs.size()));
  for (const ProducerInfo& p : s.producers) {
    w.u64(static_cast<uint64_t>(p.producer_id));
    w.u16(static_cast<uint16_t>(p.epoch));
    w.u64(static_cast<uint64_t>(p.last_timestamp));
    w.u8(static_cast<uint8_t>(p.batches.size()));
    for (const ProducerInfo::Batch& b : p.batches) {
      w.u32(static_cast<uint32_t>(b.first_sequence));
      w.u32(static_cast<uint32_t>(b.last_sequence));
      w.u64(static_cast<uint64_t>(b.last_offset));
      w.u32(static_cast<uint32_t>(b.offset_delta));
      w.u64(static_cast<uint64_t>(b.timestamp));
    }
  }
  for (const EpochStart& e : s.leader_epochs) {
    w.u32(static_cast<uint32_t>(e.epoch));
    w.u64(static_cast<uint64_t>(e.start_offset));
  }
  record::store_be32(w.out.data() + kCrcAt, record::crc32c(w.out.data() + kBodyAt, w.out.size() - kBodyAt));
  return std::move(w.out);
}

Result<ProducerSnapshot> decode_snapshot(std::span<const uint8_t> blob) {
  if (blob.size() < kSnapshotHeaderBytes) return corrupt("shorter than its header");
  Reader r(blob, 0);
  if (r.u32() != kMagic) return corrupt("bad magic");
  const uint8_t version = r.u8();
  if (version != kSnapshotVersion) {
    return Error{make_error_code(Errc::unsupported_snapshot), "producer snapshot: version " + std::to_string(version)};
  }
  if (r.u32() != record::crc32c(blob.data() + kBodyAt, blob.size() - kBodyAt)) return corrupt("CRC mismatch");
  ProducerSnapshot s;
  s.next_offset = static_cast<int64_t>(r.u64());
  const uint32_t producers = r.u32();
  const uint16_t epochs = r.u16();
  if (producers > kMaxSnapshotProducers || epochs > kMaxSnapshotEpochs) return corrupt("over its bounds");
  s.producers.reserve(producers);
  for (uint32_t i = 0; i < producers; ++i) {
    if (!r.has(kSnapshotProducerBytes)) return corrupt("truncated producer entry");
    ProducerInfo& p = s.producers.emplace_back();
    p.producer_id = static_cast<int64_t>(r.u64());
    p.epoch = static_cast<int16_t>(r.u16());
    p.last_timestamp = static_cast<int64_t>(r.u64());
    const uint8_t batches = r.u8();
    if (batches == 0 || batches > kDedupWindow) {
      return corrupt("batch count of producer " + std::to_string(p.producer_id));
    }
    if (!r.has(kSnapshotBatchBytes * batches)) return corrupt("truncated batches");
    for (uint8_t j = 0; j < batches; ++j) {
      ProducerInfo::Batch& b = p.batches.emplace_back();
      b.first_sequence = static_cast<int32_t>(r.u32());
      b.last_sequence = static_cast<int32_t>(r.u32());
      b.last_offset = static_cast<int64_t>(r.u64());
      b.offset_delta = static_cast<int32_t>(r.u32());
      b.timestamp = static_cast<int64_t>(r.u64());
    }
    p.last_offset = p.batches.back().last_offset;
  }
  if (r.left() != kSnapshotEpochBytes * epochs) return corrupt("epoch section size");
  for (uint16_t i = 0; i < epochs; ++i) {
    EpochStart& e = s.leader_epochs.emplace_back();
    e.epoch = static_cast<int32_t>(r.u32());
    e.start_offset = static_cast<int64_t>(r.u64());
  }
  if (std::string why = invalid_reason(s); !why.empty()) return corrupt(why);
  return s;
}

}  // namespace floe::producer
