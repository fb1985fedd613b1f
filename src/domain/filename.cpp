#include "domain/filename.hpp"

#include <cstdint>
#include <string>

#include "codecs/utf8.hpp"

namespace imgup {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8
constexpr std::string_view kFallback = "upload";

// C0, DEL and C1 controls.
bool IsControlCharacter(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they make "exe.jpg"
// look like "gpj.exe", and text after them display in another order than it is stored.
bool IsBidiControl(char32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

// Characters that show nothing: zero-width space, (non-)joiners and direction marks
// (U+200B-U+200F), word joiner and invisible operators (U+2060-U+2064), the byte order mark, the
// soft hyphen, the combining grapheme joiner, the Mongolian vowel separator, Hangul fillers and
// variation selectors.
bool IsZeroWidth(char32_t cp) {
  return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF ||
         cp == 0x00AD || cp == 0x034F || cp == 0x180E || cp == 0x115F || cp == 0x1160 ||
         cp == 0x3164 || cp == 0xFFA0 || (cp >= 0xFE00 && cp <= 0xFE0F) ||
         (cp >= 0xE0100 && cp <= 0xE01EF);
}

// What a file name loses: controls, bidi controls, zero-width characters (U+200B-U+200F) and the
// byte order mark, all of which can disguise a name.
bool IsControl(char32_t cp) {
  return IsControlCharacter(cp) || IsBidiControl(cp) || (cp >= 0x200B && cp <= 0x200F) ||
         cp == 0xFEFF;
}

// One code point at `s[i]`, U+FFFD for an ill-formed sequence (one per maximal subpart).
char32_t NextCodePoint(std::string_view s, std::size_t& i) {
  return DecodeUtf8(s, i).value_or(U'\uFFFD');
}

bool IsTrimmed(char c) { return c == ' ' || c == '.'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsTrimmed(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsTrimmed(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string SanitizeFilename(std::string_view name) {
  const std::size_t sep = name.find_last_of("/\\");
  if (sep != std::string_view::npos) name.remove_prefix(sep + 1);

  std::string clean;
  clean.reserve(name.size() < 2 * kMaxSanitisedFilenameBytes ? name.size()
                                                             : 2 * kMaxSanitisedFilenameBytes);
  for (std::size_t i = 0; i < name.size();) {
    const char32_t cp = NextCodePoint(name, i);
    if (cp == 0xFFFD) {
      clean += kReplacement;
    } else if (!IsControl(cp)) {
      AppendUtf8(clean, cp);
    }
  }

  std::string_view kept = Trim(clean);
  if (kept.size() > kMaxSanitisedFilenameBytes) {
    // Keep a short extension ("...name.jpg"): it is what tells people and programs the type.
    constexpr std::size_t kMaxExtensionBytes = 16;
    const std::size_t dot = kept.rfind('.');
    std::string_view extension;
    if (dot != std::string_view::npos && dot > 0 && kept.size() - dot <= kMaxExtensionBytes) {
      extension = kept.substr(dot);
    }
    std::size_t cut = kMaxSanitisedFilenameBytes - extension.size();
    // Back up to the start of a character: never leave half of a multi-byte sequence.
    while (cut > 0 && (static_cast<unsigned char>(kept[cut]) & 0xC0) == 0x80) --cut;
    const std::string_view stem = Trim(kept.substr(0, cut));
    if (stem.empty()) return std::string(kFallback);
    return std::string(stem) + std::string(extension);
  }
  if (kept.empty()) return std::string(kFallback);
  return std::string(kept);
}

TextProblem CheckAnnotationText(std::string_view text, bool multiline) {
  bool visible = false;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t start = i;
    const char32_t cp = NextCodePoint(text, i);
    // NextCodePoint returns U+FFFD for ill-formed input; a U+FFFD that was sent is 3 bytes.
    if (cp == 0xFFFD && text.substr(start, i - start) != kReplacement) {
      return TextProblem::kInvalidUtf8;
    }
    const bool line_break = cp == '\n' || cp == '\r' || cp == '\t';
    if (IsControlCharacter(cp) && !(multiline && line_break)) return TextProblem::kControl;
    if (IsBidiControl(cp)) return TextProblem::kBidiControl;
    visible = visible || !IsZeroWidth(cp);
  }
  if (!text.empty() && !visible) return TextProblem::kInvisibleOnly;
  return TextProblem::kNone;
}

std::string ContentDispositionFilename(std::string_view sanitised) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "UTF-8''";
  for (const char ch : sanitised) {
    const auto c = static_cast<unsigned char>(ch);
    // RFC 8187 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" /
    // "`" / "|" / "~"; everything else is percent-encoded.
    const bool attr_char =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (attr_char) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

}  // namespace imgup
