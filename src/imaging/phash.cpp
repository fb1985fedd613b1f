#include "imaging/phash.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

namespace imgup {
namespace {

constexpr std::size_t kN = kPhashSide;
constexpr std::size_t kK = 8;  // low frequencies kept per axis

// basis[k][x] = alpha(k) * cos(pi * (2x + 1) * k / 2N): the orthonormal DCT-II matrix rows.
const std::array<std::array<double, kN>, kK>& DctBasis() {
  static const auto basis = [] {
    std::array<std::array<double, kN>, kK> b{};
    for (std::size_t k = 0; k < kK; ++k) {
      const double alpha = std::sqrt((k == 0 ? 1.0 : 2.0) / static_cast<double>(kN));
      for (std::size_t x = 0; x < kN; ++x)
        b[k][x] = alpha * std::cos(std::numbers::pi * static_cast<double>((2 * x + 1) * k) /
                                   static_cast<double>(2 * kN));
    }
    return b;
  }();
  return basis;
}

}  // namespace

std::string PerceptualHash(std::span<const std::uint8_t, kPhashSide * kPhashSide> grey) {
  const auto& basis = DctBasis();
  // Separable transform, keeping only the 8 lowest frequencies: rows first, then columns.
  std::array<std::array<double, kK>, kN> rows{};  // rows[y][u]
  for (std::size_t y = 0; y < kN; ++y)
    for (std::size_t u = 0; u < kK; ++u) {
      double s = 0;
      for (std::size_t x = 0; x < kN; ++x) s += basis[u][x] * grey[y * kN + x];
      rows[y][u] = s;
    }
  std::array<double, kK * kK> coeff{};  // coeff[v * 8 + u]
  for (std::size_t v = 0; v < kK; ++v)
    for (std::size_t u = 0; u < kK; ++u) {
      double s = 0;
      for (std::size_t y = 0; y < kN; ++y) s += basis[v][y] * rows[y][u];
      coeff[v * kK + u] = s;
    }

  std::array<double, kK * kK - 1> ac{};
  std::copy(coeff.begin() + 1, coeff.end(), ac.begin());
  const auto middle = ac.begin() + ac.size() / 2;
  std::nth_element(ac.begin(), middle, ac.end());
  const double median = *middle;

  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < coeff.size(); ++i)
    if (i == 0 || coeff[i] > median) bits |= std::uint64_t{1} << (63 - i);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (std::size_t i = 0; i < 16; ++i) out[i] = kHex[(bits >> (60 - 4 * i)) & 0xF];
  return out;
}

}  // namespace imgup
