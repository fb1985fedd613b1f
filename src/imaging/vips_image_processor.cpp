#include "imaging/vips_image_processor.hpp"

#include <malloc.h>
#include <webp/encode.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <future>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <vips/vips8>

#include "imaging/blurhash.hpp"
#include "imaging/heif_decoder.hpp"
#include "imaging/metadata.hpp"
#include "imaging/phash.hpp"

namespace imgup {
namespace {

using vips::VError;
using vips::VImage;
using vips::VOption;

constexpr std::uint32_t kMediumEdge = 1024;
constexpr std::uint32_t kThumbEdge = 256;
constexpr std::uint32_t kPlaceholderEdge = 32;
constexpr int kWebpQuality = 80;
// libwebp's method (libvips' "effort"; sharp's default is 4). The medium is the longest step
// of the job: method 2 encodes a 1024 px medium ~30% faster than 4 (camera JPEG: 148 vs 208 ms
// for the whole job) for files within ±3% of the size (126 vs 123 KB camera, 56 vs 58 KB noise;
// bench/README.md). The thumb is small enough to take method 4.
constexpr int kMediumMethod = 2;
constexpr int kThumbMethod = 4;

enum class LoaderKind : std::size_t { kJpeg, kPng, kWebp, kGif, kHeif, kCount };

// The only loaders that ever see user bytes: by GType name for vips_operation_block_set (it takes
// type names), by nickname for vips_operation_new. Debian's 8.14 reads PNG with libpng (the spng
// loader is not built).
struct LoaderNames {
  const char* type;
  const char* nick;
};
constexpr std::array<LoaderNames, static_cast<std::size_t>(LoaderKind::kCount)> kLoaders = {{
    {"VipsForeignLoadJpegBuffer", "jpegload_buffer"},
    {"VipsForeignLoadPngBuffer", "pngload_buffer"},
    {"VipsForeignLoadWebpBuffer", "webpload_buffer"},
    {"VipsForeignLoadNsgifBuffer", "gifload_buffer"},
    {"VipsForeignLoadHeifBuffer", "heifload_buffer"},
}};

// Written once under InitVips' call_once, before g_ready is released.
std::array<bool, static_cast<std::size_t>(LoaderKind::kCount)> g_available{};
std::atomic<bool> g_ready{false};

std::optional<LoaderKind> LoaderFor(std::string_view format) {
  if (format == "jpeg") return LoaderKind::kJpeg;
  if (format == "png") return LoaderKind::kPng;
  if (format == "webp") return LoaderKind::kWebp;
  if (format == "gif") return LoaderKind::kGif;
  if (format == "heif" || format == "avif") return LoaderKind::kHeif;
  return std::nullopt;
}

Result<void> StartVips(const char* argv0) {
  if (VIPS_INIT(argv0 != nullptr ? argv0 : "imgup") != 0) {
    std::string detail = vips_error_buffer();
    vips_error_clear();
    return Fail(ErrorCode::kInternal, "vips_init_failed", "The image library failed to start.",
                detail);
  }
  // Untrusted loaders (ImageMagick, PDF, SVG, ...) never run; then every other loader is blocked
  // too and only ours are unblocked, so that not even a trusted loader we do not use (TIFF, ...)
  // is reachable through some generic path.
  vips_block_untrusted_set(TRUE);
  vips_operation_block_set("VipsForeignLoad", TRUE);
  for (std::size_t i = 0; i < kLoaders.size(); ++i) {
    g_available[i] = g_type_from_name(kLoaders[i].type) != 0;
    if (g_available[i]) vips_operation_block_set(kLoaders[i].type, FALSE);
  }
  // Each decode allocates ~10 MB of region buffers on libvips' worker threads. With glibc's
  // default of up to eight arenas per core, every arena keeps its own freed copy and peak RSS
  // creeps from 57 to 66+ MB over a few dozen 12 MP jobs. One arena kept it at 56 MB but made
  // the server's request threads queue on the arena lock (GET /images at 8 connections: 530
  // instead of 1 690 req/s), so: a few arenas. This is process-wide: it belongs to whoever embeds
  // libvips, which is this adapter.
  constexpr int kMallocArenas = 4;
  mallopt(M_ARENA_MAX, kMallocArenas);
  // glibc raises its mmap threshold to the size of each large block freed (up to 32 MB), after
  // which a decoder's multi-megabyte buffers (libjpeg's coefficients for a progressive file,
  // libvips' line caches) are kept in the arenas instead of being returned: a fixed threshold
  // keeps the blocks above it mmapped and freed for real. 12 MP progressive JPEG, 6 jobs
  // (imgup_process_bench): peak RSS 124 → 91 MB, baseline JPEG 54 → 52 MB, same time.
  constexpr int kMmapThreshold = 4 << 20;
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  // A fixed mmap threshold also freezes the trim threshold at its 128 KB default (glibc raises
  // it with the mmap threshold only while that one floats). Every freed request body (273 KB
  // for a 200 KB upload) then left more than that free at the top of its arena, which was
  // given back to the kernel and faulted in again by the next request: 5 page faults per
  // upload, ~8% of the CPU of a POST /upload burst (perf). Keeping up to 8 MB per arena: 0.2.
  constexpr int kTrimThreshold = 8 << 20;
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  // Every upload is decoded once: cached operations would only pin memory (and user bytes).
  vips_cache_set_max(0);
  vips_cache_set_max_files(0);
  // The work is one serial decoder feeding resampling: more than two threads only adds memory.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  vips_concurrency_set(static_cast<int>(std::min(cores, 2u)));
  g_ready.store(true, std::memory_order_release);
  return {};
}

// A blob over the caller's bytes (no copy). The bytes outlive every image made from it, because
// all images are local to Process() and the operation cache is off.
class BorrowedBlob {
 public:
  explicit BorrowedBlob(std::string_view bytes)
      : blob_(vips_blob_new(nullptr, bytes.data(), bytes.size())) {}
  BorrowedBlob(const BorrowedBlob&) = delete;
  BorrowedBlob& operator=(const BorrowedBlob&) = delete;
  ~BorrowedBlob() { vips_area_unref(VIPS_AREA(blob_)); }
  VipsBlob* get() const { return blob_; }

