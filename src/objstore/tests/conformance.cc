#include "objstore/tests/conformance.h"

#include <algorithm>
#include <set>


namespace floe::objstore::testing {
namespace {

std::string pattern(std::size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

TEST_P(Conformance, PutGetHeadRemove) {
  ObjectStore& s = *store_;
  const std::string data = pattern(1000, 1);
  auto put = loop_.run(s.put("a/b/c.bin", data, in(10s)));
  ASSERT_TRUE(put) << put.error.message();
  EXPECT_TRUE(put.value.created);
  auto got = loop_.run(s.get("a/b/c.bin", std::nullopt, in(10s)));
  ASSERT_TRUE(got) << got.error.message();
  EXPECT_TRUE(got.value == data);
  auto head = loop_.run(s.head("a/b/c.bin", in(10s)));
  ASSERT_TRUE(head) << head.error.message();
  EXPECT_EQ(head.value.size, 1000u);
  EXPECT_FALSE(head.value.etag.empty());
  // Overwrite replaces.
  ASSERT_TRUE(loop_.run(s.put("a/b/c.bin", "short", in(10s))));
  EXPECT_EQ(loop_.run(s.get("a/b/c.bin", std::nullopt, in(10s))).value, "short");
  // An object and a "directory" of the same name coexist, as on S3.
  ASSERT_TRUE(loop_.run(s.put("a/b", "object a/b", in(10s))));
  EXPECT_EQ(loop_.run(s.get("a/b", std::nullopt, in(10s))).value, "object a/b");
  EXPECT_EQ(loop_.run(s.get("a/b/c.bin", std::nullopt, in(10s))).value, "short");
  // Empty objects.
  ASSERT_TRUE(loop_.run(s.put("empty", "", in(10s))));
  auto empty = loop_.run(s.get("empty", std::nullopt, in(10s)));
  ASSERT_TRUE(empty) << empty.error.message();
  EXPECT_EQ(empty.value, "");
  EXPECT_EQ(loop_.run(s.head("empty", in(10s))).value.size, 0u);
  // Remove; missing keys.
  EXPECT_FALSE(loop_.run(s.remove("a/b/c.bin", in(10s))));
  EXPECT_EQ(loop_.run(s.get("a/b/c.bin", std::nullopt, in(10s))).error, Errc::not_found);
  EXPECT_EQ(loop_.run(s.head("a/b/c.bin", in(10s))).error, Errc::not_found);
  EXPECT_FALSE(loop_.run(s.remove("a/b/c.bin", in(10s))));  // missing: still success
  EXPECT_EQ(loop_.run(s.get("a/b", std::nullopt, in(10s))).value, "object a/b");
}

TEST_P(Conformance, PutIfAbsentOnExistingKeyGivesAlreadyExists) {
  ObjectStore& s = *store_;
  auto first = loop_.run(s.put_if_absent("wal/1/7/00000001", "mine", in(10s)));
  ASSERT_TRUE(first) << first.error.message();
  EXPECT_TRUE(first.value.created);
  auto second = loop_.run(s.put_if_absent("wal/1/7/00000001", "theirs", in(10s)));
  ASSERT_TRUE(second) << second.error.message();
  EXPECT_FALSE(second.value.created);
  EXPECT_FALSE(second.value.ambiguous);
  EXPECT_EQ(loop_.run(s.get("wal/1/7/00000001", std::nullopt, in(10s))).value, "mine");
  // After a delete the key is free again.
  ASSERT_FALSE(loop_.run(s.remove("wal/1/7/00000001", in(10s))));
  auto third = loop_.run(s.put_if_absent("wal/1/7/00000001", "again", in(10s)));
  ASSERT_TRUE(third) << third.error.message();
  EXPECT_TRUE(third.value.created);
}

// An object given as pieces (the uploader's blocks by reference): small, and large enough for file://'s O_DIRECT path
// with pieces of unaligned sizes crossing its bounce-buffer chunks; put_if_absent's answers.
TEST_P(Conformance, PutIfAbsentPiecesWritesTheirConcatenation) {
  ObjectStore& s = *store_;
  for (size_t scale : {size_t{1}, size_t{40000}}) {
    std::vector<std::string> owned;
    std::string expected;
    for (size_t i = 0; i < 7; ++i) {
      std::string piece(i == 3 ? 0 : scale * (i + 1) + 13 * i, '\0');
      for (size_t j = 0; j < piece.size(); ++j) piece[j] = static_cast<char>(j * 7 + i);
      expected += piece;
      owned.push_back(std::move(piece));
    }
    const std::string key = "data/pieces-" + std::to_string(scale);
    std::vector<std::string_view> pieces(owned.begin(), owned.end());
    auto put = loop_.run(s.put_if_absent_pieces(key, pieces, in(30s)));
    ASSERT_TRUE(put) << put.error.message();
    EXPECT_TRUE(put.value.created);
    auto got = loop_.run(s.get(key, std::nullopt, in(30s)));
    ASSERT_TRUE(got) << got.error.message();
    EXPECT_EQ(got.value.size(), expected.size());
    EXPECT_TRUE(got.value == expected) << scale;
    auto again = loop_.run(s.put_if_absent_pieces(key, pieces, in(30s)));
    ASSERT_TRUE(again) << again.error.message();
    EXPECT_FALSE(again.value.created);
  }
}

TEST_P(Conformance, SelfTestReportsConditionalPutEnforced) {
  auto r = loop_.run(enforces_conditional_put(*store_, in(10s)));
  ASSERT_TRUE(r) << r.error.message();
  EXPECT_TRUE(r.value);
  auto page = loop_.run(store_->list("", "", 1000, in(10s)));
  ASSERT_TRUE(page) << page.error.message();
  EXPECT_TRUE(page.value.objects.empty()) << "the probe must be deleted";
}

TEST_P(Conformance, RangedReadsAtTheEdges) {
  ObjectStore& s = *store_;
  const std::string data = pattern(100, 2);
  ASSERT_TRUE(loop_.run(s.put("r", data, in(10s))));
  auto range = [&](uint64_t offset, std::optional<uint64_t> length) {
    return loop_.run(s.get("r", ByteRange{offset, length}, in(10s)));
  };
  EXPECT_EQ(range(0, 1).value, data.substr(0, 1));
  EXPECT_EQ(range(99, 1).value, data.substr(99, 1));
  EXPECT_EQ(range(99, std::nullopt).value, data.substr(99));
  EXPECT_EQ(range(0, std::nullopt).value, data);
  EXPECT_EQ(range(0, 100).value, data);
  EXPECT_EQ(range(50, 1000).value, data.substr(50));  // clipped to the end
  EXPECT_EQ(range(10, 20).value, data.substr(10, 20));
  EXPECT_EQ(range(100, 1).error, Errc::invalid_range);
  EXPECT_EQ(range(100, std::nullopt).error, Errc::invalid_range);
  EXPECT_EQ(range(5000, 1).error, Errc::invalid_range);
  EXPECT_EQ(range(0, 0).error, Errc::invalid_argument);
  EXPECT_EQ(loop_.run(s.get("missing", ByteRange{0, 1}, in(10s))).error, Errc::not_found);
}

TEST_P(Conformance, DelimiterListingRollsUpSubdirectoriesAcrossPages) {
  ObjectStore& s = *store_;
  for (const char* key : {"d/a", "d/b/1", "d/b/2", "d/c/x/y", "d/e", "d/f/1", "d/f/2/3", "d0", "e/z"}) {
    ASSERT_TRUE(loop_.run(s.put(key, key, in(10s))));
  }
  // Two items a page: objects and common prefixes interleave in key order and count together.
  std::vector<std::string> items;
  std::string token;
  int pages = 0;
  for (; pages < 10; ++pages) {
    auto page = loop_.run(s.list_delimited("d/", "/", token, 2, in(10s)));
    ASSERT_TRUE(page) << page.error.message();
    EXPECT_LE(page.value.objects.size() + page.value.common_prefixes.size(), 2u);
    std::vector<std::string> here;
    for (auto& o : page.value.objects) here.push_back(o.key);
    for (auto& p : page.value.common_prefixes) here.push_back(p);
    std::sort(here.begin(), here.end());
    items.insert(items.end(), here.begin(), here.end());
    token = page.value.next;
    if (token.empty()) break;
  }
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(items, (std::vector<std::string>{"d/a", "d/b/", "d/c/", "d/e", "d/f/"}));
  // One page for everything; a prefix that ends inside a segment; another delimiter.
  auto all = loop_.run(s.list_delimited("d", "/", "", 1000, in(10s)));
  ASSERT_TRUE(all);
  ASSERT_EQ(all.value.objects.size(), 1u);
  EXPECT_EQ(all.value.objects[0].key, "d0");
  EXPECT_EQ(all.value.common_prefixes, (std::vector<std::string>{"d/"}));
  EXPECT_TRUE(all.value.next.empty());
  auto by_f = loop_.run(s.list_delimited("d/f", "/2", "", 1000, in(10s)));
  ASSERT_TRUE(by_f);
  ASSERT_EQ(by_f.value.objects.size(), 1u);
  EXPECT_EQ(by_f.value.objects[0].key, "d/f/1");
  EXPECT_EQ(by_f.value.common_prefixes, (std::vector<std::string>{"d/f/2"}));
  EXPECT_EQ(loop_.run(s.list_delimited("d/", "", "", 10, in(10s))).error, Errc::invalid_argument);
}

TEST_P(Conformance, ThousandKeysListedAcrossPages) {
  ObjectStore& s = *store_;
  constexpr int kKeys = 1000;
  // Written 25 at a time, out of order.
  for (int base = 0; base < kKeys; base += 25) {
    std::vector<std::future<Result<PutInfo>>> batch;
    for (int i = base; i < base + 25; ++i) {
      char key[64];
      std::snprintf(key, sizeof key, "list/k%05d", (i * 7919) % kKeys);
      batch.push_back(asio::co_spawn(loop_.io(), s.put(key, std::to_string(i), in(30s)), asio::use_future));
    }
    for (auto& f : batch) {
      ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
      auto r = f.get();
      ASSERT_TRUE(r) << r.error.message();
    }
  }
  ASSERT_TRUE(loop_.run(s.put("lisp", "outside the prefix", in(10s))));
  ASSERT_TRUE(loop_.run(s.put("other/k00001", "outside the prefix", in(10s))));

  std::vector<std::string> keys;
  std::string token;
  int pages = 0;
  for (; pages < 20; ++pages) {
    auto page = loop_.run(s.list("list/", token, 300, in(10s)));
    ASSERT_TRUE(page) << page.error.message();
    EXPECT_LE(page.value.objects.size(), 300u);
    for (auto& o : page.value.objects) keys.push_back(o.key);
    token = page.value.next;
    if (token.empty()) break;
  }
  EXPECT_GE(pages, 3);
  ASSERT_EQ(keys.size(), static_cast<std::size_t>(kKeys));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());
  EXPECT_EQ(keys.front(), "list/k00000");
  EXPECT_EQ(keys.back(), "list/k00999");
  // A prefix that ends inside a segment.
  auto partial = loop_.run(s.list("list/k0099", "", 1000, in(10s)));
  ASSERT_TRUE(partial);
  ASSERT_EQ(partial.value.objects.size(), 10u);
  EXPECT_EQ(partial.value.objects[0].key, "list/k00990");
  EXPECT_EQ(partial.value.objects[0].size, loop_.run(s.head("list/k00990", in(10s))).value.size);
  auto lis = loop_.run(s.list("lis", "", 1000, in(10s)));
  ASSERT_TRUE(lis);
  EXPECT_EQ(lis.value.objects.size(), 1000u);
  EXPECT_EQ(lis.value.objects[0].key, "lisp");  // 'p' sorts before 't'
  ASSERT_FALSE(lis.value.next.empty());
  auto lis2 = loop_.run(s.list("lis", lis.value.next, 1000, in(10s)));
  ASSERT_TRUE(lis2);
  ASSERT_EQ(lis2.value.objects.size(), 1u);
  EXPECT_EQ(lis2.value.objects[0].key, "list/k00999");
  EXPECT_TRUE(lis2.value.next.empty());
  EXPECT_EQ(loop_.run(s.list("nothing/", "", 10, in(10s))).value.objects.size(), 0u);
}

TEST_P(Conformance, BatchDeleteOfExistingAndMissingKeys) {
  ObjectStore& s = *store_;
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) {
    keys.push_back("del/" + std::to_string(i));
    if (i % 4 != 3) {  // every 4th is missing
      ASSERT_TRUE(loop_.run(s.put(keys.back(), "x", in(10s))));
    }
  }
  ASSERT_TRUE(loop_.run(s.put("keep/1", "x", in(10s))));
  auto r = loop_.run(s.remove_many(keys, in(10s)));
  ASSERT_TRUE(r) << r.error.message();
  EXPECT_TRUE(r.value.empty());
  auto page = loop_.run(s.list("", "", 1000, in(10s)));
  ASSERT_TRUE(page);
  ASSERT_EQ(page.value.objects.size(), 1u);
  EXPECT_EQ(page.value.objects[0].key, "keep/1");
  auto bad = loop_.run(s.remove_many({"ok-missing", "/bad"}, in(10s)));
  ASSERT_TRUE(bad);
  ASSERT_EQ(bad.value.size(), 1u);
  EXPECT_EQ(bad.value[0].key, "/bad");
  EXPECT_EQ(bad.value[0].error, Errc::invalid_argument);
}

TEST_P(Conformance, FiftyMiBUploadReadsBackByteIdentical) {
  ObjectStore& s = *store_;
  const std::string data = pattern(50u << 20, 3);
  auto put = loop_.run(s.put("big/50m", data, in(60s)));
  ASSERT_TRUE(put) << put.error.message();
  auto head = loop_.run(s.head("big/50m", in(10s)));
  ASSERT_TRUE(head);
  EXPECT_EQ(head.value.size, data.size());
  auto got = loop_.run(s.get("big/50m", std::nullopt, in(60s)));
  ASSERT_TRUE(got) << got.error.message();
  ASSERT_EQ(got.value.size(), data.size());
  EXPECT_TRUE(got.value == data);
  auto tail = loop_.run(s.get("big/50m", ByteRange{(50u << 20) - 10, 100}, in(10s)));
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail.value, data.substr(data.size() - 10));
}

