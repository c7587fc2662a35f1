// Aligned text tables for the admin CLI: a header row and rows of cells, columns padded to their widest cell,
// two spaces apart, no trailing blanks.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace floe::admincli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size() - 1; }  // rows below the header
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace floe::admincli
