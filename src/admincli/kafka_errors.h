// Kafka protocol error codes as the names Kafka's tools print (TOPIC_ALREADY_EXISTS, ...).
#pragma once

#include <cstdint>
#include <string>

namespace floe::admincli {

// "ERROR_<n>" for a code this table does not know.
std::string kafka_error_name(int16_t code);

}  // namespace floe::admincli
