#include "imaging/blurhash.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

namespace imgup {
namespace {

constexpr std::string_view kBase83 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

void AppendBase83(std::string& out, int value, int length) {
  int divisor = 1;
  for (int i = 1; i < length; ++i) divisor *= 83;
  for (int i = 0; i < length; ++i) {
    const int digit = (value / divisor) % 83;
    out += kBase83[static_cast<std::size_t>(digit)];
    divisor /= 83;
  }
}

// The reference encoder in C (what python3-blurhash wraps) computes in float with some double
// intermediates; these follow it step by step so that quantisation boundaries round the same way.
float SrgbToLinear(int value) {
  const float v = static_cast<float>(value) / 255.0f;
  if (v <= 0.04045) return static_cast<float>(v / 12.92);
  return std::pow(static_cast<float>((v + 0.055) / 1.055), 2.4f);
}

int LinearToSrgb(float value) {
  const float v = std::clamp(value, 0.0f, 1.0f);
  if (v <= 0.0031308) return static_cast<int>(v * 12.92 * 255 + 0.5);
  return static_cast<int>((1.055 * std::pow(v, static_cast<float>(1 / 2.4)) - 0.055) * 255 + 0.5);
}

float SignPow(float value, float exponent) {
  return std::copysign(std::pow(std::fabs(value), exponent), value);
}

int QuantiseAc(float value, float maximum) {
  const float q = std::floor(static_cast<float>(SignPow(value / maximum, 0.5f) * 9 + 9.5));
  return static_cast<int>(std::clamp(q, 0.0f, 18.0f));
}

}  // namespace

std::string EncodeBlurHash(std::span<const std::uint8_t> rgb, std::uint32_t width,
                           std::uint32_t height, std::size_t stride, int x_components,
                           int y_components) {
  if (x_components < 1 || x_components > 9 || y_components < 1 || y_components > 9) return {};
  if (width == 0 || height == 0 || stride < std::size_t{width} * 3) return {};
  if (rgb.size() < stride * (height - 1) + std::size_t{width} * 3) return {};

  std::array<float, 256> linear{};
  for (int i = 0; i < 256; ++i) linear[static_cast<std::size_t>(i)] = SrgbToLinear(i);

  const auto nx = static_cast<std::size_t>(x_components);
  const auto ny = static_cast<std::size_t>(y_components);
  // cos(pi * i * x / width) for every component i and column x; the same for rows.
  auto cosine = [](std::size_t component, std::uint32_t at, std::uint32_t size) {
    return std::cos(static_cast<float>(std::numbers::pi * static_cast<double>(component) *
                                       static_cast<double>(at) / static_cast<double>(size)));
  };
  std::vector<float> cos_x(nx * width), cos_y(ny * height);
  for (std::size_t i = 0; i < nx; ++i)
    for (std::uint32_t x = 0; x < width; ++x) cos_x[i * width + x] = cosine(i, x, width);
  for (std::size_t j = 0; j < ny; ++j)
    for (std::uint32_t y = 0; y < height; ++y) cos_y[j * height + y] = cosine(j, y, height);

  std::vector<std::array<float, 3>> factors(nx * ny);
  for (std::size_t j = 0; j < ny; ++j) {
    for (std::size_t i = 0; i < nx; ++i) {
      std::array<float, 3> sum{};
      for (std::uint32_t y = 0; y < height; ++y) {
        const std::uint8_t* row = rgb.data() + stride * y;
        for (std::uint32_t x = 0; x < width; ++x) {
          const float basis = cos_x[i * width + x] * cos_y[j * height + y];
          for (std::size_t c = 0; c < 3; ++c) sum[c] += basis * linear[row[3 * x + c]];
        }
      }
      const float normalisation = (i == 0 && j == 0) ? 1.0f : 2.0f;
      const float scale = normalisation / static_cast<float>(std::uint64_t{width} * height);
      for (auto& s : sum) s *= scale;
      factors[j * nx + i] = sum;
    }
  }

  std::string hash;
  AppendBase83(hash, (x_components - 1) + (y_components - 1) * 9, 1);

  float maximum = 1.0f;
  if (factors.size() > 1) {
    float actual = 0.0f;
    for (std::size_t k = 1; k < factors.size(); ++k)
      for (const float f : factors[k]) actual = std::max(actual, std::fabs(f));
    const float q = std::floor(static_cast<float>(actual * 166 - 0.5));
    const int quantised = static_cast<int>(std::clamp(q, 0.0f, 82.0f));
    maximum = static_cast<float>(quantised + 1) / 166.0f;
    AppendBase83(hash, quantised, 1);
  } else {
    AppendBase83(hash, 0, 1);
  }

  const auto& dc = factors[0];
  AppendBase83(hash, (LinearToSrgb(dc[0]) << 16) + (LinearToSrgb(dc[1]) << 8) + LinearToSrgb(dc[2]),
               4);
  for (std::size_t k = 1; k < factors.size(); ++k) {
    const auto& ac = factors[k];
    AppendBase83(hash,
                 QuantiseAc(ac[0], maximum) * 19 * 19 + QuantiseAc(ac[1], maximum) * 19 +
                     QuantiseAc(ac[2], maximum),
                 2);
  }
  return hash;
}

std::string DominantColor(std::span<const std::uint8_t> pixels, int channels) {
  if (channels != 3 && channels != 4) return {};
  const auto step = static_cast<std::size_t>(channels);
  const std::size_t count = pixels.size() / step;
  if (count == 0) return {};

  struct Cell {
    std::uint64_t n = 0, r = 0, g = 0, b = 0;
  };
  std::vector<Cell> cells(16 * 16 * 16);
  auto tally = [&](bool opaque_only) {
    bool any = false;
    for (std::size_t p = 0; p < count; ++p) {
      const std::uint8_t* px = pixels.data() + p * step;
      if (opaque_only && channels == 4 && px[3] < 128) continue;
      Cell& cell = cells[(std::size_t{px[0]} >> 4) << 8 | (std::size_t{px[1]} >> 4) << 4 |
                         (std::size_t{px[2]} >> 4)];
      ++cell.n;
      cell.r += px[0];
      cell.g += px[1];
      cell.b += px[2];
      any = true;
    }
    return any;
  };
  if (!tally(true)) tally(false);

  // Ties go to the first cell in index order, so the answer does not depend on pixel order.
  const Cell& best = *std::max_element(cells.begin(), cells.end(),
                                       [](const Cell& a, const Cell& b) { return a.n < b.n; });
  auto mean = [&](std::uint64_t sum) { return static_cast<unsigned>((sum + best.n / 2) / best.n); };
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "#";
  for (const unsigned v : {mean(best.r), mean(best.g), mean(best.b)}) {
    out += kHex[(v >> 4) & 0xF];
    out += kHex[v & 0xF];
  }
  return out;
}

}  // namespace imgup
