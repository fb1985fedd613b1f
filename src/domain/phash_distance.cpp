#include "domain/phash_distance.hpp"

#include <bit>
#include <cstdint>
#include <optional>
#include <string_view>

#include "domain/phash_distance.hpp"
#include "domain/ports/image_processor.hpp"

namespace imgup {

namespace {

std::optional<std::uint64_t> ParseHex64(std::string_view hex) {
  if (hex.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : hex) {
    unsigned d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | d;
  }
  return v;
}

}  // namespace

int PhashDistance(std::string_view a, std::string_view b) {
  const auto x = ParseHex64(a);
  const auto y = ParseHex64(b);
  if (!x || !y) return 64;
  return std::popcount(*x ^ *y);
}

}  // namespace imgup
