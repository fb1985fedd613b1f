#include "imaging/heif_decoder.hpp"

#include <libheif/heif.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace imgup {
namespace {

// The pixel worker runs two libvips threads (vips_concurrency_set): a grid's tiles (an iPhone's
// HEIC is 48 tiles of 512 x 512) decode on as many.
constexpr int kDecodingThreads = 2;

struct ContextFree {
  void operator()(heif_context* context) const { heif_context_free(context); }
};
struct HandleRelease {
  void operator()(heif_image_handle* handle) const { heif_image_handle_release(handle); }
};
struct OptionsFree {
  void operator()(heif_decoding_options* options) const { heif_decoding_options_free(options); }
};

tl::unexpected<Error> DecodeFailed(const heif_error& error) {
  if (error.code == heif_error_Unsupported_feature &&
      error.subcode == heif_suberror_Unsupported_codec) {
    return Fail(ErrorCode::kUnsupportedMediaType, "heif_codec_unsupported",
                "This image type cannot be processed.",
                std::string("libheif: ") + (error.message != nullptr ? error.message : ""));
  }
  return Fail(ErrorCode::kUnprocessable, "decode_failed", "The image data is corrupt or truncated.",
              std::string("libheif: ") + (error.message != nullptr ? error.message : ""));
}

// The first EXIF block of the image, from its TIFF header on. A HEIF EXIF item starts with the
// offset of that header from the end of the offset field (ISO/IEC 23008-12 A.2.1); usually 0,
// 6 when an "Exif\0\0" prefix sits between them.
std::string ExifOf(const heif_image_handle* handle) {
  heif_item_id id = 0;
  if (heif_image_handle_get_list_of_metadata_block_IDs(handle, "Exif", &id, 1) != 1) return {};
  const std::size_t size = heif_image_handle_get_metadata_size(handle, id);
  if (size < 4) return {};
  std::string block(size, '\0');
  if (heif_image_handle_get_metadata(handle, id, block.data()).code != heif_error_Ok) return {};
  const auto* b = reinterpret_cast<const unsigned char*>(block.data());
  const std::uint64_t offset = (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16) |
                               (std::uint64_t{b[2]} << 8) | std::uint64_t{b[3]};
  if (offset > size - 4) return {};
  return block.substr(4 + offset);
}

std::string IccOf(const heif_image_handle* handle) {
  const heif_color_profile_type type = heif_image_handle_get_color_profile_type(handle);
  if (type != heif_color_profile_type_prof && type != heif_color_profile_type_rICC) return {};
  std::string icc(heif_image_handle_get_raw_color_profile_size(handle), '\0');
  if (icc.empty() ||
      heif_image_handle_get_raw_color_profile(handle, icc.data()).code != heif_error_Ok)
    return {};
  return icc;
}

}  // namespace

void DecodedHeif::ImageRelease::operator()(heif_image* image) const { heif_image_release(image); }

