// Child process of the multi-process control-plane test (process_test.cc): one "broker" without a Kafka listener:
// its image, controller and membership against a real etcd and a file:// object store. It releases at once what
// the controller asks it to move (it holds no data). It prints, one line each, on stdout:
//   READY <epoch>      registered
//   LOST               its membership was lost (sealed, lease lost); it exits 3 right after
// and exits 0 on SIGTERM. Usage: floe_cluster_node_child <etcd url> <broker id> <objects dir> <lease ttl s>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_future.hpp>

#include "cluster/broker_membership.h"
#include "cluster/controller.h"
#include "meta/etcd_store.h"
#include "meta/tests/test_support.h"
#include "objstore/file_store.h"

using namespace floe;
using namespace std::chrono_literals;

namespace {

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

asio::awaitable<void> release_moves(cluster::ClusterImage& image, cluster::BrokerMembership& m) {
  std::vector<cluster::Assignment> mine;
  for (const auto& a : image.assignments()) {
    if (a.broker_id == m.id() && a.broker_epoch == m.epoch() && !a.released && a.move_target) mine.push_back(a);
  }
  if (mine.empty()) co_return;
  // One that changed meanwhile (another move target set) is released at its current revision (release()).
  (void)co_await m.release(std::move(mine));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <etcd url> <broker id> <objects dir> <lease ttl s>\n", argv[0]);
    return 2;
  }
  const int32_t id = std::atoi(argv[2]);
  const int64_t ttl = std::atoll(argv[4]);
  meta::testing::IoThreads io(2);
  meta::EtcdConfig ec;
  ec.endpoints = {argv[1]};
  ec.request_timeout = 600ms;
  auto store = meta::EtcdStore::create(io.executor(), ec);
  if (!store) return 2;
  auto objects = objstore::FileStore::open(argv[3]);
  if (!objects.ok()) return 2;
  auto catalog = io.run(cluster::TopicCatalog::load(**store, "/floe/"));
  if (!catalog) return 2;
  auto image = io.run(cluster::ClusterImage::open(io.executor(), **store, "/floe/", catalog->get()));
  if (!image) return 2;
  cluster::ControllerConfig cc;
  cc.broker_id = id;
  cc.lease_ttl_seconds = ttl;
  cc.objects = objects.value.get();
  auto controller = cluster::Controller::start(io.executor(), **store, **image, cc);
  if (!controller) return 2;
  cluster::MembershipConfig mc;
  mc.broker_id = id;
  mc.host = "127.0.0.1";
  mc.port = 29000 + id;
  mc.http = "127.0.0.1:" + std::to_string(29500 + id);
  mc.lease_ttl_seconds = ttl;
  mc.objects = objects.value.get();
  auto membership = io.run(cluster::BrokerMembership::register_broker(io.executor(), **store, **image, mc), 60s);
  if (!membership) {
    std::fprintf(stderr, "register: %s\n", membership.error().message.c_str());
    return 2;
  }
  cluster::BrokerMembership* m = membership->get();
  cluster::ClusterImage* img = image->get();
  (*membership)->on_lost([](std::error_code) {
    say("LOST");
    std::_Exit(3);  // a sealed broker stops serving at once
  });
  img->subscribe([&io, img, m] { asio::co_spawn(io.executor(), release_moves(*img, *m), asio::detached); });
  say("READY " + std::to_string(m->epoch()));

  asio::io_context signals_io;
  asio::signal_set signals(signals_io, SIGTERM, SIGINT);
  signals.async_wait([](std::error_code, int) {});
  signals_io.run();
  io.run((*controller)->stop(true), 10s);
  io.run((*membership)->close(), 10s);
  io.run((*image)->close(), 10s);
  (*store)->shutdown();
  return 0;
}
