// DecodeHeif (libheif directly) and the HEIC path of VipsImageProcessor through it: the decode
// path of the processor's Lambda package, whose libvips has no HEVC decoder. Here it runs on
// Debian's libheif, and is held to what libvips' own heifload makes of the same files.
#include "imaging/heif_decoder.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>
#include <vips/vips8>

#include "codecs/sniff.hpp"
#include "fakes/temp_dir.hpp"
#include "imaging/vips_image_processor.hpp"
#include "support/images.hpp"

namespace imgup {
namespace {

namespace fs = std::filesystem;
using vips::VImage;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string PngOf(const VImage& img) {
  VipsBlob* blob = img.pngsave_buffer();
  std::size_t n = 0;
  const void* data = vips_blob_get(blob, &n);
  std::string bytes(static_cast<const char*>(data), n);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

// Gradients and a little noise, 8-bit sRGB; `alpha` adds a soft alpha band.
VImage Photo(int w, int h, bool alpha = false) {
  const VImage xy = VImage::xyz(w, h);
  const VImage x = xy[0] / w, y = xy[1] / h;
  const VImage noise =
      VImage::gaussnoise(w, h, VImage::option()->set("sigma", 4.0)->set("seed", 7));
  std::vector<VImage> bands = {x * 200 + 30 + noise, y * 180 + 40 + noise,
                               (x + y) * 90 + 40 + noise};
  if (alpha) bands.push_back(x * 255);
  return VImage::bandjoin(bands)
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// heif-enc's HEIC (x265) of the file `input` (PNG or JPEG; a JPEG's EXIF goes along).
std::string HeifEncFile(const fs::path& input, const std::string& flags = "") {
  TempDir dir;
  const fs::path out = dir.path() / "out.heic";
  const std::string command =
      "heif-enc -q 70 " + flags + " " + input.string() + " -o " + out.string() + " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return {};
  return ReadFile(out);
}

std::string HeifEnc(const std::string& png, const std::string& flags = "") {
  TempDir dir;
  const fs::path in = dir.path() / "in.png";
  std::ofstream(in, std::ios::binary).write(png.data(), static_cast<std::streamsize>(png.size()));
  return HeifEncFile(in, flags);
}

double MeanGap(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += std::abs(int{a[i]} - int{b[i]});
  return n > 0 ? sum / static_cast<double>(n) : 0;
}

TEST(DecodeHeif, RgbHeicAtItsSizeAndCloseToItsSource) {
  const VImage source = Photo(640, 400).copy_memory();
  const std::string heic = HeifEnc(PngOf(source));
  ASSERT_FALSE(heic.empty()) << "heif-enc (libheif-examples) is needed";
  const auto d = DecodeHeif(heic, 100'000'000);
  ASSERT_TRUE(d) << d.error().slug << ": " << d.error().detail;
  EXPECT_EQ(d->width(), 640u);
  EXPECT_EQ(d->height(), 400u);
  EXPECT_EQ(d->bands(), 3u);
  EXPECT_EQ(d->bits_per_sample(), 8u);
  ASSERT_EQ(d->size_bytes(), std::size_t{640} * 400 * 3);
  // Rows packed: a padded stride left in would shear the image and blow this up.
  EXPECT_LT(MeanGap(d->pixels(), static_cast<const std::uint8_t*>(source.data()), d->size_bytes()),
            4.0);
  EXPECT_TRUE(d->exif().empty());
}

TEST(DecodeHeif, AlphaIsAFourthBand) {
  const VImage source = Photo(300, 200, true).copy_memory();
  const std::string heic = HeifEnc(PngOf(source));
  ASSERT_FALSE(heic.empty()) << "heif-enc (libheif-examples) is needed";
  const auto d = DecodeHeif(heic, 100'000'000);
  ASSERT_TRUE(d) << d.error().detail;
  ASSERT_EQ(d->bands(), 4u);
  EXPECT_LT(MeanGap(d->pixels(), static_cast<const std::uint8_t*>(source.data()), d->size_bytes()),
            4.0);
}

TEST(DecodeHeif, TenBitHeicComesOutSixteenBitFullRange) {
  const VImage source =
      (Photo(320, 240).cast(VIPS_FORMAT_USHORT) * 257)
          .cast(VIPS_FORMAT_USHORT)
          .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16))
          .copy_memory();
  const std::string heic = HeifEnc(PngOf(source), "-b 10");
  ASSERT_FALSE(heic.empty()) << "heif-enc (libheif-examples) is needed";
  const auto d = DecodeHeif(heic, 100'000'000);
  ASSERT_TRUE(d) << d.error().detail;
  ASSERT_EQ(d->bits_per_sample(), 16u);
  const auto* got = reinterpret_cast<const std::uint8_t*>(d->pixels());
  const auto* want = static_cast<const std::uint16_t*>(source.data());
  double gap = 0;
  const std::size_t samples = d->size_bytes() / 2;
  for (std::size_t i = 0; i < samples; ++i) {
    const int v = got[2 * i] | (got[2 * i + 1] << 8);  // little-endian
    gap += std::abs(v - int{want[i]});
  }
  EXPECT_LT(gap / static_cast<double>(samples), 4.0 * 257);
}

TEST(DecodeHeif, ExifComesFromItsTiffHeaderOn) {
  const std::string heic = HeifEncFile(test::CorporaDir() + "/exif-orientation/Landscape_6.jpg");
  ASSERT_FALSE(heic.empty()) << "heif-enc (libheif-examples) is needed";
  const auto d = DecodeHeif(heic, 100'000'000);
  ASSERT_TRUE(d) << d.error().detail;
  ASSERT_GE(d->exif().size(), 8u);
  const std::string head = d->exif().substr(0, 4);
  EXPECT_TRUE(head == std::string("MM\0*", 4) || head == std::string("II*\0", 4)) << head;
  // Stored 1200 x 1800, no irot: the EXIF orientation of a HEIF does not turn it.
  EXPECT_EQ(d->width(), 1200u);
  EXPECT_EQ(d->height(), 1800u);
}

TEST(DecodeHeif, RefusesTooManyPixelsTruncatedAndForeignBytes) {
  const std::string heic = HeifEnc(PngOf(Photo(600, 400)));
  ASSERT_FALSE(heic.empty()) << "heif-enc (libheif-examples) is needed";
  const auto big = DecodeHeif(heic, 600 * 400 - 1);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().slug, "image_too_large");
  for (const double fraction : {0.05, 0.5, 0.9}) {
    SCOPED_TRACE(fraction);
    const std::string cut =
        heic.substr(0, static_cast<std::size_t>(static_cast<double>(heic.size()) * fraction));
    const auto r = DecodeHeif(cut, 100'000'000);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().slug, "decode_failed") << r.error().detail;
  }
  const auto junk = DecodeHeif(std::string(1000, 'x'), 100'000'000);
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().slug, "decode_failed");
}