// Sizes around the file store's O_DIRECT threshold and block alignment: the aligned bulk goes direct, the tail
// buffered; put_if_absent takes the same path.
TEST_P(Conformance, ObjectsOfUnalignedSizesReadBackByteIdentical) {
  ObjectStore& s = *store_;
  for (size_t size : {size_t{(256u << 10) - 1}, size_t{256u << 10}, size_t{(1u << 20) + 4097}, size_t{(3u << 20) + 5}}) {
    const std::string key = "sizes/" + std::to_string(size);
    const std::string data = pattern(size, static_cast<uint32_t>(size % 7));
    auto put = loop_.run(s.put_if_absent(key, data, in(60s)));
    ASSERT_TRUE(put) << put.error.message();
    EXPECT_TRUE(put.value.created);
    auto got = loop_.run(s.get(key, std::nullopt, in(60s)));
    ASSERT_TRUE(got) << got.error.message();
    EXPECT_TRUE(got.value == data) << size;
  }
}

TEST_P(Conformance, InvalidKeysAreRejected) {
  for (const char* key : {"", "/abs", "a//b", "a/./b", "../x", "a\\b", "tab\tkey"}) {
    EXPECT_EQ(loop_.run(store_->put(key, "x", in(10s))).error, Errc::invalid_argument) << key;
  }
  EXPECT_EQ(loop_.run(store_->list("", "", 0, in(10s))).error, Errc::invalid_argument);
}

