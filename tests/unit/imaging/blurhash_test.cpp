#include "imaging/blurhash.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fakes/temp_dir.hpp"

namespace imgup {
namespace {

// Debian's python3-blurhash wraps Wolt's reference C encoder; its cffi module is called directly
// with raw pixels, so that no image library sits between the two encoders.
constexpr char kOracle[] = R"(
import sys
from blurhash._functions import ffi, lib
path, w, h, cx, cy = sys.argv[1], *map(int, sys.argv[2:6])
data = open(path, 'rb').read()
rgb = ffi.new('uint8_t[]', data)
print(ffi.string(lib.create_hash_from_pixels(cx, cy, w, h, rgb, w * 3)).decode())
)";

std::string ReferenceBlurHash(const std::vector<std::uint8_t>& rgb, std::uint32_t w,
                              std::uint32_t h, int cx, int cy) {
  TempDir dir;
  const auto pixels = dir.path() / "pixels.rgb";
  const auto script = dir.path() / "oracle.py";
  std::ofstream(pixels, std::ios::binary)
      .write(reinterpret_cast<const char*>(rgb.data()), static_cast<std::streamsize>(rgb.size()));
  std::ofstream(script) << kOracle;
  // /usr/bin/python3 on purpose: the Debian package is installed for the system interpreter.
  const std::string command = "/usr/bin/python3 " + script.string() + " " + pixels.string() + " " +
                              std::to_string(w) + " " + std::to_string(h) + " " +
                              std::to_string(cx) + " " + std::to_string(cy) + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::string out;
  std::array<char, 256> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr) out += buf.data();
  ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::vector<std::uint8_t> RandomPixels(std::uint32_t w, std::uint32_t h, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> px(std::size_t{w} * h * 3);
  for (auto& v : px) v = static_cast<std::uint8_t>(rng() & 0xFF);
  return px;
}

// Smooth content like a photo's placeholder input: gradients and a soft blob.
std::vector<std::uint8_t> SmoothPixels(std::uint32_t w, std::uint32_t h) {
  std::vector<std::uint8_t> px(std::size_t{w} * h * 3);
  for (std::uint32_t y = 0; y < h; ++y)
    for (std::uint32_t x = 0; x < w; ++x) {
      const double fx = static_cast<double>(x) / w, fy = static_cast<double>(y) / h;
      const double blob = std::exp(-((fx - 0.6) * (fx - 0.6) + (fy - 0.4) * (fy - 0.4)) * 8);
      const std::size_t at = (std::size_t{y} * w + x) * 3;
      px[at] = static_cast<std::uint8_t>(255 * fx);
      px[at + 1] = static_cast<std::uint8_t>(200 * fy + 40 * blob);
      px[at + 2] = static_cast<std::uint8_t>(255 * blob);
    }
  return px;
}

struct Case {
  std::uint32_t w, h;
  int cx, cy;
  bool smooth;
};

class BlurHashOracle : public testing::TestWithParam<Case> {};

TEST_P(BlurHashOracle, MatchesTheReferenceEncoder) {
  const Case c = GetParam();
  const auto px = c.smooth ? SmoothPixels(c.w, c.h) : RandomPixels(c.w, c.h, c.w * 31 + c.h);
  const std::string reference = ReferenceBlurHash(px, c.w, c.h, c.cx, c.cy);
  ASSERT_EQ(reference.size(), static_cast<std::size_t>(4 + 2 * c.cx * c.cy))
      << "python3-blurhash (the oracle) did not answer: " << reference;
  EXPECT_EQ(EncodeBlurHash(px, c.w, c.h, std::size_t{c.w} * 3, c.cx, c.cy), reference);
}

INSTANTIATE_TEST_SUITE_P(Shapes, BlurHashOracle,
                         testing::Values(Case{32, 24, 4, 3, true}, Case{24, 32, 4, 3, true},
                                         Case{32, 21, 4, 3, false}, Case{1, 1, 4, 3, false},
                                         Case{7, 5, 1, 1, false}, Case{17, 9, 9, 9, true},
                                         Case{32, 32, 3, 4, false}, Case{2, 30, 5, 2, true}));

TEST(BlurHash, SolidColourIsItsDc) {
  // The DC component of a solid colour is the colour itself: 0xFF0000 as four base-83 digits
  // after the size flag ('L' for 4x3) and the AC maximum. (BlurHash's cosines are sampled at
  // x/width, not (x+0.5)/width, so even a solid image has some AC energy.)
  std::vector<std::uint8_t> px(8 * 6 * 3);
  for (std::size_t i = 0; i < px.size(); i += 3) px[i] = 255;
  const std::string hash = EncodeBlurHash(px, 8, 6, 24, 4, 3);
  ASSERT_EQ(hash.size(), 28u);
  EXPECT_EQ(hash[0], 'L');
  EXPECT_EQ(hash.substr(2, 4), "TI:j");
  EXPECT_EQ(hash, ReferenceBlurHash(px, 8, 6, 4, 3));
}

TEST(BlurHash, HonoursTheStride) {
  const auto px = SmoothPixels(10, 6);
  std::vector<std::uint8_t> padded(6 * 40, 0xAB);
  for (std::size_t y = 0; y < 6; ++y)
    std::copy_n(px.begin() + static_cast<std::ptrdiff_t>(y * 30), 30,
                padded.begin() + static_cast<std::ptrdiff_t>(y * 40));
  EXPECT_EQ(EncodeBlurHash(padded, 10, 6, 40, 4, 3), EncodeBlurHash(px, 10, 6, 30, 4, 3));
}

TEST(BlurHash, RefusesBadArguments) {
  const auto px = SmoothPixels(4, 4);
  EXPECT_EQ(EncodeBlurHash(px, 4, 4, 12, 0, 3), "");
  EXPECT_EQ(EncodeBlurHash(px, 4, 4, 12, 4, 10), "");
  EXPECT_EQ(EncodeBlurHash(px, 0, 4, 12, 4, 3), "");
  EXPECT_EQ(EncodeBlurHash(px, 4, 4, 11, 4, 3), "");  // stride shorter than a row
  EXPECT_EQ(EncodeBlurHash(px, 4, 5, 12, 4, 3), "");  // buffer shorter than the image
}

std::vector<std::uint8_t> Fill(std::size_t n, std::array<std::uint8_t, 4> px, int channels) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < n; ++i) out.insert(out.end(), px.begin(), px.begin() + channels);
  return out;
}

