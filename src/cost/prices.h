// The price table of `floe cost`: what one unit of each billed thing costs, in USD. The defaults are public list
// prices (source in kDefaultPriceSource); a price file and command-line flags override them.
//
// Price file: one `key = value` per line, `#` starts a comment, blank lines ignored. Keys (values in USD unless
// said otherwise):
//   compute_per_hour        one broker's instance, per hour
//   storage_per_gb_month    object storage, per GB (2^30 bytes) stored for a month
//   put_per_1000            object-store PUT, COPY, POST and LIST requests, per 1,000
//   get_per_1000            object-store GET and HEAD (and other read) requests, per 1,000
//   delete_per_1000         object-store DELETE requests, per 1,000 (free on S3)
//   cross_zone_per_gb       data crossing availability zones, per GB (2^30 bytes) and direction: charged once on
//                           the sending side and once on the receiving side, so one GB crossing costs twice this
//   hours_per_month         hours in the month the estimate is for
//   source                  free text naming where the prices come from (printed with the estimate)
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace floe::cost {

inline constexpr std::string_view kDefaultPriceSource =
    "AWS us-east-1 on-demand list prices: EC2 m6i.large $0.096/h; S3 Standard $0.023/GB-month, "
    "PUT/COPY/POST/LIST $0.005 per 1,000, GET/HEAD $0.0004 per 1,000, DELETE free; "
    "inter-AZ data transfer $0.01/GB in each direction (aws.amazon.com/ec2/pricing/on-demand, "
    "aws.amazon.com/s3/pricing)";

struct Prices {
  double compute_per_hour = 0.096;     // EC2 m6i.large (2 vCPU, 8 GiB), Linux on-demand, us-east-1
  double storage_per_gb_month = 0.023; // S3 Standard, first 50 TB
  double put_per_1000 = 0.005;
  double get_per_1000 = 0.0004;
  double delete_per_1000 = 0.0;
  double cross_zone_per_gb = 0.01;
  double hours_per_month = 730;
  std::string source = std::string(kDefaultPriceSource);

  // Sets one key (as in the price file); errors name the key.
  Status set(std::string_view key, std::string_view value);
};

// Applies a price file's contents over `prices`; errors name the line.
Status apply_price_file(std::string_view text, Prices& prices);

}  // namespace floe::cost
