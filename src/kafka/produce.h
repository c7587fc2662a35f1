#pragma once

#include "kafka/api_handler.h"

namespace floe::kafka {

// Produce v3-12 (record batch v2 only; older message formats get UNSUPPORTED_FOR_MESSAGE_FORMAT): per partition,
// validates the batches (CRC, sizes, decompression, record counts) and max.message.bytes, stamps LogAppendTime when
// the topic asks for it, appends to the partition's log and answers once durable (acks 1 and -1 alike: the WAL is
// the only copy, and it is durable). acks=0 gets no response. Partitions of one request are appended in parallel.
asio::awaitable<HandlerOutcome> handle_produce(RequestContext& ctx);

}  // namespace floe::kafka
