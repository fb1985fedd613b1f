#pragma once
// A HEIF file's primary image decoded with libheif directly, for a libvips whose own libheif
// cannot decode it: sharp's prebuilt libvips (the processor's Lambda package) has no HEVC decoder,
// so HEIC goes through this, with the libheif built by scripts/install-libheif.sh (libde265 only,
// docs/adr/0012-packaging.md). The pixels then enter the same libvips pipeline as every format.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"

struct heif_image;

namespace imgup {

/// The decoded primary image: interleaved RGB or RGBA, rows packed (no padding), 8 bits a
/// sample, or 16 (little-endian, scaled to the full 16-bit range) when the file has more than 8.
/// The container's transformations (irot, imir, clap) are applied, as libvips' heifload does:
/// the EXIF orientation of a HEIF is informative only (ISO/IEC 23008-12), so `width` x `height`
/// is the image as displayed.
class DecodedHeif {
 public:
  std::uint32_t width() const { return width_; }
  std::uint32_t height() const { return height_; }
  std::uint32_t bands() const { return bands_; }           // 3 or 4 (alpha)
  std::uint32_t bits_per_sample() const { return bits_; }  // 8 or 16
  /// width x height x bands samples, each of bits_per_sample bits.
  const std::uint8_t* pixels() const { return pixels_; }
  std::size_t size_bytes() const { return std::size_t{width_} * height_ * bands_ * (bits_ / 8); }
  /// The EXIF block from its TIFF header on (the HEIF's offset field skipped); empty if none.
  const std::string& exif() const { return exif_; }
  /// The ICC profile (a `colr` box of type prof or rICC); empty for none or nclx.
  const std::string& icc() const { return icc_; }

 private:
  friend Result<DecodedHeif> DecodeHeif(std::string_view bytes, std::uint64_t max_pixels);
  struct ImageRelease {
    void operator()(heif_image* image) const;
  };
  std::unique_ptr<heif_image, ImageRelease> image_;
  const std::uint8_t* pixels_ = nullptr;
  std::uint32_t width_ = 0, height_ = 0, bands_ = 0, bits_ = 8;
  std::string exif_, icc_;
};

/// Decodes `bytes` (a HEIF file) with libheif, at most two threads for a grid's tiles. Refuses,
/// before decoding, a primary image of more than `max_pixels`, and after decoding, pixels of
/// another size than the container declared.
/// Errors: kUnprocessable "decode_failed" (damaged, truncated, inconsistent), kUnprocessable
/// "image_too_large", kUnsupportedMediaType "heif_codec_unsupported" (a codec this libheif was
/// built without: the caller may hand the file to another decoder).
Result<DecodedHeif> DecodeHeif(std::string_view bytes, std::uint64_t max_pixels);

}  // namespace imgup
