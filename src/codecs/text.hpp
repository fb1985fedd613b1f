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

}  // namespace imgup
