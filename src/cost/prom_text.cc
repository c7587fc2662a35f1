#include "cost/prom_text.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

namespace floe::cost {
namespace {

bool name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

// Reads a metric or label name at `s[i]`; empty when there is none.
std::string read_name(std::string_view s, std::size_t& i) {
  const std::size_t start = i;
  while (i < s.size() && name_char(s[i], i == start)) ++i;
  return std::string(s.substr(start, i - start));
}

bool parse_value(std::string_view text, double& out) {
  if (text == "+Inf" || text == "Inf") {
    out = HUGE_VAL;
    return true;
  }
  if (text == "-Inf") {
    out = -HUGE_VAL;
    return true;
  }
  if (text == "NaN") {
    out = std::nan("");
    return true;
  }
  const std::string copy(text);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size();
}

// `name{a="x",b="y"} value [timestamp]` -> sample; false when malformed.
bool parse_line(std::string_view line, Sample& out) {
  std::size_t i = 0;
  out.name = read_name(line, i);
  if (out.name.empty()) return false;
  if (i < line.size() && line[i] == '{') {
    ++i;
    for (;;) {
      while (i < line.size() && line[i] == ' ') ++i;
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      std::string label = read_name(line, i);
      if (label.empty() || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return false;
      i += 2;
      std::string value;
      for (;; ++i) {
        if (i >= line.size()) return false;
        if (line[i] == '"') break;
        if (line[i] == '\\') {
          if (++i >= line.size()) return false;
          value += line[i] == 'n' ? '\n' : line[i];
        } else {
          value += line[i];
        }
      }
      ++i;  // the closing quote
      out.labels[label] = std::move(value);
      if (i < line.size() && line[i] == ',') ++i;
      else if (i >= line.size() || line[i] != '}') return false;
    }
  }
  if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) return false;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  std::size_t end = i;
  while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
  return parse_value(line.substr(i, end - i), out.value);  // a timestamp after it is ignored
}

}  // namespace

Result<Scrape> Scrape::parse(std::string_view text) {
  Scrape scrape;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    Sample s;
    if (!parse_line(line.substr(first), s)) {
      return Error{std::make_error_code(std::errc::bad_message),
                   "line " + std::to_string(line_no) + " is not a sample: " + std::string(line.substr(0, 120))};
    }
    scrape.samples_.push_back(std::move(s));
  }
  return scrape;
}

std::optional<double> Scrape::sum(std::string_view name, const std::map<std::string, std::string>& match) const {
  std::optional<double> total;
  for (const Sample& s : samples_) {
    if (s.name != name) continue;
    const bool matches = std::all_of(match.begin(), match.end(), [&](const auto& kv) {
      auto it = s.labels.find(kv.first);
      return it != s.labels.end() && it->second == kv.second;
    });
    if (matches) total = total.value_or(0) + s.value;
  }
  return total;
}

std::vector<std::string> Scrape::label_values(std::string_view name, std::string_view label) const {
  std::set<std::string> values;
  for (const Sample& s : samples_) {
    if (s.name != name) continue;
    if (auto it = s.labels.find(std::string(label)); it != s.labels.end()) values.insert(it->second);
  }
  return {values.begin(), values.end()};
}

}  // namespace floe::cost
