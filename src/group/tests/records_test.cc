#include "group/records.h"

#include <gtest/gtest.h>

namespace floe::group {
namespace {

GroupMetadataValue sample_metadata() {
  GroupMetadataValue v;
  v.protocol_type = "consumer";
  v.generation = 7;
  v.protocol = "range";
  v.leader = "m1";
  v.state_ts = 123456;
  v.members.push_back({"m1", std::nullopt, "c1", "/127.0.0.1", 60000, 10000, {1, 2, 3}, {4, 5}});
  v.members.push_back({"m2", std::string("i2"), "c2", "/10.0.0.2", 30000, 6000, {}, {9}});
  return v;
}

TEST(GroupRecords, ValuesRoundTrip) {
  OffsetValue o{42, 3, std::string("meta"), 1000, 2000};
  EXPECT_EQ(decode_offset_value(encode(o)), o);
  OffsetValue null_meta{7, -1, std::nullopt, 5, -1};
  EXPECT_EQ(decode_offset_value(encode(null_meta)), null_meta);
  EXPECT_EQ(decode_group_metadata(encode(sample_metadata())), sample_metadata());
}

TEST(GroupRecords, KeysDecode) {
  auto k = decode_key(offset_commit_key("g", "t", 5));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->type, KeyType::offset_commit);
  EXPECT_EQ(k->group, "g");
  EXPECT_EQ(k->topic, "t");
  EXPECT_EQ(k->partition, 5);
  k = decode_key(group_metadata_key("grp"));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->type, KeyType::group_metadata);
  EXPECT_EQ(k->group, "grp");
  EXPECT_FALSE(decode_key(Bytes{0, 9}));  // unknown type
  Bytes truncated = group_metadata_key("grp");
  truncated.pop_back();
  EXPECT_FALSE(decode_key(truncated));
}

TEST(GroupRecords, ReplayAppliesCommitsTombstonesAndSnapshots) {
  DurableState s;
  EXPECT_TRUE(apply(s, {offset_commit_key("g", "t", 0), encode(OffsetValue{10, -1, "", 1, -1})}));
  EXPECT_TRUE(apply(s, {offset_commit_key("g", "t", 1), encode(OffsetValue{11, -1, "", 1, -1})}));
  EXPECT_TRUE(apply(s, {group_metadata_key("g"), encode(sample_metadata())}));
  EXPECT_EQ(s.at("g").offsets.size(), 2u);
  EXPECT_TRUE(apply(s, {offset_commit_key("g", "t", 0), std::nullopt}));
  EXPECT_EQ(s.at("g").offsets.size(), 1u);

  DurableState copy = s;
  Bytes snap = encode_snapshot(s);
  EXPECT_EQ(decode_snapshot(snap), copy);

  DurableState other;
  EXPECT_TRUE(apply(other, {offset_commit_key("x", "t", 0), encode(OffsetValue{1, -1, "", 1, -1})}));
  EXPECT_TRUE(apply(other, {snapshot_key(), snap}));  // a snapshot replaces everything before it
  EXPECT_EQ(other, copy);

  EXPECT_TRUE(apply(other, {group_metadata_key("g"), std::nullopt}));
  EXPECT_TRUE(other.at("g").offsets.size() == 1 && !other.at("g").metadata);
  EXPECT_TRUE(apply(other, {offset_commit_key("g", "t", 1), std::nullopt}));
  EXPECT_TRUE(other.empty());

  EXPECT_FALSE(apply(other, {group_metadata_key("g"), Bytes{0, 1, 2}}));  // corrupt value
}

}  // namespace
}  // namespace floe::group
