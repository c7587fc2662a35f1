// Records the largest single heap allocation in this test binary (global operator new is replaced), so a test can
// show that an oversized frame size was rejected before anything was allocated for it.
#pragma once

#include <cstddef>

namespace floe::net::testing {

void reset_largest_allocation();
std::size_t largest_allocation();

}  // namespace floe::net::testing