 private:
  VipsBlob* blob_;
};

// Sequential access streams the decode through the pipeline instead of decoding into a temporary
// whole image. fail_on turns damage into errors instead of grey pixels: for JPEG at "warning",
// because libjpeg reports corrupt entropy-coded data only as a warning (sharp's default too); the
// other decoders report damage as errors, and their warnings (libpng's "known incorrect sRGB
// profile", ...) are common in files that decode perfectly well.
VOption* LoadOptions(LoaderKind kind) {
  return VImage::option()
      ->set("access", VIPS_ACCESS_SEQUENTIAL)
      ->set("fail_on", kind == LoaderKind::kJpeg ? VIPS_FAIL_ON_WARNING : VIPS_FAIL_ON_ERROR);
}

/// Whether a loader hit a read error during any pull of its pixels.
///
/// libvips 8.14's threadpool can report a pull as finished while the worker whose strip failed
/// is still on its way out: the main thread breaks out on another worker's "no more work" and
/// reads the error flag before waiting for the rest (fixed upstream in the 8.15 branch, libvips
/// PR #4116). A decode error in the last strips was then lost in about 1-4% of uploads and the
/// image came out "ready" with those rows black. A loader that sees a read error from its library
/// (libpng: every failed row; libjpeg: the data running out; any loader whose deferred load fails)
/// first signals "invalidate" on its operation, from that worker, and the pull returns only once
/// every worker has ended: so after any pull this flag says whether the loader failed, however the
/// threads raced.
class LoadErrors {
 public:
  LoadErrors() = default;
  LoadErrors(const LoadErrors&) = delete;
  LoadErrors& operator=(const LoadErrors&) = delete;
  ~LoadErrors() {
    for (const auto& [operation, handler] : watched_) {
      g_signal_handler_disconnect(operation, handler);
      g_object_unref(operation);
    }
  }

  void Watch(VipsOperation* operation) {
    g_object_ref(operation);
    watched_.emplace_back(
        operation, g_signal_connect(operation, "invalidate", G_CALLBACK(OnInvalidate), &seen_));
  }
  bool seen() const { return seen_.load(); }

