#pragma once
// UTF-8 both ways: one decoder (strict, Unicode's "maximal subpart" practice for ill-formed
// input) and one encoder, for file names, tags and EXIF text alike.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace imgup {

/// Appends the UTF-8 encoding of the code point `cp` (which must be a Unicode scalar value).
inline void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Decodes the UTF-8 sequence at `s[i]` and advances `i` past it. An ill-formed sequence (a
/// stray continuation byte, an overlong form, a surrogate, a value past U+10FFFF, a sequence cut
/// short) gives nullopt and advances past its maximal subpart, so that a caller substituting
/// U+FFFD for each nullopt follows the replacement practice Unicode recommends. `i < s.size()`.
inline std::optional<char32_t> DecodeUtf8(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len = 0;
  char32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    ++i;  // a stray continuation byte or a byte that never starts a sequence
    return std::nullopt;
  }
  std::size_t j = 1;
  for (; j < len; ++j) {
    if (i + j >= s.size()) break;
    const auto b = static_cast<unsigned char>(s[i + j]);
    const unsigned char min = j == 1 ? lo : 0x80;
    const unsigned char max = j == 1 ? hi : 0xBF;
    if (b < min || b > max) break;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  i += j;
  if (j != len) return std::nullopt;
  return cp;
}

}  // namespace imgup
