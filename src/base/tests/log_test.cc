#include "base/log.h"

#include <gtest/gtest.h>

#include <string>

namespace floe::log {
namespace {

TEST(LogFormat, OneLineWithTimestampLevelAndComponent) {
  // 2026-11-27T16:45:16.123Z
  EXPECT_EQ(format_line(Level::warn, "net", "slow client", 1795797916123LL),
            "2026-11-27T16:45:16.123Z WARN net: slow client\n");
}

TEST(LogFormat, ControlBytesInAMessageAreEscapedSoAnEventStaysOneLine) {
  std::string line = format_line(Level::info, "kafka", std::string("client id a\nb\r\tc\\d\x01\x7f"), 0);
  EXPECT_EQ(line, "1970-01-01T00:00:00.000Z INFO kafka: client id a\\nb\\r\\tc\\\\d\\x01\\x7f\n");
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(LogFormat, Utf8AndPrintableBytesPassUnchanged) {
  EXPECT_EQ(format_line(Level::error, "app", "caf\xc3\xa9 {\"k\":1}", 0),
            "1970-01-01T00:00:00.000Z ERROR app: caf\xc3\xa9 {\"k\":1}\n");
}

TEST(LogLevel, ParsesNamesInEitherCase) {
  Level l = Level::info;
  EXPECT_TRUE(parse_level("debug", l));
  EXPECT_EQ(l, Level::debug);
  EXPECT_TRUE(parse_level("WARN", l));
  EXPECT_EQ(l, Level::warn);
  EXPECT_FALSE(parse_level("verbose", l));
}

}  // namespace
}  // namespace floe::log
