#include <gtest/gtest.h>

#include <random>

#include "meta/json.h"

namespace floe::meta::json {
namespace {

TEST(Json, ReadsAnEtcdRangeAnswer) {
  auto v = parse(R"({"header":{"cluster_id":"151","revision":"2"},"kvs":[{"key":"Zm9v","create_revision":"2",)"
                 R"("mod_revision":"2","version":"1","value":"YmFy"}],"count":"1","more":false, "x": [1, -2.5e3, null, "\u00e9\ud83d\ude00"]})");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(get_int64(*v->find("header"), "revision"), 2);
  const auto& kv = v->find("kvs")->items().at(0);
  EXPECT_EQ(get_bytes(kv, "key"), "foo");
  EXPECT_EQ(get_bytes(kv, "value"), "bar");
  EXPECT_EQ(get_int64(kv, "lease"), 0);  // omitted default
  EXPECT_EQ(get_bool(*v, "more"), false);
  const auto& x = v->find("x")->items();
  EXPECT_EQ(x[0].as_int64(), 1);
  EXPECT_FALSE(x[1].as_int64().has_value());
  EXPECT_EQ(*x[3].as_string(), "\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_FALSE(get_int64(kv, "key").has_value());  // wrong type is an error, not 0
}

TEST(Json, RejectsMalformedInput) {
  for (const char* bad : {"", "{", "{\"a\"}", "{\"a\":}", "[1,]", "[1 2]", "\"\\x\"", "\"\\ud800\"", "01x", "tru",
                          "{\"a\":1}}", "\"a\nb\"", "-", "1.", "1e", "{\"a\":1,}"}) {
    EXPECT_FALSE(parse(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parse(std::string(100, '[') + std::string(100, ']')).has_value());  // deeper than the bound
  EXPECT_TRUE(parse(std::string(10, '[') + std::string(10, ']')).has_value());
}

TEST(Json, SurvivesRandomBytesAndTruncations) {
  const std::string doc = R"({"result":{"events":[{"type":"DELETE","kv":{"key":"YQ==","mod_revision":"7"}}]}})";
  for (size_t n = 0; n < doc.size(); ++n) EXPECT_FALSE(parse(doc.substr(0, n)).has_value());
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string s = doc;
    for (int k = 0; k < 3; ++k) s[rng() % s.size()] = static_cast<char>(rng() & 0xff);
    (void)parse(s);  // must not crash or hang (run under sanitizers in CI)
  }
}

TEST(Json, Base64RoundTripsAndRejectsGarbage) {
  std::mt19937 rng(7);
  for (size_t n = 0; n < 64; ++n) {
    std::string raw;
    for (size_t i = 0; i < n; ++i) raw.push_back(static_cast<char>(rng() & 0xff));
    auto enc = base64_encode(raw);
    EXPECT_EQ(enc.size() % 4, 0u);
    EXPECT_EQ(base64_decode(enc), raw);
  }
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  for (const char* bad : {"Zm9", "Zm=v", "Z===", "Zm9v!A==", "=AAA"}) EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

TEST(Json, WriterEscapesAndSkipsDefaults) {
  Writer w;
  w.begin_object().member_bytes("key", "foo").member_int64("lease", 0).member_bool("prev_kv", false);
  w.key("s").string("a\"b\\\n").key("n").int64(-5).key("arr").begin_array().int64(1).boolean(true).end_array();
  w.end_object();
  EXPECT_EQ(w.str(), R"({"key":"Zm9v","s":"a\"b\\\u000a","n":"-5","arr":["1",true]})");
  auto back = parse(w.str());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back->find("s")->as_string(), "a\"b\\\n");
}

}  // namespace
}  // namespace floe::meta::json
