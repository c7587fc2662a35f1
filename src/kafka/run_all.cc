#include "kafka/run_all.h"

#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <memory>

namespace floe::kafka {

asio::awaitable<void> run_all(std::vector<asio::awaitable<void>> tasks) {
  if (tasks.empty()) co_return;
  if (tasks.size() == 1) {
    co_await std::move(tasks.front());
    co_return;
  }
  auto ex = co_await asio::this_coro::executor;
  struct State {
    size_t left;
    std::exception_ptr error;
    asio::steady_timer done;
  };
  auto state = std::make_shared<State>(State{tasks.size(), nullptr, asio::steady_timer(ex)});
  state->done.expires_at(asio::steady_timer::time_point::max());
  for (auto& task : tasks) {
    auto on_done = [state](std::exception_ptr e) {
      if (e && !state->error) state->error = e;
      if (--state->left == 0) state->done.cancel();
    };
    asio::co_spawn(ex, std::move(task), on_done);
  }
  std::error_code ec;
  while (state->left > 0) co_await state->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (state->error) std::rethrow_exception(state->error);
}

}  // namespace floe::kafka