// ---------------------------------------------------------------------------------------------
// The processor's HEIC through DecodeHeif against the same through libvips' heifload.

Result<ProcessedImage> Process(HeicDecoder decoder, const std::string& bytes) {
  auto sniffed = SniffImage(bytes);
  if (!sniffed) return tl::unexpected(sniffed.error());
  VipsImageProcessor processor(decoder);
  return processor.Process(bytes, *sniffed, {});
}

VImage Variant(const ProcessedImage& p, const std::string& name) {
  for (const auto& v : p.variants) {
    if (v.name != name) continue;
    VipsBlob* blob = vips_blob_copy(v.bytes.data(), v.bytes.size());
    VImage img = VImage::webpload_buffer(blob).copy_memory();
    vips_area_unref(VIPS_AREA(blob));
    return img;
  }
  throw std::runtime_error("no variant " + name);
}

TEST(HeicThroughLibheif, MakesWhatLibvipsHeifloadMakes) {
  const std::string jpeg_with_exif = test::CorporaDir() + "/exif-orientation/Landscape_6.jpg";
  const std::vector<std::pair<std::string, std::string>> files = {
      {"rgb", HeifEnc(PngOf(Photo(1500, 1000)))},
      {"alpha", HeifEnc(PngOf(Photo(500, 700, true)))},
      {"exif orientation 6", HeifEncFile(jpeg_with_exif)},
  };
  for (const auto& [name, heic] : files) {
    SCOPED_TRACE(name);
    ASSERT_FALSE(heic.empty()) << "heif-enc (libheif-examples) is needed";
    const auto a = Process(HeicDecoder::kLibvips, heic);
    const auto b = Process(HeicDecoder::kLibheif, heic);
    ASSERT_TRUE(a) << a.error().slug << ": " << a.error().detail;
    ASSERT_TRUE(b) << b.error().slug << ": " << b.error().detail;
    EXPECT_EQ(b->format, "heif");
    EXPECT_EQ(a->width, b->width);
    EXPECT_EQ(a->height, b->height);
    EXPECT_EQ(a->bit_depth, b->bit_depth);
    EXPECT_EQ(a->bands, b->bands);
    EXPECT_EQ(a->has_alpha, b->has_alpha);
    EXPECT_EQ(a->icc_profile, b->icc_profile);
    EXPECT_EQ(a->exif.orientation, b->exif.orientation);
    EXPECT_EQ(a->exif.make, b->exif.make);
    EXPECT_EQ(a->exif.model, b->exif.model);
    EXPECT_EQ(a->exif.taken_at, b->exif.taken_at);
    ASSERT_EQ(a->variants.size(), b->variants.size());
    for (const char* variant : {"thumb", "medium"}) {
      SCOPED_TRACE(variant);
      const VImage va = Variant(*a, variant), vb = Variant(*b, variant);
      ASSERT_EQ(va.width(), vb.width());
      ASSERT_EQ(va.height(), vb.height());
      ASSERT_EQ(va.bands(), vb.bands());
      // The same libheif decode and the same pipeline: the same pixels, give or take the
      // encoder.
      EXPECT_LT((va - vb).abs().avg(), 0.5);
    }
    EXPECT_EQ(a->placeholder, b->placeholder);
    EXPECT_EQ(a->phash, b->phash);
  }
  // Landscape_6: stored 1200 x 1800 with EXIF orientation 6 and no irot. heifload does not turn
  // a HEIF by its EXIF orientation, and neither does DecodeHeif.
  const auto turned = Process(HeicDecoder::kLibheif, files[2].second);
  ASSERT_TRUE(turned);
  EXPECT_EQ(turned->width, 1200u);
  EXPECT_EQ(turned->height, 1800u);
  EXPECT_EQ(turned->exif.orientation, 6u);
}