 private:
  static void OnInvalidate(VipsOperation*, void* seen) {
    static_cast<std::atomic<bool>*>(seen)->store(true);
  }

  std::atomic<bool> seen_{false};
  std::vector<std::pair<VipsOperation*, gulong>> watched_;
};

// VImage::pngload_buffer() and the like, but keeping hold of the operation so that `errors` can
// watch it (the C++ binding drops it once it is built). Takes ownership of `options`.
VImage Load(LoaderKind kind, VipsBlob* blob, VOption* options, LoadErrors& errors) {
  VipsOperation* operation = vips_operation_new(kLoaders[static_cast<std::size_t>(kind)].nick);
  if (operation == nullptr) {
    delete options;
    throw VError();
  }
  VImage out;
  options->set("buffer", blob)->set("out", &out);
  options->set_operation(operation);
  if (vips_cache_operation_buildp(&operation) != 0) {
    vips_object_unref_outputs(VIPS_OBJECT(operation));
    g_object_unref(operation);
    delete options;
    throw VError();
  }
  options->get_operation(operation);
  delete options;
  errors.Watch(operation);
  g_object_unref(operation);
  return out;
}

struct Size {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
};

// libheif's decoded pixels as a libvips image, with the metadata heifload would attach. libvips
// borrows the pixels: `heif` must outlive every image made from it. Orientation 1, like heifload:
// libheif has applied the container's transformations, and a HEIF's EXIF orientation is
// informative only.
VImage FromDecodedHeif(const DecodedHeif& heif) {
  const bool deep = heif.bits_per_sample() == 16;
  VImage img = VImage::new_from_memory(
      const_cast<std::uint8_t*>(heif.pixels()), heif.size_bytes(), static_cast<int>(heif.width()),
      static_cast<int>(heif.height()), static_cast<int>(heif.bands()),
      deep ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR);
  img = img.copy(VImage::option()->set(
      "interpretation", deep ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_sRGB));
  if (!heif.icc().empty())
    vips_image_set_blob_copy(img.get_image(), VIPS_META_ICC_NAME, heif.icc().data(),
                             heif.icc().size());
  if (!heif.exif().empty())
    vips_image_set_blob_copy(img.get_image(), VIPS_META_EXIF_NAME, heif.exif().data(),
                             heif.exif().size());
  img.set(VIPS_META_ORIENTATION, 1);
  return img;
}

// The size that fits `size` inside a square of `edge`, never larger than `size`.
Size Fit(Size size, std::uint32_t edge) {
  const std::uint32_t long_edge = std::max(size.width, size.height);
  if (long_edge <= edge) return size;
  const double scale = static_cast<double>(edge) / static_cast<double>(long_edge);
  auto scaled = [&](std::uint32_t v) {
    return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::lround(v * scale)));
  };
  if (size.width >= size.height) return {edge, scaled(size.height)};
  return {scaled(size.width), edge};
}

// The largest libjpeg DCT scaling (1/2, 1/4, 1/8) that still leaves at least `edge` pixels on the
// long side: the decoder then does most of the downsizing while it decodes.
int JpegShrink(Size size, std::uint32_t edge) {
  const std::uint32_t long_edge = std::max(size.width, size.height);
  for (int s : {8, 4, 2})
    if (long_edge >= edge * static_cast<std::uint32_t>(s)) return s;
  return 1;
}

