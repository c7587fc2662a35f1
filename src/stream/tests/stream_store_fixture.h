// The StreamStore test fixture, for both WAL kinds: the file:// object store (optionally behind a FaultStore) and
// the embedded metadata store in a temporary directory, one io_context run by the test thread.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>

#include "meta/embedded_store.h"
#include "objstore/fault_store.h"
#include "objstore/file_store.h"
#include "protocol/record/batch_builder.h"
#include "protocol/record/batch_view.h"
#include "protocol/record/record_set.h"
#include "stream/errc.h"
#include "stream/stream_store.h"
#include "stream_crash_util.h"

namespace floe::stream::testing {

namespace fs = std::filesystem;
using WalKind = StreamStoreConfig::WalKind;

inline const char* wal_name(WalKind k) { return k == WalKind::file ? "file" : "object"; }

// One batch of `count` records whose values name the batch: "b<tag>-<i>".
inline Bytes make_batch(int tag, int count) {
  record::BatchBuilder b;
  std::vector<std::string> values;
  for (int i = 0; i < count; ++i) values.push_back("b" + std::to_string(tag) + "-" + std::to_string(i));
  for (const auto& v : values) {
    record::NewRecord r;
    r.value = ByteSpan(reinterpret_cast<const uint8_t*>(v.data()), v.size());
    r.timestamp = 1000 + tag;
    EXPECT_EQ(b.add(r), record::RecordError::ok);
  }
  auto out = b.build();
  EXPECT_TRUE(out.ok());
  return std::move(out).value();
}

// (base offset, record count) of every batch in a blob, checking each CRC.
inline std::vector<std::pair<int64_t, int>> batches_of(const Bytes& blob) {
  std::vector<std::pair<int64_t, int>> out;
  record::BatchSplitter split{ByteSpan(blob)};
  for (record::BatchView b; split.next(b);) {
    EXPECT_EQ(b.verify_crc(), record::RecordError::ok);
    out.emplace_back(b.header().base_offset, b.header().last_offset_delta + 1);
  }
  EXPECT_EQ(split.error(), record::RecordError::ok);
  return out;
}

class StreamStoreFixture : public ::testing::Test {
 protected:
  explicit StreamStoreFixture(WalKind kind = WalKind::file) : kind_(kind) {}

  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    root_ = fs::path(::testing::TempDir()) / ("floe-stream-" + std::to_string(getpid()) + "-" + name);
    fs::remove_all(root_);
    auto objects = objstore::FileStore::open((root_ / "bucket").string());
    ASSERT_TRUE(objects.ok());
    file_store_ = std::shared_ptr<objstore::ObjectStore>(std::move(objects.value));
    faults_ = std::make_unique<objstore::FaultStore>(file_store_, objstore::FaultConfig{});
  }
  void TearDown() override {
    close_store();
    fs::remove_all(root_);
  }

  template <typename T>
  T run(asio::awaitable<T> op) {
    auto fut = asio::co_spawn(io_, std::move(op), asio::use_future);
    io_.restart();
    // Bounded: an operation that never completes fails the test instead of hanging it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("operation did not complete in 60 s");
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    return fut.get();
  }

  // File WAL: uploads only when the test flushes. Object WAL: a short flush interval; a new epoch per open.
  StreamStoreConfig config() {
    StreamStoreConfig c;
    c.wal_kind = kind_;
    c.wal_dir = (root_ / "wal").string();
    c.upload_interval = std::chrono::hours(1);
    c.log_cache_bytes = 0;  // committed data is read back from objects
    c.broker_id = 1;
    c.epoch = ++epochs_;
    c.wal_flush_interval = std::chrono::milliseconds(5);
    return c;
  }

  void open_meta() {
    if (meta_) return;
    meta::EmbeddedConfig mc;
    mc.dir = (root_ / "meta").string();
    auto m = meta::EmbeddedStore::open(io_.get_executor(), mc);
    ASSERT_TRUE(m) << m.error().message();
    meta_ = std::move(*m);
  }