Result<DecodedHeif> DecodeHeif(std::string_view bytes, std::uint64_t max_pixels) {
  // heif_init registers the built-in decoders; it counts its calls, and this one is never undone.
  static std::once_flag once;
  std::call_once(once, [] { heif_init(nullptr); });

  std::unique_ptr<heif_context, ContextFree> context(heif_context_alloc());
  if (!context) return Fail(ErrorCode::kInternal, "out_of_memory", "Out of memory.", "libheif");
  heif_context_set_max_decoding_threads(context.get(), kDecodingThreads);
  // The caller's `bytes` outlive the context: no copy.
  if (const heif_error e = heif_context_read_from_memory_without_copy(context.get(), bytes.data(),
                                                                      bytes.size(), nullptr);
      e.code != heif_error_Ok)
    return DecodeFailed(e);
  heif_image_handle* raw_handle = nullptr;
  if (const heif_error e = heif_context_get_primary_image_handle(context.get(), &raw_handle);
      e.code != heif_error_Ok)
    return DecodeFailed(e);
  const std::unique_ptr<heif_image_handle, HandleRelease> handle(raw_handle);

  const int width = heif_image_handle_get_width(handle.get());
  const int height = heif_image_handle_get_height(handle.get());
  if (width <= 0 || height <= 0)
    return Fail(ErrorCode::kUnprocessable, "decode_failed",
                "The image data is corrupt or truncated.", "libheif: no image size");
  if (std::uint64_t{static_cast<std::uint32_t>(width)} * static_cast<std::uint32_t>(height) >
      max_pixels) {
    return Fail(ErrorCode::kUnprocessable, "image_too_large",
                "The image exceeds the allowed size in pixels or frames.",
                std::to_string(width) + "x" + std::to_string(height));
  }
  const bool alpha = heif_image_handle_has_alpha_channel(handle.get()) != 0;
  const int luma_bits = heif_image_handle_get_luma_bits_per_pixel(handle.get());
  const bool deep = luma_bits > 8 && luma_bits <= 16;
  const heif_chroma chroma =
      deep ? (alpha ? heif_chroma_interleaved_RRGGBBAA_LE : heif_chroma_interleaved_RRGGBB_LE)
           : (alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB);

  const std::unique_ptr<heif_decoding_options, OptionsFree> options(heif_decoding_options_alloc());
  heif_image* raw_image = nullptr;
  if (const heif_error e =
          heif_decode_image(handle.get(), &raw_image, heif_colorspace_RGB, chroma, options.get());
      e.code != heif_error_Ok)
    return DecodeFailed(e);
  DecodedHeif out;
  out.image_.reset(raw_image);

  // libheif decodes the size the bitstream says, whatever the container declared (an ispe of
  // 1x1 over a large frame): only the declared size was checked against the cap.
  if (heif_image_get_width(raw_image, heif_channel_interleaved) != width ||
      heif_image_get_height(raw_image, heif_channel_interleaved) != height) {
    return Fail(ErrorCode::kUnprocessable, "decode_failed",
                "The image data is corrupt or truncated.",
                "libheif: decoded size differs from the declared " + std::to_string(width) + "x" +
                    std::to_string(height));
  }
  int stride = 0;
  std::uint8_t* plane = heif_image_get_plane(raw_image, heif_channel_interleaved, &stride);
  out.width_ = static_cast<std::uint32_t>(width);
  out.height_ = static_cast<std::uint32_t>(height);
  out.bands_ = alpha ? 4 : 3;
  out.bits_ = deep ? 16 : 8;
  const std::size_t row = std::size_t{out.width_} * out.bands_ * (out.bits_ / 8);
  if (plane == nullptr || stride < 0 || static_cast<std::size_t>(stride) < row)
    return Fail(ErrorCode::kUnprocessable, "decode_failed",
                "The image data is corrupt or truncated.", "libheif: no interleaved plane");
  // libvips wants rows packed; libheif pads them to an alignment. Moving each row down to its
  // packed place, first to last, never overwrites a row not yet moved: no second buffer.
  if (static_cast<std::size_t>(stride) != row) {
    for (std::size_t y = 1; y < out.height_; ++y)
      std::memmove(plane + y * row, plane + y * static_cast<std::size_t>(stride), row);
  }
  if (deep) {
    // Samples of luma_bits bits to the full 16-bit range, as libvips' heifload gives them.
    const int up = 16 - luma_bits;
    const int down = luma_bits - up;
    const std::size_t samples = std::size_t{out.width_} * out.height_ * out.bands_;
    for (std::size_t i = 0; i < samples; ++i) {
      const unsigned v =
          static_cast<unsigned>(plane[2 * i]) | (static_cast<unsigned>(plane[2 * i + 1]) << 8);
      const unsigned scaled = ((v << up) | (down > 0 ? v >> down : 0)) & 0xFFFFu;
      plane[2 * i] = static_cast<std::uint8_t>(scaled & 0xFFu);
      plane[2 * i + 1] = static_cast<std::uint8_t>(scaled >> 8);
    }
  }
  out.pixels_ = plane;
  out.exif_ = ExifOf(handle.get());
  out.icc_ = IccOf(handle.get());
  return out;
}

}  // namespace imgup
