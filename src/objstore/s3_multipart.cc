// S3Store's multipart upload: initiate, the parts (up to multipart_concurrency at once), complete; abort on failure.
#include <algorithm>
#include <exception>
#include <memory>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "objstore/s3_call.h"
#include "objstore/s3_store.h"
#include "objstore/s3_xml.h"

// GCC 12 reports a false -Wmismatched-new-delete for asio's awaitable frames (see s3_store.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace floe::objstore {

using asio::awaitable;

// The parts of one upload. Everything here is touched only on `strand`: the supervisor (upload_parts), the workers
// and their completion handlers all run there, so no lock is needed. The body is a view of the caller's data,
// which outlives the supervisor (put_multipart awaits it) and the supervisor outlives every worker.
struct S3Store::PartUploads {
  explicit PartUploads(const asio::any_io_executor& executor) : strand(asio::make_strand(executor)), all_done(strand) {}

  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer all_done;  // cancelled when the last worker has finished
  std::string_view data;
  std::string key;  // full key
  std::string upload_id;
  std::size_t part_size = 0;
  std::size_t parts = 0;
  Clock::time_point deadline;

  std::size_t next = 0;        // the next part to send (0-based)
  std::size_t running = 0;     // workers not finished yet
  std::error_code failure;     // the first failure; no part starts after it
  std::vector<std::string> etags;
  std::vector<std::unique_ptr<asio::cancellation_signal>> stops;  // one per worker: aborts its request
};

awaitable<void> S3Store::part_worker(std::shared_ptr<PartUploads> u) {
  while (!u->failure && u->next < u->parts) {
    const std::size_t i = u->next++;
    Call part;
    part.op = Op::multipart;
    part.method = "PUT";
    part.key = u->key;
    part.query = {{"partNumber", std::to_string(i + 1)}, {"uploadId", u->upload_id}};
    part.body_view = u->data.substr(i * u->part_size, u->part_size);
    part.content_md5 = true;
    auto r = co_await execute(part, u->deadline);
    std::error_code failed = r.error;
    if (!failed && r.value.status != 200) failed = s3_error(r.value.status, r.value.body);
    const std::string* etag = failed ? nullptr : r.value.header("ETag");
    if (!failed && etag == nullptr) failed = Errc::io_error;
    if (failed) {
      if (!u->failure) u->failure = failed;
      co_return;
    }
    u->etags[i] = *etag;
  }
}

awaitable<std::error_code> S3Store::upload_parts(std::shared_ptr<PartUploads> u) {
  const std::size_t workers = std::min(u->parts, std::max<std::size_t>(1, config_.multipart_concurrency));
  u->running = workers;
  for (std::size_t w = 0; w < workers; ++w) {
    u->stops.push_back(std::make_unique<asio::cancellation_signal>());
    auto finished = [u](std::exception_ptr thrown) {
      // A worker throws only when its request was cancelled (asio throws on co_await after cancellation).
      if (thrown && !u->failure) u->failure = Errc::cancelled;
      if (--u->running == 0) u->all_done.cancel();
    };
    auto on_done = asio::bind_cancellation_slot(u->stops.back()->slot(), asio::bind_executor(u->strand, finished));
    asio::co_spawn(u->strand, part_worker(u), std::move(on_done));
  }
  // Wait for every worker, also after the caller cancelled: they hold views of the caller's data. Cancellation
  // stops them promptly (their requests are aborted), then the wait goes on without the caller's cancellation.
  bool stopped = false;
  while (u->running > 0) {
    u->all_done.expires_at(Clock::time_point::max());
    std::error_code ignored;
    co_await u->all_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    if (!stopped && cs.cancelled() != asio::cancellation_type::none) {
      stopped = true;
      if (!u->failure) u->failure = Errc::cancelled;
      for (auto& stop : u->stops) stop->emit(asio::cancellation_type::terminal);
      co_await asio::this_coro::reset_cancellation_state();
    }
  }
  co_return u->failure;
}

awaitable<Result<PutInfo>> S3Store::put_multipart(std::string key, std::string data, Clock::time_point deadline) {
  Call init;
  init.op = Op::multipart;
  init.method = "POST";
  init.key = full_key(key);
  init.query = {{"uploads", ""}};
  auto started = co_await execute(init, deadline);
  if (!started) co_return started.error;
  if (started.value.status != 200) co_return s3_error(started.value.status, started.value.body);
  const std::string upload_id = s3::xml_text(started.value.body, "UploadId");
  if (upload_id.empty()) co_return Errc::io_error;

  auto uploads = std::make_shared<PartUploads>(co_await asio::this_coro::executor);
  uploads->data = data;
  uploads->key = init.key;
  uploads->upload_id = upload_id;
  uploads->part_size = config_.part_size;
  uploads->parts = (data.size() + config_.part_size - 1) / config_.part_size;
  uploads->deadline = deadline;
  uploads->etags.resize(uploads->parts);
  auto supervisor = upload_parts(uploads);
  std::error_code failure = co_await asio::co_spawn(uploads->strand, std::move(supervisor), asio::use_awaitable);

  if (!failure) {
    std::string complete = "<CompleteMultipartUpload>";
    for (std::size_t i = 0; i < uploads->parts; ++i) {
      complete += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
                  s3::xml_escape(uploads->etags[i]) + "</ETag></Part>";
    }
    complete += "</CompleteMultipartUpload>";
    Call done;
    done.op = Op::multipart;
    done.method = "POST";
    done.key = init.key;
    done.query = {{"uploadId", upload_id}};
    done.body = std::move(complete);
    done.headers.emplace_back("content-type", "application/xml");
    auto r = co_await execute(done, deadline);
    // S3 may answer 200 with an <Error> body for CompleteMultipartUpload.
    if (!r) {
      failure = r.error;
    } else if (r.value.status != 200 || r.value.body.find("<Error>") != std::string::npos) {
      failure = s3_error(r.value.status == 200 ? 500 : r.value.status, r.value.body);
    } else {
      PutInfo info;
      info.etag = s3::xml_text(r.value.body, "ETag");
      co_return info;
    }
  }
  // Abort so the parts are not kept (and billed); best effort, with a short grace past the deadline. After the
  // caller's cancellation too (bounded by 2 s), so that a cancelled upload leaves no parts behind.
  auto abort_deadline = std::max(deadline, Clock::now() + std::chrono::seconds(5));
  if (failure == Errc::cancelled) {
    co_await asio::this_coro::reset_cancellation_state();
    abort_deadline = Clock::now() + std::chrono::seconds(2);
  }
  Call abort;
  abort.op = Op::multipart;
  abort.method = "DELETE";
  abort.key = init.key;
  abort.query = {{"uploadId", upload_id}};
  auto aborted = co_await execute(abort, abort_deadline);
  if (!aborted || aborted.value.status >= 300) {
    log::warn("objstore", "could not abort multipart upload ", upload_id, " of ", key);
  }
  co_return failure;
}

}  // namespace floe::objstore
