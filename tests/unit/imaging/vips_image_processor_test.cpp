#include "imaging/vips_image_processor.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <vips/vips8>

#include "codecs/sniff.hpp"
#include "domain/phash_distance.hpp"
#include "fakes/temp_dir.hpp"
#include "imaging/exif_builder.hpp"
#include "support/images.hpp"

namespace imgup {
namespace {

namespace fs = std::filesystem;
using vips::VError;
using vips::VImage;
using vips::VOption;

// ---------------------------------------------------------------------------------------------
// Fixtures: made with libvips' savers (never blocked) and Debian's CLI tools.

std::string Take(VipsBlob* blob) {
  std::size_t n = 0;
  const void* data = vips_blob_get(blob, &n);
  std::string bytes(static_cast<const char*>(data), n);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

std::string Jpeg(const VImage& img, VOption* options = nullptr) {
  return Take(img.jpegsave_buffer(options));
}
std::string Png(const VImage& img, VOption* options = nullptr) {
  return Take(img.pngsave_buffer(options));
}
std::string Webp(const VImage& img, VOption* options = nullptr) {
  return Take(img.webpsave_buffer(options));
}
std::string Gif(const VImage& img, VOption* options = nullptr) {
  return Take(img.gifsave_buffer(options));
}

VImage Srgb(const VImage& img) {
  return img.cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// Smooth photo-like content with some texture: gradients, a blob and mild noise.
VImage Synthetic(int w, int h, double seed = 1.0) {
  // A fixed noise seed: libvips picks a random one by default, and fixtures must not vary.
  const VImage xy = VImage::xyz(w, h);
  const VImage x = xy[0] / w, y = xy[1] / h;
  const VImage r = x * 200 + 30;
  const VImage g = y * 180 + (x * (6.0 * seed)).sin() * 20 + 40;
  const VImage b = ((x - 0.5) * (x - 0.5) + (y - 0.4) * (y - 0.4)) * -600 + 220;
  const VImage noise = VImage::gaussnoise(w, h,
                                          VImage::option()
                                              ->set("sigma", 6.0)
                                              ->set("mean", 0.0)
                                              ->set("seed", static_cast<int>(seed * 1000)));
  return Srgb(VImage::bandjoin({r + noise, g + noise, b + noise}));
}

VImage Solid(int w, int h, std::vector<double> colour) {
  return Srgb(VImage::black(w, h).new_from_image(std::move(colour)));
}

VImage Load(const std::string& bytes) {
  // new_from_buffer does not copy: read every pixel while `bytes` is alive.
  return VImage::new_from_buffer(bytes.data(), bytes.size(), "").copy_memory();
}

// A JPEG with `segment` (marker + payload) inserted after its JFIF APP0 segment.
std::string WithSegment(const std::string& jpeg, unsigned char marker, const std::string& payload) {
  const auto length = static_cast<std::uint32_t>(payload.size() + 2);
  std::string segment = {'\xFF', static_cast<char>(marker), static_cast<char>(length >> 8),
                         static_cast<char>(length & 0xFF)};
  segment += payload;
  std::size_t at = 2;
  if (static_cast<unsigned char>(jpeg[3]) == 0xE0)
    at = 4 + (std::size_t{static_cast<unsigned char>(jpeg[4])} << 8 |
              std::size_t{static_cast<unsigned char>(jpeg[5])});
  return jpeg.substr(0, at) + segment + jpeg.substr(at);
}

std::uint32_t Crc32(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFF;
  for (const char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string Be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string PngChunk(const std::string& type, const std::string& data) {
  return Be32(static_cast<std::uint32_t>(data.size())) + type + data + Be32(Crc32(type + data));
}

// A well-formed zlib stream of `raw` in stored (uncompressed) blocks, with its Adler-32.
std::string StoredZlib(const std::string& raw) {
  std::string zlib = "\x78\x01";
  std::size_t at = 0;
  do {
    const auto n = static_cast<std::uint16_t>(std::min<std::size_t>(raw.size() - at, 0xFFFF));
    zlib += at + n == raw.size() ? '\x01' : '\x00';  // final block?
    zlib += {static_cast<char>(n & 0xFF), static_cast<char>(n >> 8), static_cast<char>(~n & 0xFF),
             static_cast<char>((~n >> 8) & 0xFF)};
    zlib += raw.substr(at, n);
    at += n;
  } while (at < raw.size());
  std::uint32_t a = 1, b = 0;
  for (const char c : raw) {
    a = (a + static_cast<unsigned char>(c)) % 65521;
    b = (b + a) % 65521;
  }
  return zlib + Be32(b << 16 | a);
}

// An 8-bit RGB PNG of `width` x `height` whose one IDAT is a complete, well-formed zlib stream of
// `filtered` (the scanlines, each led by its filter byte): every chunk and CRC is right whatever
// `filtered` holds, so only the decode can tell that some of it is missing.
std::string PngOf(std::uint32_t width, std::uint32_t height, bool interlaced,
                  const std::string& filtered) {
  std::string ihdr = Be32(width) + Be32(height) + std::string("\x08\x02\x00\x00", 4) +
                     (interlaced ? '\x01' : '\x00');
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) +
         PngChunk("IDAT", StoredZlib(filtered)) + PngChunk("IEND", "");
}

// PngOf() holding only the first `rows` of its scanlines (filter byte 0 and a gradient).
std::string PngWithRows(std::uint32_t width, std::uint32_t height, std::uint32_t rows) {
  std::string raw;
  for (std::uint32_t y = 0; y < rows; ++y) {
    raw += '\0';
    for (std::uint32_t x = 0; x < width; ++x)
      raw += {static_cast<char>(x * 255 / width), static_cast<char>(y * 255 / height), '\x80'};
  }
  return PngOf(width, height, false, raw);
}

// The bytes of an 8-bit RGB image's seven Adam7 passes once filtered (a filter byte per row).
std::size_t Adam7Bytes(std::uint32_t width, std::uint32_t height) {
  constexpr std::array<std::array<std::uint32_t, 4>, 7> kPasses = {{{0, 0, 8, 8},
                                                                    {4, 0, 8, 8},
                                                                    {0, 4, 4, 8},
                                                                    {2, 0, 4, 4},
                                                                    {0, 2, 2, 4},
                                                                    {1, 0, 2, 2},
                                                                    {0, 1, 1, 2}}};
  std::size_t total = 0;
  for (const auto& [x0, y0, dx, dy] : kPasses) {
    const std::uint32_t cols = width > x0 ? (width - x0 + dx - 1) / dx : 0;
    const std::uint32_t rows = height > y0 ? (height - y0 + dy - 1) / dy : 0;
    if (cols > 0) total += std::size_t{rows} * (1 + 3 * std::size_t{cols});
  }
  return total;
}

// A decompression bomb: a few hundred bytes that declare a 50000 x 50000 RGB image, with a
// well-formed (stored, uncompressed) zlib stream for its first row.
std::string PngBomb() {
  const std::string raw(1 + 3 * 100, '\0');  // a filter byte and some pixels
  return PngOf(50000, 50000, false, raw);
}

// Frames of solid colours stacked as pages: an animation for the GIF and WebP savers.
VImage Animation(const std::vector<std::vector<double>>& colours, int w, int h) {
  std::vector<VImage> frames;
  for (const auto& c : colours) frames.push_back(Solid(w, h, c));
  VImage strip = VImage::arrayjoin(frames, VImage::option()->set("across", 1)).copy();
  strip.set("page-height", h);
  strip.set("delay", std::vector<int>(colours.size(), 100));
  strip.set("loop", 0);
  return strip;
}

long PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// ---------------------------------------------------------------------------------------------
// Checks on the output

struct Dims {
  std::uint32_t w, h;
  bool operator==(const Dims&) const = default;
};

// The contract's arithmetic, written independently of the processor's: the long edge becomes
// `edge` (when larger), the short one keeps the aspect ratio, rounded, at least 1.
Dims Fit(Dims d, std::uint32_t edge) {
  const std::uint32_t long_edge = std::max(d.w, d.h);
  if (long_edge <= edge) return d;
  auto scaled = [&](std::uint32_t v) {
    return std::max<std::uint32_t>(
        1, static_cast<std::uint32_t>(std::floor(static_cast<double>(v) * edge / long_edge + 0.5)));
  };
  return d.w >= d.h ? Dims{edge, scaled(d.h)} : Dims{scaled(d.w), edge};
}

// The RIFF chunks of a WebP file, in order.
std::vector<std::string> WebpChunks(const std::string& webp) {
  std::vector<std::string> chunks;
  if (webp.size() < 12 || webp.substr(0, 4) != "RIFF" || webp.substr(8, 4) != "WEBP")
    return {"not a WebP"};
  std::size_t at = 12;
  while (at + 8 <= webp.size()) {
    chunks.push_back(webp.substr(at, 4));
    std::uint32_t size = 0;
    for (std::size_t k = 4; k-- > 0;)
      size = size << 8 | static_cast<unsigned char>(webp[at + 4 + k]);  // little-endian
    at += 8 + size + (size & 1);
  }
  return chunks;
}

const DerivedVariant* Variant(const ProcessedImage& p, std::string_view name) {
  for (const auto& v : p.variants)
    if (v.name == name) return &v;
  return nullptr;
}

VImage DecodeVariant(const ProcessedImage& p, std::string_view name) {
  const DerivedVariant* v = Variant(p, name);
  if (v == nullptr) throw std::runtime_error("no variant " + std::string(name));
  VipsBlob* blob = vips_blob_copy(v->bytes.data(), v->bytes.size());
  VImage img = VImage::webpload_buffer(blob).copy_memory();
  vips_area_unref(VIPS_AREA(blob));
  return img;
}

// Both variants present, WebP with image data only, of the contract's sizes for a displayed
// `shown` size, and decodable at the size they claim.
void ExpectVariants(const ProcessedImage& p, Dims shown) {
  ASSERT_EQ(p.variants.size(), 2u);
  for (const auto& [name, edge] : {std::pair{"thumb", 256u}, std::pair{"medium", 1024u}}) {
    SCOPED_TRACE(name);
    const DerivedVariant* v = Variant(p, name);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->content_type, "image/webp");
    const Dims expected = Fit(shown, edge);
    EXPECT_EQ((Dims{v->width, v->height}), expected)
        << v->width << "x" << v->height << " for " << shown.w << "x" << shown.h;
    for (const auto& chunk : WebpChunks(v->bytes))
      EXPECT_TRUE(chunk == "VP8 " || chunk == "VP8L" || chunk == "VP8X" || chunk == "ALPH")
          << "chunk '" << chunk << "' in a variant";
    const VImage img = DecodeVariant(p, name);
    EXPECT_EQ(static_cast<std::uint32_t>(img.width()), expected.w);
    EXPECT_EQ(static_cast<std::uint32_t>(img.height()), expected.h);
    EXPECT_TRUE(img.get_typeof("n-pages") == 0 || img.get_int("n-pages") == 1);
  }
  EXPECT_EQ(p.placeholder.size(), 28u) << p.placeholder;  // 4x3 components
  EXPECT_EQ(p.dominant_color.size(), 7u);
  EXPECT_EQ(p.dominant_color[0], '#');
  EXPECT_EQ(p.phash.size(), 16u);
}

std::array<int, 3> Rgb(const std::string& hex) {
  return {std::stoi(hex.substr(1, 2), nullptr, 16), std::stoi(hex.substr(3, 2), nullptr, 16),
          std::stoi(hex.substr(5, 2), nullptr, 16)};
}

void ExpectColourNear(const std::string& hex, std::array<int, 3> want, int tolerance) {
  const auto got = Rgb(hex);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(got[i], want[i], tolerance) << hex << " channel " << i;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Describe(const Result<ProcessedImage>& r) {
  if (r) return "ok " + std::to_string(r->width) + "x" + std::to_string(r->height);
  return "error " + r.error().slug + ": " + r.error().detail;
}

class VipsImageProcessorTest : public testing::Test {
 protected:
  // The production order: sniff, then process what the sniffer named.
  Result<ProcessedImage> Run(const std::string& bytes, const ProcessingLimits& limits = {}) {
    auto sniffed = SniffImage(bytes);
    if (!sniffed) return tl::unexpected(sniffed.error());
    return processor_.Process(bytes, *sniffed, limits);
  }

  VipsImageProcessor processor_;
};

// ---------------------------------------------------------------------------------------------
// PngSuite

std::vector<fs::path> PngSuite() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(test::CorporaDir() + "/pngsuite/png"))
    if (e.path().extension() == ".png") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST_F(VipsImageProcessorTest, PngSuiteValidFilesProcessAtTheirSize) {
  int valid = 0;
  for (const auto& path : PngSuite()) {
    const std::string name = path.filename().string();
    if (name[0] == 'x') continue;
    SCOPED_TRACE(name);
    ++valid;
    const std::string bytes = test::CorpusFile("pngsuite/png/" + name);
    const auto sniffed = SniffImage(bytes);
    ASSERT_TRUE(sniffed) << sniffed.error().slug;
    const auto r = processor_.Process(bytes, *sniffed, {});
    ASSERT_TRUE(r) << Describe(r);
    EXPECT_EQ(r->width, sniffed->width);
    EXPECT_EQ(r->height, sniffed->height);
    EXPECT_EQ(r->format, "png");
    EXPECT_FALSE(r->animated);
    // Small images are never upscaled: a 32x32 file gives a 32x32 thumb and medium.
    ExpectVariants(*r, {r->width, r->height});
  }
  EXPECT_EQ(valid, 161);
}

TEST_F(VipsImageProcessorTest, PngSuiteCorruptFilesAreRefusedWith4xx) {
  int corrupt = 0;
  for (const auto& path : PngSuite()) {
    const std::string name = path.filename().string();
    if (name[0] != 'x') continue;
    SCOPED_TRACE(name);
    ++corrupt;
    const auto r = Run(test::CorpusFile("pngsuite/png/" + name));
    ASSERT_FALSE(r) << Describe(r);
    const int status = HttpStatus(r.error().code);
    EXPECT_GE(status, 400);
    EXPECT_LT(status, 500);
  }
  EXPECT_EQ(corrupt, 14);
}

TEST_F(VipsImageProcessorTest, PngBitDepthIsTheFilesAndPaletteIsExpanded) {
  const auto r = Run(test::CorpusFile("pngsuite/png/basn3p02.png"));  // 2-bit palette
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_EQ(r->bit_depth, 2u);
  EXPECT_EQ(r->bands, 3u);
  const auto g16 = Run(test::CorpusFile("pngsuite/png/basn0g16.png"));
  ASSERT_TRUE(g16) << Describe(g16);
  EXPECT_EQ(g16->bit_depth, 16u);
  EXPECT_EQ(g16->bands, 1u);
  const auto rgba = Run(test::CorpusFile("pngsuite/png/basn6a08.png"));
  ASSERT_TRUE(rgba) << Describe(rgba);
  EXPECT_TRUE(rgba->has_alpha);
  EXPECT_EQ(DecodeVariant(*rgba, "thumb").bands(), 4);  // alpha kept
}

// ---------------------------------------------------------------------------------------------
// EXIF orientation

double MeanAbsDifference(const VImage& a, const VImage& b) {
  return (a.cast(VIPS_FORMAT_FLOAT) - b.cast(VIPS_FORMAT_FLOAT)).abs().avg();
}

TEST_F(VipsImageProcessorTest, ExifOrientationExamplesComeOutUpright) {
  for (const std::string kind : {"Landscape", "Portrait"}) {
    const Dims upright = kind == "Landscape" ? Dims{1800, 1200} : Dims{1200, 1800};
    const auto reference = Run(test::CorpusFile("exif-orientation/" + kind + "_1.jpg"));
    ASSERT_TRUE(reference) << Describe(reference);
    const VImage reference_thumb = DecodeVariant(*reference, "thumb");
    const VImage reference_medium = DecodeVariant(*reference, "medium");
    // What the tolerance below must catch: the same thumb mirrored or upside down.
    EXPECT_GT(MeanAbsDifference(reference_thumb.fliphor(), reference_thumb), 15.0);
    EXPECT_GT(MeanAbsDifference(reference_thumb.flipver(), reference_thumb), 15.0);
    for (int n = 0; n <= 8; ++n) {
      const std::string name = kind + "_" + std::to_string(n) + ".jpg";
      SCOPED_TRACE(name);
      const auto r = Run(test::CorpusFile("exif-orientation/" + name));
      ASSERT_TRUE(r) << Describe(r);
      EXPECT_EQ((Dims{r->width, r->height}), upright);
      if (n == 0) {
        EXPECT_FALSE(r->exif.orientation);
      } else {
        EXPECT_EQ(r->exif.orientation, static_cast<std::uint32_t>(n));
      }
      ExpectVariants(*r, upright);
      // Same picture, same way up: only resampling and WebP noise differ (measured: 1.4 to 3.3).
      EXPECT_LT(MeanAbsDifference(DecodeVariant(*r, "thumb"), reference_thumb), 6.0);
      EXPECT_LT(MeanAbsDifference(DecodeVariant(*r, "medium"), reference_medium), 6.0);
      EXPECT_LE(PhashDistance(r->phash, reference->phash), 4);
    }
  }
}

TEST_F(VipsImageProcessorTest, CorpusPhotoMetadata) {
  const auto r = Run(test::CorpusFile("exif-orientation/Landscape_6.jpg"));
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_EQ(r->format, "jpeg");
  EXPECT_EQ(r->bit_depth, 8u);
  EXPECT_EQ(r->bands, 3u);
  EXPECT_FALSE(r->has_alpha);
  EXPECT_FALSE(r->animated);
  EXPECT_EQ(r->frame_count, 1u);
  EXPECT_EQ(r->icc_profile, "");
}

// ---------------------------------------------------------------------------------------------
// Generated fixtures

TEST_F(VipsImageProcessorTest, CmykJpegBecomesSrgb) {
  const std::array<int, 3> colour = {200, 60, 40};
  const VImage rgb = Solid(320, 200, {200, 60, 40});
  const VImage cmyk = rgb.icc_transform("cmyk", VImage::option()->set("input_profile", "srgb"));
  ASSERT_EQ(cmyk.interpretation(), VIPS_INTERPRETATION_CMYK);
  for (const bool embed : {true, false}) {
    SCOPED_TRACE(embed ? "with its profile" : "without a profile");
    const std::string bytes = Jpeg(cmyk, VImage::option()->set("strip", !embed)->set("Q", 95));
    ASSERT_EQ(Load(bytes).interpretation(), VIPS_INTERPRETATION_CMYK);
    const auto r = Run(bytes);
    ASSERT_TRUE(r) << Describe(r);
    EXPECT_EQ(r->bands, 4u);
    EXPECT_EQ(r->icc_profile.empty(), !embed);
    ExpectVariants(*r, {320, 200});
    EXPECT_EQ(DecodeVariant(*r, "medium").bands(), 3);
    ExpectColourNear(r->dominant_color, colour, 12);
  }
}

TEST_F(VipsImageProcessorTest, SixteenBitPngKeepsItsColours) {
  const VImage eight = Synthetic(300, 200);
  const VImage sixteen =
      (eight.cast(VIPS_FORMAT_USHORT) * 257)
          .cast(VIPS_FORMAT_USHORT)
          .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16));
  const auto r = Run(Png(sixteen));
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_EQ(r->bit_depth, 16u);
  EXPECT_EQ(r->bands, 3u);
  ExpectVariants(*r, {300, 200});
  const VImage medium = DecodeVariant(*r, "medium");
  EXPECT_EQ(medium.format(), VIPS_FORMAT_UCHAR);
  EXPECT_LT(MeanAbsDifference(medium, eight), 6.0);  // not resized: WebP noise only (3.3)
}

TEST_F(VipsImageProcessorTest, GreyWithAlphaKeepsAlphaAndStaysGrey) {
  const VImage xy = VImage::xyz(240, 160);
  const VImage grey = (xy[0] + 10).cast(VIPS_FORMAT_UCHAR);
  const VImage alpha = (xy[1] * (255.0 / 160)).cast(VIPS_FORMAT_UCHAR);
  const VImage ga =
      grey.bandjoin(alpha).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_B_W));
  const auto r = Run(Png(ga));
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_EQ(r->bands, 2u);
  EXPECT_TRUE(r->has_alpha);
  ExpectVariants(*r, {240, 160});
  const VImage medium = DecodeVariant(*r, "medium");
  ASSERT_EQ(medium.bands(), 4);
  EXPECT_LE((medium[0].cast(VIPS_FORMAT_INT) - medium[1]).abs().max(), 3.0);
  EXPECT_LE((medium[1].cast(VIPS_FORMAT_INT) - medium[2]).abs().max(), 3.0);
  EXPECT_LT(MeanAbsDifference(medium[3], alpha), 2.0);
}

