#include "admincli/admin_cli.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "admincli/cli_common.h"
#include "admincli/cluster_commands.h"
#include "admincli/cost_command.h"
#include "admincli/kafka_client.h"
#include "admincli/kafka_errors.h"
#include "admincli/table.h"
#include "protocol/msg/create_topics.h"
#include "protocol/msg/delete_topics.h"
#include "protocol/msg/describe_configs.h"
#include "protocol/msg/describe_groups.h"
#include "protocol/msg/incremental_alter_configs.h"
#include "protocol/msg/list_groups.h"
#include "protocol/msg/list_offsets.h"
#include "protocol/msg/metadata.h"
#include "protocol/msg/offset_fetch.h"

namespace floe::admincli {
namespace {

using namespace cli;  // Options, parse_options, Command, broker_error (cli_common.h)

constexpr int8_t kResourceTopic = 2;
constexpr int8_t kResourceBroker = 4;
constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;


// ---- Output helpers ------------------------------------------------------------------------------------------


std::string uuid_text(const proto::Uuid& u) {
  char buf[37];
  std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  return buf;
}

std::string config_source_name(int8_t s) {
  switch (s) {
    case 1: return "topic";
    case 2: return "broker";
    case 3: return "broker-default";
    case 4: return "static-broker";
    case 5: return "default";
    case 6: return "broker-logger";
    default: return "unknown";
  }
}


// ---- Shared requests -----------------------------------------------------------------------------------------

using PartitionOffsets = std::map<std::pair<std::string, int32_t>, int64_t>;

// ListOffsets at `timestamp` (kLatest / kEarliest) for every (topic, partition) in `parts`.
Result<PartitionOffsets> list_offsets(KafkaClient& client, const std::set<std::pair<std::string, int32_t>>& parts,
                                      int64_t timestamp) {
  proto::ListOffsetsRequest req;
  req.replica_id = -1;
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const auto& [t, p] : parts) by_topic[t].push_back(p);
  for (const auto& [t, ps] : by_topic) {
    proto::ListOffsetsRequest::ListOffsetsTopic topic;
    topic.name = t;
    for (int32_t p : ps) {
      proto::ListOffsetsRequest::ListOffsetsPartition part;
      part.partition_index = p;
      part.timestamp = timestamp;
      topic.partitions.push_back(part);
    }
    req.topics.push_back(std::move(topic));
  }
  proto::ListOffsetsResponse resp;
  if (auto v = client.call(req, resp, 1); !v) return v.error();
  PartitionOffsets out;
  for (const auto& t : resp.topics)
    for (const auto& p : t.partitions)
      if (p.error_code == 0) out[{t.name, p.partition_index}] = p.offset;
  return out;
}

std::string offset_text(const PartitionOffsets& m, const std::string& topic, int32_t p) {
  auto it = m.find({topic, p});
  return it == m.end() ? "-" : std::to_string(it->second);
}

Result<proto::DescribeConfigsResponse::DescribeConfigsResult> describe_configs(KafkaClient& client, int8_t type,
                                                                              const std::string& name) {
  proto::DescribeConfigsRequest req;
  proto::DescribeConfigsRequest::DescribeConfigsResource res;
  res.resource_type = type;
  res.resource_name = name;
  req.resources.push_back(res);
  proto::DescribeConfigsResponse resp;
  if (auto v = client.call(req, resp); !v) return v.error();
  if (resp.results.size() != 1)
    return Error{std::make_error_code(std::errc::bad_message), "DescribeConfigs answered " +
                                                                   std::to_string(resp.results.size()) + " resources"};
  return resp.results[0];
}

// ---- floe topic ----------------------------------------------------------------------------------------------

const char* kTopicUsage =
    "usage: floe topic <list | describe NAME | create NAME | delete NAME> [options]\n"
    "\n"
    "  list                     topics with their partition counts\n"
    "  describe NAME            partitions: leader, replicas, ISR, log start, high watermark; non-default configs\n"
    "  create NAME              --partitions N (broker default), --replication-factor N, --config KEY=VALUE...\n"
    "  delete NAME\n"
    "\n"
    "  --bootstrap HOST:PORT    broker to ask (FLOE_BOOTSTRAP; default 127.0.0.1:9092)\n"
    "  --timeout-ms N           bound on connecting and on each request (default 10000)\n"
    "\n"
    "exit codes: 0 ok, 1 the broker refused or could not be reached, 2 usage\n";

int topic_list(Command& cmd, KafkaClient& client) {
  proto::MetadataRequest req;
  req.topics = std::nullopt;  // all topics (v1+)
  req.allow_auto_topic_creation = false;
  proto::MetadataResponse resp;
  if (auto v = client.call(req, resp, 1); !v) return cmd.fail("list", v.error().message);
  std::sort(resp.topics.begin(), resp.topics.end(),
            [](const auto& a, const auto& b) { return a.name.value_or("") < b.name.value_or(""); });
  Table t({"TOPIC", "PARTITIONS", "REPLICATION", "INTERNAL"});
  for (const auto& topic : resp.topics) {
    if (topic.error_code != 0) continue;
    size_t rf = topic.partitions.empty() ? 0 : topic.partitions[0].replica_nodes.size();
    t.add({topic.name.value_or("-"), std::to_string(topic.partitions.size()), std::to_string(rf),
           topic.is_internal ? "yes" : "no"});
  }
  t.print(cmd.out());
  return kExitOk;
}

int topic_describe(Command& cmd, KafkaClient& client, const std::string& name) {
  const std::string what = "describe " + name;
  proto::MetadataRequest req;
  proto::MetadataRequest::MetadataRequestTopic rt;
  rt.name = name;
  req.topics = std::vector<proto::MetadataRequest::MetadataRequestTopic>{rt};
  req.allow_auto_topic_creation = false;
  proto::MetadataResponse resp;
  if (auto v = client.call(req, resp, 1); !v) return cmd.fail(what, v.error().message);
  if (resp.topics.size() != 1) return cmd.fail(what, "Metadata answered " + std::to_string(resp.topics.size()) + " topics");
  auto& topic = resp.topics[0];
  if (topic.error_code != 0)
    return cmd.fail(what, broker_error(topic.error_code, std::nullopt,
                                       topic.error_code == 3 ? "topic " + name + " does not exist" : ""));
  std::sort(topic.partitions.begin(), topic.partitions.end(),
            [](const auto& a, const auto& b) { return a.partition_index < b.partition_index; });
  std::set<std::pair<std::string, int32_t>> parts;
  for (const auto& p : topic.partitions) parts.insert({name, p.partition_index});
  Result<PartitionOffsets> start = list_offsets(client, parts, kEarliest);
  if (!start) return cmd.fail(what, start.error().message);
  Result<PartitionOffsets> end = list_offsets(client, parts, kLatest);
  if (!end) return cmd.fail(what, end.error().message);
  auto configs = describe_configs(client, kResourceTopic, name);
  if (!configs) return cmd.fail(what, configs.error().message);
  if (configs->error_code != 0)
    return cmd.fail(what, broker_error(configs->error_code, configs->error_message, ""));
  std::string overrides;
  for (const auto& c : configs->configs)
    if (c.config_source == 1) overrides += (overrides.empty() ? "" : ",") + c.name + "=" + c.value.value_or("");

  size_t rf = topic.partitions.empty() ? 0 : topic.partitions[0].replica_nodes.size();
  std::ostream& out = cmd.out();
  out << "Topic: " << name;
  if (topic.topic_id != proto::Uuid{}) out << "  Id: " << uuid_text(topic.topic_id);
  out << "  Partitions: " << topic.partitions.size() << "  Replication: " << rf
      << "  Configs: " << (overrides.empty() ? "-" : overrides) << "\n";
  Table t({"PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START", "HIGH-WATERMARK", "ERROR"});
  for (const auto& p : topic.partitions)
    t.add({std::to_string(p.partition_index), p.leader_id < 0 ? "none" : std::to_string(p.leader_id),
           join_ints(p.replica_nodes), join_ints(p.isr_nodes), offset_text(*start, name, p.partition_index),
           offset_text(*end, name, p.partition_index), p.error_code ? kafka_error_name(p.error_code) : "-"});
  t.print(out);
  return kExitOk;
}

int topic_create(Command& cmd, KafkaClient& client, const std::string& name, const Options& o) {
  const std::string what = "create " + name;
  proto::CreateTopicsRequest req;
  proto::CreateTopicsRequest::CreatableTopic topic;
  topic.name = name;
  topic.num_partitions = o.partitions.value_or(-1);
  topic.replication_factor = o.replication_factor.value_or(-1);
  for (const auto& [k, v] : o.configs) {
    proto::CreateTopicsRequest::CreatableTopicConfig c;
    c.name = k;
    c.value = v;
    topic.configs.push_back(std::move(c));
  }
  // Brokers before v4 need explicit counts: ask for v4+ unless the user gave both.
  const int16_t lo = o.partitions && o.replication_factor ? 0 : 4;
  req.topics.push_back(std::move(topic));
  req.timeout_ms = o.timeout_ms;
  proto::CreateTopicsResponse resp;
  if (auto v = client.call(req, resp, lo); !v) return cmd.fail(what, v.error().message);
  if (resp.topics.size() != 1) return cmd.fail(what, "CreateTopics answered " + std::to_string(resp.topics.size()) + " topics");
  const auto& r = resp.topics[0];
  if (r.error_code != 0) {
    std::string fallback = r.error_code == 36 ? "topic " + name + " already exists" : "";
    return cmd.fail(what, broker_error(r.error_code, r.error_message, fallback));
  }
  cmd.out() << "created topic " << name;
  if (r.num_partitions > 0) cmd.out() << " (" << r.num_partitions << " partitions)";
  cmd.out() << "\n";
  return kExitOk;
}

int topic_delete(Command& cmd, KafkaClient& client, const std::string& name, const Options& o) {
  const std::string what = "delete " + name;
  proto::DeleteTopicsRequest req;
  req.topic_names.push_back(name);  // v0-5
  proto::DeleteTopicsRequest::DeleteTopicState state;
  state.name = name;
  req.topics.push_back(state);  // v6+
  req.timeout_ms = o.timeout_ms;
  proto::DeleteTopicsResponse resp;
  if (auto v = client.call(req, resp); !v) return cmd.fail(what, v.error().message);
  if (resp.responses.size() != 1)
    return cmd.fail(what, "DeleteTopics answered " + std::to_string(resp.responses.size()) + " topics");
  const auto& r = resp.responses[0];
  if (r.error_code != 0) {
    std::string fallback = r.error_code == 3 ? "topic " + name + " does not exist" : "";
    return cmd.fail(what, broker_error(r.error_code, r.error_message, fallback));
  }
  cmd.out() << "deleted topic " << name << "\n";
  return kExitOk;
}

int run_topic(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env) {
  Command cmd("floe topic", out, err);
  Options o;
  if (auto u = parse_options(args, {"--partitions", "--replication-factor", "--config"}, o)) return cmd.usage(u->message);
  if (o.help) {
    out << kTopicUsage;
    return kExitOk;
  }
  if (o.positional.empty()) return cmd.usage("missing subcommand: list, describe, create or delete");
  const std::string sub = o.positional[0];
  const size_t want = sub == "list" ? 1 : 2;
  if (sub != "list" && sub != "describe" && sub != "create" && sub != "delete")
    return cmd.usage("unknown subcommand '" + sub + "'");
  if (o.positional.size() < want) return cmd.usage(sub + ": missing topic NAME");
  if (o.positional.size() > want) return cmd.usage(sub + ": unexpected argument '" + o.positional[want] + "'");
  if (sub != "create" && (o.partitions || o.replication_factor || !o.configs.empty()))
    return cmd.usage(sub + ": --partitions, --replication-factor and --config belong to create");
  const std::string name = want == 2 ? o.positional[1] : "";
  if (want == 2 && name.empty()) return cmd.usage(sub + ": empty topic NAME");
  KafkaClient client;
  int rc = 0;
  if (!cmd.connect(o, want == 2 ? sub + " " + name : sub, env, client, rc)) return rc;
  if (sub == "list") return topic_list(cmd, client);
  if (sub == "describe") return topic_describe(cmd, client, name);
  if (sub == "create") return topic_create(cmd, client, name, o);
  return topic_delete(cmd, client, name, o);
}

// ---- floe group ----------------------------------------------------------------------------------------------

const char* kGroupUsage =
    "usage: floe group <list | describe GROUP> [options]\n"
    "\n"
    "  list                     consumer groups with their state\n"
    "  describe GROUP           state and members; per partition the committed offset, log end and lag\n"
    "\n"
    "  --bootstrap HOST:PORT    broker to ask (FLOE_BOOTSTRAP; default 127.0.0.1:9092)\n"
    "  --timeout-ms N           bound on connecting and on each request (default 10000)\n"
    "\n"
    "exit codes: 0 ok, 1 the broker refused or could not be reached, 2 usage\n";

// The consumer protocol's assignment (version i16, [topic string, [partition i32]], user data): which partitions
// a member owns. Empty when the bytes are not a consumer assignment.
std::vector<std::pair<std::string, int32_t>> parse_assignment(const proto::Bytes& bytes) {
  std::vector<std::pair<std::string, int32_t>> out;
  if (bytes.size() < 2) return out;
  proto::Reader r(bytes);
  r.i16();
  int32_t topics = r.array_length(false, 6);
  for (int32_t i = 0; i < topics && r.ok(); ++i) {
    std::string topic = r.string(false);
    int32_t n = r.array_length(false, 4);
    for (int32_t j = 0; j < n && r.ok(); ++j) out.emplace_back(topic, r.i32());
  }
  if (!r.ok()) out.clear();
  return out;
}

int group_list(Command& cmd, KafkaClient& client) {
  proto::ListGroupsRequest req;
  proto::ListGroupsResponse resp;
  auto v = client.call(req, resp);
  if (!v) return cmd.fail("list", v.error().message);
  if (resp.error_code != 0) return cmd.fail("list", broker_error(resp.error_code, std::nullopt, ""));
  std::sort(resp.groups.begin(), resp.groups.end(), [](const auto& a, const auto& b) { return a.group_id < b.group_id; });
  Table t({"GROUP", "STATE", "PROTOCOL-TYPE"});
  for (const auto& g : resp.groups)
    t.add({g.group_id, *v >= 4 && !g.group_state.empty() ? g.group_state : "-",
           g.protocol_type.empty() ? "-" : g.protocol_type});
  t.print(cmd.out());
  return kExitOk;
}

int group_describe(Command& cmd, KafkaClient& client, const std::string& group) {
  const std::string what = "describe " + group;
  proto::DescribeGroupsRequest dreq;
  dreq.groups.push_back(group);
  proto::DescribeGroupsResponse dresp;
  if (auto v = client.call(dreq, dresp); !v) return cmd.fail(what, v.error().message);
  if (dresp.groups.size() != 1)
    return cmd.fail(what, "DescribeGroups answered " + std::to_string(dresp.groups.size()) + " groups");
  const auto& g = dresp.groups[0];
  if (g.error_code != 0)
    return cmd.fail(what, broker_error(g.error_code, std::nullopt,
                                       g.error_code == 69 ? "group " + group + " does not exist" : ""));

  // Committed offsets of every partition (topics null = all, v2+).
  proto::OffsetFetchRequest freq;
  freq.group_id = group;
  freq.topics = std::nullopt;
  proto::OffsetFetchRequest::OffsetFetchRequestGroup fg;
  fg.group_id = group;
  fg.topics = std::nullopt;
  freq.groups.push_back(fg);  // v8+
  proto::OffsetFetchResponse fresp;
  auto fv = client.call(freq, fresp, 2);
  if (!fv) return cmd.fail(what, fv.error().message);
  PartitionOffsets committed;
  int16_t fetch_error = fresp.error_code;
  if (*fv >= 8) {
    for (const auto& rg : fresp.groups) {
      if (rg.error_code != 0) fetch_error = rg.error_code;
      for (const auto& t : rg.topics)
        for (const auto& p : t.partitions)
          if (p.error_code == 0 && p.committed_offset >= 0) committed[{t.name, p.partition_index}] = p.committed_offset;
    }
  } else {
    for (const auto& t : fresp.topics)
      for (const auto& p : t.partitions)
        if (p.error_code == 0 && p.committed_offset >= 0) committed[{t.name, p.partition_index}] = p.committed_offset;
  }
  if (fetch_error != 0) return cmd.fail(what, broker_error(fetch_error, std::nullopt, "fetching committed offsets"));
  if (g.group_state == "Dead" && committed.empty() && g.members.empty())
    return cmd.fail(what, "GROUP_ID_NOT_FOUND: group " + group + " does not exist");

  // Owner of each assigned partition.
  std::map<std::pair<std::string, int32_t>, const proto::DescribeGroupsResponse::DescribedGroupMember*> owner;
  for (const auto& m : g.members)
    for (const auto& tp : parse_assignment(m.member_assignment)) owner[tp] = &m;
  std::set<std::pair<std::string, int32_t>> parts;
  for (const auto& [tp, _] : committed) parts.insert(tp);
  for (const auto& [tp, _] : owner) parts.insert(tp);
  PartitionOffsets log_end;
  if (!parts.empty()) {
    auto e = list_offsets(client, parts, kLatest);
    if (!e) return cmd.fail(what, e.error().message);
    log_end = std::move(*e);
  }

  std::ostream& out = cmd.out();
  out << "Group: " << group << "  State: " << (g.group_state.empty() ? "-" : g.group_state)
      << "  Protocol: " << (g.protocol_type.empty() ? "-" : g.protocol_type)
      << (g.protocol_data.empty() ? "" : "/" + g.protocol_data) << "  Members: " << g.members.size() << "\n";
  Table t({"TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER", "CLIENT-ID", "HOST"});
  int64_t total_lag = 0;
  for (const auto& tp : parts) {
    auto c = committed.find(tp);
    auto e = log_end.find(tp);
    std::string lag = "-";
    if (c != committed.end() && e != log_end.end()) {
      int64_t l = std::max<int64_t>(0, e->second - c->second);
      total_lag += l;
      lag = std::to_string(l);
    }
    auto o = owner.find(tp);
    const auto* m = o == owner.end() ? nullptr : o->second;
    t.add({tp.first, std::to_string(tp.second), c == committed.end() ? "-" : std::to_string(c->second),
           e == log_end.end() ? "-" : std::to_string(e->second), lag, m ? m->member_id : "-",
           m ? m->client_id : "-", m ? m->client_host : "-"});
  }
  t.print(out);
  out << "Total lag: " << total_lag << "\n";
  return kExitOk;
}

int run_group(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env) {
  Command cmd("floe group", out, err);
  Options o;
  if (auto u = parse_options(args, {}, o)) return cmd.usage(u->message);
  if (o.help) {
    out << kGroupUsage;
    return kExitOk;
  }
  if (o.positional.empty()) return cmd.usage("missing subcommand: list or describe");
  const std::string sub = o.positional[0];
  if (sub != "list" && sub != "describe") return cmd.usage("unknown subcommand '" + sub + "'");
  const size_t want = sub == "list" ? 1 : 2;
  if (o.positional.size() < want) return cmd.usage(sub + ": missing GROUP");
  if (o.positional.size() > want) return cmd.usage(sub + ": unexpected argument '" + o.positional[want] + "'");
  KafkaClient client;
  int rc = 0;
  if (!cmd.connect(o, want == 2 ? sub + " " + o.positional[1] : sub, env, client, rc)) return rc;
  return sub == "list" ? group_list(cmd, client) : group_describe(cmd, client, o.positional[1]);
}

// ---- floe config ---------------------------------------------------------------------------------------------

const char* kConfigUsage =
    "usage: floe config describe <topic NAME | broker ID> [options]\n"
    "       floe config alter <topic NAME | broker ID> [--set KEY=VALUE]... [--delete KEY]... [options]\n"
    "\n"
    "  describe                 every config with its value and source (topic, broker, default, ...)\n"
    "  alter                    IncrementalAlterConfigs: --set sets a key, --delete returns it to its default\n"
    "\n"
    "  --bootstrap HOST:PORT    broker to ask (FLOE_BOOTSTRAP; default 127.0.0.1:9092)\n"
    "  --timeout-ms N           bound on connecting and on each request (default 10000)\n"
    "\n"
    "exit codes: 0 ok, 1 the broker refused or could not be reached, 2 usage\n";

int config_describe(Command& cmd, KafkaClient& client, int8_t type, const std::string& kind, const std::string& name) {
  const std::string what = "describe " + kind + " " + name;
  auto r = describe_configs(client, type, name);
  if (!r) return cmd.fail(what, r.error().message);
  if (r->error_code != 0) {
    std::string fallback = r->error_code == 3 ? "topic " + name + " does not exist" : "";
    return cmd.fail(what, broker_error(r->error_code, r->error_message, fallback));
  }
  auto configs = r->configs;
  std::sort(configs.begin(), configs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  Table t({"KEY", "VALUE", "SOURCE", "READ-ONLY"});
  for (const auto& c : configs)
    t.add({c.name, c.is_sensitive ? "(sensitive)" : c.value.value_or("-"), config_source_name(c.config_source),
           c.read_only ? "yes" : "no"});
  t.print(cmd.out());
  return kExitOk;
}

int config_alter(Command& cmd, KafkaClient& client, int8_t type, const std::string& kind, const std::string& name,
                 const Options& o) {
  const std::string what = "alter " + kind + " " + name;
  proto::IncrementalAlterConfigsRequest req;
  proto::IncrementalAlterConfigsRequest::AlterConfigsResource res;
  res.resource_type = type;
  res.resource_name = name;
  std::string summary;
  for (const auto& [k, v] : o.configs) {
    proto::IncrementalAlterConfigsRequest::AlterableConfig c;
    c.name = k;
    c.config_operation = 0;  // SET
    c.value = v;
    res.configs.push_back(std::move(c));
    summary += (summary.empty() ? "" : ", ") + ("set " + k + "=" + v);
  }
  for (const auto& k : o.deletes) {
    proto::IncrementalAlterConfigsRequest::AlterableConfig c;
    c.name = k;
    c.config_operation = 1;  // DELETE
    res.configs.push_back(std::move(c));
    summary += (summary.empty() ? "" : ", ") + ("deleted " + k);
  }
  req.resources.push_back(std::move(res));
  proto::IncrementalAlterConfigsResponse resp;
  if (auto v = client.call(req, resp); !v) return cmd.fail(what, v.error().message);
  if (resp.responses.size() != 1)
    return cmd.fail(what, "IncrementalAlterConfigs answered " + std::to_string(resp.responses.size()) + " resources");
  const auto& r = resp.responses[0];
  if (r.error_code != 0) {
    std::string fallback = r.error_code == 3 ? "topic " + name + " does not exist" : "";
    return cmd.fail(what, broker_error(r.error_code, r.error_message, fallback));
  }
  cmd.out() << "altered " << kind << " " << name << ": " << summary << "\n";
  return kExitOk;
}

int run_config(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env) {
  Command cmd("floe config", out, err);
  Options o;
  if (auto u = parse_options(args, {"--set", "--delete"}, o)) return cmd.usage(u->message);
  if (o.help) {
    out << kConfigUsage;
    return kExitOk;
  }
  if (o.positional.empty()) return cmd.usage("missing subcommand: describe or alter");
  const std::string sub = o.positional[0];
  if (sub != "describe" && sub != "alter") return cmd.usage("unknown subcommand '" + sub + "'");
  if (o.positional.size() < 3) return cmd.usage(sub + ": expected 'topic NAME' or 'broker ID'");
  if (o.positional.size() > 3) return cmd.usage(sub + ": unexpected argument '" + o.positional[3] + "'");
  const std::string kind = o.positional[1], name = o.positional[2];
  int8_t type;
  if (kind == "topic") {
    type = kResourceTopic;
    if (name.empty()) return cmd.usage(sub + ": empty topic NAME");
  } else if (kind == "broker") {
    type = kResourceBroker;
    if (!parse_int(name, 0, INT32_MAX)) return cmd.usage(sub + ": bad broker ID '" + name + "': expected a node id");
  } else {
    return cmd.usage(sub + ": unknown resource '" + kind + "': expected topic or broker");
  }
  if (sub == "describe" && (!o.configs.empty() || !o.deletes.empty()))
    return cmd.usage("describe: --set and --delete belong to alter");
  if (sub == "alter" && o.configs.empty() && o.deletes.empty())
    return cmd.usage("alter: nothing to change: give --set KEY=VALUE or --delete KEY");
  KafkaClient client;
  int rc = 0;
  if (!cmd.connect(o, sub + " " + kind + " " + name, env, client, rc)) return rc;
  return sub == "describe" ? config_describe(cmd, client, type, kind, name)
                           : config_alter(cmd, client, type, kind, name, o);
}

}  // namespace

bool is_admin_command(const std::string& command) {
  return command == "topic" || command == "group" || command == "config" || command == "cluster" ||
         command == "broker" || command == "cost";
}

int run_admin_command(const std::string& command, const std::vector<std::string>& args, std::ostream& out,
                      std::ostream& err, const EnvLookup& env) {
  if (command == "topic") return run_topic(args, out, err, env);
  if (command == "group") return run_group(args, out, err, env);
  if (command == "config") return run_config(args, out, err, env);
  if (command == "cluster") return run_cluster(args, out, err, env);
  if (command == "broker") return run_broker(args, out, err, env);
  if (command == "cost") return run_cost(args, out, err, env);
  err << "floe: unknown command '" << command << "'\n";
  return kExitUsage;
}

std::string admin_commands_usage() {
  return "  topic   list, describe, create and delete topics (floe topic --help)\n"
         "  group   list and describe consumer groups, with lag (floe group --help)\n"
         "  config  describe and alter topic and broker configs (floe config --help)\n"
         "  cluster cluster status, partition moves (floe cluster --help)\n"
         "  broker  drain a broker: move all its partitions away (floe broker --help)\n"
         "  cost    monthly cost estimate from running brokers' /metrics (floe cost --help)\n";
}

}  // namespace floe::admincli
