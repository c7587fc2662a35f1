// libFuzzer target over everything that decodes untrusted bytes: request framing and headers, every request and
// response of every API and version, and record batches (headers, CRC, decompression, records and headers).
//
// The first input byte picks the mode; the rest is the payload:
//   0  a stream of size-prefixed request frames, as a connection delivers them
//   1  one message body: bytes 1-2 api key, 3-4 version, 5 request/response, then the body
//   2  a records blob (batches), as in a produce request or fetch response
// Besides "no crash, no out-of-bounds read" it checks that whatever decodes re-encodes to bytes that decode and
// re-encode identically (a decoder and encoder that disagree would corrupt data passing through the broker).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/api_table.h"
#include "protocol/msg_dispatch.h"
#include "protocol/record/batch_view.h"
#include "protocol/record/record_set.h"
#include "protocol/request.h"

namespace {

using floe::proto::ByteSpan;
using floe::proto::Bytes;

constexpr size_t kMaxFrame = 1 << 20;

void check_stable(int16_t key, int16_t version, bool request, ByteSpan body) {
  Bytes once;
  if (!floe::proto::decode_any(key, version, request, body, &once)) return;
  Bytes twice;
  if (!floe::proto::decode_any(key, version, request, once, &twice) || twice != once) std::abort();
}

void frames(ByteSpan data) {
  for (int n = 0; n < 64 && data.size() >= 4; ++n) {
    uint32_t size = (uint32_t{data[0]} << 24) | (uint32_t{data[1]} << 16) | (uint32_t{data[2]} << 8) | data[3];
    data = data.subspan(4);
    if (size > kMaxFrame || size > data.size()) return;  // the server closes the connection here
    ByteSpan frame = data.first(size);
    data = data.subspan(size);
    floe::proto::RequestFrame f;
    if (floe::proto::parse_request_frame(frame, f) != floe::proto::FrameStatus::ok) continue;
    check_stable(f.header.request_api_key, f.header.request_api_version, true, f.body);
  }
}

void one_message(ByteSpan data) {
  if (data.size() < 5) return;
  auto apis = floe::proto::all_apis();
  const auto& api = apis[((size_t{data[0]} << 8) | data[1]) % apis.size()];
  int span = api.max_version - api.min_version + 1;
  auto version = static_cast<int16_t>(api.min_version + static_cast<int>(((data[2] << 8) | data[3]) % span));
  check_stable(api.key, version, (data[4] & 1) != 0, data.subspan(5));
}

void records(ByteSpan data) {
  floe::record::BatchSplitter split(data, floe::record::BatchSplitter::Tail::allow_partial);
  for (floe::record::BatchView batch; split.next(batch);) {
    (void)batch.verify_crc();
    floe::record::ValidateOptions opts;
    opts.check_crc = false;  // the fuzzer rarely gets a CRC right; still exercise the record parsing behind it
    opts.max_decompressed = 4 << 20;
    (void)floe::record::validate_batch(batch, opts);
    auto set = floe::record::RecordSet::open(batch, 4 << 20);
    if (!set) continue;
    auto reader = set->reader();
    size_t sum = 0;
    for (floe::record::RecordView r; reader.next(r);) {
      for (const auto& h : r.headers()) sum += h.key.size() + (h.value ? h.value->size() : 0);
    }
    if (sum == SIZE_MAX) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  ByteSpan payload(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: frames(payload); break;
    case 1: one_message(payload); break;
    case 2: records(payload); break;
  }
  return 0;
}
