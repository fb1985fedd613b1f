// The messages between imgup and its pixel workers: every field survives the trip, and a frame
// arriving in pieces or malformed is told apart from a whole one.
#include "imaging/pixel_wire.hpp"

#include <gtest/gtest.h>

#include <string>

namespace imgup::wire {
namespace {

TEST(PixelWireTest, AJobRoundTrips) {
  ProcessingLimits limits;
  limits.max_pixels = 123;
  limits.max_frames = 7;
  limits.keep_gps = true;
  limits.max_decode_ms = 4567;
  const std::string bytes(
      "\xff\xd8\x00"
      "binary"
      "\x00"
      "bytes",
      15);
  const std::string header = EncodeJobHeader(limits);
  // Prefix + payload is the same frame as one encoded whole.
  const std::string wire = EncodeFramePrefix(header, bytes.size()) + bytes;
  EXPECT_EQ(wire, EncodeFrame(Frame{header, bytes}));
  Frame frame;
  ASSERT_EQ(DecodeFrame(wire, frame).value(), wire.size());
  ProcessingLimits got;
  ASSERT_TRUE(DecodeJobHeader(frame.header, got));
  EXPECT_EQ(frame.payload, bytes);
  EXPECT_EQ(got.max_pixels, 123u);
  EXPECT_EQ(got.max_frames, 7u);
  EXPECT_TRUE(got.keep_gps);
  EXPECT_EQ(got.max_decode_ms, 4567u);
  EXPECT_EQ(DecodeJobHeader("{}", got).error().slug, "bad_frame");
}

TEST(PixelWireTest, AResultRoundTripsWithEveryField) {
  ProcessedImage image;
  image.width = 640;
  image.height = 480;
  image.format = "jpeg";
  image.bit_depth = 16;
  image.bands = 4;
  image.has_alpha = true;
  image.animated = true;
  image.frame_count = 9;
  image.icc_profile = "Display P3";
  image.exif.make = "Canon";
  image.exif.f_number = 2.8;
  image.exif.iso = 400;
  image.exif.gps_latitude = -33.5;
  image.placeholder = "LEHV6nWB2yk8pyo0adR*.7kCMdnj";
  image.dominant_color = "#a1b2c3";
  image.phash = "0123456789abcdef";
  image.variants.push_back({"thumb", std::string("\0thumb", 6), 256, 192, "image/webp"});
  image.variants.push_back({"medium", "medium-bytes", 1024, 768, "image/webp"});
  const std::string wire = EncodeFrame(EncodeResult(image));
  Frame frame;
  ASSERT_EQ(DecodeFrame(wire, frame).value(), wire.size());
  auto got = DecodeResult(frame);
  ASSERT_TRUE(got) << got.error().detail;
  EXPECT_EQ(got->width, 640u);
  EXPECT_EQ(got->bit_depth, 16u);
  EXPECT_TRUE(got->has_alpha);
  EXPECT_TRUE(got->animated);
  EXPECT_EQ(got->frame_count, 9u);
  EXPECT_EQ(got->icc_profile, "Display P3");
  EXPECT_EQ(got->exif.make, "Canon");
  EXPECT_EQ(got->exif.f_number, 2.8);
  EXPECT_EQ(got->exif.iso, 400u);
  EXPECT_EQ(got->exif.gps_latitude, -33.5);
  EXPECT_FALSE(got->exif.model);
  EXPECT_EQ(got->placeholder, image.placeholder);
  EXPECT_EQ(got->dominant_color, "#a1b2c3");
  EXPECT_EQ(got->phash, "0123456789abcdef");
  ASSERT_EQ(got->variants.size(), 2u);
  EXPECT_EQ(got->variants[0].bytes, std::string("\0thumb", 6));
  EXPECT_EQ(got->variants[1].name, "medium");
  EXPECT_EQ(got->variants[1].width, 1024u);
  EXPECT_EQ(got->variants[1].bytes, "medium-bytes");
}

TEST(PixelWireTest, AnErrorRoundTrips) {
  const std::string wire = EncodeFrame(EncodeResult(
      Fail(ErrorCode::kUnprocessable, "decode_failed", "The image data is corrupt.", "cut")));
  Frame frame;
  ASSERT_TRUE(DecodeFrame(wire, frame));
  auto got = DecodeResult(frame);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(got.error().slug, "decode_failed");
  EXPECT_EQ(got.error().detail, "cut");
}

TEST(PixelWireTest, PartialAndMalformedFrames) {
  const std::string wire = EncodeFrame(Frame{EncodeJobHeader({}), "abc"});
  Frame frame;
  for (std::size_t n = 0; n < wire.size(); ++n) {
    EXPECT_EQ(DecodeFrame(wire.substr(0, n), frame).value(), 0u) << "a piece of " << n;
  }
  EXPECT_EQ(DecodeFrame(wire + "next", frame).value(), wire.size()) << "the next frame stays";
  EXPECT_EQ(DecodeFrame(std::string("\xff\xff\xff\xff", 4), frame).error().slug, "bad_frame");
  Frame garbage{"{not json", ""};
  EXPECT_EQ(DecodeResult(garbage).error().slug, "bad_frame");
  Frame short_payload{R"({"image":{"width":1,"height":1,"format":"png","bit_depth":8,"bands":3,
    "has_alpha":false,"animated":false,"frame_count":1,"icc_profile":"","exif":{},
    "placeholder":"","dominant_color":"","phash":"",
    "variants":[{"name":"thumb","width":1,"height":1,"content_type":"image/webp","size":99}]}})",
                      "short"};
  EXPECT_EQ(DecodeResult(short_payload).error().slug, "bad_frame");
}

}  // namespace
}  // namespace imgup::wire
