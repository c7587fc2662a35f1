// Opening an object store from its URL: file:///absolute/path or s3://BUCKET[/PREFIX]?endpoint=...
#pragma once

#include <memory>
#include <string_view>

#include <asio/any_io_executor.hpp>

#include "objstore/object_store.h"

namespace floe::objstore {

// The executor is the one S3 requests run on (unused by file://). Errors are logged with the reason.
Result<std::shared_ptr<ObjectStore>> open_store(std::string_view url, asio::any_io_executor executor);

}  // namespace floe::objstore
