#include "core/blob_key.hpp"

#include <algorithm>
#include <cstddef>

namespace imgup {

namespace {

constexpr std::size_t kMaxKeyBytes = 1024;

bool IsKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsValidSegment(std::string_view segment) {
  return !segment.empty() && segment != "." && segment != ".." &&
         std::ranges::all_of(segment, IsKeyChar);
}

}  // namespace

bool IsValidBlobKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
  for (bool first = true;; first = false) {
    const auto slash = key.find('/');
    const std::string_view segment = key.substr(0, slash);
    if (!IsValidSegment(segment) || (first && segment == ".tmp")) return false;
    if (slash == std::string_view::npos) return true;
    key.remove_prefix(slash + 1);
  }
}

bool IsValidBlobPrefix(std::string_view prefix) {
  if (prefix.size() > kMaxKeyBytes) return false;
  const auto slash = prefix.rfind('/');
  const std::string_view partial =
      slash == std::string_view::npos ? prefix : prefix.substr(slash + 1);
  if (slash != std::string_view::npos && !IsValidBlobKey(prefix.substr(0, slash))) return false;
  return std::ranges::all_of(partial, IsKeyChar);
}

}  // namespace imgup
