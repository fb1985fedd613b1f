#include "imaging/metadata.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vips/vips8>

#include "imaging/exif_builder.hpp"

namespace imgup {
namespace {

using test::Ascii;
using test::CameraExif;
using test::Rationals;
using test::Short;
using test::TiffWriter;

void ExpectCamera(const ExifInfo& e, bool gps) {
  EXPECT_EQ(e.make, "imgup-test-camera");
  EXPECT_EQ(e.model, "Model X100");
  EXPECT_EQ(e.lens, "EF50mm f/1.8");
  EXPECT_EQ(e.taken_at, "2023-06-01T14:30:00+02:00");
  EXPECT_EQ(e.exposure, "1/250");
  EXPECT_DOUBLE_EQ(e.f_number.value_or(0), 2.8);
  EXPECT_EQ(e.iso, 200u);
  EXPECT_DOUBLE_EQ(e.focal_length_mm.value_or(0), 50.0);
  EXPECT_EQ(e.orientation, 6u);
  if (gps) {
    EXPECT_NEAR(e.gps_latitude.value_or(0), 52 + 31 / 60.0 + 12.34 / 3600, 1e-9);
    EXPECT_NEAR(e.gps_longitude.value_or(0), -(13 + 24 / 60.0), 1e-9);
    EXPECT_NEAR(e.gps_altitude_m.value_or(0), -34.5, 1e-9);
  } else {
    EXPECT_FALSE(e.gps_latitude || e.gps_longitude || e.gps_altitude_m);
  }
}

TEST(ParseExif, ReadsACameraBlockInEitherByteOrder) {
  ExpectCamera(ParseExif(CameraExif(true, 6), true), true);
  ExpectCamera(ParseExif(CameraExif(false, 6), true), true);
}

TEST(ParseExif, AcceptsTheJpegApp1Prefix) {
  ExpectCamera(ParseExif(std::string("Exif\0\0", 6) + CameraExif(false, 6), true), true);
}

TEST(ParseExif, DropsGpsUnlessKept) { ExpectCamera(ParseExif(CameraExif(true, 6), false), false); }

TEST(ParseExif, TakenAtWithoutAnOffsetHasNone) {
  TiffWriter w(true);
  const auto e = ParseExif(w.Build({}, {Ascii(0x9003, "2001:02:03 04:05:06")}, {}), false);
  EXPECT_EQ(e.taken_at, "2001-02-03T04:05:06");
}

TEST(ParseExif, RejectsMalformedDatesAndOffsets) {
  for (const char* bad :
       {"0000:00:00 00:00:00", "2001:13:03 04:05:06", "2001:02:03", "    :  :  "}) {
    TiffWriter w(true);
    EXPECT_FALSE(ParseExif(w.Build({}, {Ascii(0x9003, bad)}, {}), false).taken_at) << bad;
  }
  TiffWriter w(true);
  const auto e = ParseExif(
      w.Build({}, {Ascii(0x9003, "2001:02:03 04:05:06"), Ascii(0x9011, "2h")}, {}), false);
  EXPECT_EQ(e.taken_at, "2001-02-03T04:05:06");
}

TEST(ParseExif, WritesExposuresAsPhotographersDo) {
  const std::vector<std::pair<std::vector<std::uint32_t>, std::string>> cases = {
      {{1, 250}, "1/250"}, {{10, 2500}, "1/250"}, {{1, 3}, "1/3"}, {{5, 10}, "1/2"},
      {{2, 1}, "2"},       {{13, 10}, "1.3"},     {{30, 1}, "30"}, {{6, 10}, "0.6"}};
  for (const auto& [value, text] : cases) {
    TiffWriter w(true);
    EXPECT_EQ(ParseExif(w.Build({}, {Rationals(0x829A, value)}, {}), false).exposure, text)
        << value[0] << "/" << value[1];
  }
  TiffWriter w(true);
  EXPECT_FALSE(ParseExif(w.Build({}, {Rationals(0x829A, {0, 1})}, {}), false).exposure);
  TiffWriter w2(true);
  EXPECT_FALSE(ParseExif(w2.Build({}, {Rationals(0x829A, {1, 0})}, {}), false).exposure);
}

TEST(ParseExif, CleansText) {
  TiffWriter w(true);
  const auto e = ParseExif(
      w.Build({Ascii(0x010F, "Can\xff\x01on  "), Ascii(0x0110, "  caf\xc3\xa9\xc3")}, {}, {}),
      false);
  EXPECT_EQ(e.make, "Canon");
  EXPECT_EQ(e.model, "caf\xc3\xa9");  // the valid é kept, the cut-off sequence dropped
}

TEST(ParseExif, IgnoresOutOfRangeValues) {
  TiffWriter w(true);
  const auto e = ParseExif(w.Build({Short(0x0112, 9)}, {},
                                   {Ascii(0x0001, "X"), Rationals(0x0002, {52, 1, 0, 1, 0, 1}),
                                    Ascii(0x0003, "E"), Rationals(0x0004, {13, 1, 0, 1, 0, 1})}),
                           true);
  EXPECT_FALSE(e.orientation);
  EXPECT_FALSE(e.gps_latitude);  // "X" is no hemisphere
  EXPECT_FALSE(e.gps_longitude);
}

TEST(ParseExif, SurvivesEveryTruncationAndGarbage) {
  const std::string full = CameraExif(false, 3);
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const std::string cut = full.substr(0, n);  // its own allocation: ASan sees any overread
    const auto e = ParseExif(cut, true);
    if (e.make) {
      EXPECT_EQ(*e.make, "imgup-test-camera");
    }
  }
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::string noise = full;
    for (int k = 0; k < 8; ++k) noise[rng() % noise.size()] = static_cast<char>(rng());
    (void)ParseExif(noise, true);
  }
  EXPECT_FALSE(ParseExif("", true).make);
  EXPECT_FALSE(ParseExif(std::string_view("II*\0\xff\xff\xff\xff", 8), true).make);
}

