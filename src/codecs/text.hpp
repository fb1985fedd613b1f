#pragma once
// Protocol text: ASCII case folding (header names, media types, schemes) and percent-decoding
// (URLs, form fields).
#include <optional>
#include <string>
#include <string_view>

namespace imgup {

/// Lower-cases ASCII letters; every other byte is kept.
std::string AsciiLower(std::string_view text);

/// Decodes %XX escapes (and '+' as space when `plus_is_space`); nullopt on a bad escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

/// Encodes every byte but RFC 3986's unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX (upper-case
/// hex), for a query parameter or a path segment.
std::string PercentEncode(std::string_view text);

/// Escapes & < > " and ' for HTML or XML text and attribute values; `apostrophe` is the entity
/// for ' ("&#39;" is valid in both, XML also has "&apos;").
std::string MarkupEscape(std::string_view text, std::string_view apostrophe = "&#39;");

}  // namespace imgup
