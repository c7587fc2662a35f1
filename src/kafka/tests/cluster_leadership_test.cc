// ClusterLeadership on a real control plane (embedded store, in-process controller): a broker whose lease may have
// expired names no leader, not even itself, so a paused broker that resumes with a stale image sends no client to a
// leader that may have moved.
#include "kafka/cluster_leadership.h"

#include "cluster/tests/controller_fixture.h"
#include "cluster/topic_catalog.h"

namespace floe::kafka {
namespace {

using cluster::testing::ControllerTest;
using namespace std::chrono_literals;

TEST_F(ControllerTest, ALeaseThatMayHaveExpiredNamesNoLeader) {
  auto* b1 = start(1);
  ASSERT_TRUE(b1);
  ASSERT_TRUE(eventually([&] { return b1->controller->elected(); }));
  const cluster::TopicInfo topic = create_topic(*b1, "t", 2);
  ASSERT_TRUE(eventually([&] { return all_assigned(*b1->image, "t", 2); }));
  const int32_t leader_epoch = b1->image->assignment("t", 0)->leader_epoch;

  ClusterLeadership leadership(*b1->image, 1);
  cluster::BrokerMembership* membership = b1->membership.get();
  leadership.set_self_alive([membership] { return membership->alive(); });
  leadership.set_local(cluster::stream_id_of(topic.id, 0), leader_epoch);
  PartitionLeader before = leadership.leader(topic, 0);
  EXPECT_EQ(before.leader_id, 1);
  EXPECT_TRUE(before.local);

  // As a paused process: no keep-alive goes out any more, so the membership may no longer be acted upon (the
  // keeper stopped; a paused one would see its local deadline pass). The image still names this broker.
  membership->stop_keepalive();
  ASSERT_TRUE(eventually([&] { return !membership->alive(); }, 10s));
  for (int32_t p : {0, 1}) {
    PartitionLeader after = leadership.leader(topic, p);
    EXPECT_EQ(after.leader_id, -1) << p;
    EXPECT_FALSE(after.local) << p;
  }
  EXPECT_EQ(leadership.leader(topic, 0).leader_epoch, leader_epoch);  // still stamped on what it may append
}

}  // namespace
}  // namespace floe::kafka
