// Minimal XML for S3's responses and request bodies: element text by tag name, entity (un)escaping. S3's XML is
// flat and machine-written; this is not a general XML parser (no CDATA, no comments, no namespaces on tags).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace floe::objstore::s3 {

std::string xml_unescape(std::string_view s);  // &amp; &lt; &gt; &quot; &apos; and ASCII numeric references
std::string xml_escape(std::string_view s);
// Raw inner text of each <tag>...</tag> (tag with or without attributes; <tag/> gives ""), in order.
std::vector<std::string_view> xml_all(std::string_view body, std::string_view tag);
// Unescaped text of the first <tag>, or "".
std::string xml_text(std::string_view body, std::string_view tag);

}  // namespace floe::objstore::s3
