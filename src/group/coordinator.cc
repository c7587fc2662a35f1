#include "group/coordinator.h"

#include <algorithm>
#include <cstdio>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "group/errors.h"
#include "group/java_hash.h"

namespace floe::group {

using proto::Bytes;
using Clock = std::chrono::steady_clock;

const char* state_name(GroupState s) {
  switch (s) {
    case GroupState::empty: return "Empty";
    case GroupState::preparing_rebalance: return "PreparingRebalance";
    case GroupState::completing_rebalance: return "CompletingRebalance";
    case GroupState::stable: return "Stable";
    case GroupState::dead: return "Dead";
  }
  return "Dead";
}

namespace {

constexpr int16_t kNone = 0;
constexpr auto kWaitSlack = std::chrono::seconds(5);  // beyond a rebalance timeout, a waiting request gives up

// One answer that a request waits for and some other request (or the ticker) provides. Lives on the strand.
template <typename T>
class Waiter {
 public:
  explicit Waiter(const asio::any_io_executor& ex) : timer_(ex) {}
  bool done() const { return value_.has_value(); }
  void complete(T v) {
    if (value_) return;
    value_ = std::move(v);
    timer_.cancel();
  }
  // The answer, or `fallback` if none came within `bound`.
  asio::awaitable<T> wait(std::chrono::milliseconds bound, T fallback) {
    timer_.expires_after(bound);
    while (!value_) {
      std::error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!ec && !value_) value_ = std::move(fallback);
    }
    co_return std::move(*value_);
  }

 private:
  asio::steady_timer timer_;
  std::optional<T> value_;
};

struct Protocol {
  std::string name;
  Bytes metadata;
  bool operator==(const Protocol&) const = default;
};

struct Member {
  std::string id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  std::vector<Protocol> protocols;
  std::string protocol_type_hint;  // the protocol type it joined with
  Bytes assignment;
  uint64_t seq = 0;  // join order
  int64_t deadline = 0;
  std::shared_ptr<Waiter<proto::JoinGroupResponse>> join_waiter;
  int16_t join_version = 0;
  std::shared_ptr<Waiter<proto::SyncGroupResponse>> sync_waiter;

  const Bytes* metadata_for(const std::optional<std::string>& protocol) const {
    if (!protocol) return nullptr;
    for (const auto& p : protocols) {
      if (p.name == *protocol) return &p.metadata;
    }
    return nullptr;
  }
  bool awaiting_join() const { return join_waiter && !join_waiter->done(); }
  bool awaiting_sync() const { return sync_waiter && !sync_waiter->done(); }
};

struct Group {
  std::string id;
  int32_t partition = 0;
  bool alive = true;  // false once deleted or unloaded
  GroupState state = GroupState::empty;
  int64_t state_ts = 0;
  int32_t generation = 0;
  std::string protocol_type;
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  std::map<std::string, Member> members;
  std::map<std::string, std::string> static_members;  // instance id -> member id
  std::map<std::string, int64_t> pending_members;     // member id -> deadline (v4+ MEMBER_ID_REQUIRED)
  int64_t rebalance_deadline = 0;
  bool initial_delay = false;
  bool new_member_added = false;
  int64_t initial_delay_remaining = 0;
  std::set<std::string> pending_sync;
  int64_t sync_deadline = 0;
  std::map<TopicPartition, OffsetValue> offsets;
  std::optional<GroupMetadataValue> persisted;
  int pending_writes = 0;

