// A small JSON reader and writer for the etcd v3 gateway (etcd_store.cc): objects, arrays, strings, numbers, true,
// false, null. Hostile-input safe: depth and size bounded, every error is a value. Numbers are kept as their text
// (etcd sends int64 as strings anyway; as_int64() reads both forms). Also base64 (standard alphabet, padded).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace floe::meta::json {

class Value {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  Kind kind() const { return kind_; }
  bool is_object() const { return kind_ == Kind::object; }
  bool is_array() const { return kind_ == Kind::array; }

  // Member of an object (first match), or nullptr (also when this is not an object).
  const Value* find(std::string_view key) const;
  const std::vector<Value>& items() const { return items_; }  // array elements
  const std::vector<std::pair<std::string, Value>>& members() const { return members_; }

  // Typed reads; nullopt when the kind does not fit (a missing member reads as the default via the get_* helpers).
  std::optional<bool> as_bool() const;
  std::optional<int64_t> as_int64() const;  // a number without fraction/exponent, or a string holding one
  const std::string* as_string() const;     // string value (unescaped)

  // Building (the parser uses these).
  static Value make(Kind kind) {
    Value v;
    v.kind_ = kind;
    return v;
  }
  std::string text;  // string contents or number text
  bool flag = false;
  std::vector<Value> items_;
  std::vector<std::pair<std::string, Value>> members_;

 private:
  Kind kind_ = Kind::null;
};

// Parses one JSON document (surrounding whitespace allowed). nullopt on any syntax error, nesting deeper than
// max_depth, or trailing garbage.
std::optional<Value> parse(std::string_view text, int max_depth = 32);

// Member helpers with etcd's "default values are omitted": a missing member gives the default; a member of the
// wrong type gives nullopt.
std::optional<int64_t> get_int64(const Value& object, std::string_view key);
std::optional<bool> get_bool(const Value& object, std::string_view key);
// A base64 member, decoded. Missing: empty string.
std::optional<std::string> get_bytes(const Value& object, std::string_view key);

std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

// Appends a JSON string literal (quoted, escaped) to out.
void write_string(std::string& out, std::string_view s);

// A minimal streaming writer: the caller keeps the nesting straight; commas are inserted automatically.
class Writer {
 public:
  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);
  Writer& string(std::string_view s);
  Writer& bytes(std::string_view raw) { return string(base64_encode(raw)); }  // base64
  Writer& int64(int64_t v);                                                   // as a JSON string, etcd style
  Writer& boolean(bool b);
  // Member shortcuts that skip default values, as etcd's gateway does.
  Writer& member_bytes(std::string_view k, std::string_view raw) { return raw.empty() ? *this : key(k).bytes(raw); }
  Writer& member_int64(std::string_view k, int64_t v) { return v == 0 ? *this : key(k).int64(v); }
  Writer& member_bool(std::string_view k, bool b) { return b ? key(k).boolean(true) : *this; }
  std::string take() { return std::move(out_); }
  const std::string& str() const { return out_; }

 private:
  void separate();
  std::string out_;
  bool need_comma_ = false;
};

}  // namespace floe::meta::json
