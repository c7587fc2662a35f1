// The drill's chart, hand-written SVG: acked and consumed throughput (MiB/s) on top, produce latency p99 (ms)
// below, one shared time axis, and a vertical line with a label at every event (fault, restart).
#pragma once

#include <ostream>
#include <vector>

#include "drill/report.h"

namespace floe::drill {

// record_bytes converts the timeline's record counts into MiB/s.
void write_svg(std::ostream& out, const std::vector<Second>& timeline, const std::vector<Event>& events,
               int record_bytes);

// A "nice" axis maximum at or above v (1, 2, 5 times a power of ten); 1 for v <= 0.
double nice_ceiling(double v);

}  // namespace floe::drill
