#include "imaging/phash.hpp"

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "domain/phash_distance.hpp"
#include "domain/ports/image_processor.hpp"

namespace imgup {
namespace {

using Grey = std::array<std::uint8_t, kPhashSide * kPhashSide>;

Grey Pattern(double phase, double frequency) {
  Grey g{};
  for (std::size_t y = 0; y < kPhashSide; ++y)
    for (std::size_t x = 0; x < kPhashSide; ++x) {
      const double v = 128 + 60 * std::sin(frequency * static_cast<double>(x) / 5 + phase) +
                       40 * std::cos(static_cast<double>(y) / 7 - phase) +
                       10 * std::sin(static_cast<double>(x * y) / 90.0);
      g[y * kPhashSide + x] = static_cast<std::uint8_t>(std::clamp(v, 0.0, 255.0));
    }
  return g;
}

std::uint64_t Bits(const std::string& hex) { return std::stoull(hex, nullptr, 16); }

// The textbook definition, computed the slow way: every coefficient straight from the 2-D sum.
std::string NaivePhash(const Grey& g) {
  const double n = kPhashSide;
  std::array<double, 64> c{};
  for (int v = 0; v < 8; ++v)
    for (int u = 0; u < 8; ++u) {
      double s = 0;
      for (std::size_t y = 0; y < kPhashSide; ++y)
        for (std::size_t x = 0; x < kPhashSide; ++x)
          s += g[y * kPhashSide + x] *
               std::cos(std::numbers::pi * (2.0 * static_cast<double>(x) + 1) * u / (2 * n)) *
               std::cos(std::numbers::pi * (2.0 * static_cast<double>(y) + 1) * v / (2 * n));
      const double au = std::sqrt((u == 0 ? 1.0 : 2.0) / n),
                   av = std::sqrt((v == 0 ? 1.0 : 2.0) / n);
      c[static_cast<std::size_t>(v * 8 + u)] = s * au * av;
    }
  std::vector<double> ac(c.begin() + 1, c.end());
  std::sort(ac.begin(), ac.end());
  const double median = ac[31];
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < 64; ++i)
    if (i == 0 || c[i] > median) bits |= std::uint64_t{1} << (63 - i);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
  return buf;
}

TEST(PerceptualHash, MatchesTheDirectDefinition) {
  for (double phase : {0.0, 0.7, 2.1}) {
    const Grey g = Pattern(phase, 1.0 + phase);
    EXPECT_EQ(PerceptualHash(g), NaivePhash(g)) << "phase " << phase;
  }
  std::mt19937 rng(7);
  Grey noise{};
  for (auto& v : noise) v = static_cast<std::uint8_t>(rng() & 0xFF);
  EXPECT_EQ(PerceptualHash(noise), NaivePhash(noise));
}

TEST(PerceptualHash, IsSixteenHexDigitsWithHalfTheBitsSet) {
  const std::string h = PerceptualHash(Pattern(0.3, 1.3));
  ASSERT_EQ(h.size(), 16u);
  for (char c : h) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << h;
  // The DC bit plus the 31 AC coefficients above the median of 63.
  EXPECT_EQ(std::popcount(Bits(h)), 32);
  EXPECT_TRUE(Bits(h) >> 63);
}

TEST(PerceptualHash, IgnoresBrightnessAndFlipsForTheNegative) {
  const Grey g = Pattern(1.1, 0.8);
  Grey brighter = g, negative = g;
  for (std::size_t i = 0; i < g.size(); ++i) {
    brighter[i] = static_cast<std::uint8_t>(std::min(255, g[i] + 12));
    negative[i] = static_cast<std::uint8_t>(255 - g[i]);
  }
  EXPECT_EQ(PhashDistance(PerceptualHash(g), PerceptualHash(brighter)), 0);
  // Every AC coefficient changes sign: all bits but the DC one and the median's flip.
  EXPECT_EQ(PhashDistance(PerceptualHash(g), PerceptualHash(negative)), 62);
}

// Soft blobs at random places: smooth content like a downscaled photo.
Grey Blobs(unsigned seed) {
  std::mt19937 rng(seed);
  std::array<double, 4> cx{}, cy{}, amplitude{};
  for (std::size_t k = 0; k < 4; ++k) {
    cx[k] = static_cast<double>(rng() % kPhashSide);
    cy[k] = static_cast<double>(rng() % kPhashSide);
    amplitude[k] = static_cast<double>(rng() % 200) - 100.0;
  }
  Grey g{};
  for (std::size_t y = 0; y < kPhashSide; ++y)
    for (std::size_t x = 0; x < kPhashSide; ++x) {
      double v = 128;
      for (std::size_t k = 0; k < 4; ++k) {
        const double dx = static_cast<double>(x) - cx[k], dy = static_cast<double>(y) - cy[k];
        v += amplitude[k] * std::exp(-(dx * dx + dy * dy) / 60.0);
      }
      g[y * kPhashSide + x] = static_cast<std::uint8_t>(std::clamp(v, 0.0, 255.0));
    }
  return g;
}

TEST(PerceptualHash, SurvivesContrastChangesAndSeparatesOtherImages) {
  for (unsigned seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE(seed);
    const Grey g = Blobs(seed);
    Grey flatter = g;  // lower contrast, lifted blacks: every AC coefficient scaled by 0.8
    for (std::size_t i = 0; i < g.size(); ++i)
      flatter[i] = static_cast<std::uint8_t>(std::lround(g[i] * 0.8 + 20));
    EXPECT_LE(PhashDistance(PerceptualHash(g), PerceptualHash(flatter)), 10);
    EXPECT_GT(PhashDistance(PerceptualHash(g), PerceptualHash(Blobs(seed + 100))), 20);
  }
}

TEST(PhashDistance, CountsDifferingBits) {
  EXPECT_EQ(PhashDistance("0123456789abcdef", "0123456789abcdef"), 0);
  EXPECT_EQ(PhashDistance("0000000000000000", "ffffffffffffffff"), 64);
  EXPECT_EQ(PhashDistance("0000000000000000", "000000000000000f"), 4);
  EXPECT_EQ(PhashDistance("8000000000000001", "0000000000000000"), 2);
  EXPECT_EQ(PhashDistance("ABCDEF0123456789", "abcdef0123456789"), 0);  // case-insensitive
}

TEST(PhashDistance, MalformedHashesAreAsFarAsPossible) {
  EXPECT_EQ(PhashDistance("", "0000000000000000"), 64);
  EXPECT_EQ(PhashDistance("000000000000000", "000000000000000"), 64);     // 15 digits
  EXPECT_EQ(PhashDistance("00000000000000000", "0000000000000000"), 64);  // 17 digits
  EXPECT_EQ(PhashDistance("000000000000000g", "0000000000000000"), 64);
  EXPECT_EQ(PhashDistance("0000000000000000", " 000000000000000"), 64);
}

}  // namespace
}  // namespace imgup
