// The one translation unit that compiles asio's non-template code (ASIO_SEPARATE_COMPILATION).
// Everything else includes only asio headers and links floe_asio.
#include <asio/impl/src.hpp>