TEST(DominantColor, PicksTheMostCommonColourNotTheMean) {
  auto px = Fill(60, {200, 30, 30, 255}, 3);          // red, the majority
  const auto blue = Fill(40, {20, 40, 220, 255}, 3);  // blue
  px.insert(px.end(), blue.begin(), blue.end());
  EXPECT_EQ(DominantColor(px, 3), "#c81e1e");
}

TEST(DominantColor, AveragesWithinTheWinningCell) {
  auto px = Fill(2, {0x10, 0x20, 0x30, 255}, 3);
  const auto near = Fill(2, {0x12, 0x22, 0x32, 255}, 3);
  px.insert(px.end(), near.begin(), near.end());
  EXPECT_EQ(DominantColor(px, 3), "#112131");
}

TEST(DominantColor, IgnoresTransparentPixels) {
  auto px = Fill(90, {255, 255, 255, 0}, 4);  // invisible white
  const auto green = Fill(10, {0, 128, 0, 255}, 4);
  px.insert(px.end(), green.begin(), green.end());
  EXPECT_EQ(DominantColor(px, 4), "#008000");
  // Fully transparent: the colour is still defined.
  EXPECT_EQ(DominantColor(Fill(4, {1, 2, 3, 0}, 4), 4), "#010203");
}

TEST(DominantColor, RefusesBadArguments) {
  EXPECT_EQ(DominantColor({}, 3), "");
  EXPECT_EQ(DominantColor(Fill(3, {1, 2, 3, 4}, 4), 2), "");
}

}  // namespace
}  // namespace imgup
