// The s3:// tests' store on a fresh bucket of a test server (moto, plain or TLS).
#pragma once

#include <future>
#include <memory>

#include <gtest/gtest.h>

#include "objstore/s3_store.h"
#include "objstore/tests/test_util.h"

namespace floe::objstore::testing {

// Creates config.bucket and returns a store on it; nullptr (and a test failure when the server answered with an
// error) when the bucket cannot be created within 30 s.
inline std::shared_ptr<S3Store> make_bucket(asio::any_io_executor ex, S3Config config) {
  auto store = std::make_shared<S3Store>(ex, std::move(config));
  auto created = asio::co_spawn(ex, store->create_bucket(in(20s)), asio::use_future);
  if (created.wait_for(30s) != std::future_status::ready) return nullptr;
  if (auto ec = created.get()) {
    ADD_FAILURE() << "create bucket: " << ec.message();
    return nullptr;
  }
  return store;
}

}  // namespace floe::objstore::testing
