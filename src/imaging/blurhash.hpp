#pragma once
// Pure pixel math for the placeholder: BlurHash and the dominant colour. No image library here,
// so that both are checked directly against reference values.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace imgup {

/// The BlurHash of an 8-bit sRGB image, per the Wolt specification
/// (github.com/woltapp/blurhash/blob/master/Algorithm.md). `rgb` holds `height` rows of
/// `width` RGB triplets, `stride` bytes apart. Returns "" when the components are outside 1..9,
/// the image is empty or `rgb` is too short.
std::string EncodeBlurHash(std::span<const std::uint8_t> rgb, std::uint32_t width,
                           std::uint32_t height, std::size_t stride, int x_components,
                           int y_components);

/// The dominant colour of packed 8-bit sRGB pixels with `channels` bytes each (3 = RGB,
/// 4 = RGBA), as "#rrggbb": the mean of the most populated cell of a 16x16x16 colour
/// histogram. Pixels with alpha below 128 are ignored (all of them when every pixel is
/// transparent). Returns "" when there are no pixels or `channels` is not 3 or 4.
std::string DominantColor(std::span<const std::uint8_t> pixels, int channels);

}  // namespace imgup