  // On the FaultStore (no faults unless a test sets them) over the file:// store.
  void open_store(StreamStoreConfig c) {
    open_meta();
    c.epoch = std::max<uint64_t>(c.epoch, ++epochs_);  // never an epoch used before
    epochs_ = c.epoch;
    auto s = run(StreamStore::open(io_.get_executor(), c, *faults_, *meta_));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  // Reads a whole stream from its start (of store_ or `from`): (base offset -> record values); offsets must be dense.
  std::map<int64_t, std::vector<std::string>> read_all(uint64_t stream, StreamStore* from = nullptr) {
    StreamStore& st = from ? *from : *store_;
    std::map<int64_t, std::vector<std::string>> out;
    int64_t next = st.ends(stream).start;
    const int64_t end = st.ends(stream).durable;
    while (next < end) {
      auto r = run(st.read(stream, next, 1 << 20));
      EXPECT_TRUE(r) << r.error().message;
      if (!r) return out;
      record::BatchSplitter split{ByteSpan(r->batches)};
      for (record::BatchView b; split.next(b);) {
        if (b.header().base_offset + b.header().last_offset_delta < next) continue;
        EXPECT_EQ(b.header().base_offset, next) << "gap in stream " << stream;
        auto set = record::RecordSet::open(b);
        EXPECT_TRUE(set);
        if (!set) return out;
        auto& values = out[next];
        auto reader = set->reader();
        for (record::RecordView rec; reader.next(rec);) {
          values.emplace_back(reinterpret_cast<const char*>(rec.value->data()), rec.value->size());
        }
        next += b.header().last_offset_delta + 1;
      }
    }
    return out;
  }

  // Objects under a prefix, straight from the file:// store.
  size_t count_objects(const std::string& prefix) {
    auto page = run(file_store_->list(prefix, "", 1000, objstore::Clock::now() + std::chrono::seconds(5)));
    EXPECT_TRUE(page.ok());
    return page.value.objects.size();
  }
  // Where this kind writes its data objects.
  std::string data_prefix() const { return kind_ == WalKind::file ? "data/" : "data/wal/"; }

  void close_store() {
    for (auto& other : others_) run(other->close());
    others_.clear();
    if (store_) run(store_->close());
    store_.reset();
    if (meta_) meta_->shutdown();
    meta_.reset();
  }

  int64_t append(uint64_t stream, Bytes batch) {
    auto r = run(store_->append(stream, std::move(batch), 3));
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : -1;
  }

  // One committed object per call: the file WAL uploads on flush; the object WAL commits each acked append.
  void append_committed(uint64_t stream, int tag, int count) {
    append(stream, make_batch(tag, count));
    ASSERT_TRUE(run(store_->flush()));
  }

  // The metadata records under <root>/floe/<suffix>.
  std::vector<meta::KeyValue> meta_keys(const std::string& suffix) {
    open_meta();
    auto list = [this, suffix]() -> asio::awaitable<std::vector<meta::KeyValue>> {
      meta::RangeRequest req;
      req.key = "/floe/" + suffix;
      req.range_end = meta::prefix_end(req.key);
      auto r = co_await meta_->range(req);
      EXPECT_TRUE(r);
      co_return r ? r->kvs : std::vector<meta::KeyValue>{};
    };
    return run(list());
  }

#ifdef FLOE_STREAM_CRASH_CHILD
  // kill -9 of a child (stream_crash_child.cc) that appends to three streams with eight appends in flight, at a
  // random moment after its first ack, `rounds` times: after each crash the reopened store holds every acked batch
  // at its offset with its content, and offsets are dense.
  // compact: the child compacts in the background too (crash_compaction).
  void kill_nine_rounds(int rounds, bool compact = false) {
    std::mt19937_64 rng(777);
    std::map<uint64_t, int64_t> verified_end;  // per stream: offsets below are checked dense
    size_t acks = 0;
    bool committed_any = false;
    for (int round = 0; round < rounds; ++round) {
      int out[2];
      ASSERT_EQ(::pipe(out), 0);
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        ::dup2(out[1], STDOUT_FILENO);
        ::close(out[0]);
        std::string r = std::to_string(round);
        std::string epoch = std::to_string(2 * round + 1);
        ::execl(FLOE_STREAM_CRASH_CHILD, FLOE_STREAM_CRASH_CHILD, root_.c_str(), r.c_str(), wal_name(kind_),
                epoch.c_str(), compact ? "compact" : "append", static_cast<char*>(nullptr));
        ::_exit(127);
      }
      ::close(out[1]);
      // Kill at a random moment after the child started appending (its first ack), whatever the machine's load.
      std::string text;
      char buf[8192];
      const auto started_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < started_by) {
        pollfd pfd{out[0], POLLIN, 0};
        if (::poll(&pfd, 1, 100) > 0) {
          ssize_t n = ::read(out[0], buf, sizeof buf);
          if (n <= 0) break;
          text.append(buf, static_cast<size_t>(n));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 60));
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
      ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself, status " << status;
      for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
      ::close(out[0]);

      // The object WAL's reopen seals the child's epoch (seal_previous_epochs) and loads what it committed.
      StreamStoreConfig c = crash_config(root_.string(), kind_, 2 * static_cast<uint64_t>(round) + 2);
      c.upload_on_close = false;  // leave the store exactly as the crash did
      open_store(c);
      ASSERT_TRUE(store_) << "round " << round;
      // Everything written since the last round, once: offsets must be dense; keep each batch's values.
      std::map<std::pair<uint64_t, int64_t>, std::vector<std::string>> batches;
      for (uint64_t stream = 1; stream <= 3; ++stream) {
        int64_t next = verified_end[stream];
        const int64_t end = store_->ends(stream).durable;
        while (next < end) {
          auto r = run(store_->read(stream, next, 1 << 20));
          ASSERT_TRUE(r) << r.error().message;
          record::BatchSplitter split{ByteSpan(r->batches)};
          size_t n = 0;
          for (record::BatchView b; split.next(b); ++n) {
            if (b.header().base_offset + b.header().last_offset_delta < next) continue;
            ASSERT_EQ(b.header().base_offset, next) << "round " << round << ": stream " << stream << " has a gap";
            auto set = record::RecordSet::open(b);
            ASSERT_TRUE(set);
            auto& values = batches[{stream, next}];
            auto reader = set->reader();
            for (record::RecordView rec; reader.next(rec);) {
              values.emplace_back(reinterpret_cast<const char*>(rec.value->data()), rec.value->size());
            }
            ASSERT_EQ(values.size(), static_cast<size_t>(b.header().last_offset_delta + 1));
            next += b.header().last_offset_delta + 1;
          }
          ASSERT_GT(n, 0u);
        }
        verified_end[stream] = end;
      }
      // Every acknowledged batch is there, at its offset, with its content.
      size_t pos = 0;
      for (size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
        unsigned long long stream = 0;
        long long offset = 0, tag = 0;
        int count = 0;
        if (std::sscanf(text.c_str() + pos, "ack %llu %lld %lld %d", &stream, &offset, &tag, &count) != 4) continue;
        ++acks;
        auto it = batches.find({stream, offset});
        ASSERT_NE(it, batches.end()) << "round " << round << ": acked batch " << stream << "@" << offset << " lost";
        ASSERT_EQ(it->second.size(), static_cast<size_t>(count)) << "round " << round;
        for (int i = 0; i < count; ++i) {
          ASSERT_EQ(it->second[static_cast<size_t>(i)], crash_value(stream, tag, i))
              << "round " << round << ": acked batch " << stream << "@" << offset << " has other content";
        }
      }
      committed_any = committed_any || store_->ends(1).committed > 0;
      close_store();
    }
    EXPECT_GT(acks, 1000u) << "the children acknowledged too little for the test to mean anything";
    EXPECT_TRUE(committed_any) << "nothing was ever committed to objects";
  }
#endif

  WalKind kind_;
  uint64_t epochs_ = 0;
  fs::path root_;
  asio::io_context io_;
  std::shared_ptr<objstore::ObjectStore> file_store_;
  std::unique_ptr<objstore::FaultStore> faults_;
  std::unique_ptr<meta::MetaStore> meta_;
  std::unique_ptr<StreamStore> store_;
  std::vector<std::unique_ptr<StreamStore>> others_;  // more stores on the same stores (other "brokers")
};

}  // namespace floe::stream::testing
