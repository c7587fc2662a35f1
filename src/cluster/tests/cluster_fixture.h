// Test support for the control-plane suites: one metadata store (embedded, or a real etcd started on free ports,
// chosen by FLOE_CLUSTER_BACKEND_*), a file:// object store in a temp dir, io threads, and helpers that run
// coroutines with a bound and poll conditions with a bound.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "cluster/cluster_image.h"
#include "meta/embedded_store.h"
#include "meta/etcd_store.h"
#include "meta/tests/etcd_process.h"
#include "meta/tests/test_support.h"
#include "objstore/file_store.h"

namespace floe::cluster::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline std::string make_temp_dir(const char* name) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(name) + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

class ClusterFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("floe-cluster");
    ASSERT_FALSE(dir_.empty());
#if defined(FLOE_CLUSTER_BACKEND_ETCD)
    std::string error;
    ASSERT_TRUE(etcd_.start(&error)) << error;
    meta::EtcdConfig config;
    config.endpoints = {etcd_.endpoint()};
    config.request_timeout = 600ms;  // below TTL/3 (lease_keeper.h)
    auto store = meta::EtcdStore::create(io_.executor(), config);
    ASSERT_TRUE(store.ok()) << store.error().message();
    meta_ = std::move(*store);
    lease_ttl_ = 2;
#else
    meta::EmbeddedConfig config;
    config.dir = dir_ + "/meta";
    config.lease_check_interval = 20ms;
    auto store = meta::EmbeddedStore::open(io_.executor(), config);
    ASSERT_TRUE(store.ok()) << store.error().message();
    meta_ = std::move(*store);
    lease_ttl_ = 1;
#endif
    auto objects = objstore::FileStore::open(dir_ + "/objects");
    ASSERT_TRUE(objects.ok()) << objects.error.message();
    objects_ = std::move(objects.value);
  }

  void TearDown() override {
    if (before_teardown_) before_teardown_();
    if (meta_) meta_->shutdown();
    io_.stop();
    meta_.reset();
    objects_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  template <typename T>
  T run(asio::awaitable<T> aw, std::chrono::milliseconds timeout = 30s) {
    return io_.run(std::move(aw), timeout);
  }

  // Polls `cond` every 10 ms until it holds or `timeout` passes.
  static bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      if (cond()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return cond();
  }

  std::unique_ptr<ClusterImage> open_image(TopicCatalog* catalog = nullptr) {
    auto image = run(ClusterImage::open(io_.executor(), *meta_, root_, catalog));
    EXPECT_TRUE(image.ok()) << image.error().message;
    return image ? std::move(*image) : nullptr;
  }

  meta::testing::IoThreads io_{4};
  meta::testing::EtcdProcess etcd_;
  std::string dir_;
  std::string root_ = "/floe/";
  std::unique_ptr<meta::MetaStore> meta_;
  std::unique_ptr<objstore::FileStore> objects_;
  int64_t lease_ttl_ = 1;
  std::function<void()> before_teardown_;
};

}  // namespace floe::cluster::testing
