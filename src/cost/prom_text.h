// A reader of the Prometheus text exposition format 0.0.4 (what /metrics serves), for tools that compute from a
// broker's counters (floe cost). Comments and HELP/TYPE lines are skipped; samples keep their labels.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace floe::cost {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

class Scrape {
 public:
  // Parses the whole text; the first malformed sample line is an error naming its line number.
  static Result<Scrape> parse(std::string_view text);

  const std::vector<Sample>& samples() const { return samples_; }
  // Sum of the samples named `name` whose labels include every pair of `match`; nullopt when none matched.
  std::optional<double> sum(std::string_view name, const std::map<std::string, std::string>& match = {}) const;
  // Distinct values of label `label` among the samples named `name`.
  std::vector<std::string> label_values(std::string_view name, std::string_view label) const;

 private:
  std::vector<Sample> samples_;
};

}  // namespace floe::cost
