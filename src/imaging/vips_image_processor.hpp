#pragma once
// The ImageProcessor port on libvips (vips8 C++ API): one header read, one shrink-on-load decode,
// both WebP variants, the placeholder and the perceptual hash from that decode.
#include <string_view>

#include "base/error.hpp"
#include "codecs/sniff.hpp"
#include "domain/ports/image_processor.hpp"

namespace imgup {

/// What decodes HEIC (HEVC) files. kLibvips: libvips' heifload, through the libheif libvips was
/// built with (Debian's has libde265). kLibheif: DecodeHeif (heif_decoder.hpp), the pixels then
/// handed to libvips, for a libvips without an HEVC decoder (sharp's, in the processor's Lambda
/// package); a HEIF whose codec that libheif lacks (AV1 under a mif1 brand) still goes to libvips.
enum class HeicDecoder { kLibvips, kLibheif };

/// The build's choice: kLibheif where CMake was given a libheif of its own (IMGUP_LIBHEIF, the
/// `package` preset), kLibvips otherwise.
#ifdef IMGUP_HEIC_VIA_LIBHEIF
inline constexpr HeicDecoder kDefaultHeicDecoder = HeicDecoder::kLibheif;
#else
inline constexpr HeicDecoder kDefaultHeicDecoder = HeicDecoder::kLibvips;
#endif

class VipsImageProcessor final : public ImageProcessor {
 public:
  explicit VipsImageProcessor(HeicDecoder heic = kDefaultHeicDecoder) : heic_(heic) {}

  /// Starts libvips once per process (later calls return the first call's result) and locks it
  /// down for untrusted bytes: every loader is blocked except the buffer loaders for JPEG, PNG,
  /// WebP, GIF and HEIF; the operation cache is off (each upload is seen once); at most two
  /// worker threads per pipeline. Must succeed before Process() is called.
  /// Errors: kInternal "vips_init_failed".
  static Result<void> InitVips(const char* argv0);

  /// See ImageProcessor::Process. Also kInternal "vips_not_initialised" when InitVips() has not
  /// succeeded, and kInternal "processing_failed" when encoding a variant fails.
  Result<ProcessedImage> Process(std::string_view bytes, const SniffResult& sniffed,
                                 const ProcessingLimits& limits) override;

 private:
  HeicDecoder heic_;
};

}  // namespace imgup
