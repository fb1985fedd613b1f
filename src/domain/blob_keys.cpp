#include "domain/blob_keys.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

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

std::string OriginalKey(std::string_view owner, std::string_view id) {
  return "originals/" + std::string(owner) + "/" + std::string(id);
}

std::string StagingKey(std::string_view owner, std::string_view id) {
  return "uploads/" + std::string(owner) + "/" + std::string(id);
}

std::string VariantPrefix(std::string_view owner, std::string_view id) {
  return "variants/" + std::string(owner) + "/" + std::string(id) + "/";
}

std::string VariantKey(std::string_view owner, std::string_view id, std::string_view name) {
  return VariantPrefix(owner, id) + std::string(name) + ".webp";
}

std::string QuarantineKey(std::string_view owner, std::string_view id) {
  return "quarantine/" + std::string(owner) + "/" + std::string(id);
}

std::optional<ImageKey> ParseImageKey(std::string_view key) {
  if (!IsValidBlobKey(key)) return std::nullopt;
  std::vector<std::string_view> segments;
  for (std::size_t start = 0;;) {
    const std::size_t slash = key.find('/', start);
    segments.push_back(key.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  ImageKey parsed;
  if (segments[0] == "originals" && segments.size() == 3) {
    parsed.kind = ImageKey::Kind::kOriginal;
  } else if (segments[0] == "quarantine" && segments.size() == 3) {
    parsed.kind = ImageKey::Kind::kQuarantine;
  } else if (segments[0] == "uploads" && segments.size() == 3) {
    parsed.kind = ImageKey::Kind::kStaging;
  } else if (segments[0] == "variants" && segments.size() == 4 && segments[3].ends_with(".webp") &&
             segments[3].size() > 5) {
    parsed.kind = ImageKey::Kind::kVariant;
    parsed.variant = std::string(segments[3].substr(0, segments[3].size() - 5));
  } else {
    return std::nullopt;
  }
  parsed.owner = std::string(segments[1]);
  parsed.id = std::string(segments[2]);
  return parsed;
}

}  // namespace imgup
