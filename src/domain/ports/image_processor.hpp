#pragma once
// The ImageProcessor port: full validation and everything a gallery needs, derived from the
// original's bytes. Implemented with libvips in src/imaging (VipsImageProcessor); the same
// implementation runs in the local worker and in the AWS processor function.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "codecs/sniff.hpp"

namespace imgup {

struct ProcessingLimits {
  std::uint64_t max_pixels = 100'000'000;  // per frame, checked from the header before decoding
  std::uint32_t max_frames = 1000;         // animated images
  bool keep_gps = false;                   // keep GPS EXIF in the record (owner-only)
  std::uint32_t max_decode_ms = 30'000;    // the whole job is stopped after this long
  bool run_alone = false;  // start only when no other job runs (a retry after a failure that
                           // may have been caused by the jobs beside it)
};

struct DerivedVariant {
  std::string name;   // "thumb" (long edge 256) or "medium" (long edge 1024)
  std::string bytes;  // WebP, auto-oriented, sRGB, metadata stripped
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::string content_type;  // "image/webp"
};

struct ExifInfo {
  std::optional<std::string> make, model, lens;
  std::optional<std::string> taken_at;  // RFC 3339; with the offset when the file has one
  std::optional<std::string> exposure;  // "1/250"
  std::optional<double> f_number;
  std::optional<std::uint32_t> iso;
  std::optional<double> focal_length_mm;
  std::optional<std::uint32_t> orientation;                           // 1..8
  std::optional<double> gps_latitude, gps_longitude, gps_altitude_m;  // only when kept
};

struct ProcessedImage {
  std::uint32_t width = 0;  // as displayed: after EXIF orientation
  std::uint32_t height = 0;
  std::string format;  // "jpeg", "png", ...
  std::uint32_t bit_depth = 8;
  std::uint32_t bands = 0;
  bool has_alpha = false;
  bool animated = false;
  std::uint32_t frame_count = 1;
  std::string icc_profile;  // profile description, "" when none
  ExifInfo exif;
  std::vector<DerivedVariant> variants;
  std::string placeholder;     // BlurHash
  std::string dominant_color;  // "#rrggbb"
  std::string phash;           // 64-bit perceptual hash, 16 lowercase hex digits
};

class ImageProcessor {
 public:
  virtual ~ImageProcessor() = default;
  /// Decodes the whole image with the loader for its sniffed type only, and derives the record's
  /// metadata, the variants, the placeholder and the hashes from one decode.
  /// Errors: kUnprocessable "image_too_large" (pixel or frame cap, before the full decode),
  /// kUnprocessable "processing_timeout" (the decode ran longer than max_decode_ms),
  /// kUnprocessable "decode_failed" (corrupt or truncated data), kUnsupportedMediaType
  /// "unsupported_media_type" (a type the build cannot load).
  virtual Result<ProcessedImage> Process(std::string_view bytes, const SniffResult& sniffed,
                                         const ProcessingLimits& limits) = 0;
};

}  // namespace imgup
