#include "group/java_hash.h"

#include <gtest/gtest.h>

namespace floe::group {
namespace {

// Expected values worked out from Java's definition s[0]*31^(n-1) + ... + s[n-1] (32-bit wrap-around).
TEST(JavaHash, MatchesJavaStringHashCode) {
  EXPECT_EQ(java_string_hash(""), 0);
  EXPECT_EQ(java_string_hash("a"), 97);
  EXPECT_EQ(java_string_hash("ab"), 97 * 31 + 98);              // 3105
  EXPECT_EQ(java_string_hash("abc"), (97 * 31 + 98) * 31 + 99);  // 96354
  EXPECT_EQ(java_string_hash("hello"), 99162322);
  // "polygenelubricants" is the classic string whose hashCode is Integer.MIN_VALUE.
  EXPECT_EQ(java_string_hash("polygenelubricants"), INT32_MIN);
  // A string long enough to overflow many times (value from the definition, mod 2^32, as a signed int).
  EXPECT_EQ(java_string_hash("my-consumer-group"), 1513705513);
}

TEST(JavaHash, CountsUtf16CodeUnits) {
  EXPECT_EQ(java_string_hash("\xC3\xA9"), 0xE9);  // U+00E9: one code unit
  // U+1F600 is the surrogate pair D83D DE00: 0xD83D * 31 + 0xDE00.
  EXPECT_EQ(java_string_hash("\xF0\x9F\x98\x80"), 0xD83D * 31 + 0xDE00);
  EXPECT_EQ(java_string_hash("\xFF"), 0xFFFD);  // invalid UTF-8: the replacement character
}

TEST(JavaHash, PartitionIsAbsModuloWithMinValueAsZero) {
  EXPECT_EQ(coordinator_partition("polygenelubricants", 50), 0);
  EXPECT_EQ(coordinator_partition("hello", 50), 99162322 % 50);
  EXPECT_EQ(coordinator_partition("my-consumer-group", 50), 1513705513 % 50);
  EXPECT_EQ(coordinator_partition("abc", 7), 96354 % 7);
}

}  // namespace
}  // namespace floe::group
