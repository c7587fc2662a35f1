#include "admincli/cluster_commands.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <map>
#include <set>
#include <thread>

#include "admincli/cli_common.h"
#include "admincli/kafka_errors.h"
#include "admincli/table.h"
#include "protocol/msg/alter_partition_reassignments.h"
#include "protocol/msg/describe_cluster.h"
#include "protocol/msg/incremental_alter_configs.h"
#include "protocol/msg/list_partition_reassignments.h"
#include "protocol/msg/metadata.h"

namespace floe::admincli {
namespace {

using namespace cli;
using Clock = std::chrono::steady_clock;

constexpr int8_t kResourceBroker = 4;
constexpr const char* kDrainKey = "floe.broker.drain";
constexpr int16_t kNotController = 41;
constexpr int kControllerAttempts = 5;
constexpr std::chrono::milliseconds kPollInterval{50};

int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

// Metadata of every topic (`topic` empty) or one.
Result<proto::MetadataResponse> metadata(KafkaClient& client, const std::string& topic = "") {
  proto::MetadataRequest req;
  if (topic.empty()) {
    req.topics = std::nullopt;
  } else {
    proto::MetadataRequest::MetadataRequestTopic t;
    t.name = topic;
    req.topics = std::vector<proto::MetadataRequest::MetadataRequestTopic>{t};
  }
  req.allow_auto_topic_creation = false;
  proto::MetadataResponse resp;
  if (auto v = client.call(req, resp, 1); !v) return v.error();
  return resp;
}

struct Leader {
  int32_t id = -1;
  int32_t epoch = -1;
};

// (topic, partition) -> its leader, for every partition Metadata lists without error.
std::map<std::pair<std::string, int32_t>, Leader> leaders_of(const proto::MetadataResponse& md) {
  std::map<std::pair<std::string, int32_t>, Leader> out;
  for (const auto& t : md.topics) {
    if (t.error_code != 0 || !t.name) continue;
    for (const auto& p : t.partitions) out[{*t.name, p.partition_index}] = Leader{p.leader_id, p.leader_epoch};
  }
  return out;
}

// ---- floe cluster --------------------------------------------------------------------------------------------

const char* kClusterUsage =
    "usage: floe cluster <status | reassign | reassignments> [options]\n"
    "\n"
    "  status                   brokers (id, host, port, rack, partitions led), the controller\n"
    "  reassign --topic T --partition P --to BROKER\n"
    "                           moves the partition's leadership to BROKER (graceful handoff: no data is copied)\n"
    "                           and waits until Metadata shows it there\n"
    "  reassignments            moves in progress (drains and balancing included)\n"
    "\n"
    "  --bootstrap HOST:PORT    broker to ask (FLOE_BOOTSTRAP; default 127.0.0.1:9092)\n"
    "  --timeout-ms N           bound on connecting, on each request and on waiting for a move (default 10000)\n"
    "\n"
    "exit codes: 0 ok, 1 the broker refused, could not be reached or the move did not finish, 2 usage\n";

int cluster_status(Command& cmd, KafkaClient& client) {
  Result<proto::MetadataResponse> md = metadata(client);
  if (!md) return cmd.fail("status", md.error().message);
  std::string cluster_id = md->cluster_id.value_or("-");
  int32_t controller = md->controller_id;
  struct Row {
    int32_t id;
    std::string host;
    int32_t port;
    std::optional<std::string> rack;
  };
  std::vector<Row> brokers;
  proto::DescribeClusterRequest dreq;
  proto::DescribeClusterResponse dresp;
  if (client.pick_version(proto::DescribeClusterRequest::kApiKey, 0, 1)) {
    if (auto v = client.call(dreq, dresp); !v) return cmd.fail("status", v.error().message);
    if (dresp.error_code != 0) return cmd.fail("status", broker_error(dresp.error_code, dresp.error_message, ""));
    cluster_id = dresp.cluster_id;
    controller = dresp.controller_id;
    for (const auto& b : dresp.brokers) brokers.push_back(Row{b.broker_id, b.host, b.port, b.rack});
  } else {  // a broker without DescribeCluster: Metadata's broker list
    for (const auto& b : md->brokers) brokers.push_back(Row{b.node_id, b.host, b.port, b.rack});
  }
  std::sort(brokers.begin(), brokers.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
  std::map<int32_t, int> led;
  int partitions = 0, leaderless = 0;
  for (const auto& [tp, l] : leaders_of(*md)) {
    ++partitions;
    if (l.id < 0)
      ++leaderless;
    else
      ++led[l.id];
  }
  std::ostream& out = cmd.out();
  out << "Cluster: " << cluster_id << "  Controller: " << (controller < 0 ? "none" : std::to_string(controller))
      << "  Brokers: " << brokers.size() << "  Partitions: " << partitions;
  if (leaderless > 0) out << " (" << leaderless << " without a leader)";
  out << "\n";
  Table t({"BROKER", "HOST", "PORT", "RACK", "PARTITIONS", "CONTROLLER"});
  for (const auto& b : brokers)
    t.add({std::to_string(b.id), b.host, std::to_string(b.port), b.rack.value_or("-"), std::to_string(led[b.id]),
           b.id == controller ? "yes" : "-"});
  t.print(out);
  return kExitOk;
}

// Sends `req` to the controller (found through Metadata on `bootstrap`), again after NOT_CONTROLLER: the
// controller may change between the Metadata answer and the request.
Result<proto::AlterPartitionReassignmentsResponse> alter_on_controller(
    KafkaClient& bootstrap, const proto::AlterPartitionReassignmentsRequest& req, std::chrono::milliseconds timeout) {
  Error last{std::make_error_code(std::errc::no_such_device), "no controller is elected"};
  for (int attempt = 0; attempt < kControllerAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Result<proto::MetadataResponse> md = metadata(bootstrap, req.topics.empty() ? "" : req.topics[0].name);
    if (!md) return md.error();
    const proto::MetadataResponse::MetadataResponseBroker* ctl = nullptr;
    for (const auto& b : md->brokers)
      if (b.node_id == md->controller_id) ctl = &b;
    if (ctl == nullptr) continue;
    KafkaClient client;
    if (Status s = client.connect(HostPort{ctl->host, static_cast<uint16_t>(ctl->port)}, timeout); !s) {
      last = Error{s.error().code, "controller " + std::to_string(ctl->node_id) + ": " + s.error().message};
      continue;
    }
    proto::AlterPartitionReassignmentsResponse resp;
    if (auto v = client.call(req, resp); !v) return v.error();
    bool not_controller = resp.error_code == kNotController;
    for (const auto& t : resp.responses)
      for (const auto& p : t.partitions) not_controller = not_controller || p.error_code == kNotController;
    if (!not_controller) return resp;
    last = Error{std::make_error_code(std::errc::no_such_device),
                 broker_error(kNotController, resp.error_message, "broker " + std::to_string(ctl->node_id))};
  }
  return last;
}

int cluster_reassign(Command& cmd, KafkaClient& client, const Options& o) {
  const std::string name = o.topic + "/" + std::to_string(*o.partition);
  const std::string what = "reassign " + name;
  const auto timeout = std::chrono::milliseconds(o.timeout_ms);
  const Clock::time_point start = Clock::now();
  Result<proto::MetadataResponse> md = metadata(client, o.topic);
  if (!md) return cmd.fail(what, md.error().message);
  for (const auto& t : md->topics)
    if (t.error_code != 0)
      return cmd.fail(what, broker_error(t.error_code, std::nullopt, "topic " + o.topic + " does not exist"));
  auto leaders = leaders_of(*md);
  auto before = leaders.find({o.topic, *o.partition});
  if (before == leaders.end()) return cmd.fail(what, "UNKNOWN_TOPIC_OR_PARTITION: no partition " + name);

  proto::AlterPartitionReassignmentsRequest req;
  req.timeout_ms = o.timeout_ms;
  auto& topic = req.topics.emplace_back();
  topic.name = o.topic;
  auto& part = topic.partitions.emplace_back();
  part.partition_index = *o.partition;
  part.replicas = std::vector<int32_t>{*o.to};
  Result<proto::AlterPartitionReassignmentsResponse> resp = alter_on_controller(client, req, timeout);
  if (!resp) return cmd.fail(what, resp.error().message);
  if (resp->error_code != 0) return cmd.fail(what, broker_error(resp->error_code, resp->error_message, ""));
  if (resp->responses.size() != 1 || resp->responses[0].partitions.size() != 1)
    return cmd.fail(what, "AlterPartitionReassignments answered for other partitions than asked");
  const auto& r = resp->responses[0].partitions[0];
  if (r.error_code != 0) return cmd.fail(what, broker_error(r.error_code, r.error_message, ""));
  const Leader old = before->second;
  if (old.id == *o.to) {
    cmd.out() << name << " is already led by broker " << *o.to << " (leader epoch " << old.epoch << ")\n";
    return kExitOk;
  }
  // The move completes asynchronously: the old leader releases, the controller assigns, the target opens.
  Leader now = old;
  while (elapsed_ms(start) < o.timeout_ms) {
    std::this_thread::sleep_for(kPollInterval);
    Result<proto::MetadataResponse> m = metadata(client, o.topic);
    if (!m) return cmd.fail(what, m.error().message);
    auto l = leaders_of(*m);
    if (auto it = l.find({o.topic, *o.partition}); it != l.end()) now = it->second;
    if (now.id == *o.to && now.epoch > old.epoch) {
      cmd.out() << "moved " << name << " from broker " << old.id << " to broker " << *o.to << ": leader epoch "
                << old.epoch << " -> " << now.epoch << ", in " << elapsed_ms(start) << " ms\n";
      return kExitOk;
    }
  }
  return cmd.fail(what, "the move was accepted, but after " + std::to_string(o.timeout_ms) + " ms " + name +
                            " is led by " +
                            (now.id < 0 ? std::string("no broker") : "broker " + std::to_string(now.id)));
}

int cluster_reassignments(Command& cmd, KafkaClient& client) {
  proto::ListPartitionReassignmentsRequest req;
  req.topics = std::nullopt;
  proto::ListPartitionReassignmentsResponse resp;
  if (auto v = client.call(req, resp); !v) return cmd.fail("reassignments", v.error().message);
  if (resp.error_code != 0) return cmd.fail("reassignments", broker_error(resp.error_code, resp.error_message, ""));
  Table t({"TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING"});
  for (const auto& topic : resp.topics)
    for (const auto& p : topic.partitions)
      t.add({topic.name, std::to_string(p.partition_index), join_ints(p.replicas), join_ints(p.adding_replicas),
             join_ints(p.removing_replicas)});
  if (t.size() == 0) {
    cmd.out() << "no partition moves in progress\n";
    return kExitOk;
  }
  t.print(cmd.out());
  return kExitOk;
}

// ---- floe broker ---------------------------------------------------------------------------------------------

const char* kBrokerUsage =
    "usage: floe broker drain ID [options]\n"
    "\n"
    "  drain ID                 moves every partition off broker ID (graceful handoff: no data is copied) and\n"
    "                           assigns it none until it restarts (scale-in); waits until Metadata shows it empty\n"
    "                           (sets the broker config floe.broker.drain=true with IncrementalAlterConfigs)\n"
    "\n"
    "  --bootstrap HOST:PORT    broker to ask (FLOE_BOOTSTRAP; default 127.0.0.1:9092); any broker may be asked\n"
    "  --timeout-ms N           bound on connecting, on each request and on waiting for the drain (default 10000)\n"
    "\n"
    "exit codes: 0 ok, 1 the broker refused, could not be reached or the drain did not finish, 2 usage\n";

int broker_drain(Command& cmd, KafkaClient& client, int32_t id, const Options& o) {
  const std::string what = "drain " + std::to_string(id);
  const Clock::time_point start = Clock::now();
  Result<proto::MetadataResponse> md = metadata(client);
  if (!md) return cmd.fail(what, md.error().message);
  std::set<std::pair<std::string, int32_t>> moving;
  for (const auto& [tp, l] : leaders_of(*md))
    if (l.id == id) moving.insert(tp);

  proto::IncrementalAlterConfigsRequest req;
  auto& res = req.resources.emplace_back();
  res.resource_type = kResourceBroker;
  res.resource_name = std::to_string(id);
  auto& c = res.configs.emplace_back();
  c.name = kDrainKey;
  c.config_operation = 0;  // SET
  c.value = "true";
  proto::IncrementalAlterConfigsResponse resp;
  if (auto v = client.call(req, resp); !v) return cmd.fail(what, v.error().message);
  if (resp.responses.size() != 1)
    return cmd.fail(what, "IncrementalAlterConfigs answered " + std::to_string(resp.responses.size()) + " resources");
  if (resp.responses[0].error_code != 0)
    return cmd.fail(what, broker_error(resp.responses[0].error_code, resp.responses[0].error_message, ""));

  std::set<int32_t> targets;
  size_t left = moving.size();
  while (true) {
    Result<proto::MetadataResponse> m = metadata(client);
    if (!m) return cmd.fail(what, m.error().message);
    auto leaders = leaders_of(*m);
    left = 0;
    targets.clear();
    for (const auto& [tp, l] : leaders) {
      const bool was_here = moving.count(tp) > 0;
      if (l.id == id || (was_here && l.id < 0))
        ++left;  // still here, or between owners
      else if (was_here)
        targets.insert(l.id);
    }
    if (left == 0) break;
    if (elapsed_ms(start) >= o.timeout_ms) {
      return cmd.fail(what, "the drain was accepted, but after " + std::to_string(o.timeout_ms) + " ms broker " +
                                std::to_string(id) + " still leads (or is handing off) " + std::to_string(left) +
                                " partitions");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  std::vector<int32_t> to(targets.begin(), targets.end());
  cmd.out() << "drained broker " << id << ": " << moving.size() << " partitions moved"
            << (to.empty() ? "" : " to brokers " + join_ints(to)) << " in " << elapsed_ms(start) << " ms\n";
  return kExitOk;
}

}  // namespace

int run_cluster(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env) {
  Command cmd("floe cluster", out, err);
  Options o;
  if (auto u = parse_options(args, {"--topic", "--partition", "--to"}, o)) return cmd.usage(u->message);
  if (o.help) {
    out << kClusterUsage;
    return kExitOk;
  }
  if (o.positional.empty()) return cmd.usage("missing subcommand: status, reassign or reassignments");
  const std::string sub = o.positional[0];
  if (sub != "status" && sub != "reassign" && sub != "reassignments")
    return cmd.usage("unknown subcommand '" + sub + "'");
  if (o.positional.size() > 1) return cmd.usage(sub + ": unexpected argument '" + o.positional[1] + "'");
  const bool move_options = !o.topic.empty() || o.partition || o.to;
  if (sub != "reassign" && move_options) return cmd.usage(sub + ": --topic, --partition and --to belong to reassign");
  if (sub == "reassign" && (o.topic.empty() || !o.partition || !o.to))
    return cmd.usage("reassign: needs --topic T --partition P --to BROKER");
  KafkaClient client;
  int rc = 0;
  if (!cmd.connect(o, sub, env, client, rc)) return rc;
  if (sub == "status") return cluster_status(cmd, client);
  if (sub == "reassign") return cluster_reassign(cmd, client, o);
  return cluster_reassignments(cmd, client);
}

int run_broker(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env) {
  Command cmd("floe broker", out, err);
  Options o;
  if (auto u = parse_options(args, {}, o)) return cmd.usage(u->message);
  if (o.help) {
    out << kBrokerUsage;
    return kExitOk;
  }
  if (o.positional.empty()) return cmd.usage("missing subcommand: drain");
  const std::string sub = o.positional[0];
  if (sub != "drain") return cmd.usage("unknown subcommand '" + sub + "'");
  if (o.positional.size() < 2) return cmd.usage("drain: missing broker ID");
  if (o.positional.size() > 2) return cmd.usage("drain: unexpected argument '" + o.positional[2] + "'");
  auto id = parse_int(o.positional[1], 0, INT32_MAX);
  if (!id) return cmd.usage("drain: bad broker ID '" + o.positional[1] + "': expected a node id");
  KafkaClient client;
  int rc = 0;
  if (!cmd.connect(o, "drain " + o.positional[1], env, client, rc)) return rc;
  return broker_drain(cmd, client, static_cast<int32_t>(*id), o);
}

}  // namespace floe::admincli