TEST(HeicThroughLibheif, TruncatedHeicFailsToDecode) {
  const std::string heic = HeifEnc(PngOf(Photo(600, 400)));
  ASSERT_FALSE(heic.empty()) << "heif-enc (libheif-examples) is needed";
  const auto sniffed = SniffImage(heic);
  ASSERT_TRUE(sniffed);
  VipsImageProcessor processor(HeicDecoder::kLibheif);
  ASSERT_TRUE(processor.Process(heic, *sniffed, {}));
  for (const double fraction : {0.2, 0.5, 0.8, 0.95}) {
    SCOPED_TRACE(fraction);
    const std::string cut =
        heic.substr(0, static_cast<std::size_t>(static_cast<double>(heic.size()) * fraction));
    const auto r = processor.Process(cut, *sniffed, {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
    EXPECT_EQ(r.error().slug, "decode_failed") << r.error().detail;
  }
}

TEST(HeicThroughLibheif, AvifStillGoesToLibvips) {
  TempDir dir;
  const fs::path png = dir.path() / "in.png", out = dir.path() / "out.avif";
  const std::string source = PngOf(Photo(400, 300));
  std::ofstream(png, std::ios::binary)
      .write(source.data(), static_cast<std::streamsize>(source.size()));
  ASSERT_EQ(std::system(("heif-enc -A -q 50 -p speed=9 " + png.string() + " -o " + out.string() +
                         " >/dev/null 2>&1")
                            .c_str()),
            0);
  const auto r = Process(HeicDecoder::kLibheif, ReadFile(out));
  ASSERT_TRUE(r) << r.error().slug << ": " << r.error().detail;
  EXPECT_EQ(r->format, "avif");
  EXPECT_EQ(r->width, 400u);
}

}  // namespace
}  // namespace imgup
