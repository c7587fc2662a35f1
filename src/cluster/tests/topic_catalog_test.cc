#include "cluster/topic_catalog.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <filesystem>
#include <stdexcept>

#include "cluster/topic_config.h"
#include "meta/embedded_store.h"

namespace floe::cluster {
namespace {

namespace fs = std::filesystem;

class TopicCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("floe-catalog-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    catalog_.reset();
    if (meta_) meta_->shutdown();
    fs::remove_all(dir_);
  }
  void reopen() {
    catalog_.reset();
    if (meta_) meta_->shutdown();
    meta_.reset();
    auto m = meta::EmbeddedStore::open(io_.get_executor(), meta::EmbeddedConfig{.dir = dir_.string()});
    ASSERT_TRUE(m);
    meta_ = std::move(*m);
    auto c = run(TopicCatalog::load(*meta_, "/floe/"));
    ASSERT_TRUE(c);
    catalog_ = std::move(*c);
  }
  template <typename T>
  T run(asio::awaitable<T> op) {
    auto fut = asio::co_spawn(io_, std::move(op), asio::use_future);
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);  // bounded, never a hang
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("operation did not complete in 30 s");
      io_.run_one_for(std::chrono::milliseconds(20));
    }
    return fut.get();
  }

  fs::path dir_;
  asio::io_context io_;
  std::unique_ptr<meta::MetaStore> meta_;
  std::unique_ptr<TopicCatalog> catalog_;
};

TEST_F(TopicCatalogTest, CreateFindReloadDelete) {
  auto t = run(catalog_->create("orders", 3, {{"retention.ms", "1000"}}));
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->partitions, 3);
  auto again = run(catalog_->create("orders", 1, {}));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, make_error_code(CatalogErrc::topic_exists));
  reopen();
  auto found = catalog_->find("orders");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, t->id);
  EXPECT_EQ(found->configs.at("retention.ms"), "1000");
  EXPECT_EQ(catalog_->find(t->id)->name, "orders");
  ASSERT_TRUE(run(catalog_->set_partitions("orders", 5)));
  EXPECT_FALSE(run(catalog_->set_partitions("orders", 4))) << "never shrinks";
  ASSERT_TRUE(run(catalog_->remove("orders")));
  EXPECT_FALSE(catalog_->find("orders"));
  reopen();
  EXPECT_TRUE(catalog_->list().empty());
  auto recreated = run(catalog_->create("orders", 1, {}));
  ASSERT_TRUE(recreated);
  EXPECT_NE(recreated->id, t->id) << "a re-created topic is a new stream";
  EXPECT_NE(stream_id_of(recreated->id, 0), stream_id_of(t->id, 0));
}

TEST_F(TopicCatalogTest, ConfigsAreValidatedWithTheKeyNamed) {
  auto bad = run(catalog_->create("t", 1, {{"retention.ms", "soon"}}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("retention.ms"), std::string::npos);
  auto compact = run(catalog_->create("t", 1, {{"cleanup.policy", "compact"}}));
  ASSERT_FALSE(compact);
  EXPECT_NE(compact.error().message.find("not supported"), std::string::npos);
  EXPECT_FALSE(run(catalog_->create("t", 1, {{"no.such.key", "1"}})));
  EXPECT_FALSE(run(catalog_->create("t", 0, {})));
  EXPECT_EQ(topic_config_value({}, "message.timestamp.type"), "CreateTime");
  EXPECT_EQ(topic_config_int({{"max.message.bytes", "5"}}, "max.message.bytes"), 5);
}

TEST_F(TopicCatalogTest, StreamIdsDifferPerPartition) {
  proto::Uuid id{};
  id[0] = 1;
  EXPECT_NE(stream_id_of(id, 0), stream_id_of(id, 1));
  EXPECT_EQ(stream_id_of(id, 7), stream_id_of(id, 7));
}

}  // namespace
}  // namespace floe::cluster