  bool has_member(const std::string& id) const { return members.count(id) != 0; }
  bool fenced(const std::optional<std::string>& instance, const std::string& member_id) const {
    if (!instance) return false;
    auto it = static_members.find(*instance);
    return it != static_members.end() && it->second != member_id;
  }
  size_t size() const { return members.size() + pending_members.size(); }
};
using GroupPtr = std::shared_ptr<Group>;

struct PartitionState {
  bool loading = true;
  uint64_t epoch = 0;
  std::map<std::string, GroupPtr> groups;
  int64_t records_since_snapshot = 0;
  int in_flight = 0;
  bool snapshotting = false;
};

std::optional<std::set<std::string>> consumer_topics(const Bytes& metadata) {
  // ConsumerProtocolSubscription: int16 version, [string topics], ... (only the topics matter here).
  proto::Reader r(metadata);
  int16_t version = r.i16();
  if (!r.ok() || version < 0) return std::nullopt;
  int32_t n = r.array_length(false, 2);
  if (!r.ok() || n < 0) return std::nullopt;
  std::set<std::string> topics;
  for (int32_t i = 0; i < n; ++i) topics.insert(r.string(false));
  if (!r.ok()) return std::nullopt;
  return topics;
}

int16_t log_error_code(const Error& e) {
  if (e.code == make_error_code(LogErrc::not_leader)) return code(Errc::not_coordinator);
  return code(Errc::coordinator_not_available);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

struct GroupCoordinator::Impl {
  Impl(asio::any_io_executor ex, GroupLog& l, GroupConfig c)
      : strand(asio::make_strand(ex)), log(l), cfg(std::move(c)), rng(std::random_device{}()) {
    if (!cfg.clock) {
      cfg.clock = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      };
    }
  }

  asio::strand<asio::any_io_executor> strand;
  GroupLog& log;
  GroupConfig cfg;
  std::map<int32_t, PartitionState> partitions;
  size_t group_count = 0;
  uint64_t next_epoch = 1;
  uint64_t join_seq = 0;
  std::mt19937_64 rng;
  bool stopped = false;
  int ops_in_flight = 0;
  std::optional<asio::steady_timer> ticker;
  int64_t next_retention_scan = 0;

  int64_t now() const { return cfg.clock(); }

  // ---- partitions and groups --------------------------------------------------------------------------------

  int32_t partition_of(const std::string& group_id) const {
    return coordinator_partition(group_id, cfg.offsets_partitions);
  }

  // NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE, or none.
  int16_t coordinator_error(const std::string& group_id) const {
    if (stopped) return code(Errc::coordinator_not_available);
    auto it = partitions.find(partition_of(group_id));
    if (it == partitions.end()) return code(Errc::not_coordinator);
    if (it->second.loading) return code(Errc::coordinator_load_in_progress);
    return kNone;
  }

  GroupPtr find(const std::string& group_id) {
    auto it = partitions.find(partition_of(group_id));
    if (it == partitions.end()) return nullptr;
    auto g = it->second.groups.find(group_id);
    return g == it->second.groups.end() ? nullptr : g->second;
  }

  // Creates an Empty group; null when the coordinator holds its maximum of groups.
  GroupPtr create(const std::string& group_id) {
    if (group_count >= cfg.max_groups) return nullptr;
    int32_t p = partition_of(group_id);
    auto g = std::make_shared<Group>();
    g->id = group_id;
    g->partition = p;
    g->state_ts = now();
    partitions.at(p).groups[group_id] = g;
    ++group_count;
    return g;
  }

  void erase(const GroupPtr& g) {
    g->alive = false;
    g->state = GroupState::dead;
    auto it = partitions.find(g->partition);
    if (it == partitions.end()) return;
    auto git = it->second.groups.find(g->id);
    if (git != it->second.groups.end() && git->second == g) {
      it->second.groups.erase(git);
      --group_count;
    }
  }

  std::string new_member_id(const std::string& prefix) {
    char buf[40];
    uint64_t a = rng(), b = rng();
    a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
    b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                  static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
    return prefix + "-" + buf;
  }

  // ---- persistence ------------------------------------------------------------------------------------------

  asio::awaitable<Result<int64_t>> append(int32_t partition, std::vector<GroupRecord> records) {
    auto it = partitions.find(partition);
    if (it == partitions.end() || it->second.loading) {
      co_return Error{make_error_code(LogErrc::not_leader), "partition not loaded"};
    }
    uint64_t epoch = it->second.epoch;
    ++it->second.in_flight;
    ++ops_in_flight;
    const auto n = static_cast<int64_t>(records.size());
    Result<int64_t> r = co_await log.append(partition, std::move(records));
    --ops_in_flight;
    auto after = partitions.find(partition);
    if (after != partitions.end() && after->second.epoch == epoch) {
      --after->second.in_flight;
      if (r) after->second.records_since_snapshot += n;
    }
    co_return r;
  }

  GroupMetadataValue metadata_value(const Group& g) const {
    GroupMetadataValue v;
    v.protocol_type = g.protocol_type;
    v.generation = g.generation;
    v.protocol = g.protocol;
    v.leader = g.leader;
    v.state_ts = g.state_ts;
    std::vector<const Member*> ordered;
    for (const auto& [id, m] : g.members) ordered.push_back(&m);
    std::sort(ordered.begin(), ordered.end(), [](const Member* a, const Member* b) { return a->seq < b->seq; });
    for (const Member* m : ordered) {
      MemberValue mv;
      mv.member_id = m->id;
      mv.instance_id = m->instance_id;
      mv.client_id = m->client_id;
      mv.client_host = m->client_host;
      mv.rebalance_timeout_ms = m->rebalance_timeout_ms;
      mv.session_timeout_ms = m->session_timeout_ms;
      if (const Bytes* md = m->metadata_for(g.protocol)) mv.subscription = *md;
      mv.assignment = m->assignment;
      v.members.push_back(std::move(mv));
    }
    return v;
  }

  // Appends the group's metadata (with `value` overriding the current one when given); on success it becomes the
  // group's persisted metadata.
  asio::awaitable<Result<int64_t>> store_group(GroupPtr g, GroupMetadataValue value) {
    std::vector<GroupRecord> records;
    records.push_back({group_metadata_key(g->id), encode(value)});
    ++g->pending_writes;
    Result<int64_t> r = co_await append(g->partition, std::move(records));
    --g->pending_writes;
    if (r && g->alive) g->persisted = std::move(value);
    co_return r;
  }

  void spawn(asio::awaitable<void> op) {
    ++ops_in_flight;
    asio::co_spawn(strand, tracked(std::move(op)), asio::detached);
  }
  asio::awaitable<void> tracked(asio::awaitable<void> op) {
    try {
      co_await std::move(op);
    } catch (const std::exception& e) {
      log::error("group", "background task failed: ", e.what());
    }
    --ops_in_flight;
  }

  asio::awaitable<void> store_in_background(GroupPtr g) {
    auto r = co_await store_group(g, metadata_value(*g));
    --g->pending_writes;
    if (!r) log::warn("group", "storing group ", g->id, " failed: ", r.error().message);
  }

  // ---- membership -------------------------------------------------------------------------------------------

  proto::JoinGroupResponse join_result(const Group& g, const Member& m, int16_t version, bool with_members,
                                       bool skip_assignment = false) const {
    proto::JoinGroupResponse r;
    r.error_code = kNone;
    r.generation_id = g.generation;
    r.protocol_type = g.protocol_type;
    r.protocol_name = g.protocol;
    r.leader = g.leader.value_or("");
    r.member_id = m.id;
    r.skip_assignment = skip_assignment;
    if (with_members) {
      std::vector<const Member*> ordered;
      for (const auto& [id, other] : g.members) ordered.push_back(&other);
      std::sort(ordered.begin(), ordered.end(), [](const Member* a, const Member* b) { return a->seq < b->seq; });
      for (const Member* o : ordered) {
        auto& e = r.members.emplace_back();
        e.member_id = o->id;
        e.group_instance_id = o->instance_id;
        if (const Bytes* md = o->metadata_for(g.protocol)) e.metadata = *md;
      }
    }
    return r;
  }

  static proto::JoinGroupResponse join_error(int16_t error, std::string member_id = {}) {
    proto::JoinGroupResponse r;
    r.error_code = error;
    r.generation_id = -1;
    r.member_id = std::move(member_id);
    return r;
  }

  static proto::SyncGroupResponse sync_error(int16_t error) {
    proto::SyncGroupResponse r;
    r.error_code = error;
    return r;
  }

  int32_t rebalance_timeout(const Group& g) const {
    int32_t t = 0;
    for (const auto& [id, m] : g.members) t = std::max(t, m.rebalance_timeout_ms);
    return t;
  }

  // Protocols every member supports (all of `protocols` when the group has no other member).
  std::vector<std::string> candidates(const Group& g, const std::string* except = nullptr) const {
    std::optional<std::set<std::string>> common;
    for (const auto& [id, m] : g.members) {
      if (except && id == *except) continue;
      std::set<std::string> mine;
      for (const auto& p : m.protocols) mine.insert(p.name);
      if (!common) {
        common = std::move(mine);
      } else {
        std::set<std::string> both;
        std::set_intersection(common->begin(), common->end(), mine.begin(), mine.end(),
                              std::inserter(both, both.begin()));
        common = std::move(both);
      }
    }
    if (!common) return {};
    return {common->begin(), common->end()};
  }

  bool supports(const Group& g, const std::string& protocol_type, const std::vector<Protocol>& protocols,
                const std::string* member) const {
    if (protocol_type.empty() || protocols.empty()) return false;
    bool others = false;
    for (const auto& [id, m] : g.members) others |= !(member && id == *member);
    if (!others) return g.state == GroupState::empty || g.protocol_type.empty() || g.protocol_type == protocol_type;
    if (g.protocol_type != protocol_type) return false;
    auto common = candidates(g, member);
    for (const auto& p : protocols) {
      if (std::find(common.begin(), common.end(), p.name) != common.end()) return true;
    }
    return false;
  }

  // Kafka's vote: each member votes for its most preferred protocol among those all support; most votes wins
  // (ties: the protocol listed first by the earliest member).
  std::optional<std::string> select_protocol(const Group& g) const {
    auto common = candidates(g);
    if (common.empty()) return std::nullopt;
    std::vector<const Member*> ordered;
    for (const auto& [id, m] : g.members) ordered.push_back(&m);
    std::sort(ordered.begin(), ordered.end(), [](const Member* a, const Member* b) { return a->seq < b->seq; });
    std::map<std::string, int> votes;
    for (const Member* m : ordered) {
      for (const auto& p : m->protocols) {
        if (std::find(common.begin(), common.end(), p.name) != common.end()) {
          ++votes[p.name];
          break;
        }
      }
    }
    std::optional<std::string> best;
    int best_votes = -1;
    for (const auto& p : ordered.front()->protocols) {
      auto it = votes.find(p.name);
      int v = it == votes.end() ? 0 : it->second;
      if (std::find(common.begin(), common.end(), p.name) != common.end() && v > best_votes) {
        best = p.name;
        best_votes = v;
      }
    }
    return best;
  }

  void transition(Group& g, GroupState s) {
    g.state = s;
    g.state_ts = now();
  }

  void reset_heartbeat(Member& m) { m.deadline = now() + m.session_timeout_ms; }

  Member& add_member(Group& g, Member m) {
    if (g.members.empty() && g.state == GroupState::empty) g.protocol_type = m.protocol_type_hint;
    m.seq = ++join_seq;
    if (!g.leader) g.leader = m.id;
    if (m.instance_id) g.static_members[*m.instance_id] = m.id;
    if (g.state == GroupState::preparing_rebalance && g.initial_delay) g.new_member_added = true;
    reset_heartbeat(m);
    std::string id = m.id;
    return g.members.emplace(id, std::move(m)).first->second;
  }

  void elect_leader(Group& g) {
    const Member* first = nullptr;
    for (const auto& [id, m] : g.members) {
      if (!first || m.seq < first->seq) first = &m;
    }
    g.leader = first ? std::optional<std::string>(first->id) : std::nullopt;
  }

  void prepare_rebalance(Group& g) {
    if (g.state == GroupState::completing_rebalance) {
      for (auto& [id, m] : g.members) {
        m.assignment.clear();
        if (m.sync_waiter) m.sync_waiter->complete(sync_error(code(Errc::rebalance_in_progress)));
      }
    }
    g.pending_sync.clear();
    g.sync_deadline = 0;
    bool from_empty = g.state == GroupState::empty;
    transition(g, GroupState::preparing_rebalance);
    int32_t timeout = rebalance_timeout(g);
    if (from_empty && cfg.initial_rebalance_delay_ms > 0) {
      int32_t delay = std::min(cfg.initial_rebalance_delay_ms, timeout);
      g.initial_delay = true;
      g.new_member_added = false;
      g.initial_delay_remaining = std::max<int64_t>(0, timeout - delay);
      g.rebalance_deadline = now() + delay;
    } else {
      g.initial_delay = false;
      g.rebalance_deadline = now() + timeout;
    }
  }

  void maybe_complete_join(Group& g) {
    if (g.state != GroupState::preparing_rebalance || g.initial_delay) return;
    if (!g.pending_members.empty()) return;
    for (const auto& [id, m] : g.members) {
      if (!m.awaiting_join()) return;
    }
    complete_join(g);
  }

  void remove_member(Group& g, const std::string& member_id, int16_t waiter_error) {
    auto it = g.members.find(member_id);
    if (it == g.members.end()) return;
    Member& m = it->second;
    if (m.join_waiter) m.join_waiter->complete(join_error(waiter_error, member_id));
    if (m.sync_waiter) m.sync_waiter->complete(sync_error(waiter_error));
    if (m.instance_id) g.static_members.erase(*m.instance_id);
    g.pending_sync.erase(member_id);
    g.members.erase(it);
    if (g.leader == member_id) elect_leader(g);
    switch (g.state) {
      case GroupState::stable:
      case GroupState::completing_rebalance:
        prepare_rebalance(g);
        maybe_complete_join(g);  // nobody left to wait for: the group goes Empty at once
        break;
      case GroupState::preparing_rebalance: maybe_complete_join(g); break;
      default: break;
    }
  }

  // The end of the join phase: members that did not rejoin leave, a new generation starts.
  void complete_join(Group& g) {
    std::vector<std::string> gone;
    for (const auto& [id, m] : g.members) {
      if (!m.awaiting_join()) gone.push_back(id);
    }
    for (const auto& id : gone) {
      Member& m = g.members.at(id);
      if (m.sync_waiter) m.sync_waiter->complete(sync_error(code(Errc::unknown_member_id)));
      if (m.instance_id) g.static_members.erase(*m.instance_id);
      g.members.erase(id);
    }
    g.pending_members.clear();
    g.initial_delay = false;
    g.rebalance_deadline = 0;
    if (g.leader && !g.has_member(*g.leader)) elect_leader(g);
    ++g.generation;
    if (g.members.empty()) {
      g.protocol.reset();
      g.leader.reset();
      transition(g, GroupState::empty);
      auto self = partitions.at(g.partition).groups.at(g.id);
      ++g.pending_writes;  // until the store below runs (keeps the retention scan off the group)
      spawn(store_in_background(self));
      return;
    }
    g.protocol = select_protocol(g);
    transition(g, GroupState::completing_rebalance);
    int32_t timeout = rebalance_timeout(g);
    g.sync_deadline = now() + timeout;
    for (auto& [id, m] : g.members) {
      g.pending_sync.insert(id);
      reset_heartbeat(m);
      auto waiter = std::move(m.join_waiter);
      waiter->complete(join_result(g, m, m.join_version, id == g.leader));
    }
  }

  void complete_all_waiters(Group& g, int16_t error) {
    for (auto& [id, m] : g.members) {
      if (m.join_waiter) m.join_waiter->complete(join_error(error, id));
      if (m.sync_waiter) m.sync_waiter->complete(sync_error(error));
    }
  }

  // ---- timers -----------------------------------------------------------------------------------------------

  void run_timers() {
    const int64_t t = now();
    if (next_retention_scan == 0) next_retention_scan = t + cfg.retention_check_interval_ms;  // first: one interval on
    bool retention_scan = t >= next_retention_scan;
    if (retention_scan) next_retention_scan = t + cfg.retention_check_interval_ms;
    for (auto& [p, ps] : partitions) {
      if (ps.loading) continue;
      std::vector<GroupPtr> groups;
      for (auto& [id, g] : ps.groups) groups.push_back(g);
      for (const GroupPtr& gp : groups) {
        Group& g = *gp;
        if (!g.alive) continue;
        // Members that never came back with their assigned id.
        for (auto it = g.pending_members.begin(); it != g.pending_members.end();) {
          it = it->second <= t ? g.pending_members.erase(it) : std::next(it);
        }
        // Session expiry (members waiting for a join or sync answer are kept alive).
        std::vector<std::string> expired;
        for (const auto& [id, m] : g.members) {
          if (!m.awaiting_join() && !m.awaiting_sync() && m.deadline <= t) expired.push_back(id);
        }
        for (const auto& id : expired) {
          log::info("group", "member ", id, " of group ", g.id, " expired (session timeout)");
          remove_member(g, id, code(Errc::unknown_member_id));
        }
        if (g.state == GroupState::preparing_rebalance && g.rebalance_deadline != 0 && g.rebalance_deadline <= t) {
          if (g.initial_delay && g.new_member_added && g.initial_delay_remaining > 0) {
            int64_t step = std::min<int64_t>(cfg.initial_rebalance_delay_ms, g.initial_delay_remaining);
            g.initial_delay_remaining -= step;
            g.new_member_added = false;
            g.rebalance_deadline = t + step;
          } else {
            complete_join(g);
          }
        } else if (g.state == GroupState::preparing_rebalance) {
          maybe_complete_join(g);
        }
        if ((g.state == GroupState::completing_rebalance || g.state == GroupState::stable) &&
            !g.pending_sync.empty() && g.sync_deadline != 0 && g.sync_deadline <= t) {
          std::vector<std::string> late(g.pending_sync.begin(), g.pending_sync.end());
          for (const auto& id : late) {
            log::info("group", "member ", id, " of group ", g.id, " sent no SyncGroup in time");
            remove_member(g, id, code(Errc::rebalance_in_progress));
          }
        }
        if (retention_scan && g.state == GroupState::empty && g.pending_writes == 0) expire_offsets(gp, t);
      }
      if (ps.records_since_snapshot >= cfg.snapshot_every_records && ps.in_flight == 0 && !ps.snapshotting) {
        ps.snapshotting = true;
        spawn(write_snapshot(p, ps.epoch));
      }
    }
  }

  void expire_offsets(const GroupPtr& g, int64_t t) {
    std::vector<TopicPartition> expired;
    for (const auto& [tp, v] : g->offsets) {
      int64_t base = g->protocol_type.empty() ? v.commit_ts : g->state_ts;
      bool gone = v.expire_ts >= 0 ? v.expire_ts <= t : base + cfg.offsets_retention_ms <= t;
      if (gone) expired.push_back(tp);
    }
    bool drop_group = expired.size() == g->offsets.size() && g->members.empty();
    if (expired.empty() && !drop_group) return;
    std::vector<GroupRecord> records;
    for (const auto& tp : expired) records.push_back({offset_commit_key(g->id, tp.first, tp.second), std::nullopt});
    if (drop_group && g->persisted) records.push_back({group_metadata_key(g->id), std::nullopt});
    if (records.empty()) {  // nothing durable: forget it
      erase(g);
      return;
    }
    spawn(write_expiry(g, std::move(expired), std::move(records), drop_group));
  }

  asio::awaitable<void> write_expiry(GroupPtr g, std::vector<TopicPartition> expired,
                                     std::vector<GroupRecord> records, bool drop_group) {
    ++g->pending_writes;
    auto r = co_await append(g->partition, std::move(records));
    --g->pending_writes;
    if (!r) {
      log::warn("group", "expiring offsets of group ", g->id, " failed: ", r.error().message);
      co_return;
    }
    for (const auto& tp : expired) g->offsets.erase(tp);
    if (drop_group) {
      g->persisted.reset();
      if (g->members.empty() && g->offsets.empty() && g->state == GroupState::empty) erase(g);
    }
  }

  DurableState durable_of(const PartitionState& ps) const {
    DurableState s;
    for (const auto& [id, g] : ps.groups) {
      if (!g->persisted && g->offsets.empty()) continue;
      DurableGroup& d = s[id];
      d.metadata = g->persisted;
      d.offsets = g->offsets;
    }
    return s;
  }

  asio::awaitable<void> write_snapshot(int32_t p, uint64_t epoch) {
    auto it = partitions.find(p);
    if (it == partitions.end() || it->second.epoch != epoch) co_return;
    it->second.records_since_snapshot = 0;
    std::vector<GroupRecord> records;
    records.push_back({snapshot_key(), encode_snapshot(durable_of(it->second))});
    auto r = co_await append(p, std::move(records));
    auto after = partitions.find(p);
    if (after != partitions.end() && after->second.epoch == epoch) after->second.snapshotting = false;
    if (!r) {
      log::warn("group", "snapshot of __consumer_offsets partition ", p, " failed: ", r.error().message);
      if (after != partitions.end() && after->second.epoch == epoch) {
        after->second.records_since_snapshot = cfg.snapshot_every_records;  // retry at a later tick
      }
      co_return;
    }
    ++ops_in_flight;
    auto t = co_await log.trim(p, *r);
    --ops_in_flight;
    if (!t) log::warn("group", "trimming __consumer_offsets partition ", p, " failed: ", t.error().message);
  }

  asio::awaitable<void> ticker_loop() {
    while (!stopped) {
      ticker->expires_after(cfg.tick_interval);
      std::error_code ec;
      co_await ticker->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (stopped) break;
      run_timers();
    }
  }

  // ---- JoinGroup --------------------------------------------------------------------------------------------

  static std::vector<Protocol> protocols_of(const proto::JoinGroupRequest& req) {
    std::vector<Protocol> out;
    for (const auto& p : req.protocols) out.push_back({p.name, p.metadata});
    return out;
  }

  std::chrono::milliseconds join_bound(const Group& g) const {
    return std::chrono::milliseconds(std::max(rebalance_timeout(g), cfg.initial_rebalance_delay_ms)) + kWaitSlack;
  }

  asio::awaitable<proto::JoinGroupResponse> wait_join(std::shared_ptr<Waiter<proto::JoinGroupResponse>> w,
                                                      std::chrono::milliseconds bound, std::string member_id) {
    co_return co_await w->wait(bound, join_error(code(Errc::rebalance_in_progress), std::move(member_id)));
  }

  asio::awaitable<proto::JoinGroupResponse> join(ClientInfo client, int16_t version, proto::JoinGroupRequest req) {
    if (req.group_id.empty()) co_return join_error(code(Errc::invalid_group_id), req.member_id);
    if (int16_t e = coordinator_error(req.group_id)) co_return join_error(e, req.member_id);
    if (req.session_timeout_ms < cfg.min_session_timeout_ms || req.session_timeout_ms > cfg.max_session_timeout_ms) {
      co_return join_error(code(Errc::invalid_session_timeout), req.member_id);
    }
    const int32_t rebalance_ms = version == 0 || req.rebalance_timeout_ms < 0 ? req.session_timeout_ms
                                                                              : req.rebalance_timeout_ms;
    const bool unknown = req.member_id.empty();
    GroupPtr gp = find(req.group_id);
    if (!gp) {
      if (!unknown) co_return join_error(code(Errc::unknown_member_id), req.member_id);
      gp = create(req.group_id);
      if (!gp) co_return join_error(code(Errc::coordinator_not_available));
    }
    Group& g = *gp;
    if (g.state == GroupState::dead) co_return join_error(code(Errc::coordinator_not_available), req.member_id);
    auto protocols = protocols_of(req);
    const std::string* self = unknown ? nullptr : &req.member_id;
    if (!supports(g, req.protocol_type, protocols, self)) {
      if (g.members.empty() && g.pending_members.empty() && g.offsets.empty() && !g.persisted) erase(gp);
      co_return join_error(code(Errc::inconsistent_group_protocol), req.member_id);
    }

    auto fill = [&](Member& m) {
      m.client_id = client.client_id;
      m.client_host = client.client_host;
      m.session_timeout_ms = req.session_timeout_ms;
      m.rebalance_timeout_ms = rebalance_ms;
      m.protocols = protocols;
      m.protocol_type_hint = req.protocol_type;
      m.join_version = version;
    };

    if (unknown) {
      // A static member coming back: it takes over its instance's membership.
      if (req.group_instance_id) {
        auto sit = g.static_members.find(*req.group_instance_id);
        if (sit != g.static_members.end()) {
          co_return co_await replace_static_member(gp, sit->second, std::move(client), version, std::move(req),
                                                   rebalance_ms);
        }
      }
      if (g.size() >= static_cast<size_t>(cfg.max_group_size)) {
        co_return join_error(code(Errc::group_max_size_reached));
      }
      std::string id = new_member_id(req.group_instance_id ? *req.group_instance_id : client.client_id);
      if (version >= 4 && !req.group_instance_id) {
        g.pending_members[id] = now() + req.session_timeout_ms;
        co_return join_error(code(Errc::member_id_required), id);
      }
      Member m;
      m.id = id;
      m.instance_id = req.group_instance_id;
      fill(m);
      co_return co_await add_and_rebalance(gp, std::move(m));
    }

    // A known (or pending) member id.
    if (auto pit = g.pending_members.find(req.member_id); pit != g.pending_members.end()) {
      g.pending_members.erase(pit);
      Member m;
      m.id = req.member_id;
      m.instance_id = req.group_instance_id;
      fill(m);
      co_return co_await add_and_rebalance(gp, std::move(m));
    }
    if (g.fenced(req.group_instance_id, req.member_id)) {
      co_return join_error(code(Errc::fenced_instance_id), req.member_id);
    }
    auto mit = g.members.find(req.member_id);
    if (mit == g.members.end() || g.state == GroupState::empty) {
      co_return join_error(code(Errc::unknown_member_id), req.member_id);
    }
    Member& m = mit->second;
    const bool same = m.protocols == protocols;
    switch (g.state) {
      case GroupState::completing_rebalance:
        if (same) {
          reset_heartbeat(m);
          co_return join_result(g, m, version, m.id == g.leader);
        }
        break;
      case GroupState::stable:
        if (same && m.id != g.leader) {
          reset_heartbeat(m);
          co_return join_result(g, m, version, false);
        }
        break;
      default: break;
    }
    fill(m);
    reset_heartbeat(m);
    auto w = std::make_shared<Waiter<proto::JoinGroupResponse>>(strand);
    m.join_waiter = w;
    std::string id = m.id;
    if (g.state != GroupState::preparing_rebalance) prepare_rebalance(g);
    maybe_complete_join(g);
    co_return co_await wait_join(w, join_bound(g), id);
  }

  asio::awaitable<proto::JoinGroupResponse> add_and_rebalance(GroupPtr gp, Member m) {
    Group& g = *gp;
    auto w = std::make_shared<Waiter<proto::JoinGroupResponse>>(strand);
    m.join_waiter = w;
    std::string id = m.id;
    add_member(g, std::move(m));
    if (g.state != GroupState::preparing_rebalance) prepare_rebalance(g);
    maybe_complete_join(g);
    co_return co_await wait_join(w, join_bound(g), id);
  }

  // Kafka's static member replacement: the new member id takes the old one's place (and assignment); the old id
  // is fenced. In Stable with an unchanged protocol choice no rebalance happens: the group is stored and the
  // member gets the current generation back.
  asio::awaitable<proto::JoinGroupResponse> replace_static_member(GroupPtr gp, std::string old_id, ClientInfo client,
                                                                  int16_t version, proto::JoinGroupRequest req,
                                                                  int32_t rebalance_ms) {
    Group& g = *gp;
    Member old = std::move(g.members.at(old_id));
    g.members.erase(old_id);
    if (old.join_waiter) old.join_waiter->complete(join_error(code(Errc::fenced_instance_id), old_id));
    if (old.sync_waiter) old.sync_waiter->complete(sync_error(code(Errc::fenced_instance_id)));
    Member m;
    m.id = new_member_id(*req.group_instance_id);
    m.instance_id = req.group_instance_id;
    m.client_id = client.client_id;
    m.client_host = client.client_host;
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = rebalance_ms;
    m.protocols = protocols_of(req);
    m.protocol_type_hint = req.protocol_type;
    m.join_version = version;
    m.assignment = old.assignment;
    m.seq = old.seq;
    reset_heartbeat(m);
    const std::string new_id = m.id;
    const bool was_leader = g.leader == old_id;
    if (was_leader) g.leader = new_id;
    g.static_members[*m.instance_id] = new_id;
    if (g.pending_sync.erase(old_id)) g.pending_sync.insert(new_id);
    Member& placed = g.members.emplace(new_id, std::move(m)).first->second;

    if (g.state == GroupState::stable && select_protocol(g) == g.protocol) {
      const int32_t generation = g.generation;
      auto r = co_await store_group(gp, metadata_value(g));
      if (!r) {
        // Undo: the old id is the member again (if nothing else changed meanwhile).
        auto it = g.members.find(new_id);
        if (g.alive && it != g.members.end() && g.generation == generation) {
          Member back = std::move(it->second);
          g.members.erase(it);
          back.id = old_id;
          back.join_waiter.reset();
          back.sync_waiter.reset();
          if (g.leader == new_id) g.leader = old_id;
          g.static_members[*back.instance_id] = old_id;
          g.members.emplace(old_id, std::move(back));
        }
        co_return join_error(log_error_code(r.error()));
      }
      auto it = g.members.find(new_id);
      if (!g.alive || it == g.members.end()) co_return join_error(code(Errc::unknown_member_id), new_id);
      const bool leader = g.leader == new_id;
      const bool skip = leader && version >= 9;
      co_return join_result(g, it->second, version, skip, skip);
    }
    auto w = std::make_shared<Waiter<proto::JoinGroupResponse>>(strand);
    placed.join_waiter = w;
    if (g.state != GroupState::preparing_rebalance) prepare_rebalance(g);
    maybe_complete_join(g);
    co_return co_await wait_join(w, join_bound(g), new_id);
  }

  // ---- SyncGroup --------------------------------------------------------------------------------------------

  asio::awaitable<proto::SyncGroupResponse> sync(int16_t version, proto::SyncGroupRequest req) {
    if (req.group_id.empty()) co_return sync_error(code(Errc::invalid_group_id));
    if (int16_t e = coordinator_error(req.group_id)) co_return sync_error(e);
    GroupPtr gp = find(req.group_id);
    if (!gp) co_return sync_error(code(Errc::unknown_member_id));
    Group& g = *gp;
    if (g.state == GroupState::dead) co_return sync_error(code(Errc::coordinator_not_available));
    if (g.fenced(req.group_instance_id, req.member_id)) co_return sync_error(code(Errc::fenced_instance_id));
    if (!g.has_member(req.member_id)) co_return sync_error(code(Errc::unknown_member_id));
    if (req.generation_id != g.generation) co_return sync_error(code(Errc::illegal_generation));
    if ((req.protocol_type && *req.protocol_type != g.protocol_type) ||
        (req.protocol_name && req.protocol_name != g.protocol)) {
      co_return sync_error(code(Errc::inconsistent_group_protocol));
    }
    Member& m = g.members.at(req.member_id);
    auto answer = [&](const Member& who) {
      proto::SyncGroupResponse r;
      r.protocol_type = g.protocol_type;
      r.protocol_name = g.protocol;
      r.assignment = who.assignment;
      return r;
    };
    switch (g.state) {
      case GroupState::empty: co_return sync_error(code(Errc::unknown_member_id));
      case GroupState::preparing_rebalance: co_return sync_error(code(Errc::rebalance_in_progress));
      case GroupState::stable:
        g.pending_sync.erase(m.id);
        reset_heartbeat(m);
        co_return answer(m);
      case GroupState::dead: co_return sync_error(code(Errc::coordinator_not_available));
      case GroupState::completing_rebalance: break;
    }
    auto w = std::make_shared<Waiter<proto::SyncGroupResponse>>(strand);
    m.sync_waiter = w;
    g.pending_sync.erase(m.id);
    reset_heartbeat(m);
    const auto bound = std::chrono::milliseconds(rebalance_timeout(g)) + kWaitSlack;
    if (m.id == g.leader) {
      std::map<std::string, Bytes> assignments;
      for (auto& a : req.assignments) {
        if (g.has_member(a.member_id)) assignments[a.member_id] = std::move(a.assignment);
      }
      GroupMetadataValue value = metadata_value(g);
      for (auto& mv : value.members) {
        auto it = assignments.find(mv.member_id);
        mv.assignment = it == assignments.end() ? Bytes{} : it->second;
      }
      const int32_t generation = g.generation;
      auto r = co_await store_group(gp, std::move(value));
      if (g.alive && g.state == GroupState::completing_rebalance && g.generation == generation) {
        if (r) {
          for (auto& [id, member] : g.members) {
            auto it = assignments.find(id);
            member.assignment = it == assignments.end() ? Bytes{} : it->second;
          }
          transition(g, GroupState::stable);
          for (auto& [id, member] : g.members) {
            if (member.sync_waiter) member.sync_waiter->complete(answer(member));
          }
        } else {
          log::warn("group", "storing group ", g.id, " generation ", generation, " failed: ", r.error().message);
          const int16_t err = log_error_code(r.error());
          for (auto& [id, member] : g.members) {
            member.assignment.clear();
            if (member.sync_waiter) member.sync_waiter->complete(sync_error(err));
          }
          prepare_rebalance(g);
        }
      }
    }
    co_return co_await w->wait(bound, sync_error(code(Errc::rebalance_in_progress)));
  }

  // ---- Heartbeat, LeaveGroup --------------------------------------------------------------------------------

  int16_t heartbeat(const proto::HeartbeatRequest& req) {
    if (req.group_id.empty()) return code(Errc::invalid_group_id);
    if (int16_t e = coordinator_error(req.group_id)) return e;
    GroupPtr gp = find(req.group_id);
    if (!gp) return code(Errc::unknown_member_id);
    Group& g = *gp;
    if (g.state == GroupState::dead) return code(Errc::coordinator_not_available);
    if (g.state == GroupState::empty) return code(Errc::unknown_member_id);
    if (g.fenced(req.group_instance_id, req.member_id)) return code(Errc::fenced_instance_id);
    auto it = g.members.find(req.member_id);
    if (it == g.members.end()) return code(Errc::unknown_member_id);
    if (req.generation_id != g.generation) return code(Errc::illegal_generation);
    reset_heartbeat(it->second);
    if (g.state == GroupState::preparing_rebalance) return code(Errc::rebalance_in_progress);
    return kNone;
  }

  proto::LeaveGroupResponse leave(int16_t version, proto::LeaveGroupRequest req) {
    proto::LeaveGroupResponse resp;
    std::vector<proto::LeaveGroupRequest::MemberIdentity> leaving;
    if (version < 3) {
      proto::LeaveGroupRequest::MemberIdentity one;
      one.member_id = req.member_id;
      leaving.push_back(std::move(one));
    } else {
      leaving = std::move(req.members);
    }
    auto fail_all = [&](int16_t e) {
      resp.error_code = e;
      return resp;
    };
    if (req.group_id.empty()) return fail_all(code(Errc::invalid_group_id));
    if (int16_t e = coordinator_error(req.group_id)) return fail_all(e);
    GroupPtr gp = find(req.group_id);
    if (gp && gp->state == GroupState::dead) return fail_all(code(Errc::coordinator_not_available));
    for (const auto& who : leaving) {
      auto& r = resp.members.emplace_back();
      r.member_id = who.member_id;
      r.group_instance_id = who.group_instance_id;
      if (!gp) {
        r.error_code = code(Errc::unknown_member_id);
        continue;
      }
      Group& g = *gp;
      if (who.group_instance_id) {
        auto sit = g.static_members.find(*who.group_instance_id);
        if (sit == g.static_members.end()) {
          r.error_code = code(Errc::unknown_member_id);
        } else if (!who.member_id.empty() && sit->second != who.member_id) {
          r.error_code = code(Errc::fenced_instance_id);
        } else {
          std::string id = sit->second;
          log::info("group", "static member ", id, " (", *who.group_instance_id, ") leaves group ", g.id);
          remove_member(g, id, code(Errc::unknown_member_id));
        }
        continue;
      }
      if (g.pending_members.erase(who.member_id)) {
        maybe_complete_join(g);
        continue;
      }
      if (!g.has_member(who.member_id)) {
        r.error_code = code(Errc::unknown_member_id);
        continue;
      }
      remove_member(g, who.member_id, code(Errc::unknown_member_id));
    }
    if (version < 3) {
      resp.error_code = resp.members.front().error_code;
      resp.members.clear();
    }
    return resp;
  }

  // ---- OffsetCommit -----------------------------------------------------------------------------------------

  asio::awaitable<proto::OffsetCommitResponse> commit(int16_t version, proto::OffsetCommitRequest req) {
    proto::OffsetCommitResponse resp;
    auto all = [&](int16_t e) {
      for (const auto& t : req.topics) {
        auto& rt = resp.topics.emplace_back();
        rt.name = t.name;
        for (const auto& p : t.partitions) rt.partitions.push_back({p.partition_index, e, {}});
      }
      return resp;
    };
    if (req.group_id.empty()) co_return all(code(Errc::invalid_group_id));
    if (int16_t e = coordinator_error(req.group_id)) co_return all(e);
    const int32_t generation = version >= 1 ? req.generation_id_or_member_epoch : -1;
    GroupPtr gp = find(req.group_id);
    if (!gp) {
      if (generation >= 0) co_return all(code(Errc::illegal_generation));
      gp = create(req.group_id);
      if (!gp) co_return all(code(Errc::coordinator_not_available));
    }
    Group& g = *gp;
    if (g.state == GroupState::dead) co_return all(code(Errc::coordinator_not_available));
    if (generation >= 0 || !req.member_id.empty() || req.group_instance_id) {
      if (g.fenced(req.group_instance_id, req.member_id)) co_return all(code(Errc::fenced_instance_id));
      if (!g.has_member(req.member_id)) co_return all(code(Errc::unknown_member_id));
      if (generation != g.generation) co_return all(code(Errc::illegal_generation));
      if (g.state == GroupState::completing_rebalance) co_return all(code(Errc::rebalance_in_progress));
      reset_heartbeat(g.members.at(req.member_id));
    } else if (g.state != GroupState::empty) {
      // A commit without membership for a group that is managed by the coordinator.
      co_return all(code(Errc::unknown_member_id));
    }

    const int64_t t = now();
    std::vector<GroupRecord> records;
    std::vector<std::pair<TopicPartition, OffsetValue>> values;
    size_t new_partitions = 0;
    for (const auto& topic : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = topic.name;
      for (const auto& p : topic.partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p.partition_index;
        if (p.committed_metadata && p.committed_metadata->size() > static_cast<size_t>(cfg.offset_metadata_max_bytes)) {
          rp.error_code = code(Errc::offset_metadata_too_large);
          continue;
        }
        TopicPartition tp{topic.name, p.partition_index};
        if (!g.offsets.count(tp) && g.offsets.size() + ++new_partitions > cfg.max_offsets_per_group) {
          rp.error_code = code(Errc::invalid_commit_offset_size);
          continue;
        }
        OffsetValue v;
        v.offset = p.committed_offset;
        v.leader_epoch = version >= 6 ? p.committed_leader_epoch : -1;
        v.metadata = p.committed_metadata.value_or("");
        v.commit_ts = version == 1 && p.commit_timestamp >= 0 ? p.commit_timestamp : t;
        if (version >= 2 && version <= 4 && req.retention_time_ms >= 0) v.expire_ts = v.commit_ts + req.retention_time_ms;
        records.push_back({offset_commit_key(g.id, tp.first, tp.second), encode(v)});
        values.emplace_back(std::move(tp), std::move(v));
      }
    }
    if (records.empty()) co_return resp;
    ++g.pending_writes;
    auto r = co_await append(g.partition, std::move(records));
    --g.pending_writes;
    if (r) {
      if (g.alive) {
        for (auto& [tp, v] : values) g.offsets[tp] = std::move(v);
      }
      co_return resp;
    }
    const int16_t err = r.error().code == make_error_code(LogErrc::too_large) ? code(Errc::invalid_commit_offset_size)
                                                                              : log_error_code(r.error());
    for (auto& rt : resp.topics) {
      for (auto& rp : rt.partitions) {
        if (rp.error_code == kNone) rp.error_code = err;
      }
    }
    co_return resp;
  }

  // ---- OffsetFetch ------------------------------------------------------------------------------------------

  struct FetchedPartition {
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    std::optional<std::string> metadata;
    int16_t error;
  };
  using FetchedTopics = std::vector<std::pair<std::string, std::vector<FetchedPartition>>>;

  // Committed offsets of `group_id` for `topics` (all committed when null). Group-level error in `error`.
  FetchedTopics fetch(const std::string& group_id, const std::optional<std::vector<std::pair<std::string,
                      std::vector<int32_t>>>>& topics, int16_t& error) {
    FetchedTopics out;
    error = group_id.empty() ? code(Errc::invalid_group_id) : coordinator_error(group_id);
    if (error != kNone) return out;
    GroupPtr g = find(group_id);
    if (!topics) {
      if (!g) return out;
      for (const auto& [tp, v] : g->offsets) {
        if (out.empty() || out.back().first != tp.first) out.emplace_back(tp.first, std::vector<FetchedPartition>{});
        out.back().second.push_back({tp.second, v.offset, v.leader_epoch, v.metadata, kNone});
      }
      return out;
    }
    for (const auto& [topic, parts] : *topics) {
      auto& ot = out.emplace_back(topic, std::vector<FetchedPartition>{});
      for (int32_t p : parts) {
        const OffsetValue* v = nullptr;
        if (g) {
          auto it = g->offsets.find({topic, p});
          if (it != g->offsets.end()) v = &it->second;
        }
        if (v) ot.second.push_back({p, v->offset, v->leader_epoch, v->metadata, kNone});
        else ot.second.push_back({p, -1, -1, std::string(), kNone});
      }
    }
    return out;
  }

  proto::OffsetFetchResponse offset_fetch(int16_t version, const proto::OffsetFetchRequest& req) {
    proto::OffsetFetchResponse resp;
    if (version >= 8) {
      for (const auto& rg : req.groups) {
        std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> topics;
        if (rg.topics) {
          topics.emplace();
          for (const auto& t : *rg.topics) topics->emplace_back(t.name, t.partition_indexes);
        }
        int16_t err = kNone;
        auto fetched = fetch(rg.group_id, topics, err);
        auto& og = resp.groups.emplace_back();
        og.group_id = rg.group_id;
        og.error_code = err;
        for (auto& [name, parts] : fetched) {
          auto& ot = og.topics.emplace_back();
          ot.name = name;
          for (auto& p : parts) {
            auto& op = ot.partitions.emplace_back();
            op.partition_index = p.partition;
            op.committed_offset = p.offset;
            op.committed_leader_epoch = p.leader_epoch;
            op.metadata = p.metadata;
            op.error_code = p.error;
          }
        }
      }
      return resp;
    }
    std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> topics;
    if (req.topics || version < 2) {
      topics.emplace();
      if (req.topics) {
        for (const auto& t : *req.topics) topics->emplace_back(t.name, t.partition_indexes);
      }
    }
    int16_t err = kNone;
    auto fetched = fetch(req.group_id, topics, err);
    if (err != kNone) {
      resp.error_code = err;
      if (version >= 2) return resp;
      // v0-1 have no group-level error: every requested partition carries it.
      fetched.clear();
      for (const auto& [name, parts] : *topics) {
        auto& ot = fetched.emplace_back(name, std::vector<FetchedPartition>{});
        for (int32_t p : parts) ot.second.push_back({p, -1, -1, std::string(), err});
      }
    }
    for (auto& [name, parts] : fetched) {
      auto& ot = resp.topics.emplace_back();
      ot.name = name;
      for (auto& p : parts) {
        auto& op = ot.partitions.emplace_back();
        op.partition_index = p.partition;
        op.committed_offset = p.offset;
        op.committed_leader_epoch = p.leader_epoch;
        op.metadata = p.metadata;
        op.error_code = p.error;
      }
    }
    return resp;
  }

  // ---- ListGroups, DescribeGroups ---------------------------------------------------------------------------

  proto::ListGroupsResponse list(int16_t version, const proto::ListGroupsRequest& req) {
    proto::ListGroupsResponse resp;
    std::set<std::string> states, types;
    if (version >= 4) {
      for (const auto& s : req.states_filter) states.insert(lower(s));
    }
    if (version >= 5) {
      for (const auto& s : req.types_filter) types.insert(lower(s));
    }
    if (!types.empty() && !types.count("classic")) return resp;
    if (stopped) {
      resp.error_code = code(Errc::coordinator_not_available);
      return resp;
    }
    for (const auto& [p, ps] : partitions) {
      if (ps.loading) {
        resp.error_code = code(Errc::coordinator_load_in_progress);
        continue;
      }
      for (const auto& [id, g] : ps.groups) {
        if (g->state == GroupState::dead) continue;
        if (!states.empty() && !states.count(lower(state_name(g->state)))) continue;
        auto& lg = resp.groups.emplace_back();
        lg.group_id = id;
        lg.protocol_type = g->protocol_type;
        lg.group_state = state_name(g->state);
        lg.group_type = "classic";
      }
    }
    return resp;
  }

  proto::DescribeGroupsResponse describe_groups(int16_t version, const proto::DescribeGroupsRequest& req) {
    proto::DescribeGroupsResponse resp;
    for (const auto& id : req.groups) {
      auto& d = resp.groups.emplace_back();
      d.group_id = id;
      if (version >= 3 && req.include_authorized_operations) {
        d.authorized_operations = (1 << 3) | (1 << 6) | (1 << 8);  // READ, DELETE, DESCRIBE (no ACLs yet)
      }
      d.error_code = id.empty() ? code(Errc::invalid_group_id) : coordinator_error(id);
      if (d.error_code != kNone) continue;
      GroupPtr g = find(id);
      if (!g) {
        d.group_state = state_name(GroupState::dead);
        continue;
      }
      d.group_state = state_name(g->state);
      d.protocol_type = g->protocol_type;
      d.protocol_data = g->state == GroupState::stable ? g->protocol.value_or("") : "";
      std::vector<const Member*> ordered;
      for (const auto& [mid, m] : g->members) ordered.push_back(&m);
      std::sort(ordered.begin(), ordered.end(), [](const Member* a, const Member* b) { return a->seq < b->seq; });
      for (const Member* m : ordered) {
        auto& dm = d.members.emplace_back();
        dm.member_id = m->id;
        dm.group_instance_id = m->instance_id;
        dm.client_id = m->client_id;
        dm.client_host = m->client_host;
        if (g->state == GroupState::stable) {
          if (const Bytes* md = m->metadata_for(g->protocol)) dm.member_metadata = *md;
          dm.member_assignment = m->assignment;
        }
      }
    }
    return resp;
  }

  // ---- DeleteGroups, OffsetDelete ---------------------------------------------------------------------------

  asio::awaitable<proto::DeleteGroupsResponse> delete_groups(const proto::DeleteGroupsRequest& req) {
    proto::DeleteGroupsResponse resp;
    std::vector<std::pair<size_t, GroupPtr>> deleting;
    for (const auto& id : req.groups_names) {
      auto& r = resp.results.emplace_back();
      r.group_id = id;
      r.error_code = id.empty() ? code(Errc::invalid_group_id) : coordinator_error(id);
      if (r.error_code != kNone) continue;
      GroupPtr g = find(id);
      if (!g || g->state == GroupState::dead) {
        r.error_code = code(Errc::group_id_not_found);
      } else if (g->state != GroupState::empty || !g->members.empty() || !g->pending_members.empty()) {
        r.error_code = code(Errc::non_empty_group);
      } else {
        deleting.emplace_back(resp.results.size() - 1, g);
      }
    }
    for (auto& [index, g] : deleting) {
      std::vector<GroupRecord> records;
      for (const auto& [tp, v] : g->offsets) {
        records.push_back({offset_commit_key(g->id, tp.first, tp.second), std::nullopt});
      }
      if (g->persisted) records.push_back({group_metadata_key(g->id), std::nullopt});
      erase(g);
      if (records.empty()) continue;
      auto r = co_await append(g->partition, std::move(records));
      if (!r) {
        resp.results[index].error_code = log_error_code(r.error());
        // Not deleted after all: put it back unless the id was taken meanwhile.
        auto it = partitions.find(g->partition);
        if (it != partitions.end() && !it->second.loading && !it->second.groups.count(g->id)) {
          g->alive = true;
          g->state = GroupState::empty;
          it->second.groups[g->id] = g;
          ++group_count;
        }
      }
    }
    co_return resp;
  }

  asio::awaitable<proto::OffsetDeleteResponse> offset_delete(const proto::OffsetDeleteRequest& req) {
    proto::OffsetDeleteResponse resp;
    resp.error_code = req.group_id.empty() ? code(Errc::invalid_group_id) : coordinator_error(req.group_id);
    if (resp.error_code != kNone) co_return resp;
    GroupPtr gp = find(req.group_id);
    if (!gp || gp->state == GroupState::dead) {
      resp.error_code = code(Errc::group_id_not_found);
      co_return resp;
    }
    Group& g = *gp;
    std::optional<std::set<std::string>> subscribed;  // nullopt: every topic counts as subscribed
    if (g.state != GroupState::empty) {
      if (g.protocol_type != "consumer") {
        resp.error_code = code(Errc::non_empty_group);
        co_return resp;
      }
      subscribed.emplace();
      for (const auto& [id, m] : g.members) {
        const Bytes* md = m.metadata_for(g.protocol);
        auto topics = md ? consumer_topics(*md) : std::nullopt;
        if (!topics) {
          subscribed.reset();
          break;
        }
        subscribed->insert(topics->begin(), topics->end());
      }
    }
    std::vector<GroupRecord> records;
    std::vector<TopicPartition> removing;
    for (const auto& t : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = t.name;
      const bool in_use = g.state != GroupState::empty && (!subscribed || subscribed->count(t.name));
      for (const auto& p : t.partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p.partition_index;
        if (in_use) {
          rp.error_code = code(Errc::group_subscribed_to_topic);
          continue;
        }
        TopicPartition tp{t.name, p.partition_index};
        if (g.offsets.count(tp)) {
          records.push_back({offset_commit_key(g.id, tp.first, tp.second), std::nullopt});
          removing.push_back(std::move(tp));
        }
      }
    }
    if (records.empty()) co_return resp;
    ++g.pending_writes;
    auto r = co_await append(g.partition, std::move(records));
    --g.pending_writes;
    if (!r) {
      resp.error_code = log_error_code(r.error());
      resp.topics.clear();
      co_return resp;
    }
    for (const auto& tp : removing) g.offsets.erase(tp);
    co_return resp;
  }

  // ---- loading ----------------------------------------------------------------------------------------------

  asio::awaitable<Status> load(int32_t p) {
    if (stopped) co_return Error{make_error_code(LogErrc::unavailable), "group coordinator stopped"};
    if (partitions.count(p)) co_return ok_status();
    const uint64_t epoch = next_epoch++;
    PartitionState& fresh = partitions[p];
    fresh.epoch = epoch;
    fresh.loading = true;
    DurableState state;
    int64_t next = 0;
    int64_t replayed = 0;
    size_t bad = 0;
    ++ops_in_flight;
    Status result = ok_status();
    for (;;) {
      auto batch = co_await log.read(p, next, cfg.load_batch_records);
      auto it = partitions.find(p);
      if (it == partitions.end() || it->second.epoch != epoch) {
        result = Error{make_error_code(LogErrc::not_leader), "partition " + std::to_string(p) + " unloaded while loading"};
        break;
      }
      if (!batch) {
        result = batch.error();
        break;
      }
      if (batch->empty()) break;
      for (const auto& rec : *batch) {
        if (rec.record.key == snapshot_key()) replayed = 0;
        if (!apply(state, rec.record)) ++bad;
        ++replayed;
        next = rec.offset + 1;
      }
    }
    --ops_in_flight;
    auto it = partitions.find(p);
    if (!result) {
      if (it != partitions.end() && it->second.epoch == epoch) partitions.erase(it);
      log::warn("group", "loading __consumer_offsets partition ", p, " failed: ", result.error().message);
      co_return result;
    }
    if (bad > 0) log::warn("group", "__consumer_offsets partition ", p, ": ", bad, " undecodable records ignored");
    PartitionState& ps = it->second;
    const int64_t t = now();
    for (auto& [id, d] : state) {
      auto g = std::make_shared<Group>();
      g->id = id;
      g->partition = p;
      g->offsets = std::move(d.offsets);
      g->persisted = d.metadata;
      g->state_ts = t;
      if (d.metadata) {
        const GroupMetadataValue& v = *d.metadata;
        g->protocol_type = v.protocol_type;
        g->generation = v.generation;
        g->protocol = v.protocol;
        g->leader = v.leader;
        g->state_ts = v.state_ts;
        for (const auto& mv : v.members) {
          Member m;
          m.id = mv.member_id;
          m.instance_id = mv.instance_id;
          m.client_id = mv.client_id;
          m.client_host = mv.client_host;
          m.rebalance_timeout_ms = mv.rebalance_timeout_ms;
          m.session_timeout_ms = mv.session_timeout_ms;
          if (v.protocol) m.protocols.push_back({*v.protocol, mv.subscription});
          m.protocol_type_hint = v.protocol_type;
          m.assignment = mv.assignment;
          m.seq = ++join_seq;
          m.deadline = t + mv.session_timeout_ms;
          if (m.instance_id) g->static_members[*m.instance_id] = m.id;
          g->members.emplace(m.id, std::move(m));
        }
        g->state = g->members.empty() ? GroupState::empty : GroupState::stable;
      }
      ps.groups[id] = std::move(g);
      ++group_count;
    }
    ps.records_since_snapshot = replayed;
    ps.loading = false;
    if (replayed > 0) {  // empty partitions (most of them, usually) are not worth a line each
      log::info("group", "loaded __consumer_offsets partition ", p, ": ", ps.groups.size(), " groups from ",
                replayed, " records");
    }
    co_return ok_status();
  }

  void unload(int32_t p, int16_t error) {
    auto it = partitions.find(p);
    if (it == partitions.end()) return;
    for (auto& [id, g] : it->second.groups) {
      complete_all_waiters(*g, error);
      g->alive = false;
      --group_count;
    }
    partitions.erase(it);
  }
};

// ---- public face ------------------------------------------------------------------------------------------------

namespace {

template <typename T>
asio::awaitable<T> on_strand(asio::strand<asio::any_io_executor>& strand, asio::awaitable<T> op) {
  co_return co_await asio::co_spawn(strand, std::move(op), asio::use_awaitable);
}

asio::awaitable<void> on_strand_void(asio::strand<asio::any_io_executor>& strand, asio::awaitable<void> op) {
  co_await asio::co_spawn(strand, std::move(op), asio::use_awaitable);
}

}  // namespace

GroupCoordinator::GroupCoordinator(asio::any_io_executor executor, GroupLog& log, GroupConfig config)
    : impl_(std::make_unique<Impl>(std::move(executor), log, std::move(config))) {}

GroupCoordinator::~GroupCoordinator() = default;

void GroupCoordinator::start() {
  if (impl_->cfg.tick_interval.count() <= 0 || impl_->ticker) return;
  impl_->ticker.emplace(impl_->strand);
  impl_->spawn(impl_->ticker_loop());
}

namespace {
asio::awaitable<void> stop_impl(GroupCoordinator::Impl& s, std::chrono::milliseconds timeout) {
  s.stopped = true;
  if (s.ticker) s.ticker->cancel();
  std::vector<int32_t> owned;
  for (const auto& [p, ps] : s.partitions) owned.push_back(p);
  for (int32_t p : owned) s.unload(p, code(Errc::coordinator_not_available));
  asio::steady_timer wait(s.strand);
  const auto give_up = Clock::now() + timeout;
  while (s.ops_in_flight > 0 && Clock::now() < give_up) {
    wait.expires_after(std::chrono::milliseconds(5));
    std::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (s.ops_in_flight > 0) log::warn("group", s.ops_in_flight, " operations still in flight after stop");
}

asio::awaitable<void> unload_impl(GroupCoordinator::Impl& s, int32_t p) {
  s.unload(p, code(Errc::not_coordinator));
  co_return;
}

asio::awaitable<void> tick_impl(GroupCoordinator::Impl& s) {
  if (!s.stopped) s.run_timers();
  co_return;
}

asio::awaitable<proto::HeartbeatResponse> heartbeat_impl(GroupCoordinator::Impl& s, proto::HeartbeatRequest req) {
  proto::HeartbeatResponse r;
  r.error_code = s.heartbeat(req);
  co_return r;
}

asio::awaitable<proto::LeaveGroupResponse> leave_impl(GroupCoordinator::Impl& s, int16_t v,
                                                      proto::LeaveGroupRequest req) {
  co_return s.leave(v, std::move(req));
}

asio::awaitable<proto::OffsetFetchResponse> fetch_impl(GroupCoordinator::Impl& s, int16_t v,
                                                       proto::OffsetFetchRequest req) {
  co_return s.offset_fetch(v, req);
}

asio::awaitable<proto::ListGroupsResponse> list_impl(GroupCoordinator::Impl& s, int16_t v,
                                                     proto::ListGroupsRequest req) {
  co_return s.list(v, req);
}

asio::awaitable<proto::DescribeGroupsResponse> describe_impl(GroupCoordinator::Impl& s, int16_t v,
                                                             proto::DescribeGroupsRequest req) {
  co_return s.describe_groups(v, req);
}

asio::awaitable<proto::DeleteGroupsResponse> delete_impl(GroupCoordinator::Impl& s, proto::DeleteGroupsRequest req) {
  co_return co_await s.delete_groups(req);
}

asio::awaitable<proto::OffsetDeleteResponse> offset_delete_impl(GroupCoordinator::Impl& s,
                                                                proto::OffsetDeleteRequest req) {
  co_return co_await s.offset_delete(req);
}

asio::awaitable<std::optional<DurableState>> durable_impl(GroupCoordinator::Impl& s, int32_t p) {
  auto it = s.partitions.find(p);
  if (it == s.partitions.end() || it->second.loading) co_return std::nullopt;
  co_return s.durable_of(it->second);
}

asio::awaitable<std::optional<GroupCoordinator::GroupView>> view_impl(GroupCoordinator::Impl& s, std::string id) {
  if (s.coordinator_error(id) != 0) co_return std::nullopt;
  GroupPtr g = s.find(id);
  if (!g) co_return std::nullopt;
  GroupCoordinator::GroupView v;
  v.state = g->state;
  v.generation = g->generation;
  v.protocol_type = g->protocol_type;
  v.protocol = g->protocol;
  v.leader = g->leader;
  std::vector<const Member*> ordered;
  for (const auto& [mid, m] : g->members) ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(), [](const Member* a, const Member* b) { return a->seq < b->seq; });
  for (const Member* m : ordered) v.members.push_back(m->id);
  v.pending_members = g->pending_members.size();
  co_return v;
}

}  // namespace

asio::awaitable<void> GroupCoordinator::stop(std::chrono::milliseconds timeout) {
  co_await on_strand_void(impl_->strand, stop_impl(*impl_, timeout));
}

asio::awaitable<Status> GroupCoordinator::load_partition(int32_t partition) {
  co_return co_await on_strand(impl_->strand, impl_->load(partition));
}

asio::awaitable<void> GroupCoordinator::unload_partition(int32_t partition) {
  co_await on_strand_void(impl_->strand, unload_impl(*impl_, partition));
}

int32_t GroupCoordinator::partition_for(const std::string& group_id) const { return impl_->partition_of(group_id); }

asio::awaitable<void> GroupCoordinator::tick() { co_await on_strand_void(impl_->strand, tick_impl(*impl_)); }

asio::awaitable<proto::JoinGroupResponse> GroupCoordinator::join_group(ClientInfo client, int16_t version,
                                                                       proto::JoinGroupRequest req) {
  co_return co_await on_strand(impl_->strand, impl_->join(std::move(client), version, std::move(req)));
}

asio::awaitable<proto::SyncGroupResponse> GroupCoordinator::sync_group(int16_t version, proto::SyncGroupRequest req) {
  co_return co_await on_strand(impl_->strand, impl_->sync(version, std::move(req)));
}

asio::awaitable<proto::HeartbeatResponse> GroupCoordinator::heartbeat(int16_t, proto::HeartbeatRequest req) {
  co_return co_await on_strand(impl_->strand, heartbeat_impl(*impl_, std::move(req)));
}

asio::awaitable<proto::LeaveGroupResponse> GroupCoordinator::leave_group(int16_t version, proto::LeaveGroupRequest req) {
  co_return co_await on_strand(impl_->strand, leave_impl(*impl_, version, std::move(req)));
}

asio::awaitable<proto::OffsetCommitResponse> GroupCoordinator::offset_commit(int16_t version,
                                                                             proto::OffsetCommitRequest req) {
  co_return co_await on_strand(impl_->strand, impl_->commit(version, std::move(req)));
}

asio::awaitable<proto::OffsetFetchResponse> GroupCoordinator::offset_fetch(int16_t version,
                                                                           proto::OffsetFetchRequest req) {
  co_return co_await on_strand(impl_->strand, fetch_impl(*impl_, version, std::move(req)));
}

asio::awaitable<proto::ListGroupsResponse> GroupCoordinator::list_groups(int16_t version, proto::ListGroupsRequest req) {
  co_return co_await on_strand(impl_->strand, list_impl(*impl_, version, std::move(req)));
}

asio::awaitable<proto::DescribeGroupsResponse> GroupCoordinator::describe_groups(int16_t version,
                                                                                 proto::DescribeGroupsRequest req) {
  co_return co_await on_strand(impl_->strand, describe_impl(*impl_, version, std::move(req)));
}

asio::awaitable<proto::DeleteGroupsResponse> GroupCoordinator::delete_groups(int16_t, proto::DeleteGroupsRequest req) {
  co_return co_await on_strand(impl_->strand, delete_impl(*impl_, std::move(req)));
}

asio::awaitable<proto::OffsetDeleteResponse> GroupCoordinator::offset_delete(int16_t, proto::OffsetDeleteRequest req) {
  co_return co_await on_strand(impl_->strand, offset_delete_impl(*impl_, std::move(req)));
}

asio::awaitable<std::optional<DurableState>> GroupCoordinator::durable_state(int32_t partition) {
  co_return co_await on_strand(impl_->strand, durable_impl(*impl_, partition));
}

asio::awaitable<std::optional<GroupCoordinator::GroupView>> GroupCoordinator::describe(std::string group_id) {
  co_return co_await on_strand(impl_->strand, view_impl(*impl_, std::move(group_id)));
}

}  // namespace floe::group