TEST_F(VipsImageProcessorTest, AnimatedGifGivesItsFirstFrame) {
  const auto r = Run(Gif(Animation({{220, 20, 20}, {20, 220, 20}, {20, 20, 220}}, 64, 48)));
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_EQ(r->format, "gif");
  EXPECT_TRUE(r->animated);
  EXPECT_EQ(r->frame_count, 3u);
  EXPECT_EQ((Dims{r->width, r->height}), (Dims{64, 48}));
  ExpectVariants(*r, {64, 48});
  ExpectColourNear(r->dominant_color, {220, 20, 20}, 12);
  const VImage medium = DecodeVariant(*r, "medium");
  EXPECT_NEAR(medium[0].avg(), 220, 12);
  EXPECT_NEAR(medium[1].avg(), 20, 12);
}

TEST_F(VipsImageProcessorTest, AnimatedWebpGivesItsFirstFrame) {
  const auto r = Run(
      Webp(Animation({{20, 20, 220}, {220, 220, 20}}, 1500, 1000), VImage::option()->set("Q", 90)));
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_EQ(r->format, "webp");
  EXPECT_TRUE(r->animated);
  EXPECT_EQ(r->frame_count, 2u);
  ExpectVariants(*r, {1500, 1000});
  ExpectColourNear(r->dominant_color, {20, 20, 220}, 12);
}

