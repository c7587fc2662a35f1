// Helpers shared by the producer suites.
#pragma once

#include <cstdint>

#include "producer/producer_state.h"

namespace floe::producer::testing {

inline BatchMeta batch(int64_t pid, int16_t epoch, int32_t seq, int32_t count = 1, int64_t ts = 1000) {
  BatchMeta m;
  m.producer_id = pid;
  m.producer_epoch = epoch;
  m.base_sequence = seq;
  m.record_count = count;
  m.max_timestamp = ts;
  return m;
}

}  // namespace floe::producer::testing
