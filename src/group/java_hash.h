// Java's String.hashCode, exactly, and Kafka's mapping of a group id (or transactional id) to a partition of its
// internal topic: abs(hashCode) % partitions, where abs(Integer.MIN_VALUE) is 0 (Kafka's Utils.abs).
#pragma once

#include <cstdint>
#include <string_view>

namespace floe::group {

// s[0]*31^(n-1) + s[1]*31^(n-2) + ... + s[n-1] over the UTF-16 code units of `utf8`, in 32-bit two's complement
// arithmetic. Characters outside the BMP count as their two surrogates, as in Java. Bytes that are not valid UTF-8
// count as U+FFFD (what Java's decoder substitutes for them).
int32_t java_string_hash(std::string_view utf8);

// The partition of __consumer_offsets (or __transaction_state) that owns `key`; `partitions` must be > 0.
int32_t coordinator_partition(std::string_view key, int32_t partitions);

}  // namespace floe::group