TEST_P(Conformance, DeadlineInThePastTimesOut) {
  auto r = loop_.run(store_->put("late", "x", std::chrono::steady_clock::now() - 1ms));
  EXPECT_EQ(r.error, Errc::timed_out);
}

TEST_P(Conformance, AccountingCountsRequestsAndBytes) {
  ObjectStore& s = *store_;
  const StatsSnapshot before = s.stats();  // set-up (e.g. creating the bucket) may have counted already
  ASSERT_TRUE(loop_.run(s.put("acct", std::string(4096, 'a'), in(10s))));
  ASSERT_TRUE(loop_.run(s.get("acct", std::nullopt, in(10s))));
  EXPECT_EQ(loop_.run(s.get("acct-missing", std::nullopt, in(10s))).error, Errc::not_found);
  const StatsSnapshot st = s.stats();
  EXPECT_EQ(st[Op::put].requests - before[Op::put].requests, 1u);
  EXPECT_EQ(st[Op::put].bytes_sent - before[Op::put].bytes_sent, 4096u);
  EXPECT_EQ(st[Op::get].requests - before[Op::get].requests, 2u);
  EXPECT_GE(st[Op::get].bytes_received - before[Op::get].bytes_received, 4096u);
  EXPECT_EQ(st[Op::get].errors - before[Op::get].errors, 1u);
  EXPECT_GT(st[Op::get].latency_quantile_us(0.5), 0u);
}

}  // namespace
}  // namespace floe::objstore::testing
