#include "kafka/init_producer_id.h"

#include "base/log.h"
#include "kafka/errors.h"
#include "kafka/services.h"
#include "producer/producer_id_allocator.h"

namespace floe::kafka {

asio::awaitable<proto::InitProducerIdResponse> handle_init_producer_id(RequestContext& ctx,
                                                                       proto::InitProducerIdRequest& req) {
  proto::InitProducerIdResponse resp;
  resp.producer_id = -1;
  resp.producer_epoch = -1;
  if (!ctx.services) {
    resp.error_code = code(Errc::coordinator_not_available);
    co_return resp;
  }
  if (req.transactional_id) {
    log::warn("kafka", "InitProducerId for transactional id ", *req.transactional_id,
              " refused: transactions are not supported yet");
    resp.error_code = code(Errc::transactional_id_authorization_failed);
    co_return resp;
  }
  auto answer = co_await ctx.services->producer_ids.init_idempotent(req.producer_id, req.producer_epoch);
  resp.error_code = answer.error_code;
  resp.producer_id = answer.id.producer_id;
  resp.producer_epoch = answer.id.epoch;
  co_return resp;
}

}  // namespace floe::kafka
