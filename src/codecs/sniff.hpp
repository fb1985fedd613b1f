#pragma once
// Image type from magic bytes and dimensions from the header: what validation needs before
// anything decodes the image. No decoding happens here.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace imgup {

struct SniffResult {
  std::string content_type;  // "image/jpeg", "image/png", "image/webp", "image/gif",
                             // "image/heic", "image/heif", "image/avif"
  std::string format;        // "jpeg", "png", "webp", "gif", "heif", "avif"
  std::uint32_t width = 0;   // as stored in the header (before EXIF orientation)
  std::uint32_t height = 0;
  std::uint32_t orientation = 1;  // EXIF orientation (1-8) when the header carries one (JPEG)
  // Frames in the container, counted without decoding any: GIF image descriptors, WebP ANMF
  // chunks; 1 for stills (and for HEIF/AVIF, whose primary item is the only one decoded).
  std::uint32_t frame_count = 1;

  // JPEG only: what the decoder will hold. A progressive JPEG keeps every DCT coefficient of the
  // image (2 bytes each) until its last scan; a baseline one only a row of blocks.
  bool progressive = false;             // SOF2, SOF6, SOF10 or SOF14
  std::uint32_t components = 0;         // colour components in the frame header
  std::uint64_t coefficient_bytes = 0;  // all components' blocks × 64 × 2 (the sampling
                                        // factors applied): a progressive decode's buffer
  std::uint32_t scan_count = 0;         // SOS markers up to EOI or the end of the bytes

  /// Pixels of all frames at the canvas size (saturating): what decoding every frame costs.
  /// imgproxy checks this sum against the same limit as one frame's pixels.
  std::uint64_t TotalPixels() const {
    const std::uint64_t canvas = std::uint64_t{width} * height;
    if (frame_count != 0 && canvas > UINT64_MAX / frame_count) return UINT64_MAX;
    return canvas * frame_count;
  }

  /// Size as displayed: orientations 5-8 swap width and height.
  std::uint32_t DisplayWidth() const { return orientation >= 5 ? height : width; }
  std::uint32_t DisplayHeight() const { return orientation >= 5 ? width : height; }
};

/// Identifies the image in `bytes` and reads its dimensions from the header.
/// Errors:
///  - kInvalidArgument "empty_body": zero bytes.
///  - kUnsupportedMediaType "unsupported_media_type": not one of the allowed types (SVG, HTML,
///    PDF, BMP, text, ...), or a polyglot (bytes after a PNG's IEND chunk, a GIF's trailer...).
///  - kUnprocessable "invalid_image": the right magic but a truncated or malformed header, or
///    zero width/height; an AVIF whose AV1 sequence header gives another frame size than its
///    ispe property (the decoder allocates the sequence header's size, so the ispe would lie).
Result<SniffResult> SniffImage(std::string_view bytes);

/// Whether a declared Content-Type (e.g. from the client) names the sniffed type. Accepts
/// aliases: image/jpg and image/pjpeg for JPEG, image/heic and image/heif for either HEIF brand,
/// parameters after ';' ignored, case-insensitive.
bool DeclaredTypeMatches(std::string_view declared, const SniffResult& sniffed);

/// Whether `content_type` (case-insensitive, parameters ignored) is one imgup accepts.
bool IsAllowedImageType(std::string_view content_type);

}  // namespace imgup
