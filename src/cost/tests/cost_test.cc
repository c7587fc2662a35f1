// floe cost's pieces without a broker: the exposition reader, the price table and the estimate's arithmetic.
#include <gtest/gtest.h>

#include <iomanip>
#include <sstream>

#include "cost/estimate.h"
#include "cost/http_get.h"
#include "cost/prices.h"
#include "cost/prom_text.h"

namespace floe::cost {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

TEST(PromText, ParsesSamplesLabelsEscapesAndSkipsComments) {
  auto s = Scrape::parse(
      "# HELP floe_x_total x\n"
      "# TYPE floe_x_total counter\n"
      "floe_x_total{op=\"put\",note=\"a \\\"q\\\" \\\\ b\\nc\"} 12\n"
      "floe_x_total{op=\"get\"} 3 1700000000000\n"
      "\n"
      "floe_plain 2.5e3\r\n"
      "floe_h_bucket{le=\"+Inf\"} +Inf\n");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->samples().size(), 4u);
  EXPECT_EQ(s->samples()[0].labels.at("note"), "a \"q\" \\ b\nc");
  EXPECT_EQ(s->sum("floe_x_total"), 15);
  EXPECT_EQ(s->sum("floe_x_total", {{"op", "put"}}), 12);
  EXPECT_EQ(s->sum("floe_x_total", {{"op", "list"}}), std::nullopt);
  EXPECT_EQ(s->sum("floe_plain"), 2500);
  EXPECT_EQ(s->label_values("floe_x_total", "op"), (std::vector<std::string>{"get", "put"}));
}

TEST(PromText, MalformedLinesNameTheLine) {
  for (const char* bad : {"floe_x{op=\"put\" 1\n", "floe_x{op=put} 1\n", "floe_x one\n", "{a=\"b\"} 1\n",
                          "floe_x\n"}) {
    auto s = Scrape::parse(std::string("floe_ok 1\n") + bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_NE(s.error().message.find("line 2"), std::string::npos) << s.error().message;
  }
}

TEST(Prices, DefaultsAreTheListPricesAndFilesAndKeysOverride) {
  Prices p;
  EXPECT_DOUBLE_EQ(p.storage_per_gb_month, 0.023);
  EXPECT_DOUBLE_EQ(p.put_per_1000, 0.005);
  EXPECT_DOUBLE_EQ(p.get_per_1000, 0.0004);
  EXPECT_DOUBLE_EQ(p.cross_zone_per_gb, 0.01);
  EXPECT_NE(p.source.find("us-east-1"), std::string::npos);
  ASSERT_TRUE(apply_price_file("# a comment\n\ncompute_per_hour = 0.2  # c5\nsource = my quote\n", p));
  EXPECT_DOUBLE_EQ(p.compute_per_hour, 0.2);
  EXPECT_EQ(p.source, "my quote");
  auto st = apply_price_file("put_per_1000 = 1\nbogus = 2\n", p);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "line 2: unknown price 'bogus'");
  EXPECT_FALSE(p.set("get_per_1000", "-1"));
  EXPECT_FALSE(p.set("get_per_1000", "1x"));
  EXPECT_FALSE(p.set("hours_per_month", "0"));
  EXPECT_FALSE(apply_price_file("no equals sign\n", p));
}

std::string broker_metrics(double start, double puts, double lists, double gets, double deletes, double bytes_in,
                           double bytes_out, double stored, const std::string& zone, const std::string& cluster = "c1") {
  std::ostringstream os;
  os.precision(17);
  os << "floe_process_start_time_seconds " << start << "\n"
     << "floe_objstore_requests_total{op=\"put\"} " << puts << "\n"
     << "floe_objstore_requests_total{op=\"list\"} " << lists << "\n"
     << "floe_objstore_requests_total{op=\"get\"} " << gets << "\n"
     << "floe_objstore_requests_total{op=\"head\"} 0\n"
     << "floe_objstore_requests_total{op=\"delete\"} " << deletes << "\n"
     << "floe_topic_bytes_in_total{topic=\"a\"} " << bytes_in << "\n"
     << "floe_topic_bytes_out_total{topic=\"a\"} " << bytes_out << "\n"
     << "floe_objstore_stored_bytes " << stored << "\n"
     << "floe_broker_info{node_id=\"1\",cluster_id=\"" << cluster << "\",zone=\"" << zone << "\"} 1\n";
  return os.str();
}

