#pragma once
#include <string>
#include <string_view>

namespace imgup {

/// Longest client file name accepted (bytes); longer is a 400 "field_too_long".
inline constexpr std::size_t kMaxFilenameBytes = 1024;
/// Longest sanitised file name kept (bytes), cut on a UTF-8 character boundary.
inline constexpr std::size_t kMaxSanitisedFilenameBytes = 255;

/// Makes a client file name safe to keep as metadata (it never becomes part of a storage key):
/// keeps only the last path component ('/' and '\\' both separate), drops NUL and every control
/// character (C0, DEL, C1), replaces invalid UTF-8 with U+FFFD, trims surrounding spaces and
/// dots, cuts to kMaxSanitisedFilenameBytes, and returns "upload" when nothing is left.
std::string SanitizeFilename(std::string_view name);

/// What makes a text unfit to keep as a tag or a description.
enum class TextProblem {
  kNone,
  kInvalidUtf8,
  kControl,        // C0, DEL or C1 control (a description may have tabs and line breaks)
  kBidiControl,    // U+202A-U+202E, U+2066-U+2069: text that displays in another order
  kInvisibleOnly,  // non-empty, but every character is zero-width: it shows nothing
};

/// Checks a tag or description (`multiline`: tab, CR and LF allowed) against the character
/// classes SanitizeFilename removes from file names. Unlike a file name, which arrives with a
/// file and is cleaned up, these are typed by a person and are refused rather than changed;
/// zero-width characters inside visible text stay allowed (emoji sequences need U+200D).
TextProblem CheckAnnotationText(std::string_view text, bool multiline);

/// Header-safe form for Content-Disposition: RFC 8187 ext-value ("UTF-8''" + percent-encoding).
std::string ContentDispositionFilename(std::string_view sanitised);

}  // namespace imgup