// Resamples to exactly `to`; alpha is premultiplied around the resampling so that transparent
// pixels do not bleed their colour into the edges.
VImage ResizeTo(const VImage& in, Size to) {
  if (static_cast<std::uint32_t>(in.width()) == to.width &&
      static_cast<std::uint32_t>(in.height()) == to.height)
    return in;
  const double hscale = static_cast<double>(to.width) / in.width();
  const double vscale = static_cast<double>(to.height) / in.height();
  if (!in.has_alpha()) return in.resize(hscale, VImage::option()->set("vscale", vscale));
  const VipsBandFormat format = in.format();
  return in.premultiply()
      .resize(hscale, VImage::option()->set("vscale", vscale))
      .unpremultiply()
      .cast(format);
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// 8-bit sRGB with the alpha band (if any) kept: colour-managed when the image carries a profile
// other than sRGB, a plain colourspace conversion otherwise (grey, 16-bit, ...).
VImage ToSrgb(VImage img, bool has_profile, std::string_view profile_name) {
  if (has_profile && !StartsWith(profile_name, "sRGB")) {
    try {
      img = img.icc_transform("srgb", VImage::option()
                                          ->set("embedded", true)
                                          ->set("intent", VIPS_INTENT_RELATIVE)
                                          ->set("depth", 8));
    } catch (const VError&) {
      // A broken or mismatched profile is not worth refusing the image over: convert without it.
      vips_error_clear();
    }
  }
  if (img.interpretation() != VIPS_INTERPRETATION_sRGB)
    img = img.colourspace(VIPS_INTERPRETATION_sRGB);
  if (img.format() != VIPS_FORMAT_UCHAR) img = img.cast(VIPS_FORMAT_UCHAR);
  return img;
}

// libwebp directly rather than webpsave: Debian's libvips 8.14.1 writes an EXIF chunk even with
// strip=TRUE (tests/unit/imaging checks every variant's chunks). Encoding the pixels ourselves
// means no metadata can reach a variant, whatever the libvips version. `image` is 8-bit RGB(A)
// in memory.
std::string EncodeWebp(const VImage& image, int method) {
  WebPConfig config;
  if (WebPConfigInit(&config) == 0) throw std::runtime_error("libwebp version mismatch");
  config.quality = kWebpQuality;
  config.method = method;
  config.thread_level = 1;  // libwebp overlaps its analysis and encoding passes on a second thread
  WebPPicture picture;
  if (WebPPictureInit(&picture) == 0) throw std::runtime_error("libwebp version mismatch");
  picture.width = image.width();
  picture.height = image.height();
  WebPMemoryWriter writer;
  WebPMemoryWriterInit(&writer);
  picture.writer = WebPMemoryWrite;
  picture.custom_ptr = &writer;
  const auto* pixels = static_cast<const std::uint8_t*>(image.data());
  const int stride = image.width() * image.bands();
  const int imported = image.bands() == 4 ? WebPPictureImportRGBA(&picture, pixels, stride)
                                          : WebPPictureImportRGB(&picture, pixels, stride);
  const bool ok = imported != 0 && WebPEncode(&config, &picture) != 0;
  const int error = static_cast<int>(picture.error_code);
  std::string bytes;
  if (ok) bytes.assign(reinterpret_cast<const char*>(writer.mem), writer.size);
  WebPPictureFree(&picture);
  WebPMemoryWriterClear(&writer);
  if (!ok) throw std::runtime_error("WebP encoding failed: error " + std::to_string(error));
  return bytes;
}

// Packed pixels of an image that is already in memory (copy_memory or a memory sink).
std::span<const std::uint8_t> Pixels(const VImage& img) {
  const std::size_t size = static_cast<std::size_t>(img.width()) *
                           static_cast<std::size_t>(img.height()) *
                           static_cast<std::size_t>(img.bands()) *
                           static_cast<std::size_t>(vips_format_sizeof(img.format()));
  return {static_cast<const std::uint8_t*>(img.data()), size};
}

std::string_view Blob(const VImage& img, const char* field) {
  if (img.get_typeof(field) == 0) return {};
  std::size_t length = 0;
  const void* data = img.get_blob(field, &length);
  return {static_cast<const char*>(data), length};
}

int PageHeight(const VImage& img) { return vips_image_get_page_height(img.get_image()); }

int IntField(const VImage& img, const char* field, int fallback) {
  if (img.get_typeof(field) == 0) return fallback;
  return img.get_int(field);
}

Result<ProcessedImage> TooLarge(std::string detail) {
  return Fail(ErrorCode::kUnprocessable, "image_too_large",
              "The image exceeds the allowed size in pixels or frames.", std::move(detail));
}

/// The pixel cap on one frame, the frame cap, and the pixel cap on frames × canvas: decoders
/// render every frame of an animation onto a full canvas, so that is the work the whole file
/// stands for (imgproxy sums the frames against its one resolution limit the same way).
Result<void> CheckCaps(Size canvas, std::uint32_t frames, const ProcessingLimits& limits) {
  const std::uint64_t pixels = std::uint64_t{canvas.width} * canvas.height;
  const std::string size = std::to_string(canvas.width) + "x" + std::to_string(canvas.height);
  if (pixels > limits.max_pixels) return tl::unexpected(TooLarge(size).error());
  if (frames > 1 && frames > limits.max_frames)
    return tl::unexpected(TooLarge(std::to_string(frames) + " frames").error());
  if (frames > 1 && pixels > 0 && frames > limits.max_pixels / pixels) {
    return tl::unexpected(TooLarge(std::to_string(frames) + " frames × " + size + " canvas: over " +
                                   std::to_string(limits.max_pixels) + " pixels (frames × canvas)")
                              .error());
  }
  return {};
}

/// Stops a libvips evaluation that runs past a deadline: libvips calls "eval" as it computes
/// an image's pixels, and a killed image fails its evaluation with an error.
struct Deadline {
  std::chrono::steady_clock::time_point at;
  bool expired = false;

  static void OnEval(VipsImage* image, VipsProgress*, void* data) {
    auto* self = static_cast<Deadline*>(data);
    if (std::chrono::steady_clock::now() > self->at) {
      self->expired = true;
      vips_image_set_kill(image, TRUE);
    }
  }
  /// Makes `image` report its progress to this deadline.
  void Watch(const VImage& image) {
    vips_image_set_progress(image.get_image(), TRUE);
    g_signal_connect(image.get_image(), "eval", G_CALLBACK(OnEval), this);
  }
};

Result<ProcessedImage> Run(std::string_view bytes, const SniffResult& sniffed,
                           const ProcessingLimits& limits, LoaderKind kind, HeicDecoder heic) {
  Deadline deadline{std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(limits.max_decode_ms)};
  if (kind == LoaderKind::kGif && !SniffImage(bytes)) {
    // libnsgif (libvips 8.14) decodes a GIF cut short between or even inside frames without
    // complaint; the sniffer's walk of every block to the trailer does not let one through.
    return Fail(ErrorCode::kUnprocessable, "decode_failed",
                "The image data is corrupt or truncated.", "GIF blocks do not reach the trailer");
  }
  // HEIC through libheif when this libvips cannot decode HEVC: decoded whole, up front (libheif
  // decodes the whole image at the first request in libvips' heifload too). Before every image:
  // they borrow its pixels.
  std::optional<DecodedHeif> heif;
  if (kind == LoaderKind::kHeif && heic == HeicDecoder::kLibheif && sniffed.format == "heif") {
    auto decoded_heif = DecodeHeif(bytes, limits.max_pixels);
    if (decoded_heif) {
      heif = std::move(*decoded_heif);
    } else if (decoded_heif.error().slug != "heif_codec_unsupported") {
      return tl::unexpected(std::move(decoded_heif).error());
    }
  }
  const BorrowedBlob blob(bytes);
  LoadErrors load_errors;  // before every image: it outlives them all
  bool decoded = false;
  try {
    // 1. The header only: libvips loads lazily, so no pixel has been decoded yet (libheif's
    // pixels are, when it decoded them).
    VImage header =
        heif ? FromDecodedHeif(*heif) : Load(kind, blob.get(), LoadOptions(kind), load_errors);
    const Size stored{static_cast<std::uint32_t>(header.width()),
                      static_cast<std::uint32_t>(PageHeight(header))};
    // The frames are counted by the sniffer from the container; libvips' count (libnsgif and
    // libwebp's demuxer read it from the headers too) is a second opinion for the caps.
    const bool animated =
        (kind == LoaderKind::kGif || kind == LoaderKind::kWebp) && sniffed.frame_count > 1;
    const std::uint32_t frames =
        animated ? std::max(sniffed.frame_count,
                            static_cast<std::uint32_t>(std::max(1, IntField(header, "n-pages", 1))))
                 : 1;
    IMGUP_RETURN_IF_ERROR(CheckCaps(stored, frames, limits));

    ProcessedImage out;
    const int orientation = std::clamp(IntField(header, "orientation", 1), 1, 8);
    const bool transposed = orientation >= 5;
    out.width = transposed ? stored.height : stored.width;
    out.height = transposed ? stored.width : stored.height;
    out.format = sniffed.format;
    if (kind == LoaderKind::kPng && bytes.size() > 24) {
      out.bit_depth = static_cast<unsigned char>(bytes[24]);  // IHDR bit depth, 1..16
    } else {
      out.bit_depth = header.format() == VIPS_FORMAT_USHORT ? 16 : 8;
    }
    out.bands = static_cast<std::uint32_t>(header.bands());
    out.has_alpha = header.has_alpha();
    out.animated = animated;
    out.frame_count = animated ? sniffed.frame_count : 1;
    const std::string_view icc = Blob(header, VIPS_META_ICC_NAME);
    out.icc_profile = IccDescription(icc);
    out.exif = ParseExif(Blob(header, VIPS_META_EXIF_NAME), limits.keep_gps);

    // 2. The one decode, shrunk while decoding where the format can (JPEG DCT scaling, libwebp's
    // scaler); every other step works on the result or something smaller. Of an animation only
    // the first frame is decoded (the loaders' default, n=1): the variants show that frame, and
    // the other frames are never rendered, so a canvas bomb costs one canvas at most.
    const Size medium_size = Fit(stored, kMediumEdge);
    VImage frame = header;
    if (kind == LoaderKind::kJpeg) {
      if (const int shrink = JpegShrink(stored, kMediumEdge); shrink > 1)
        frame = Load(kind, blob.get(), LoadOptions(kind)->set("shrink", shrink), load_errors);
    } else if (kind == LoaderKind::kWebp) {
      if (const std::uint32_t shrink = std::max(stored.width, stored.height) / kMediumEdge;
          shrink >= 2) {
        frame = Load(kind, blob.get(), LoadOptions(kind)->set("scale", 1.0 / shrink), load_errors);
      }
    } else if (kind == LoaderKind::kHeif && !heif) {
      // libheif decodes the frame its bitstream says, whatever the ispe property claims, and
      // libvips then refuses a decoded size other than its header's ("bad image dimensions on
      // decode"). In a pull that error can be lost (libvips 8.14's threadpool: a one-strip image
      // came out "ready", black, at the ispe's 1x1), so the first line is fetched here, on this
      // thread, where the error is returned. libheif decodes the whole image at the first
      // request and keeps it: this costs no second decode.
      VipsRegion* region = vips_region_new(frame.get_image());
      VipsRect first_line{0, 0, frame.width(), 1};
      const int prepared = vips_region_prepare(region, &first_line);
      g_object_unref(region);
      if (prepared != 0) throw VError();
    }
    bool has_profile = !icc.empty();
    if (frame.interpretation() == VIPS_INTERPRETATION_CMYK) {
      // CMYK is resampled in sRGB, not in ink space: convert first, with the file's profile or
      // libvips' built-in CMYK one.
      frame = frame.icc_transform("srgb", VImage::option()
                                              ->set("embedded", true)
                                              ->set("input_profile", "cmyk")
                                              ->set("intent", VIPS_INTENT_RELATIVE)
                                              ->set("depth", 8));
      has_profile = false;
    }
    // Pulling the medium through the pipeline decodes every pixel of the (first) frame: this is
    // the full validation, and the only time the original's pixels exist, a strip at a time.
    VImage resized = ResizeTo(frame, medium_size);
    deadline.Watch(resized);
    VImage medium = resized.copy_memory();
    if (load_errors.seen()) {
      vips_error_clear();
      return Fail(ErrorCode::kUnprocessable, "decode_failed",
                  "The image data is corrupt or truncated.",
                  "the loader reported a read error that the pull did not");
    }
    decoded = true;

    // 3. Everything else works on the medium, in memory.
    medium = ToSrgb(medium, has_profile, out.icc_profile);
    if (orientation != 1) medium = medium.autorot();
    medium = medium.copy_memory();
    for (const char* field : {"page-height", "n-pages", "delay", "loop", "gif-delay"})
      (void)medium.remove(field);

    // Sized from the original, not the medium, so that rounding is the original's.
    const VImage thumb = ResizeTo(medium, Fit({out.width, out.height}, kThumbEdge)).copy_memory();

    // The medium's encode is the longest step left and needs nothing else: it runs on its own
    // thread while this one makes the thumb, the placeholder and the hash. (A std::async future
    // waits in its destructor, so the encoder never outlives `medium`, even on an exception.)
    auto medium_webp =
        std::async(std::launch::async, [&medium] { return EncodeWebp(medium, kMediumMethod); });
    out.variants.push_back({"thumb", EncodeWebp(thumb, kThumbMethod),
                            static_cast<std::uint32_t>(thumb.width()),
                            static_cast<std::uint32_t>(thumb.height()), "image/webp"});

    // 4. Placeholder, colour and hash from the thumb.
    out.dominant_color = DominantColor(Pixels(thumb), thumb.bands());
    VImage opaque = thumb;
    if (thumb.has_alpha()) {
      opaque =
          thumb.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}))
              .cast(VIPS_FORMAT_UCHAR);
    }
    const VImage tiny = ResizeTo(opaque, Fit({static_cast<std::uint32_t>(opaque.width()),
                                              static_cast<std::uint32_t>(opaque.height())},
                                             kPlaceholderEdge))
                            .copy_memory();
    out.placeholder = EncodeBlurHash(Pixels(tiny), static_cast<std::uint32_t>(tiny.width()),
                                     static_cast<std::uint32_t>(tiny.height()),
                                     static_cast<std::size_t>(tiny.width()) * 3, 4, 3);
    const VImage grey =
        ResizeTo(opaque.colourspace(VIPS_INTERPRETATION_B_W).cast(VIPS_FORMAT_UCHAR),
                 {kPhashSide, kPhashSide})
            .copy_memory();
    const auto grey_pixels = Pixels(grey);
    if (grey.bands() != 1 || grey_pixels.size() != kPhashSide * kPhashSide)
      return Fail(ErrorCode::kInternal, "processing_failed", "The image could not be processed.",
                  "unexpected hash image shape");
    out.phash = PerceptualHash(grey_pixels.first<kPhashSide * kPhashSide>());
    out.variants.push_back({"medium", medium_webp.get(), static_cast<std::uint32_t>(medium.width()),
                            static_cast<std::uint32_t>(medium.height()), "image/webp"});
    return out;
  } catch (const std::bad_alloc&) {
    vips_error_clear();
    return Fail(ErrorCode::kInternal, "out_of_memory", "The image needs more memory than allowed.",
                "std::bad_alloc");
  } catch (const std::exception& e) {  // VError, EncodeWebp's runtime_error, std::async's
    vips_error_clear();
    if (deadline.expired) {
      return Fail(ErrorCode::kUnprocessable, "processing_timeout",
                  "The image took too long to decode.",
                  "stopped after " + std::to_string(limits.max_decode_ms) + " ms");
    }
    if (!decoded)
      return Fail(ErrorCode::kUnprocessable, "decode_failed",
                  "The image data is corrupt or truncated.", e.what());
    return Fail(ErrorCode::kInternal, "processing_failed", "The image could not be processed.",
                e.what());
  }
}

}  // namespace