TEST(Estimate, OneBrokerOverItsUptime) {
  // Up for one hour: 100 PUTs, 20 LISTs, 400 GETs, 7 DELETEs; 1 GiB in, 2 GiB out; 10 GiB stored.
  auto s = Scrape::parse(broker_metrics(1000, 100, 20, 400, 7, kGiB, 2 * kGiB, 10 * kGiB, ""));
  ASSERT_TRUE(s);
  auto f = figures_since_start("b1:9644", *s, 1000 + 3600);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_DOUBLE_EQ(f->window_seconds, 3600);
  Prices p;
  const Estimate e = estimate({*f}, p, std::nullopt);
  ASSERT_EQ(e.items.size(), 6u);
  EXPECT_DOUBLE_EQ(e.items[0].usd, 730 * 0.096);                         // compute: one broker all month
  EXPECT_DOUBLE_EQ(e.items[1].quantity, 10);                            // GB-month
  EXPECT_DOUBLE_EQ(e.items[1].usd, 10 * 0.023);
  EXPECT_DOUBLE_EQ(e.items[2].quantity, 120.0 * 730 / 1000);            // PUT class per 1,000 a month
  EXPECT_DOUBLE_EQ(e.items[2].usd, 120.0 * 730 / 1000 * 0.005);
  EXPECT_DOUBLE_EQ(e.items[3].usd, 400.0 * 730 / 1000 * 0.0004);
  EXPECT_DOUBLE_EQ(e.items[4].usd, 0);                                  // DELETE is free
  EXPECT_DOUBLE_EQ(e.items[5].usd, 0);  // no zone: no cross-zone share
  EXPECT_EQ(e.requests_in_windows.at(RequestClass::put), 120);
  EXPECT_EQ(e.requests_in_windows.at(RequestClass::get), 400);
  EXPECT_EQ(e.requests_in_windows.at(RequestClass::del), 7);
  double sum = 0;
  for (const auto& i : e.items) sum += i.usd;
  EXPECT_DOUBLE_EQ(e.total_usd, sum);
  std::ostringstream out;
  print_estimate(e, p, out);
  EXPECT_NE(out.str().find("PUT/COPY/POST/LIST 120, GET/HEAD 400, DELETE 7"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("aws.amazon.com/s3/pricing"), std::string::npos) << out.str();
}

TEST(Estimate, BrokersInThreeZonesShareStorageAndCrossZones) {
  Prices p;
  std::vector<BrokerFigures> brokers;
  for (const char* zone : {"a", "b", "c"}) {
    auto s = Scrape::parse(broker_metrics(0, 0, 0, 0, 0, 3 * kGiB, 0, 30 * kGiB, zone));
    ASSERT_TRUE(s);
    auto f = figures_since_start(std::string("b-") + zone, *s, 730 * 3600);  // up a whole month
    ASSERT_TRUE(f);
    brokers.push_back(*f);
  }
  const Estimate e = estimate(brokers, p, std::nullopt);
  EXPECT_DOUBLE_EQ(e.items[0].usd, 3 * 730 * 0.096);
  EXPECT_DOUBLE_EQ(e.items[1].quantity, 30);  // one cluster: the largest report, not the sum
  EXPECT_DOUBLE_EQ(e.cross_zone_fraction, 2.0 / 3);
  EXPECT_DOUBLE_EQ(e.items[5].quantity, 9 * 2.0 / 3);
  EXPECT_DOUBLE_EQ(e.items[5].usd, 6 * 2 * 0.01);
  const Estimate forced = estimate(brokers, p, 0.5);
  EXPECT_DOUBLE_EQ(forced.items[5].quantity, 4.5);
}

TEST(Estimate, TwoScrapesUseTheDifference) {
  auto a = Scrape::parse(broker_metrics(5, 10, 0, 10, 0, 100, 100, 0, ""));
  auto b = Scrape::parse(broker_metrics(5, 70, 0, 40, 0, 400, 100, 0, ""));
  ASSERT_TRUE(a && b);
  auto f = figures_between("b1", *a, *b, 60);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->requests_by_op.at("put"), 60);
  EXPECT_EQ(f->requests_by_op.at("get"), 30);
  EXPECT_EQ(f->client_bytes, 300);
  auto restarted = Scrape::parse(broker_metrics(6, 70, 0, 40, 0, 400, 100, 0, ""));
  ASSERT_TRUE(restarted);
  EXPECT_FALSE(figures_between("b1", *a, *restarted, 60));
  EXPECT_FALSE(figures_between("b1", *b, *a, 60));  // counters went down
  EXPECT_FALSE(figures_since_start("b1", *a, 4));    // start in the future
  auto no_floe = Scrape::parse("up 1\n");
  ASSERT_TRUE(no_floe);
  EXPECT_FALSE(figures_since_start("b1", *no_floe, 100));
}

TEST(HttpGet, BadTargetsAreErrorsNotHangs) {
  EXPECT_FALSE(http_get("no-port", "/metrics", std::chrono::milliseconds(500)));
  // Port 1 on loopback: nothing listens (connection refused).
  auto r = http_get("127.0.0.1:1", "/metrics", std::chrono::milliseconds(2000));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("127.0.0.1:1"), std::string::npos);
}

}  // namespace
}  // namespace floe::cost
