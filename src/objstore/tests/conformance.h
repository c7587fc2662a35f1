// The ObjectStore conformance suite: one parameterised suite, instantiated against file:// (floe_objstore_test)
// and against s3:// on a moto server (floe_objstore_s3_test).
#pragma once

#include <functional>
#include <ostream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "objstore/object_store.h"
#include "objstore/tests/test_util.h"

namespace floe::objstore::testing {

struct Backend {
  std::string name;
  // A fresh, empty store (its own bucket or directory) on the given executor.
  std::function<std::shared_ptr<ObjectStore>(asio::any_io_executor)> make;
};

class Conformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { store_ = GetParam().make(loop_.executor()); ASSERT_TRUE(store_); }
  void TearDown() override { store_.reset(); }
  Loop loop_;
  std::shared_ptr<ObjectStore> store_;
};

inline void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }
inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

}  // namespace floe::objstore::testing
