#include "objstore/s3_xml.h"

#include <charconv>

namespace floe::objstore::s3 {

std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    const auto semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    const std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") out.push_back('&');
    else if (ent == "lt") out.push_back('<');
    else if (ent == "gt") out.push_back('>');
    else if (ent == "quot") out.push_back('"');
    else if (ent == "apos") out.push_back('\'');
    else if (ent.size() > 1 && ent[0] == '#') {
      unsigned value = 0;
      const bool hex = ent[1] == 'x' || ent[1] == 'X';
      const std::string_view digits = ent.substr(hex ? 2 : 1);
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
      if (ec != std::errc{} || end != digits.data() + digits.size() || value > 0x7f) {
        out.append(s.substr(i, semi - i + 1));  // non-ASCII references are not produced for our keys
      } else {
        out.push_back(static_cast<char>(value));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Raw inner text of each <tag>...</tag> (tag with or without attributes), in order.
std::vector<std::string_view> xml_all(std::string_view body, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag) + ">";
  std::size_t at = 0;
  while ((at = body.find(open, at)) != std::string_view::npos) {
    const std::size_t after = at + open.size();
    if (after >= body.size() || (body[after] != '>' && body[after] != ' ')) {
      at = after;
      continue;
    }
    const auto gt = body.find('>', after);
    if (gt == std::string_view::npos) break;
    if (body[gt - 1] == '/') {  // <tag/>
      out.emplace_back();
      at = gt + 1;
      continue;
    }
    const auto end = body.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    out.push_back(body.substr(gt + 1, end - gt - 1));
    at = end + close.size();
  }
  return out;
}

std::string xml_text(std::string_view body, std::string_view tag) {
  auto all = xml_all(body, tag);
  return all.empty() ? std::string() : xml_unescape(all.front());
}

}  // namespace floe::objstore::s3
