// Running the io_context that the server (and the rest of the broker) shares.
#pragma once

namespace asio {
class io_context;
}

namespace floe::net {

class StallWatchdog;

// Runs io.run() on `threads` threads (the calling thread is one of them; 0 counts as 1) and returns once every
// thread's run() has returned, i.e. when the io_context has no work left or was stopped. An exception escaping a
// handler is logged and that thread resumes running, so one bad completion handler cannot stop the broker.
// With one thread, construct the io_context with concurrency hint 1 so asio can skip internal locking.
// `watchdog` (optional) measures how late the threads run what is posted (stall_watchdog.h): each thread is
// registered with it while it runs the io_context.
void run_io_threads(asio::io_context& io, unsigned threads, StallWatchdog* watchdog = nullptr);

}  // namespace floe::net
