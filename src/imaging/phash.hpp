#pragma once
// The perceptual hash: pure math over a 32x32 grey image, so that it is tested without an image
// library. Comparing two hashes is PhashDistance, in the domain (domain/phash_distance.hpp).
#include <cstdint>
#include <span>
#include <string>

namespace imgup {

inline constexpr std::uint32_t kPhashSide = 32;

/// The 64-bit DCT perceptual hash of a 32x32 grey image (`grey` row-major, one byte a pixel):
/// the orthonormal 2-D DCT-II, its top-left 8x8 coefficients, each bit set when its coefficient is
/// above the median of the 63 AC ones (so the DC bit is always set and never counts in a
/// distance). Bit 63 is coefficient (0,0), then row by row. As 16 lowercase hex digits.
std::string PerceptualHash(std::span<const std::uint8_t, kPhashSide * kPhashSide> grey);

}  // namespace imgup
