// Runs several coroutines concurrently on the caller's executor and waits for all of them (e.g. the partitions
// of one produce request are appended in parallel, so one slow partition does not serialize the others).
#pragma once

#include <asio/awaitable.hpp>
#include <vector>

namespace floe::kafka {

// The caller's executor must run one handler at a time (a strand, or an io_context on one thread): the tasks
// share a counter. An exception from a task is rethrown after all tasks finished.
asio::awaitable<void> run_all(std::vector<asio::awaitable<void>> tasks);

}  // namespace floe::kafka