// An ICC header with a tag table of one 'desc' tag holding `tag`.
std::string Profile(const std::string& tag) {
  std::string icc(128, '\0');
  auto u32 = [](std::uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  icc += u32(1) + "desc" + u32(144) + u32(static_cast<std::uint32_t>(tag.size()));
  icc += tag;
  return icc;
}

std::string U32Be(std::uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

TEST(IccDescription, ReadsAVersion2TextDescription) {
  EXPECT_EQ(
      IccDescription(Profile("desc" + U32Be(0) + U32Be(12) + std::string("Adobe RGB\0\0\0", 12))),
      "Adobe RGB");
}

TEST(IccDescription, ReadsAVersion4LocalizedDescription) {
  // "Pé😀" in UTF-16BE, after a German record; the English one is picked.
  const std::string en("\0P\0\xe9\xd8\x3d\xde\x00", 8);
  const std::string de("\0D", 2);
  std::string tag = "mluc" + U32Be(0) + U32Be(2) + U32Be(12);
  tag += "de" + std::string("DE") + U32Be(2) + U32Be(40);
  tag += "en" + std::string("US") + U32Be(8) + U32Be(42);
  tag += de + en;
  EXPECT_EQ(IccDescription(Profile(tag)), "P\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(IccDescription, ReadsLibvipsBuiltInProfiles) {
  // Profiles written by someone else: libvips ships them for icc_transform.
  for (const char* name : {"srgb", "cmyk"}) {
    VipsBlob* blob = vips::VImage::profile_load(name);
    std::size_t n = 0;
    const auto* data = static_cast<const char*>(vips_blob_get(blob, &n));
    const std::string description = IccDescription(std::string_view(data, n));
    vips_area_unref(VIPS_AREA(blob));
    EXPECT_FALSE(description.empty()) << name;
    if (std::string_view(name) == "srgb") {
      EXPECT_NE(description.find("sRGB"), std::string::npos);
    }
  }
}

TEST(IccDescription, SurvivesEveryTruncation) {
  const std::string full =
      Profile("desc" + U32Be(0) + U32Be(12) + std::string("Adobe RGB\0\0\0", 12));
  for (std::size_t n = 0; n < full.size(); ++n) EXPECT_EQ(IccDescription(full.substr(0, n)), "");
  EXPECT_EQ(IccDescription(Profile("desc" + U32Be(0) + U32Be(0xFFFFFFF0))), "");
  EXPECT_EQ(IccDescription(Profile("XYZ " + U32Be(0) + U32Be(0))), "");
}

}  // namespace
}  // namespace imgup