TEST_F(VipsImageProcessorTest, StillGifAndWebp) {
  const auto gif = Run(Gif(Synthetic(90, 70)));
  ASSERT_TRUE(gif) << Describe(gif);
  EXPECT_FALSE(gif->animated);
  EXPECT_EQ(gif->frame_count, 1u);
  ExpectVariants(*gif, {90, 70});
  const auto webp = Run(Webp(Synthetic(2500, 1400)));
  ASSERT_TRUE(webp) << Describe(webp);
  EXPECT_FALSE(webp->animated);
  ExpectVariants(*webp, {2500, 1400});
}

TEST_F(VipsImageProcessorTest, HeicAndAvifFromHeifEnc) {
  TempDir dir;
  const fs::path png = dir.path() / "in.png";
  const std::string source = Png(Synthetic(640, 400));
  std::ofstream(png, std::ios::binary)
      .write(source.data(), static_cast<std::streamsize>(source.size()));
  for (const auto& [format, flag] : {std::pair{"heif", ""}, std::pair{"avif", "--avif "}}) {
    SCOPED_TRACE(format);
    const fs::path out = dir.path() / (std::string("out.") + format);
    const std::string command = std::string("heif-enc -q 60 ") + flag + png.string() + " -o " +
                                out.string() + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << "heif-enc (libheif-examples) is needed";
    std::ifstream in(out, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto r = Run(bytes);
    ASSERT_TRUE(r) << Describe(r);
    EXPECT_EQ(r->format, format);
    ExpectVariants(*r, {640, 400});
    EXPECT_LT(MeanAbsDifference(DecodeVariant(*r, "medium"), Load(source)), 6.0);
  }
}

TEST_F(VipsImageProcessorTest, ProgressiveJpeg) {
  const std::string bytes = Jpeg(Synthetic(1600, 1200), VImage::option()->set("interlace", true));
  ASSERT_EQ(Load(bytes).get_int("jpeg-multiscan"), 1);
  const auto r = Run(bytes);
  ASSERT_TRUE(r) << Describe(r);
  ExpectVariants(*r, {1600, 1200});
}

TEST_F(VipsImageProcessorTest, LargeJpegUsesShrinkOnLoadAndKeepsExactSizes) {
  // 4000x3000: decoded at 1/2 scale; 2047 and 2049 wide straddle the 1/2 threshold.
  for (const Dims d : {Dims{4000, 3000}, Dims{2049, 1000}, Dims{2047, 1000}, Dims{1001, 8000}}) {
    SCOPED_TRACE(std::to_string(d.w) + "x" + std::to_string(d.h));
    const auto r = Run(Jpeg(Synthetic(static_cast<int>(d.w), static_cast<int>(d.h))));
    ASSERT_TRUE(r) << Describe(r);
    ExpectVariants(*r, d);
  }
}

TEST_F(VipsImageProcessorTest, ADecodePastItsTimeLimitIsStopped) {
  const std::string bytes = Jpeg(Synthetic(4000, 3000));
  ProcessingLimits limits;
  limits.max_decode_ms = 0;  // every evaluation is already late
  const auto r = Run(bytes, limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(r.error().slug, "processing_timeout");
  // The same image within the default limit is fine, so it was the clock that stopped it.
  EXPECT_TRUE(Run(bytes));
}

TEST_F(VipsImageProcessorTest, GpsExifIsReadOnlyWhenKeptAndNeverServed) {
  const std::string exif = test::CameraExif(true);
  const std::string bytes =
      WithSegment(Jpeg(Synthetic(1200, 800)), 0xE1, std::string("Exif\0\0", 6) + exif);
  ASSERT_EQ(Load(bytes).get_typeof("exif-ifd3-GPSLatitude") != 0, true) << "fixture has no GPS";

  const auto dropped = Run(bytes);
  ASSERT_TRUE(dropped) << Describe(dropped);
  EXPECT_EQ(dropped->exif.make, "imgup-test-camera");
  EXPECT_EQ(dropped->exif.model, "Model X100");
  EXPECT_EQ(dropped->exif.lens, "EF50mm f/1.8");
  EXPECT_EQ(dropped->exif.taken_at, "2023-06-01T14:30:00+02:00");
  EXPECT_EQ(dropped->exif.exposure, "1/250");
  EXPECT_EQ(dropped->exif.iso, 200u);
  EXPECT_FALSE(dropped->exif.gps_latitude || dropped->exif.gps_longitude ||
               dropped->exif.gps_altitude_m);

  ProcessingLimits keep;
  keep.keep_gps = true;
  const auto kept = Run(bytes, keep);
  ASSERT_TRUE(kept) << Describe(kept);
  EXPECT_NEAR(kept->exif.gps_latitude.value_or(0), 52.520094, 1e-6);
  EXPECT_NEAR(kept->exif.gps_longitude.value_or(0), -13.4, 1e-9);
  EXPECT_NEAR(kept->exif.gps_altitude_m.value_or(0), -34.5, 1e-9);

  // The GPS IFD's latitude, byte for byte as the file stores it.
  const std::string latitude = test::TiffWriter(true).U32(52) + test::TiffWriter(true).U32(1) +
                               test::TiffWriter(true).U32(31);
  ASSERT_TRUE(Contains(bytes, latitude));
  for (const auto* r : {&*dropped, &*kept})
    for (const auto& v : r->variants) {
      SCOPED_TRACE(v.name);
      EXPECT_FALSE(Contains(v.bytes, "Exif"));
      EXPECT_FALSE(Contains(v.bytes, "EXIF"));
      EXPECT_FALSE(Contains(v.bytes, "imgup-test-camera"));
      EXPECT_FALSE(Contains(v.bytes, latitude));
    }
}

TEST_F(VipsImageProcessorTest, ScriptInAJpegCommentDoesNotSurvive) {
  const std::string script = "<script>alert(document.cookie)</script>";
  const std::string bytes = WithSegment(Jpeg(Synthetic(400, 300)), 0xFE, script);
  ASSERT_TRUE(Contains(bytes, "<script>"));
  const auto r = Run(bytes);
  ASSERT_TRUE(r) << Describe(r);
  ExpectVariants(*r, {400, 300});
  for (const auto& v : r->variants) EXPECT_FALSE(Contains(v.bytes, "<script>")) << v.name;
}

TEST_F(VipsImageProcessorTest, WideGamutProfileIsConvertedToSrgb) {
  // sRGB (200, 60, 40) stored as Display P3 numbers, with libvips' P3 profile embedded.
  const VImage p3 = Solid(200, 120, {200, 60, 40})
                        .icc_transform("p3", VImage::option()->set("input_profile", "srgb"));
  const std::string bytes = Png(p3);
  const VImage stored = Load(bytes);
  // Served without colour management, the numbers in the file would be visibly off.
  EXPECT_GT(std::abs(stored[0].avg() - 200) + std::abs(stored[1].avg() - 60), 15.0);
  const auto r = Run(bytes);
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_FALSE(r->icc_profile.empty());
  ExpectColourNear(r->dominant_color, {200, 60, 40}, 3);
  const VImage medium = DecodeVariant(*r, "medium");
  EXPECT_NEAR(medium[0].avg(), 200, 4);
  EXPECT_NEAR(medium[1].avg(), 60, 4);
}

TEST_F(VipsImageProcessorTest, EmbeddedProfileIsNamed) {
  const VImage tagged =
      Synthetic(200, 100).icc_transform("srgb", VImage::option()->set("input_profile", "srgb"));
  const auto r = Run(Png(tagged));
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_NE(r->icc_profile.find("sRGB"), std::string::npos) << r->icc_profile;
}

// ---------------------------------------------------------------------------------------------
// Limits: refused from the header, before any decode

TEST_F(VipsImageProcessorTest, DecompressionBombIsRefusedBeforeDecoding) {
  const std::string bomb = PngBomb();
  ASSERT_LT(bomb.size(), 1000u);
  const auto sniffed = SniffImage(bomb);
  ASSERT_TRUE(sniffed) << sniffed.error().slug;
  ASSERT_EQ(sniffed->width, 50000u);

  const long before = PeakRssKb();
  const auto r = processor_.Process(bomb, *sniffed, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(r.error().slug, "image_too_large");

  // The same bytes with a sniff result that understates the size: libvips' header read must
  // catch it on its own.
  SniffResult lying = *sniffed;
  lying.width = lying.height = 100;
  const auto header = processor_.Process(bomb, lying, {});
  ASSERT_FALSE(header);
  EXPECT_EQ(header.error().slug, "image_too_large");
  // 7.5 GB if it were decoded; nothing like it may be allocated.
  EXPECT_LT(PeakRssKb() - before, 16 * 1024);
}

TEST_F(VipsImageProcessorTest, PixelAndFrameCapsAreConfigurable) {
  ProcessingLimits small;
  small.max_pixels = 100 * 100;
  const auto big = Run(Png(Synthetic(101, 100)), small);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().slug, "image_too_large");
  EXPECT_TRUE(Run(Png(Synthetic(100, 100)), small));

  ProcessingLimits two_frames;
  two_frames.max_frames = 2;
  const auto many = Run(Gif(Animation({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}, 16, 16)), two_frames);
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error().slug, "image_too_large");
}

TEST_F(VipsImageProcessorTest, AnimationsAreCappedOnFramesTimesCanvas) {
  // Three frames of 64x48: each frame is within a cap of two frames' pixels, the animation is
  // not (decoders render every frame onto the full canvas).
  ProcessingLimits limits;
  limits.max_pixels = 64 * 48 * 2;
  const auto frames = Animation({{220, 20, 20}, {20, 220, 20}, {20, 20, 220}}, 64, 48);
  for (const std::string& bytes : {Gif(frames), Webp(frames)}) {
    const auto r = Run(bytes, limits);
    ASSERT_FALSE(r) << Describe(r);
    EXPECT_EQ(r.error().slug, "image_too_large");
    EXPECT_TRUE(Contains(r.error().detail, "frames × canvas")) << r.error().detail;
  }
  limits.max_pixels = 64 * 48 * 3;
  EXPECT_TRUE(Run(Gif(frames), limits));
  EXPECT_TRUE(Run(Webp(frames), limits));
  // A still image of the same canvas is one frame.
  limits.max_pixels = 64 * 48;
  EXPECT_TRUE(Run(Gif(Synthetic(64, 48)), limits));
}

TEST_F(VipsImageProcessorTest, OnlyTheFirstFrameOfAnAnimationIsDecoded) {
  // An animated WebP whose last frame's entropy-coded data is garbage (its header, which
  // libwebp's demuxer reads at load, is intact): a decoder that renders every frame fails on it;
  // one that decodes only the first never reads it.
  std::string bytes = Webp(Animation({{220, 20, 20}, {20, 220, 20}, {20, 20, 220}}, 64, 48),
                           VImage::option()->set("lossless", true));
  const std::size_t last = bytes.rfind("ANMF");
  ASSERT_NE(last, std::string::npos);
  const std::size_t vp8l = bytes.find("VP8L", last);
  ASSERT_NE(vp8l, std::string::npos);
  std::size_t size = 0;  // the VP8L chunk's size, little-endian
  for (std::size_t i = 4; i-- > 0;)
    size = size << 8 | static_cast<unsigned char>(bytes[vp8l + 4 + i]);
  ASSERT_EQ(bytes[vp8l + 8], '\x2F');
  for (std::size_t i = vp8l + 8 + 5; i < vp8l + 8 + size; ++i) bytes[i] = '\xFF';
  const auto sniffed = SniffImage(bytes);
  ASSERT_TRUE(sniffed);
  EXPECT_EQ(Load(bytes).width(), 64);  // the first frame decodes
  bool all_frames_decode = true;
  try {
    (void)VImage::new_from_buffer(bytes.data(), bytes.size(), "", VImage::option()->set("n", -1))
        .avg();
  } catch (const VError&) {
    all_frames_decode = false;
  }
  ASSERT_FALSE(all_frames_decode) << "the fixture's last frame must fail to decode";
  const auto r = Run(bytes);
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_TRUE(r->animated);
  EXPECT_EQ(r->frame_count, 3u);  // counted from the container, not decoded
  ExpectColourNear(r->dominant_color, {220, 20, 20}, 12);
}

// heif-enc's AVIF of `img` (libheif-examples).
std::string HeifEncAvif(const VImage& img) {
  TempDir dir;
  const fs::path png = dir.path() / "in.png", out = dir.path() / "out.avif";
  const std::string source = Png(img);
  std::ofstream(png, std::ios::binary)
      .write(source.data(), static_cast<std::streamsize>(source.size()));
  const std::string command =
      "heif-enc -A -q 30 -p speed=9 " + png.string() + " -o " + out.string() + " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return {};
  std::ifstream in(out, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST_F(VipsImageProcessorTest, AvifWhoseFrameIsLargerThanItsIspeNeverComesOutReady) {
  // The AVIF bomb of issue F, small: ispe rewritten to 1x1 over a 1500x1000 AV1 frame. libheif
  // decodes the whole frame whatever the ispe says; libvips 8.14 then refuses the size on
  // decode, but in a one-strip image that error was lost and the record came out "ready", 1x1,
  // black.
  const std::string honest = HeifEncAvif(Synthetic(1500, 1000));
  ASSERT_FALSE(honest.empty()) << "heif-enc (libheif-examples) is needed";
  for (const Dims ispe : {Dims{1, 1}, Dims{100, 50}, Dims{1500, 999}}) {
    SCOPED_TRACE(std::to_string(ispe.w) + "x" + std::to_string(ispe.h));
    std::string bytes = honest;
    const std::size_t at = bytes.find("ispe");
    ASSERT_NE(at, std::string::npos);
    bytes.replace(at + 8, 8, Be32(ispe.w) + Be32(ispe.h));
    // The sniffer reads the AV1 sequence header and refuses the mismatch at upload...
    const auto sniffed = SniffImage(bytes);
    ASSERT_FALSE(sniffed);
    EXPECT_EQ(sniffed.error().slug, "invalid_image");
    // ...and the processor, given the header's word for it (as for a HEIC, whose HEVC headers
    // the sniffer does not read), fails the decode instead of storing a size that lies.
    SniffResult lying{"image/avif", "avif", ispe.w, ispe.h};
    const auto r = processor_.Process(bytes, lying, {});
    ASSERT_FALSE(r) << Describe(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
    EXPECT_EQ(r.error().slug, "decode_failed");
  }
  // The honest file is fine.
  const auto ok = Run(honest);
  ASSERT_TRUE(ok) << Describe(ok);
  EXPECT_EQ((Dims{ok->width, ok->height}), (Dims{1500, 1000}));
}

// ---------------------------------------------------------------------------------------------
// Corrupt and truncated input

std::map<std::string, std::string> FormatsToTruncate() {
  TempDir dir;
  const fs::path png = dir.path() / "in.png", heic = dir.path() / "out.heic";
  const VImage photo = Synthetic(600, 400);
  std::map<std::string, std::string> fixtures = {
      {"jpeg", Jpeg(photo)},
      {"progressive jpeg", Jpeg(photo, VImage::option()->set("interlace", true))},
      {"cmyk jpeg",
       Jpeg(photo.icc_transform("cmyk", VImage::option()->set("input_profile", "srgb")))},
      {"png", Png(photo)},
      {"interlaced png", Png(photo, VImage::option()->set("interlace", true))},
      {"16-bit png",
       Png((photo.cast(VIPS_FORMAT_USHORT) * 257)
               .cast(VIPS_FORMAT_USHORT)
               .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16)))},
      {"gif", Gif(photo)},
      {"animated gif", Gif(Animation({{200, 10, 10}, {10, 200, 10}, {10, 10, 200}}, 300, 200))},
      {"webp", Webp(photo)},
      {"lossless webp", Webp(photo, VImage::option()->set("lossless", true))},
      {"animated webp", Webp(Animation({{200, 10, 10}, {10, 200, 10}, {10, 10, 200}}, 300, 200))},
  };
  const std::string source = Png(photo);
  std::ofstream(png, std::ios::binary)
      .write(source.data(), static_cast<std::streamsize>(source.size()));
  if (std::system(("heif-enc -q 60 " + png.string() + " -o " + heic.string() + " >/dev/null 2>&1")
                      .c_str()) == 0) {
    std::ifstream in(heic, std::ios::binary);
    fixtures["heic"] =
        std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  return fixtures;
}

TEST_F(VipsImageProcessorTest, TruncatedFilesOfEveryFormatFailToDecode) {
  const auto fixtures = FormatsToTruncate();
  ASSERT_EQ(fixtures.count("heic"), 1u) << "heif-enc (libheif-examples) is needed";
  for (const auto& [format, bytes] : fixtures) {
    SCOPED_TRACE(format);
    const auto sniffed = SniffImage(bytes);
    ASSERT_TRUE(sniffed) << sniffed.error().slug;
    ASSERT_TRUE(processor_.Process(bytes, *sniffed, {})) << "the whole file must process";
    for (const double fraction : {0.2, 0.5, 0.8, 0.95}) {
      SCOPED_TRACE(fraction);
      // Its own allocation, so that AddressSanitizer sees any read past the end.
      const std::string cut =
          bytes.substr(0, static_cast<std::size_t>(static_cast<double>(bytes.size()) * fraction));
      // Given the whole file's header facts, the processor itself must find the damage.
      const auto r = processor_.Process(cut, *sniffed, {});
      ASSERT_FALSE(r) << Describe(r);
      EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
      EXPECT_EQ(r.error().slug, "decode_failed");
      // And through the production order, whatever refuses it does so with a 4xx.
      const auto full = Run(cut);
      ASSERT_FALSE(full) << Describe(full);
      EXPECT_EQ(HttpStatus(full.error().code) / 100, 4);
    }
  }
}

TEST_F(VipsImageProcessorTest, CorruptPixelDataFailsToDecode) {
  // Damage in the middle of the entropy-coded data of a JPEG, with the file's length intact.
  std::string bytes = Jpeg(Synthetic(800, 600));
  for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) bytes[i] = '\xFF';
  const auto r = Run(bytes);
  ASSERT_FALSE(r) << Describe(r);
  EXPECT_EQ(r.error().slug, "decode_failed");
}

TEST_F(VipsImageProcessorTest, PngWithMissingScanlinesFailsToDecode) {
  // One strip short, half the rows, one row short; the fixture itself is right when complete.
  for (const auto& [width, height, rows] :
       std::vector<std::array<std::uint32_t, 3>>{{300, 200, 150}, {32, 32, 16}, {64, 40, 39}}) {
    SCOPED_TRACE(std::to_string(rows) + " of " + std::to_string(height) + " rows");
    const auto whole = Run(PngWithRows(width, height, height));
    ASSERT_TRUE(whole) << Describe(whole);
    const auto r = Run(PngWithRows(width, height, rows));
    ASSERT_FALSE(r) << Describe(r);
    EXPECT_EQ(r.error().slug, "decode_failed");
  }
  // Interlaced: libvips decodes the whole image up front, so the damage fails the deferred load.
  const std::size_t all = Adam7Bytes(300, 200);
  const auto whole = Run(PngOf(300, 200, true, std::string(all, '\0')));
  ASSERT_TRUE(whole) << Describe(whole);
  const auto r = Run(PngOf(300, 200, true, std::string(all / 2, '\0')));
  ASSERT_FALSE(r) << Describe(r);
  EXPECT_EQ(r.error().slug, "decode_failed");
}

// Makes libvips' warnings slow while it lives: libpng's errors and the tile cache's "error in
// tile" are g_warnings on the failing worker's path, so this widens the window in which libvips
// 8.14's threadpool lets a pull finish before that worker has reported its error.
class SlowVipsWarnings {
 public:
  SlowVipsWarnings()
      : id_(g_log_set_handler(
            "VIPS", G_LOG_LEVEL_WARNING,
            [](const gchar*, GLogLevelFlags, const gchar*, gpointer) {
              std::this_thread::sleep_for(std::chrono::milliseconds(2));
            },
            nullptr)) {}
  SlowVipsWarnings(const SlowVipsWarnings&) = delete;
  SlowVipsWarnings& operator=(const SlowVipsWarnings&) = delete;
  ~SlowVipsWarnings() { g_log_remove_handler("VIPS", id_); }

 private:
  guint id_;
};

TEST_F(VipsImageProcessorTest, ALateDecodeErrorIsNeverLost) {
  // The same bytes always fail: before the fix, every one of these was "ready" with the missing
  // rows filled in (and about 1-4% of them without the slow warnings).
  const std::string bytes = PngWithRows(32, 32, 16);
  const auto sniffed = SniffImage(bytes);
  ASSERT_TRUE(sniffed) << sniffed.error().slug;
  const SlowVipsWarnings slow;
  for (int i = 0; i < 20; ++i) {
    SCOPED_TRACE(i);
    const auto r = processor_.Process(bytes, *sniffed, {});
    ASSERT_FALSE(r) << Describe(r);
    EXPECT_EQ(r.error().slug, "decode_failed");
  }
}

TEST_F(VipsImageProcessorTest, OnlyTheSniffedTypesLoaderRuns) {
  // JPEG bytes presented as a PNG go to the PNG loader, which refuses them.
  const std::string jpeg = Jpeg(Synthetic(64, 64));
  SniffResult as_png = *SniffImage(jpeg);
  as_png.format = "png";
  as_png.content_type = "image/png";
  const auto r = processor_.Process(jpeg, as_png, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().slug, "decode_failed");

  SniffResult tiff = as_png;
  tiff.format = "tiff";
  const auto unsupported = processor_.Process(jpeg, tiff, {});
  ASSERT_FALSE(unsupported);
  EXPECT_EQ(unsupported.error().code, ErrorCode::kUnsupportedMediaType);
}

TEST_F(VipsImageProcessorTest, EveryOtherLoaderIsBlocked) {
  const VImage img = Synthetic(32, 32);
  const std::string tiff = Take(img.tiffsave_buffer());
  EXPECT_THROW((void)VImage::new_from_buffer(tiff.data(), tiff.size(), "").avg(), VError);
  vips_error_clear();
  const std::string svg =
      "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><rect width='10' "
      "height='10'/></svg>";
  EXPECT_THROW((void)VImage::new_from_buffer(svg.data(), svg.size(), "").avg(), VError);
  vips_error_clear();
  // A 1x1 BMP: only ImageMagick (untrusted) could read it.
  std::string bmp = "BM" + std::string("\x3a\0\0\0\0\0\0\0\x36\0\0\0", 12);
  bmp += std::string("\x28\0\0\0\x01\0\0\0\x01\0\0\0\x01\0\x18\0", 16) + std::string(24, '\0');
  bmp += std::string("\x10\x20\x30\0", 4);
  EXPECT_THROW((void)VImage::new_from_buffer(bmp.data(), bmp.size(), "").avg(), VError);
  vips_error_clear();
  // The five we use still load.
  const std::string png = Png(img);
  EXPECT_EQ(VImage::new_from_buffer(png.data(), png.size(), "").width(), 32);
}

// ---------------------------------------------------------------------------------------------
// Hashes

std::string Phash(VipsImageProcessor& p, const std::string& bytes) {
  const auto sniffed = SniffImage(bytes);
  if (!sniffed) return "sniff failed";
  const auto r = p.Process(bytes, *sniffed, {});
  return r ? r->phash : "process failed: " + r.error().detail;
}

TEST_F(VipsImageProcessorTest, PerceptualHashFindsCopiesAndNotOtherPhotos) {
  for (const std::string kind : {"Landscape", "Portrait"}) {
    SCOPED_TRACE(kind);
    const std::string original = test::CorpusFile("exif-orientation/" + kind + "_1.jpg");
    const VImage photo = Load(original);
    const std::string hash = Phash(processor_, original);
    const int w = photo.width(), h = photo.height();
    const std::map<std::string, std::string> copies = {
        {"resized", Jpeg(photo.resize(0.4), VImage::option()->set("Q", 85))},
        {"recompressed", Jpeg(photo, VImage::option()->set("Q", 30))},
        {"cropped", Jpeg(photo.crop(w / 25, h / 25, w - 2 * (w / 25), h - 2 * (h / 25)))},
        {"as png", Png(photo.resize(0.5))},
    };
    for (const auto& [name, bytes] : copies) {
      const int d = PhashDistance(hash, Phash(processor_, bytes));
      EXPECT_LE(d, 10) << name;
    }
  }
  const std::string landscape =
      Phash(processor_, test::CorpusFile("exif-orientation/Landscape_1.jpg"));
  const std::string portrait =
      Phash(processor_, test::CorpusFile("exif-orientation/Portrait_1.jpg"));
  const std::string synthetic = Phash(processor_, Jpeg(Synthetic(1800, 1200)));
  EXPECT_GT(PhashDistance(landscape, portrait), 20);
  EXPECT_GT(PhashDistance(landscape, synthetic), 20);
  EXPECT_GT(PhashDistance(portrait, synthetic), 20);
}

TEST_F(VipsImageProcessorTest, PlaceholderAndColourFollowTheImage) {
  const auto red = Run(Png(Solid(120, 80, {230, 30, 30})));
  ASSERT_TRUE(red) << Describe(red);
  EXPECT_EQ(red->dominant_color, "#e61e1e");
  const auto transparent = Run(Png(Solid(50, 50, {0, 90, 200}).bandjoin_const({0})));
  ASSERT_TRUE(transparent) << Describe(transparent);
  const auto white = Run(Png(Solid(50, 50, {255, 255, 255})));
  ASSERT_TRUE(white) << Describe(white);
  // Placeholders are drawn over white: a fully transparent image has a white placeholder.
  EXPECT_EQ(transparent->placeholder, white->placeholder);
  EXPECT_NE(red->placeholder, white->placeholder);
}

TEST_F(VipsImageProcessorTest, ConcurrentJobsGiveTheSameAnswers) {
  std::vector<std::string> inputs = {Jpeg(Synthetic(2000, 1500, 1.0)),
                                     Png(Synthetic(300, 500, 2.0)), Webp(Synthetic(1300, 900, 3.0)),
                                     test::CorpusFile("exif-orientation/Portrait_5.jpg")};
  std::vector<std::string> expected;
  for (const auto& bytes : inputs) expected.push_back(Phash(processor_, bytes));
  std::vector<std::future<std::string>> jobs;
  for (int round = 0; round < 2; ++round)
    for (const auto& bytes : inputs)
      jobs.push_back(std::async(std::launch::async, [&] { return Phash(processor_, bytes); }));
  for (std::size_t i = 0; i < jobs.size(); ++i)
    EXPECT_EQ(jobs[i].get(), expected[i % inputs.size()]);
}

}  // namespace
}  // namespace imgup
