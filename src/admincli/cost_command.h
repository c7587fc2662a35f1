// `floe cost`: scrapes running brokers' /metrics (--http H:P, repeatable) and prints a monthly cost estimate split
// into compute, object storage, object-store requests and cross-zone traffic, with the request counts it used
// (src/cost/estimate.h has the arithmetic and its assumptions; docs/cost.md the prices).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "admincli/admin_cli.h"

namespace floe::admincli {

int run_cost(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env);

}  // namespace floe::admincli