Result<void> VipsImageProcessor::InitVips(const char* argv0) {
  static std::once_flag once;
  static Result<void> result;
  std::call_once(once, [&] { result = StartVips(argv0); });
  return result;
}

Result<ProcessedImage> VipsImageProcessor::Process(std::string_view bytes,
                                                   const SniffResult& sniffed,
                                                   const ProcessingLimits& limits) {
  if (!g_ready.load(std::memory_order_acquire))
    return Fail(ErrorCode::kInternal, "vips_not_initialised", "The image library is not ready.");
  const auto kind = LoaderFor(sniffed.format);
  if (!kind || !g_available[static_cast<std::size_t>(*kind)])
    return Fail(ErrorCode::kUnsupportedMediaType, "unsupported_media_type",
                "This image type cannot be processed.", "no loader for " + sniffed.format);
  // The sniffed header already names the size and the frames: refuse a bomb before libvips
  // even parses it.
  const bool animated =
      (*kind == LoaderKind::kGif || *kind == LoaderKind::kWebp) && sniffed.frame_count > 1;
  IMGUP_RETURN_IF_ERROR(
      CheckCaps({sniffed.width, sniffed.height}, animated ? sniffed.frame_count : 1, limits));
  return Run(bytes, sniffed, limits, *kind, heic_);
}

}  // namespace imgup
