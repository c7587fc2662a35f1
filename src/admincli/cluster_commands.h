// `floe cluster status|reassign|reassignments` and `floe broker drain ID`: cluster operations over the Kafka
// protocol (DescribeCluster, Metadata, AlterPartitionReassignments, ListPartitionReassignments, and
// IncrementalAlterConfigs of the broker config floe.broker.drain). reassign and drain wait (bounded by
// --timeout-ms) until Metadata shows the partitions on their new leaders, and say how long it took.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "admincli/admin_cli.h"

namespace floe::admincli {

int run_cluster(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env);
int run_broker(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env);

}  // namespace floe::admincli
