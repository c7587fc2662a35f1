// file:// backend: a directory tree used as a bucket (embedded mode; several brokers on one machine may share it).
//
// Layout: key "a/b/c" is the file <root>/a/b/c.o; each key segment is percent-encoded except [A-Za-z0-9_-] (so
// "." is %2E), which keeps an object "a" (a.o) and a key "a/x" (directory a) apart and leaves names containing '.'
// free for internals: <root>/.tmp holds files being written.
// Writes are atomic and durable: temp file, write, fsync, then rename (put) or link (put_if_absent), then fsync of
// the directory; new directories are fsynced into their parents. put_if_absent uses link(2), which fails with EEXIST
// when the key exists, so of any number of racing processes exactly one wins.
// All blocking calls run on a bounded BlockingPool (threads, queue), never on the caller's thread.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "objstore/blocking_pool.h"
#include "objstore/object_store.h"

namespace floe::objstore {

struct FileStoreConfig {
  std::size_t io_threads = 8;
  std::size_t max_queued = 1024;
};

class FileStore final : public ObjectStore {
 public:
  // Creates `root` (and parents) if missing. Errors: access, not a directory.
  static Result<std::unique_ptr<FileStore>> open(std::string root, FileStoreConfig config = {});
  ~FileStore() override;

  std::string describe() const override { return "file://" + root_; }
  asio::awaitable<Result<PutInfo>> put(std::string key, std::string data, Clock::time_point deadline) override;
  asio::awaitable<Result<PutInfo>> put_if_absent(std::string key, std::string data,
                                                 Clock::time_point deadline) override;
  asio::awaitable<Result<PutInfo>> put_if_absent_pieces(std::string key, std::vector<std::string_view> pieces,
                                                        Clock::time_point deadline) override;
  asio::awaitable<Result<std::string>> get(std::string key, std::optional<ByteRange> range,
                                           Clock::time_point deadline) override;
  asio::awaitable<Result<std::string>> get_into(std::string buffer, std::string key, std::optional<ByteRange> range,
                                                Clock::time_point deadline) override;
  asio::awaitable<Result<ObjectInfo>> head(std::string key, Clock::time_point deadline) override;
  asio::awaitable<Result<ListPage>> list(std::string prefix, std::string continuation, std::size_t max_keys,
                                         Clock::time_point deadline) override;
  asio::awaitable<Result<ListPage>> list_delimited(std::string prefix, std::string delimiter, std::string continuation,
                                                   std::size_t max_keys, Clock::time_point deadline) override;
  asio::awaitable<std::error_code> remove(std::string key, Clock::time_point deadline) override;
  asio::awaitable<Result<std::vector<DeleteFailure>>> remove_many(std::vector<std::string> keys,
                                                                  Clock::time_point deadline) override;
  StatsSnapshot stats() const override { return stats_.snapshot(); }

  // The file holding `key` (for tests and tools).
  std::string path_of(std::string_view key) const;

 private:
  FileStore(std::string root, FileStoreConfig config);
  Result<PutInfo> write_object(const std::string& key, std::span<const std::string_view> pieces, bool if_absent);
  // Reads into `buffer` (see ObjectStore::get_into).
  Result<std::string> read_object(const std::string& key, const std::optional<ByteRange>& range, std::string buffer);
  Result<ObjectInfo> stat_object(const std::string& key);
  Result<ListPage> list_objects(const std::string& prefix, const std::string& continuation, std::size_t max_keys);
  // Every object under `prefix` with a key above `after`, unsorted.
  Result<std::vector<ObjectInfo>> collect(const std::string& prefix, const std::string& after);
  std::error_code remove_object(const std::string& key);

  std::string root_;
  std::string tmp_dir_;
  Stats stats_;
  BlockingPool pool_;
};

}  // namespace floe::objstore
