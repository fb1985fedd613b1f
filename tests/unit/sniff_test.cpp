#include "codecs/sniff.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/test_paths.hpp"

namespace imgup {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

// ---------------------------------------------------------------------------------------------
// Helpers

fs::path CorporaDir() { return test::CorporaDir(); }

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Sniffs a copy of `bytes` in a heap block of exactly that size, so that AddressSanitizer
// reports any read past the end (a view into a larger buffer would hide it).
Result<SniffResult> SniffExact(std::string_view bytes) {
  auto copy = std::make_unique<char[]>(bytes.size() == 0 ? 1 : bytes.size());
  std::copy(bytes.begin(), bytes.end(), copy.get());
  return SniffImage(std::string_view(copy.get(), bytes.size()));
}

std::string Describe(const Result<SniffResult>& r) {
  if (!r) return "error " + r.error().slug + ": " + r.error().message;
  return r->content_type + " " + std::to_string(r->width) + "x" + std::to_string(r->height);
}

void ExpectImage(const Result<SniffResult>& r, std::string_view content_type,
                 std::string_view format, std::uint32_t width, std::uint32_t height) {
  ASSERT_TRUE(r.has_value()) << Describe(r);
  EXPECT_EQ(r->content_type, content_type);
  EXPECT_EQ(r->format, format);
  EXPECT_EQ(r->width, width);
  EXPECT_EQ(r->height, height);
}

void ExpectError(const Result<SniffResult>& r, ErrorCode code, std::string_view slug) {
  ASSERT_FALSE(r.has_value()) << Describe(r);
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_EQ(r.error().slug, slug) << r.error().message;
}

void ExpectInvalidImage(const Result<SniffResult>& r) {
  ExpectError(r, ErrorCode::kUnprocessable, "invalid_image");
}
void ExpectUnsupported(const Result<SniffResult>& r) {
  ExpectError(r, ErrorCode::kUnsupportedMediaType, "unsupported_media_type");
}

std::string Be16(std::uint32_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string Be24(std::uint32_t v) {
  return {static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string Be32(std::uint32_t v) { return Be16(v >> 16) + Be16(v & 0xFFFF); }
std::string Le16(std::uint32_t v) { return {static_cast<char>(v), static_cast<char>(v >> 8)}; }
std::string Le24(std::uint32_t v) { return Le16(v & 0xFFFF) + static_cast<char>(v >> 16); }
std::string Le32(std::uint32_t v) { return Le16(v & 0xFFFF) + Le16(v >> 16); }

// Bit-at-a-time CRC-32 (ISO 3309), deliberately unlike the table-driven one under test.
std::uint32_t BitwiseCrc32(std::string_view data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : data) {
    crc ^= static_cast<unsigned char>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// ---------------------------------------------------------------------------------------------
// PNG

const std::string kPngSignature = "\x89PNG\r\n\x1A\n";

std::string PngChunk(std::string_view type, std::string_view data) {
  const std::string body = std::string(type) + std::string(data);
  return Be32(static_cast<std::uint32_t>(data.size())) + body + Be32(BitwiseCrc32(body));
}

std::string Ihdr(std::uint32_t w, std::uint32_t h, std::uint8_t depth = 8,
                 std::uint8_t color_type = 0, std::uint8_t interlace = 0) {
  return PngChunk("IHDR", Be32(w) + Be32(h) + static_cast<char>(depth) +
                              static_cast<char>(color_type) + "\0\0"s +
                              static_cast<char>(interlace));
}

// A structurally valid PNG (the IDAT holds a zlib stream of one zero row; sniffing does not
// decode it anyway).
std::string MakePng(std::uint32_t w, std::uint32_t h, std::string_view extra = {}) {
  return kPngSignature + Ihdr(w, h) + std::string(extra) +
         PngChunk("IDAT", "\x78\x9C\x63\x00\x00\x00\x02\x00\x01"s) + PngChunk("IEND", "");
}

// PngSuite names encode the size: "sNN..." are NN x NN, cdf/cdh/cds are the odd-shaped
// "chunk dimension" tests, everything else is 32 x 32 (PngSuite's documentation).
std::pair<std::uint32_t, std::uint32_t> PngSuiteSize(const std::string& name) {
  if (name.size() > 3 && name[0] == 's' && std::isdigit(static_cast<unsigned char>(name[1]))) {
    const auto n = static_cast<std::uint32_t>(std::stoi(name.substr(1, 2)));
    return {n, n};
  }
  if (name.rfind("cdf", 0) == 0) return {8, 32};
  if (name.rfind("cdh", 0) == 0) return {32, 8};
  if (name.rfind("cds", 0) == 0) return {8, 8};
  return {32, 32};
}

TEST(SniffPngTest, EveryValidPngSuiteFileHasItsDocumentedSize) {
  const fs::path dir = CorporaDir() / "pngsuite" / "png";
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing (set IMGUP_CORPORA)";
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".png" || name[0] == 'x') continue;
    const std::string bytes = ReadFile(entry.path());
    // Cross-check the documented size against the IHDR bytes read by hand.
    const auto [w, h] = PngSuiteSize(name);
    ASSERT_GE(bytes.size(), 24u) << name;
    ASSERT_EQ(bytes.substr(12, 4), "IHDR") << name;
    ASSERT_EQ(bytes.substr(16, 8), Be32(w) + Be32(h)) << name;
    SCOPED_TRACE(name);
    ExpectImage(SniffImage(bytes), "image/png", "png", w, h);
    ++checked;
  }
  EXPECT_EQ(checked, 161);  // 175 files, 14 of them corrupt
}

TEST(SniffPngTest, KnownPngSuiteFacts) {
  const fs::path dir = CorporaDir() / "pngsuite" / "png";
  ExpectImage(SniffImage(ReadFile(dir / "basn0g01.png")), "image/png", "png", 32, 32);
  ExpectImage(SniffImage(ReadFile(dir / "s01i3p01.png")), "image/png", "png", 1, 1);
  ExpectImage(SniffImage(ReadFile(dir / "s39n3p04.png")), "image/png", "png", 39, 39);
  ExpectImage(SniffImage(ReadFile(dir / "cdfn2c08.png")), "image/png", "png", 8, 32);
}

// Every corrupt PngSuite file is refused by the header and chunk-structure checks (signature,
// IHDR fields, chunk CRCs, required chunks); none needs a full decode to be caught.
TEST(SniffPngTest, EveryCorruptPngSuiteFileIsRefused) {
  struct Case {
    const char* name;
    ErrorCode code;
    const char* why;  // a fragment of the public message
  };
  const Case cases[] = {
      {"xs1n0g01.png", ErrorCode::kUnsupportedMediaType, ""},  // 0x09 'PNG': no PNG magic
      {"xs2n0g01.png", ErrorCode::kUnsupportedMediaType, ""},  // 0x89 'QNG'
      {"xs4n0g01.png", ErrorCode::kUnsupportedMediaType, ""},  // 0x89 'PNg'
      {"xs7n0g01.png", ErrorCode::kUnprocessable, "signature"},
      {"xcrn0g04.png", ErrorCode::kUnprocessable, "signature"},  // CR-LF mangled
      {"xlfn0g04.png", ErrorCode::kUnprocessable, "signature"},  // LF mangled
      {"xc1n0g08.png", ErrorCode::kUnprocessable, "colour type"},
      {"xc9n2c08.png", ErrorCode::kUnprocessable, "colour type"},
      {"xd0n2c08.png", ErrorCode::kUnprocessable, "bit depth"},
      {"xd3n2c08.png", ErrorCode::kUnprocessable, "bit depth"},
      {"xd9n2c08.png", ErrorCode::kUnprocessable, "bit depth"},
      {"xdtn0g01.png", ErrorCode::kUnprocessable, "no IDAT"},
      {"xhdn0g08.png", ErrorCode::kUnprocessable, "CRC mismatch in chunk IHDR"},
      {"xcsn0g01.png", ErrorCode::kUnprocessable, "CRC mismatch in chunk IDAT"},
  };
  const fs::path dir = CorporaDir() / "pngsuite" / "png";
  int corrupt_files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    corrupt_files += entry.path().filename().string()[0] == 'x' ? 1 : 0;
  }
  EXPECT_EQ(corrupt_files, static_cast<int>(std::size(cases)));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto r = SniffExact(ReadFile(dir / c.name));
    ASSERT_FALSE(r.has_value()) << Describe(r);
    EXPECT_EQ(r.error().code, c.code) << r.error().message;
    EXPECT_EQ(r.error().slug,
              c.code == ErrorCode::kUnprocessable ? "invalid_image" : "unsupported_media_type");
    EXPECT_NE(r.error().message.find(c.why), std::string::npos) << r.error().message;
  }
}

TEST(SniffPngTest, SyntheticPngs) {
  ExpectImage(SniffImage(MakePng(1, 1)), "image/png", "png", 1, 1);
  ExpectImage(SniffImage(MakePng(0x7FFFFFFF, 3)), "image/png", "png", 0x7FFFFFFF, 3);
  // Ancillary chunks before IDAT are walked over.
  ExpectImage(SniffImage(MakePng(640, 480,
                                 PngChunk("tEXt", "Comment\0hi"s) + PngChunk("gAMA", Be32(45455)))),
              "image/png", "png", 640, 480);
}

TEST(SniffPngTest, RefusesMalformedHeaders) {
  const std::string idat_iend = PngChunk("IDAT", "x") + PngChunk("IEND", "");
  ExpectInvalidImage(SniffImage(MakePng(0, 10)));
  ExpectInvalidImage(SniffImage(MakePng(10, 0)));
  ExpectInvalidImage(SniffImage(MakePng(0x80000000u, 1)));
  ExpectInvalidImage(SniffImage(kPngSignature + PngChunk("gAMA", Be32(1)) + Ihdr(1, 1) +
                                idat_iend));  // IHDR not first
  ExpectInvalidImage(SniffImage(kPngSignature +
                                PngChunk("IHDR", Be32(1) + Be32(1) + "\x08\0\0\0"s) +
                                idat_iend));  // IHDR 12 bytes long
  ExpectInvalidImage(SniffImage(kPngSignature + Ihdr(1, 1) + Ihdr(1, 1) + idat_iend));
  ExpectInvalidImage(SniffImage(kPngSignature + Ihdr(1, 1, 8, 3) + idat_iend));  // no PLTE
  ExpectImage(
      SniffImage(kPngSignature + Ihdr(1, 1, 8, 3) + PngChunk("PLTE", "\0\0\0"s) + idat_iend),
      "image/png", "png", 1, 1);
  ExpectInvalidImage(SniffImage(kPngSignature + Ihdr(1, 1, 16, 3) + idat_iend));
  ExpectInvalidImage(SniffImage(kPngSignature + Ihdr(1, 1, 8, 0, 2) + idat_iend));
  ExpectInvalidImage(
      SniffImage(kPngSignature + Ihdr(1, 1) + PngChunk("ID@T", "x") + idat_iend));  // not a letter
  // A chunk length far past the end of the data.
  ExpectInvalidImage(SniffImage(kPngSignature + Ihdr(1, 1) + "\xFF\xFF\xFF\xF0IDAT"s));
  // IEND with data.
  ExpectInvalidImage(
      SniffImage(kPngSignature + Ihdr(1, 1) + PngChunk("IDAT", "x") + PngChunk("IEND", "x")));
  // A flipped bit anywhere in a chunk's type or data breaks its CRC.
  std::string flipped = MakePng(5, 5);
  flipped[40] = static_cast<char>(flipped[40] ^ 0x10);
  ExpectInvalidImage(SniffImage(flipped));
}

TEST(SniffPngTest, RefusesPolyglots) {
  const fs::path dir = CorporaDir() / "pngsuite" / "png";
  ExpectUnsupported(SniffImage(ReadFile(dir / "basn0g01.png") + "<script>alert(1)</script>"));
  ExpectUnsupported(SniffImage(MakePng(2, 2) + "<script>"));
  ExpectUnsupported(SniffImage(MakePng(2, 2) + "\0"s));
  ExpectUnsupported(SniffImage(MakePng(2, 2) + "%PDF-1.4\n"));
}

TEST(SniffPngTest, EveryPrefixIsRefused) {
  const fs::path dir = CorporaDir() / "pngsuite" / "png";
  for (const char* name : {"basn0g01.png", "basn6a16.png", "s01i3p01.png", "ctzn0g04.png"}) {
    const std::string bytes = ReadFile(dir / name);
    ASSERT_FALSE(bytes.empty()) << name;
    for (std::size_t n = 1; n < bytes.size(); ++n) {
      const auto r = SniffExact(std::string_view(bytes).substr(0, n));
      ASSERT_FALSE(r.has_value()) << name << " prefix " << n;
      // Below 4 bytes the PNG magic is not there yet.
      ASSERT_EQ(r.error().code,
                n < 4 ? ErrorCode::kUnsupportedMediaType : ErrorCode::kUnprocessable)
          << name << " prefix " << n << ": " << r.error().message;
    }
    ASSERT_TRUE(SniffExact(bytes).has_value()) << name;
  }
}

// ---------------------------------------------------------------------------------------------
// JPEG

std::string JpegSegment(std::uint8_t marker, std::string_view payload) {
  return "\xFF"s + static_cast<char>(marker) +
         Be16(static_cast<std::uint32_t>(payload.size() + 2)) + std::string(payload);
}

std::string Sof(std::uint8_t marker, std::uint32_t w, std::uint32_t h,
                std::uint8_t components = 3) {
  std::string payload = "\x08"s + Be16(h) + Be16(w) + static_cast<char>(components);
  for (std::uint8_t i = 0; i < components; ++i) payload += "\x01\x11\x00"s;
  payload[payload.size() - 3] = static_cast<char>(components);  // component ids differ
  return JpegSegment(marker, payload);
}

std::string MakeJpeg(std::string_view before_sof, std::string_view sof) {
  return "\xFF\xD8"s + JpegSegment(0xE0, "JFIF\0\x01\x01\0\0\x01\0\x01\0\0"s) +
         std::string(before_sof) + JpegSegment(0xDB, std::string(65, '\x01')) + std::string(sof) +
         JpegSegment(0xC4, std::string(20, '\0')) + JpegSegment(0xDA, "\x01\x01\x00\x00\x3F\x00"s) +
         "\x12\x34\xFF\x00\x56"s + "\xFF\xD9"s;
}

TEST(SniffJpegTest, ExifOrientationCorpusReportsStoredSizes) {
  // Stored sizes (`file` and the SOF0 bytes agree): orientations 5-8 are stored rotated.
  const fs::path dir = CorporaDir() / "exif-orientation";
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing (set IMGUP_CORPORA)";
  for (int o = 0; o <= 8; ++o) {
    const bool rotated = o >= 5;
    SCOPED_TRACE(o);
    ExpectImage(SniffImage(ReadFile(dir / ("Landscape_" + std::to_string(o) + ".jpg"))),
                "image/jpeg", "jpeg", rotated ? 1200 : 1800, rotated ? 1800 : 1200);
    ExpectImage(SniffImage(ReadFile(dir / ("Portrait_" + std::to_string(o) + ".jpg"))),
                "image/jpeg", "jpeg", rotated ? 1800 : 1200, rotated ? 1200 : 1800);
  }
}

TEST(SniffJpegTest, ExifOrientationGivesTheDisplayedSize) {
  // Landscape_N is displayed 1800x1200 and Portrait_N 1200x1800 whatever its orientation tag.
  const fs::path dir = CorporaDir() / "exif-orientation";
  for (int o = 0; o <= 8; ++o) {
    SCOPED_TRACE(o);
    auto landscape = SniffImage(ReadFile(dir / ("Landscape_" + std::to_string(o) + ".jpg")));
    auto portrait = SniffImage(ReadFile(dir / ("Portrait_" + std::to_string(o) + ".jpg")));
    ASSERT_TRUE(landscape && portrait);
    EXPECT_EQ(landscape->orientation, o == 0 ? 1u : static_cast<std::uint32_t>(o));
    EXPECT_EQ(landscape->DisplayWidth(), 1800u);
    EXPECT_EQ(landscape->DisplayHeight(), 1200u);
    EXPECT_EQ(portrait->DisplayWidth(), 1200u);
    EXPECT_EQ(portrait->DisplayHeight(), 1800u);
  }
}

TEST(SniffJpegTest, EveryPrefixOfARealJpegIsRefusedOrRight) {
  const std::string bytes =
      ReadFile(CorporaDir() / "exif-orientation" / "Landscape_5.jpg").substr(0, 4096);
  ASSERT_EQ(bytes.size(), 4096u);
  std::size_t first_success = 0;
  for (std::size_t n = 1; n <= bytes.size(); ++n) {
    const auto r = SniffExact(std::string_view(bytes).substr(0, n));
    if (r) {
      ExpectImage(r, "image/jpeg", "jpeg", 1200, 1800);
      if (first_success == 0) first_success = n;
    } else {
      ASSERT_EQ(first_success, 0u) << "prefix " << n << " failed after a shorter one succeeded";
      ASSERT_EQ(r.error().code,
                n < 3 ? ErrorCode::kUnsupportedMediaType : ErrorCode::kUnprocessable)
          << "prefix " << n << ": " << r.error().message;
    }
  }
  EXPECT_EQ(first_success, 277u);  // SOF0 at offset 258, 2 + 17 bytes long
}

TEST(SniffJpegTest, WalksMarkersToTheFirstFrameHeader) {
  ExpectImage(SniffImage(MakeJpeg("", Sof(0xC0, 640, 480))), "image/jpeg", "jpeg", 640, 480);
  for (const int sof : {0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}) {
    ExpectImage(SniffImage(MakeJpeg("", Sof(static_cast<std::uint8_t>(sof), 65535, 1))),
                "image/jpeg", "jpeg", 65535, 1);
  }
  ExpectImage(SniffImage(MakeJpeg("", Sof(0xC0, 7, 9, 1))), "image/jpeg", "jpeg", 7, 9);
  // DHT (C4), JPG (C8) and DAC (CC) share the range but are not frame headers.
  ExpectImage(SniffImage(MakeJpeg(JpegSegment(0xC4, Be16(1) + Be16(1) + "\0\0\0"s) +
                                      JpegSegment(0xC8, Be16(2) + Be16(2) + "\x01\0\0\0"s) +
                                      JpegSegment(0xCC, Be16(3) + Be16(3) + "\x01\0\0\0"s),
                                  Sof(0xC2, 300, 200))),
              "image/jpeg", "jpeg", 300, 200);
  // Fill bytes before a marker, standalone markers, a big APP1 (EXIF) and a COM segment.
  ExpectImage(SniffImage(MakeJpeg("\xFF\xFF\xFF"s + JpegSegment(0xE1, std::string(60000, 'e')) +
                                      "\xFF\x01\xFF\xD3"s + JpegSegment(0xFE, "comment"),
                                  "\xFF\xFF"s + Sof(0xC0, 12, 34))),
              "image/jpeg", "jpeg", 12, 34);
}

TEST(SniffJpegTest, ReportsProgressionComponentsAndCoefficientMemory) {
  const auto baseline = SniffImage(MakeJpeg("", Sof(0xC0, 640, 480)));
  ASSERT_TRUE(baseline) << Describe(baseline);
  EXPECT_FALSE(baseline->progressive);
  EXPECT_EQ(baseline->components, 3u);
  EXPECT_EQ(baseline->coefficient_bytes, 3u * 80 * 60 * 64 * 2);  // 4:4:4, 80x60 blocks each
  EXPECT_EQ(baseline->frame_count, 1u);
  for (const int sof : {0xC2, 0xC6, 0xCA, 0xCE}) {
    const auto r = SniffImage(MakeJpeg("", Sof(static_cast<std::uint8_t>(sof), 64, 64, 1)));
    ASSERT_TRUE(r) << Describe(r);
    EXPECT_TRUE(r->progressive) << sof;
    EXPECT_EQ(r->components, 1u);
  }
  for (const int sof : {0xC1, 0xC3, 0xC5, 0xC9}) {
    EXPECT_FALSE(SniffImage(MakeJpeg("", Sof(static_cast<std::uint8_t>(sof), 64, 64)))->progressive)
        << sof;
  }
  // 4:2:0 at 641x481: luma 2x2, chroma 1x1. libjpeg's buffers: luma 81x61 blocks rounded up to
  // 82x62; chroma 321x241 samples, 41x31 blocks each.
  const std::string sof420 = JpegSegment(
      0xC2, "\x08"s + Be16(481) + Be16(641) + "\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"s);
  const auto yuv420 = SniffImage(MakeJpeg("", sof420));
  ASSERT_TRUE(yuv420) << Describe(yuv420);
  EXPECT_EQ(yuv420->coefficient_bytes, (82u * 62 + 2u * 41 * 31) * 64 * 2);
  // Sampling factors outside 1..4 are not a JPEG.
  ExpectInvalidImage(SniffImage(
      MakeJpeg("", JpegSegment(0xC0, "\x08"s + Be16(8) + Be16(8) + "\x01\x01\x50\x00"s))));
  ExpectInvalidImage(SniffImage(
      MakeJpeg("", JpegSegment(0xC0, "\x08"s + Be16(8) + Be16(8) + "\x01\x01\x10\x00"s))));
}

TEST(SniffJpegTest, CountsScansWithoutDecodingThem) {
  EXPECT_EQ(SniffImage(MakeJpeg("", Sof(0xC0, 64, 64)))->scan_count, 1u);
  // Entropy-coded data with stuffed bytes, restart markers and fill bytes between the scans,
  // and a DHT between scans, as progressive files have.
  const std::string scan = JpegSegment(0xDA, "\x01\x01\x00\x01\x3F\x00"s) +
                           "\x12\xFF\x00\x34\xFF\xD0\x56\xFF\x00\xFF\xD7\x78"s;
  std::string bytes = "\xFF\xD8"s + JpegSegment(0xDB, std::string(65, '\x01')) +
                      Sof(0xC2, 64, 64, 1) + JpegSegment(0xC4, std::string(20, '\0'));
  for (int i = 0; i < 300; ++i) {
    bytes += scan + (i % 7 == 0 ? "\xFF\xFF"s + JpegSegment(0xC4, std::string(20, '\0')) : ""s);
  }
  const auto r = SniffImage(bytes + "\xFF\xD9"s);
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_EQ(r->scan_count, 300u);
  // Counting never refuses: a file cut inside a scan counts the scans that started.
  const auto cut = SniffImage(bytes.substr(0, bytes.size() - 3));
  ASSERT_TRUE(cut) << Describe(cut);
  EXPECT_EQ(cut->scan_count, 300u);
}

TEST(SniffJpegTest, RefusesMalformedMarkers) {
  ExpectInvalidImage(SniffImage("\xFF\xD8\xFF"s));
  ExpectInvalidImage(SniffImage(MakeJpeg("", Sof(0xC0, 0, 480))));  // height from DNL: refused
  ExpectInvalidImage(SniffImage(MakeJpeg("", Sof(0xC0, 640, 0))));
  ExpectInvalidImage(SniffImage(MakeJpeg("", Sof(0xC0, 640, 480, 0))));
  // A frame header whose length does not match its component count (12 != 8 + 3 * 1).
  ExpectInvalidImage(
      SniffImage(MakeJpeg("", "\xFF\xC0\x00\x0C\x08\x00\x10\x00\x10\x01\x01\x11\x00\x00"s)));
  ExpectInvalidImage(SniffImage("\xFF\xD8\xFF\xE0\x00\x01"s + std::string(100, '\0')));  // len 1
  ExpectInvalidImage(SniffImage("\xFF\xD8\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00"s));   // SOS
  ExpectInvalidImage(SniffImage("\xFF\xD8\xFF\xD9"s));                                   // EOI
  ExpectInvalidImage(SniffImage("\xFF\xD8\xFF\xD8"s + Sof(0xC0, 1, 1)));  // second SOI
  ExpectInvalidImage(SniffImage("\xFF\xD8\xFF\xE0\x00\x04\x00\x00\x12"s + Sof(0xC0, 1, 1)));
  ExpectInvalidImage(SniffImage("\xFF\xD8\xFF\xE0\xFF\xFF"s + std::string(1000, '\0')));
}

TEST(SniffJpegTest, EveryPrefixOfASyntheticJpegIsRefusedOrRight) {
  const std::string bytes =
      MakeJpeg("\xFF\xFF"s + JpegSegment(0xE1, "Exif\0\0"s + std::string(40, 'x')) + "\xFF\xD0"s,
               Sof(0xC2, 1024, 768));
  for (std::size_t n = 1; n <= bytes.size(); ++n) {
    const auto r = SniffExact(std::string_view(bytes).substr(0, n));
    if (r) {
      ExpectImage(r, "image/jpeg", "jpeg", 1024, 768);
    } else {
      ASSERT_NE(r.error().code, ErrorCode::kInternal);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Real tiny files made by the reference encoders (libwebp, libavif) and a classic GIF, widely
// used as feature-detection images; byte-for-byte.

const std::string kWebpLossy1x1(
    "\x52\x49\x46\x46\x22\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x20\x16\x00\x00\x00\x30\x01\x00"
    "\x9D"
    "\x01\x2A\x01\x00\x01\x00\x0E\xC0\xFE\x25\xA4\x00\x03\x70\x00\x00\x00\x00",
    42);
const std::string kWebpLossless1x1(
    "\x52\x49\x46\x46\x1A\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x4C\x0D\x00\x00\x00\x2F\x00\x00"
    "\x00"
    "\x10\x07\x10\x11\x11\x88\x88\xFE\x07\x00",
    34);
const std::string kWebpAlpha1x1(
    "\x52\x49\x46\x46\x4A\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x58\x0A\x00\x00\x00\x10\x00\x00"
    "\x00"
    "\x00\x00\x00\x00\x00\x00\x41\x4C\x50\x48\x0C\x00\x00\x00\x11\x07\x10\x11\xFD\x0F\x44\x44\xFF"
    "\x03"
    "\x00\x00\x56\x50\x38\x20\x18\x00\x00\x00\x14\x01\x00\x9D\x01\x2A\x01\x00\x01\x00\x00\x00\xFE"
    "\x00"
    "\x00\x0D\xC0\x00\xFE\xE6\xB5\x00\x00\x00",
    82);
const std::string kWebpAnimated1x1(
    "\x52\x49\x46\x46\x52\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x58\x0A\x00\x00\x00\x12\x00\x00"
    "\x00"
    "\x00\x00\x00\x00\x00\x00\x41\x4E\x49\x4D\x06\x00\x00\x00\xFF\xFF\xFF\xFF\x00\x00\x41\x4E\x4D"
    "\x46"
    "\x26\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x64\x00\x00\x00\x56\x50\x38"
    "\x4C"
    "\x0D\x00\x00\x00\x2F\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xFE\x07\x00",
    90);
const std::string kAvif2x2(
    "\x00\x00\x00\x20\x66\x74\x79\x70\x61\x76\x69\x66\x00\x00\x00\x00\x61\x76\x69\x66\x6D\x69\x66"
    "\x31"
    "\x6D\x69\x61\x66\x4D\x41\x31\x42\x00\x00\x00\xF2\x6D\x65\x74\x61\x00\x00\x00\x00\x00\x00\x00"
    "\x28"
    "\x68\x64\x6C\x72\x00\x00\x00\x00\x00\x00\x00\x00\x70\x69\x63\x74\x00\x00\x00\x00\x00\x00\x00"
    "\x00"
    "\x00\x00\x00\x00\x6C\x69\x62\x61\x76\x69\x66\x00\x00\x00\x00\x0E\x70\x69\x74\x6D\x00\x00\x00"
    "\x00"
    "\x00\x01\x00\x00\x00\x1E\x69\x6C\x6F\x63\x00\x00\x00\x00\x44\x00\x00\x01\x00\x01\x00\x00\x00"
    "\x01"
    "\x00\x00\x01\x1A\x00\x00\x00\x1D\x00\x00\x00\x28\x69\x69\x6E\x66\x00\x00\x00\x00\x00\x01\x00"
    "\x00"
    "\x00\x1A\x69\x6E\x66\x65\x02\x00\x00\x00\x00\x01\x00\x00\x61\x76\x30\x31\x43\x6F\x6C\x6F\x72"
    "\x00"
    "\x00\x00\x00\x6A\x69\x70\x72\x70\x00\x00\x00\x4B\x69\x70\x63\x6F\x00\x00\x00\x14\x69\x73\x70"
    "\x65"
    "\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x10\x70\x69\x78\x69\x00\x00\x00"
    "\x00"
    "\x03\x08\x08\x08\x00\x00\x00\x0C\x61\x76\x31\x43\x81\x0D\x0C\x00\x00\x00\x00\x13\x63\x6F\x6C"
    "\x72"
    "\x6E\x63\x6C\x78\x00\x02\x00\x02\x00\x01\x80\x00\x00\x00\x17\x69\x70\x6D\x61\x00\x00\x00\x00"
    "\x00"
    "\x00\x00\x01\x00\x01\x04\x01\x02\x83\x04\x00\x00\x00\x25\x6D\x64\x61\x74\x12\x00\x0A\x08\x18"
    "\x00"
    "\x36\x88\x10\x10\x0C\x20\x32\x0F\x1F\xF0\x3F\xFF\xFF\xC5\x9F\x87\x00\x7C\xF8\x4A\xCA\xE3\x60",
    311);
const std::string kGif1x1(
    "\x47\x49\x46\x38\x39\x61\x01\x00\x01\x00\x80\x00\x00\xFF\xFF\xFF\x00\x00\x00\x21\xF9\x04\x01"
    "\x00"
    "\x00\x00\x00\x2C\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3B",
    43);

// A prefix of a file with an end marker or a size field (PNG, GIF, WebP) is always refused.
void ExpectEveryPrefixRefused(const std::string& bytes, std::size_t magic_length) {
  for (std::size_t n = 1; n < bytes.size(); ++n) {
    const auto r = SniffExact(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.has_value()) << "prefix " << n << ": " << Describe(r);
    ASSERT_EQ(r.error().code,
              n < magic_length ? ErrorCode::kUnsupportedMediaType : ErrorCode::kUnprocessable)
        << "prefix " << n << ": " << r.error().message;
  }
  ASSERT_TRUE(SniffExact(bytes).has_value());
}

// ---------------------------------------------------------------------------------------------
// WebP

std::string WebpChunk(std::string_view fourcc, std::string_view data) {
  std::string out =
      std::string(fourcc) + Le32(static_cast<std::uint32_t>(data.size())) + std::string(data);
  if (data.size() % 2 == 1) out += '\0';
  return out;
}

std::string Riff(std::string_view chunks) {
  return "RIFF" + Le32(static_cast<std::uint32_t>(4 + chunks.size())) + "WEBP" +
         std::string(chunks);
}

std::string Vp8(std::uint32_t w, std::uint32_t h, std::uint32_t scale_bits = 0,
                bool key_frame = true) {
  const std::uint32_t tag = (key_frame ? 0u : 1u) | (1u << 4) | (100u << 5);  // shown
  return WebpChunk("VP8 ", Le24(tag) + "\x9D\x01\x2A"s + Le16(w | scale_bits << 14) +
                               Le16(h | scale_bits << 14) + std::string(20, '\x55'));
}

std::string Vp8l(std::uint32_t w, std::uint32_t h) {
  return WebpChunk("VP8L", "\x2F"s + Le32((w - 1) | (h - 1) << 14 | 1u << 28) + "\x07\x00"s);
}

std::string Vp8x(std::uint32_t w, std::uint32_t h, std::uint8_t flags = 0) {
  return WebpChunk("VP8X", static_cast<char>(flags) + "\0\0\0"s + Le24(w - 1) + Le24(h - 1));
}

TEST(SniffWebpTest, RealFiles) {
  ExpectImage(SniffExact(kWebpLossy1x1), "image/webp", "webp", 1, 1);
  ExpectImage(SniffExact(kWebpLossless1x1), "image/webp", "webp", 1, 1);
  ExpectImage(SniffExact(kWebpAlpha1x1), "image/webp", "webp", 1, 1);
  ExpectImage(SniffExact(kWebpAnimated1x1), "image/webp", "webp", 1, 1);
}

TEST(SniffWebpTest, SyntheticHeaders) {
  ExpectImage(SniffImage(Riff(Vp8(400, 300))), "image/webp", "webp", 400, 300);
  ExpectImage(SniffImage(Riff(Vp8(16383, 16383, 3))), "image/webp", "webp", 16383, 16383);
  ExpectImage(SniffImage(Riff(Vp8l(16384, 1))), "image/webp", "webp", 16384, 1);
  ExpectImage(SniffImage(Riff(Vp8l(1, 16384))), "image/webp", "webp", 1, 16384);
  ExpectImage(SniffImage(Riff(Vp8x(3000, 2000, 0x10) + WebpChunk("ALPH", "abc") + Vp8(3000, 2000) +
                              WebpChunk("EXIF", "II*\0"s))),
              "image/webp", "webp", 3000, 2000);
  ExpectImage(SniffImage(Riff(Vp8x(16777216, 1, 0x02) + WebpChunk("ANIM", std::string(6, '\0')))),
              "image/webp", "webp", 16777216, 1);
}

std::string Anmf(std::uint32_t w, std::uint32_t h) {
  return WebpChunk(
      "ANMF", std::string(6, '\0') + Le24(w - 1) + Le24(h - 1) + Le24(100) + "\0"s + Vp8l(w, h));
}

TEST(SniffWebpTest, CountsAnimationFramesFromTheContainer) {
  EXPECT_EQ(SniffExact(kWebpAnimated1x1)->frame_count, 1u);
  EXPECT_EQ(SniffExact(kWebpLossy1x1)->frame_count, 1u);
  EXPECT_EQ(SniffExact(kWebpAlpha1x1)->frame_count, 1u);
  std::string frames;
  for (int i = 0; i < 900; ++i) frames += Anmf(1, 1);
  // The canvas bomb of issue F: 900 frames of 1x1 on a 10000x10000 canvas.
  const auto bomb =
      SniffImage(Riff(Vp8x(10000, 10000, 0x12) + WebpChunk("ANIM", std::string(6, '\0')) + frames +
                      WebpChunk("XMP ", "x")));
  ASSERT_TRUE(bomb) << Describe(bomb);
  EXPECT_EQ(bomb->width, 10000u);
  EXPECT_EQ(bomb->frame_count, 900u);
  EXPECT_EQ(bomb->TotalPixels(), 90'000'000'000u);
  // An animation flag without frames is one frame for the cap.
  EXPECT_EQ(
      SniffImage(Riff(Vp8x(5, 5, 0x02) + WebpChunk("ANIM", std::string(6, '\0'))))->frame_count,
      1u);
}

TEST(SniffWebpTest, RefusesMalformedContainers) {
  ExpectInvalidImage(SniffImage(Riff(Vp8(0, 300))));
  ExpectInvalidImage(SniffImage(Riff(Vp8(400, 300, 0, false))));  // not a key frame
  ExpectInvalidImage(SniffImage(Riff(WebpChunk("VP8 ", "\x10\x02\x00\x9D\x01"s))));
  ExpectInvalidImage(
      SniffImage(Riff(WebpChunk("VP8 ", "\x10\x02\x00\x9D\x01\x2B\x01\x00\x01\x00"s))));
  ExpectInvalidImage(SniffImage(Riff(WebpChunk("VP8L", "\x2E\0\0\0\0"s))));    // bad signature
  ExpectInvalidImage(SniffImage(Riff(WebpChunk("VP8L", "\x2F\0\0\0\x20"s))));  // version 1
  ExpectInvalidImage(SniffImage(Riff(Vp8x(65536, 65536))));  // canvas over 2^32 pixels
  ExpectInvalidImage(SniffImage(Riff(WebpChunk("ICCP", "abcd") + Vp8(1, 1))));
  ExpectInvalidImage(SniffImage(Riff("")));
  // A chunk that claims more than the container holds.
  ExpectInvalidImage(SniffImage(Riff("VP8L" + Le32(1000) + "\x2F\0\0\0\0"s)));
  // The RIFF size says more than there is.
  std::string longer = Riff(Vp8(4, 4));
  longer[4] = static_cast<char>(longer[4] + 2);
  ExpectInvalidImage(SniffImage(longer));
  // Not WebP at all: another RIFF form.
  ExpectUnsupported(SniffImage("RIFF" + Le32(4) + "WAVE"));
}

TEST(SniffWebpTest, RefusesDataAfterTheContainer) {
  ExpectUnsupported(SniffImage(kWebpLossy1x1 + "<script>"));
  ExpectUnsupported(SniffImage(Riff(Vp8l(5, 5)) + "\0\0"s));
}

TEST(SniffWebpTest, EveryPrefixIsRefused) {
  for (const std::string& file : {kWebpLossy1x1, kWebpLossless1x1, kWebpAlpha1x1, kWebpAnimated1x1,
                                  Riff(Vp8x(30, 20) + Vp8(30, 20))}) {
    SCOPED_TRACE(file.size());
    ExpectEveryPrefixRefused(file, 12);
  }
}

// ---------------------------------------------------------------------------------------------
// GIF

std::string GifFrame(std::uint32_t w, std::uint32_t h, bool local_table) {
  std::string out = "\x21\xF9\x04\x04\x0A\x00\x00\x00"s;  // graphic control extension
  out += "\x2C"s + Le16(0) + Le16(0) + Le16(w) + Le16(h) + (local_table ? "\x81"s : "\x00"s);
  if (local_table) out += std::string(12, '\x7F');  // 4 colours
  out += "\x02\x02\x44\x01\x00"s;                   // LZW code size, one sub-block, terminator
  return out;
}

std::string MakeGif(std::uint32_t w, std::uint32_t h, int frames,
                    std::string_view version = "89a") {
  std::string out = "GIF" + std::string(version) + Le16(w) + Le16(h) + "\x91\x00\x00"s;
  out += std::string(12, '\x10');  // global colour table: 4 colours
  out += "\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00"s;
  for (int i = 0; i < frames; ++i) out += GifFrame(w / 2 + 1, h / 2 + 1, i % 2 == 1);
  out += "\x21\xFE\x05hello\x00"s;  // comment
  return out + "\x3B";
}

TEST(SniffGifTest, RealAndSyntheticFiles) {
  ExpectImage(SniffExact(kGif1x1), "image/gif", "gif", 1, 1);
  ExpectImage(SniffImage(MakeGif(320, 240, 1)), "image/gif", "gif", 320, 240);
  ExpectImage(SniffImage(MakeGif(65535, 3, 5)), "image/gif", "gif", 65535, 3);
  ExpectImage(
      SniffImage("GIF87a"s + Le16(7) + Le16(5) + "\x00\x00\x00"s + GifFrame(7, 5, false) + "\x3B"),
      "image/gif", "gif", 7, 5);
}

TEST(SniffGifTest, CountsImageDescriptors) {
  EXPECT_EQ(SniffExact(kGif1x1)->frame_count, 1u);
  EXPECT_EQ(SniffImage(MakeGif(320, 240, 1))->frame_count, 1u);
  EXPECT_EQ(SniffImage(MakeGif(320, 240, 7))->frame_count, 7u);
  // The canvas bomb of issue F: a 10000x10000 screen and 900 frames of that size, each only
  // "clear, end" in LZW.
  std::string bomb =
      "GIF89a"s + Le16(10000) + Le16(10000) + "\x80\x00\x00\x00\x00\x00\xFF\xFF\xFF"s;
  for (int i = 0; i < 900; ++i) {
    bomb += "\x21\xF9\x04\x04\x05\x00\x00\x00\x2C"s + Le16(0) + Le16(0) + Le16(10000) +
            Le16(10000) + "\x00\x02\x01\x2C\x00"s;
  }
  const auto r = SniffImage(bomb + "\x3B");
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_EQ(r->frame_count, 900u);
  EXPECT_EQ(r->TotalPixels(), 90'000'000'000u);
}

TEST(SniffGifTest, RefusesMalformedFiles) {
  ExpectInvalidImage(SniffImage(MakeGif(0, 10, 1)));
  ExpectInvalidImage(SniffImage(MakeGif(10, 0, 1)));
  ExpectInvalidImage(SniffImage(MakeGif(10, 10, 0)));         // no image
  ExpectInvalidImage(SniffImage(MakeGif(10, 10, 1, "88a")));  // unknown version
  std::string bad_block = MakeGif(10, 10, 1);
  bad_block.insert(bad_block.size() - 1, "\x99");
  ExpectInvalidImage(SniffImage(bad_block));
  std::string no_trailer = MakeGif(10, 10, 2);
  no_trailer.pop_back();
  ExpectInvalidImage(SniffImage(no_trailer));
}

TEST(SniffGifTest, RefusesDataAfterTheTrailer) {
  ExpectUnsupported(SniffImage(kGif1x1 + "<script>alert(1)</script>"));
  ExpectUnsupported(SniffImage(MakeGif(4, 4, 2) + "\0"s));
}

TEST(SniffGifTest, EveryPrefixIsRefused) {
  ExpectEveryPrefixRefused(kGif1x1, 4);
  ExpectEveryPrefixRefused(MakeGif(100, 50, 3), 4);
}

// ---------------------------------------------------------------------------------------------
// HEIF / HEIC / AVIF

std::string Box(std::string_view type, std::string_view payload) {
  return Be32(static_cast<std::uint32_t>(8 + payload.size())) + std::string(type) +
         std::string(payload);
}
std::string FullBox(std::string_view type, std::uint8_t version, std::uint32_t flags,
                    std::string_view payload) {
  return Box(type, static_cast<char>(version) + Be24(flags) + std::string(payload));
}
std::string Ftyp(std::string_view major, std::vector<std::string_view> compatible) {
  std::string payload = std::string(major) + Be32(0);
  for (const auto b : compatible) payload += std::string(b);
  return Box("ftyp", payload);
}
std::string Ispe(std::uint32_t w, std::uint32_t h) {
  return FullBox("ispe", 0, 0, Be32(w) + Be32(h));
}
std::string Hdlr() { return FullBox("hdlr", 0, 0, Be32(0) + "pict" + std::string(13, '\0')); }
std::string Pitm(std::uint32_t id) { return FullBox("pitm", 0, 0, Be16(id)); }

struct Association {
  std::uint32_t item;
  std::vector<std::uint16_t> properties;  // 1-based indices into ipco
};

std::string Ipma(const std::vector<Association>& entries, std::uint8_t version = 0,
                 std::uint32_t flags = 0) {
  std::string payload = Be32(static_cast<std::uint32_t>(entries.size()));
  for (const auto& e : entries) {
    payload += version < 1 ? Be16(e.item) : Be32(e.item);
    payload += static_cast<char>(e.properties.size());
    for (const std::uint16_t p : e.properties) {
      payload += (flags & 1) ? Be16(0x8000u | p) : std::string(1, static_cast<char>(0x80 | p));
    }
  }
  return FullBox("ipma", version, flags, payload);
}

std::string Meta(std::string_view children) { return FullBox("meta", 0, 0, children); }

// A HEIF still image: a primary item with a codec configuration and an `ispe`, plus a
// thumbnail item with a smaller one.
std::string MakeHeif(std::string_view major, std::vector<std::string_view> compatible,
                     std::uint32_t w, std::uint32_t h) {
  const std::string ipco =
      Box("ipco", Box("hvcC", std::string(23, '\x01')) + Ispe(w, h) + Ispe(w / 8 + 1, h / 8 + 1));
  const std::string iprp = Box("iprp", ipco + Ipma({{1, {1, 2}}, {2, {1, 3}}}));
  return Ftyp(major, std::move(compatible)) + Meta(Hdlr() + Pitm(1) + iprp) +
         Box("mdat", std::string(64, '\xAB'));
}

TEST(SniffHeifTest, RealAvif) { ExpectImage(SniffExact(kAvif2x2), "image/avif", "avif", 2, 2); }

TEST(SniffHeifTest, BrandsDecideTheType) {
  ExpectImage(SniffImage(MakeHeif("heic", {"mif1", "heic"}, 4032, 3024)), "image/heic", "heif",
              4032, 3024);
  for (const char* brand : {"heix", "heim", "heis", "hevc", "hevx"}) {
    ExpectImage(SniffImage(MakeHeif(brand, {"mif1"}, 10, 20)), "image/heic", "heif", 10, 20);
  }
  ExpectImage(SniffImage(MakeHeif("mif1", {"mif1", "heic"}, 10, 20)), "image/heic", "heif", 10, 20);
  ExpectImage(SniffImage(MakeHeif("mif1", {"mif1"}, 10, 20)), "image/heif", "heif", 10, 20);
  ExpectImage(SniffImage(MakeHeif("msf1", {}, 10, 20)), "image/heif", "heif", 10, 20);
  ExpectImage(SniffImage(MakeHeif("avif", {"mif1", "miaf"}, 1920, 1080)), "image/avif", "avif",
              1920, 1080);
  ExpectImage(SniffImage(MakeHeif("avis", {"msf1"}, 64, 48)), "image/avif", "avif", 64, 48);
  ExpectImage(SniffImage(MakeHeif("mif1", {"miaf", "avif"}, 64, 48)), "image/avif", "avif", 64, 48);
  // Other ISO BMFF files: MP4 and QuickTime video, JPEG 2000-ish brands.
  ExpectUnsupported(SniffImage(MakeHeif("isom", {"iso2", "avc1", "mp41"}, 10, 10)));
  ExpectUnsupported(SniffImage(Ftyp("qt  ", {"qt  "}) + Box("mdat", "x")));
}

TEST(SniffHeifTest, PrefersThePrimaryItemsExtent) {
  // A grid: the primary item (1) is 4000x3000, its tiles (2, 3) are 512x512, the thumbnail is
  // 256x192 (item 4). Listed so that neither the first nor the last ispe is the primary one.
  const std::string ipco = Box("ipco", Ispe(512, 512) + Ispe(4000, 3000) + Ispe(256, 192));
  const std::string ipma = Ipma({{2, {1}}, {3, {1}}, {1, {2}}, {4, {3}}});
  ExpectImage(
      SniffImage(Ftyp("heic", {"mif1"}) + Meta(Hdlr() + Pitm(1) + Box("iprp", ipco + ipma))),
      "image/heic", "heif", 4000, 3000);
  // The primary item need not be the largest: its own extent wins.
  ExpectImage(
      SniffImage(Ftyp("heic", {"mif1"}) + Meta(Hdlr() + Pitm(4) + Box("iprp", ipco + ipma))),
      "image/heic", "heif", 256, 192);
  // Version 1 ipma with 32-bit item ids and 16-bit property indices.
  ExpectImage(SniffImage(Ftyp("avif", {"mif1"}) +
                         Meta(Hdlr() + FullBox("pitm", 1, 0, Be32(70000)) +
                              Box("iprp", ipco + Ipma({{70000, {3}}, {2, {2}}}, 1, 1)))),
              "image/avif", "avif", 256, 192);
  // Without pitm or ipma the largest extent is taken.
  ExpectImage(SniffImage(Ftyp("heic", {"mif1"}) + Meta(Hdlr() + Box("iprp", ipco))), "image/heic",
              "heif", 4000, 3000);
}

TEST(SniffHeifTest, BoxSizeForms) {
  // A 64-bit largesize meta box, and an mdat whose size 0 means "to the end of the file".
  const std::string meta =
      Meta(Hdlr() + Pitm(1) + Box("iprp", Box("ipco", Ispe(800, 600)) + Ipma({{1, {1}}})));
  const std::string large_meta = Be32(1) + meta.substr(4, 4) + std::string(4, '\0') +
                                 Be32(static_cast<std::uint32_t>(meta.size() + 8)) + meta.substr(8);
  ExpectImage(SniffImage(Ftyp("heic", {}) + large_meta + Be32(0) + "mdat" + "data"), "image/heic",
              "heif", 800, 600);
}

TEST(SniffHeifTest, ImageSequenceWithoutItemsUsesTheTrackHeader) {
  std::string tkhd_payload = std::string(4 * 5, '\0') + std::string(8 + 2 + 2 + 2 + 2, '\0') +
                             std::string(36, '\0') + Be32(640u << 16) + Be32(480u << 16);
  const std::string moov = Box("moov", FullBox("mvhd", 0, 0, std::string(96, '\0')) +
                                           Box("trak", FullBox("tkhd", 0, 3, tkhd_payload)));
  ExpectImage(SniffImage(Ftyp("avis", {"msf1"}) + moov + Box("mdat", "x")), "image/avif", "avif",
              640, 480);
}

TEST(SniffHeifTest, RefusesMalformedFiles) {
  ExpectInvalidImage(SniffImage(Ftyp("heic", {"mif1"}) + Box("mdat", "x")));  // no meta
  ExpectInvalidImage(SniffImage(MakeHeif("heic", {"mif1"}, 0, 10)));
  ExpectInvalidImage(SniffImage(Ftyp("heic", {}) + Meta(Hdlr())));  // no ispe
  // A box bigger than the file, and one smaller than its own header.
  ExpectInvalidImage(SniffImage(Ftyp("heic", {}) + Be32(100) + "meta" + "\0\0\0\0"s));
  ExpectInvalidImage(SniffImage(Ftyp("heic", {}) + Be32(4) + "meta"));
  // A truncated ispe inside an otherwise well-formed meta.
  ExpectInvalidImage(SniffImage(Ftyp("heic", {}) +
                                Meta(Box("iprp", Box("ipco", FullBox("ispe", 0, 0, Be32(5)))))));
  // An ipma whose counts run past its box.
  ExpectInvalidImage(SniffImage(
      Ftyp("heic", {}) +
      Meta(Pitm(1) + Box("iprp", Box("ipco", Ispe(5, 5)) + FullBox("ipma", 0, 0, Be32(1000000))))));
  ExpectInvalidImage(SniffImage(Be32(12) + "ftypheic"));  // ftyp without a minor version
}

// ---- AV1 sequence headers (AV1 spec 5.5.1) against ispe

class BitWriter {
 public:
  void Put(std::uint64_t value, int bits) {
    for (int i = bits - 1; i >= 0; --i) {
      if (n_ % 8 == 0) out_ += '\0';
      if ((value >> i) & 1) out_.back() = static_cast<char>(out_.back() | (0x80 >> (n_ % 8)));
      ++n_;
    }
  }
  std::string Finish() {  // trailing_bits: a 1, then zeros to the byte boundary
    Put(1, 1);
    return out_;
  }

 private:
  std::string out_;
  int n_ = 0;
};

// A sequence header OBU (with its size field) for a w x h stream: the reduced still-picture
// form, or the full form with timing and decoder model info and two operating points.
std::string SequenceHeaderObu(std::uint32_t w, std::uint32_t h, bool reduced) {
  BitWriter b;
  b.Put(0, 3);  // seq_profile
  b.Put(1, 1);  // still_picture
  b.Put(reduced ? 1 : 0, 1);
  if (reduced) {
    b.Put(12, 5);  // seq_level_idx[0]
  } else {
    b.Put(1, 1);        // timing_info_present_flag
    b.Put(1001, 32);    // num_units_in_display_tick
    b.Put(30000, 32);   // time_scale
    b.Put(1, 1);        // equal_picture_interval
    b.Put(0b00100, 5);  // num_ticks_per_picture_minus_1 = 3, as uvlc
    b.Put(1, 1);        // decoder_model_info_present_flag
    b.Put(9, 5);        // buffer_delay_length_minus_1: 10-bit delays
    b.Put(1, 32);       // num_units_in_decoding_tick
    b.Put(0, 5);        // buffer_removal_time_length_minus_1
    b.Put(0, 5);        // frame_presentation_time_length_minus_1
    b.Put(1, 1);        // initial_display_delay_present_flag
    b.Put(1, 5);        // operating_points_cnt_minus_1: two
    for (int op = 0; op < 2; ++op) {
      b.Put(0x101, 12);           // operating_point_idc
      b.Put(op == 0 ? 9 : 3, 5);  // seq_level_idx: the first one has a tier bit
      if (op == 0) b.Put(1, 1);
      b.Put(1, 1);     // decoder_model_present_for_this_op
      b.Put(500, 10);  // decoder_buffer_delay
      b.Put(600, 10);  // encoder_buffer_delay
      b.Put(0, 1);     // low_delay_mode_flag
      b.Put(1, 1);     // initial_display_delay_present_for_this_op
      b.Put(9, 4);     // initial_display_delay_minus_1
    }
  }
  b.Put(15, 4);  // frame_width_bits_minus_1
  b.Put(15, 4);  // frame_height_bits_minus_1
  b.Put(w - 1, 16);
  b.Put(h - 1, 16);
  b.Put(0, 7);  // frame_id_numbers_present_flag ... (the rest of the header, as zeros)
  const std::string payload = b.Finish();
  return "\x0A"s + static_cast<char>(payload.size()) + payload;
}

const std::string kTemporalDelimiter = "\x12\x00"s;

// An AVIF still: primary item 1 of type `item_type` with an ispe of w x h and an av1C holding
// `config_obus`, its data (`item_data`) in mdat, located by iloc.
std::string MakeAvif(std::uint32_t w, std::uint32_t h, std::string_view config_obus,
                     std::string_view item_data, std::string_view item_type = "av01") {
  const std::string iinf =
      FullBox("iinf", 0, 0,
              Be16(1) + FullBox("infe", 2, 0, Be16(1) + Be16(0) + std::string(item_type) + "\0"s));
  const std::string iprp =
      Box("iprp",
          Box("ipco", Ispe(w, h) + Box("av1C", "\x81\x0D\x0C\x00"s + std::string(config_obus))) +
              Ipma({{1, {1, 2}}}));
  auto file = [&](std::uint32_t offset) {
    const std::string iloc =
        FullBox("iloc", 0, 0,
                "\x44\x00"s + Be16(1) + Be16(1) + Be16(0) + Be16(1) + Be32(offset) +
                    Be32(static_cast<std::uint32_t>(item_data.size())));
    return Ftyp("avif", {"mif1", "miaf"}) + Meta(Hdlr() + Pitm(1) + iloc + iinf + iprp);
  };
  const std::string head = file(0);
  return file(static_cast<std::uint32_t>(head.size() + 8)) + Box("mdat", item_data);
}

TEST(SniffHeifTest, RealAvifWithAPatchedIspeIsRefused) {
  // libavif's 2x2 file: its item data starts with a sequence header for 2x2. With the ispe
  // rewritten to 1x1 (the AVIF bomb of issue F, small), the sizes disagree.
  std::string patched = kAvif2x2;
  const std::size_t ispe = patched.find("ispe");
  ASSERT_NE(ispe, std::string::npos);
  patched.replace(ispe + 8, 8, Be32(1) + Be32(1));
  const auto r = SniffExact(patched);
  ExpectInvalidImage(r);
  if (!r) {
    EXPECT_NE(r.error().message.find("says 2x2"), std::string::npos) << r.error().message;
  }
}

TEST(SniffHeifTest, Av1SequenceHeaderMustMatchTheIspe) {
  for (const bool reduced : {true, false}) {
    SCOPED_TRACE(reduced ? "reduced header" : "full header");
    const std::string seq = SequenceHeaderObu(12000, 9000, reduced);
    // Matching: in the item data, in av1C, or in both.
    ExpectImage(SniffImage(MakeAvif(12000, 9000, "", kTemporalDelimiter + seq + "frame")),
                "image/avif", "avif", 12000, 9000);
    ExpectImage(SniffImage(MakeAvif(12000, 9000, seq, seq + "frame")), "image/avif", "avif", 12000,
                9000);
    // The bomb: ispe 1x1 over a 12000x9000 stream, whichever box holds the sequence header.
    ExpectInvalidImage(SniffImage(MakeAvif(1, 1, "", kTemporalDelimiter + seq + "frame")));
    ExpectInvalidImage(SniffImage(MakeAvif(1, 1, seq, kTemporalDelimiter + "frame")));
    ExpectInvalidImage(SniffImage(MakeAvif(12000, 9000, SequenceHeaderObu(1, 1, reduced), seq)));
    // A stream smaller than the ispe says: the stored size would lie the other way.
    ExpectInvalidImage(SniffImage(MakeAvif(12000, 9001, "", seq)));
  }
  // Not an AV1 item (a grid's data is not OBUs), or no sequence header found: the ispe stands
  // (the decode is checked against it afterwards).
  const std::string seq = SequenceHeaderObu(12000, 9000, true);
  ExpectImage(SniffImage(MakeAvif(1, 1, "", seq, "grid")), "image/avif", "avif", 1, 1);
  ExpectImage(SniffImage(MakeAvif(7, 5, "", kTemporalDelimiter + "\xFF")), "image/avif", "avif", 7,
              5);
}

TEST(SniffHeifTest, EveryPrefixIsRefusedOrRight) {
  struct Sample {
    std::string bytes;
    const char* content_type;
    std::uint32_t w, h;
  };
  const Sample samples[] = {
      {kAvif2x2, "image/avif", 2, 2},
      {MakeHeif("heic", {"mif1", "heic"}, 4032, 3024), "image/heic", 4032, 3024}};
  for (const auto& s : samples) {
    for (std::size_t n = 1; n <= s.bytes.size(); ++n) {
      const auto r = SniffExact(std::string_view(s.bytes).substr(0, n));
      if (r) {
        ExpectImage(r, s.content_type, r->format, s.w, s.h);
      } else {
        ASSERT_EQ(r.error().code,
                  n < 12 ? ErrorCode::kUnsupportedMediaType : ErrorCode::kUnprocessable)
            << "prefix " << n << ": " << r.error().message;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Everything else

TEST(SniffImageTest, EmptyBody) {
  ExpectError(SniffImage(""), ErrorCode::kInvalidArgument, "empty_body");
}

TEST(SniffImageTest, RefusesOtherTypes) {
  const std::string others[] = {
      "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
      "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
      "<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
      "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\n",
      "BM" + Le32(70) + std::string(64, '\0'),              // BMP
      "II*\0"s + Le32(8) + std::string(32, '\0'),           // TIFF, little-endian
      "MM\0*"s + Be32(8) + std::string(32, '\0'),           // TIFF, big-endian
      "\0\0\0\x0CjP  \r\n\x87\n"s + std::string(20, '\0'),  // JPEG 2000
      "\xFF\x0A"s + std::string(20, '\0'),                  // JPEG XL codestream
      "hello, world\n",
      "{\"image\": \"not really\"}",
      "P",
      std::string(1, '\0'),
  };
  for (const auto& bytes : others) ExpectUnsupported(SniffExact(bytes));
}

TEST(SniffImageTest, SurvivesRandomMutationsOfValidFiles) {
  // Not a decoder check: a parser of untrusted bytes must never crash or read out of bounds
  // (run under the asan preset), whatever a byte flip does to lengths and counts.
  const fs::path png_dir = CorporaDir() / "pngsuite" / "png";
  const std::vector<std::string> seeds = {
      ReadFile(png_dir / "basn0g01.png"),
      ReadFile(png_dir / "ctzn0g04.png"),
      ReadFile(CorporaDir() / "exif-orientation" / "Landscape_1.jpg").substr(0, 1024),
      kWebpAlpha1x1,
      kWebpAnimated1x1,
      kGif1x1,
      MakeGif(20, 10, 3),
      kAvif2x2,
      MakeHeif("heic", {"mif1"}, 64, 64),
  };
  std::mt19937_64 rng(99);
  int accepted = 0;
  for (int round = 0; round < 30000; ++round) {
    std::string bytes = seeds[rng() % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng() % 3 == 0 ? 0xFF : rng() & 0xFF);
    }
    const auto r = SniffExact(bytes);
    if (r) {
      ++accepted;
      ASSERT_GT(r->width, 0u);
      ASSERT_GT(r->height, 0u);
    }
  }
  EXPECT_GT(accepted, 0);
}

TEST(DeclaredTypeMatchesTest, AcceptsAliasesAndParameters) {
  const SniffResult jpeg{"image/jpeg", "jpeg", 1, 1};
  const SniffResult png{"image/png", "png", 1, 1};
  const SniffResult heic{"image/heic", "heif", 1, 1};
  const SniffResult heif{"image/heif", "heif", 1, 1};
  const SniffResult avif{"image/avif", "avif", 1, 1};
  EXPECT_TRUE(DeclaredTypeMatches("image/jpeg", jpeg));
  EXPECT_TRUE(DeclaredTypeMatches("image/jpg", jpeg));
  EXPECT_TRUE(DeclaredTypeMatches("image/pjpeg", jpeg));
  EXPECT_TRUE(DeclaredTypeMatches("IMAGE/JPEG; charset=binary", jpeg));
  EXPECT_TRUE(DeclaredTypeMatches(" image/png ", png));
  EXPECT_TRUE(DeclaredTypeMatches("image/heic", heic));
  EXPECT_TRUE(DeclaredTypeMatches("image/heif", heic));
  EXPECT_TRUE(DeclaredTypeMatches("image/heic", heif));
  EXPECT_TRUE(DeclaredTypeMatches("Image/HEIF;q=1", heif));
  EXPECT_TRUE(DeclaredTypeMatches("image/avif", avif));

  EXPECT_FALSE(DeclaredTypeMatches("image/png", jpeg));
  EXPECT_FALSE(DeclaredTypeMatches("image/jpeg", png));
  EXPECT_FALSE(DeclaredTypeMatches("image/avif", heic));
  EXPECT_FALSE(DeclaredTypeMatches("image/heic", avif));
  EXPECT_FALSE(DeclaredTypeMatches("", jpeg));
  EXPECT_FALSE(DeclaredTypeMatches("image/*", jpeg));
  EXPECT_FALSE(DeclaredTypeMatches("image/jpegx", jpeg));
  EXPECT_FALSE(DeclaredTypeMatches("application/octet-stream", jpeg));
}

TEST(IsAllowedImageTypeTest, AllowsOnlyTheSupportedFormats) {
  for (const char* t :
       {"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/webp", "image/gif",
        "image/heic", "image/heif", "image/avif", "IMAGE/PNG", "image/webp; q=0.9"}) {
    EXPECT_TRUE(IsAllowedImageType(t)) << t;
  }
  for (const char* t : {"image/svg+xml", "text/html", "application/pdf", "image/bmp", "image/tiff",
                        "application/octet-stream", "", "image/", "image", "image/png2"}) {
    EXPECT_FALSE(IsAllowedImageType(t)) << t;
  }
}

}  // namespace
}  // namespace imgup
