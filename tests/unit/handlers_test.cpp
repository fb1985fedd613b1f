// The request parsing of the handlers: the seed's JSON, multipart and raw bodies, and cursors.
#include "api/handlers.hpp"

#include <gtest/gtest.h>

#include "codecs/base64.hpp"
#include "codecs/multipart.hpp"
#include "support/images.hpp"

namespace imgup {
namespace {

HttpRequest JsonUpload(std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.path = "/upload";
  request.headers.emplace_back("content-type", "application/json");
  request.body = std::move(body);
  return request;
}

std::string SlugOf(const Result<UploadRequest>& result) {
  return result ? std::string("ok") : result.error().slug;
}

TEST(ParseUploadRequest, TheSeedPayload) {
  const std::string png = test::TinyPng();
  auto parsed = ParseUploadRequest(
      JsonUpload(R"({"filename": "photo.png", "content_type": "image/png", "image_base64": ")" +
                 EncodeBase64(png) + R"("})"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->filename, "photo.png");
  EXPECT_EQ(parsed->declared_type, "image/png");
  EXPECT_EQ(parsed->bytes, png);
}

TEST(ParseUploadRequest, OptionalFieldsAndEscapedSlashes) {
  const std::string png = test::TinyPng();
  std::string b64 = EncodeBase64(png);
  // Some encoders escape '/' as "\/": still valid JSON, still the same base64.
  std::string escaped;
  for (char c : b64) escaped += c == '/' ? std::string("\\/") : std::string(1, c);
  auto parsed = ParseUploadRequest(JsonUpload(
      R"({"tags": ["a", "b"], "description": "d", "extra": {"x": [1]}, "filename": "p.png", "content_type": "image/png", "image_base64": ")" +
      escaped + R"("})"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->bytes, png);
  EXPECT_EQ(parsed->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parsed->description, "d");
}

TEST(ParseUploadRequest, DataUrlPrefixIsAccepted) {
  const std::string png = test::TinyPng();
  auto parsed = ParseUploadRequest(JsonUpload(
      R"({"filename": "p.png", "content_type": "image/png", "image_base64": "data:image/png;base64,)" +
      EncodeBase64(png) + R"("})"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->bytes, png);
}

TEST(ParseUploadRequest, MalformedBodiesAreRefusedWithStableCodes) {
  const std::string ok = EncodeBase64(test::TinyPng());
  EXPECT_EQ(SlugOf(ParseUploadRequest(JsonUpload("{"))), "invalid_json");
  EXPECT_EQ(SlugOf(ParseUploadRequest(JsonUpload("[1,2]"))), "invalid_json");
  EXPECT_EQ(SlugOf(ParseUploadRequest(JsonUpload(R"({"filename": "a"} trailing)"))),
            "invalid_json");
  EXPECT_EQ(SlugOf(ParseUploadRequest(JsonUpload(""))), "empty_body");
  EXPECT_EQ(SlugOf(ParseUploadRequest(
                JsonUpload(R"({"content_type": "image/png", "image_base64": ")" + ok + "\"}"))),
            "missing_field");
  EXPECT_EQ(
      SlugOf(ParseUploadRequest(JsonUpload(R"({"filename": "a", "image_base64": ")" + ok + "\"}"))),
      "missing_field");
  EXPECT_EQ(
      SlugOf(ParseUploadRequest(JsonUpload(R"({"filename": "a", "content_type": "image/png"})"))),
      "missing_field");
  EXPECT_EQ(SlugOf(ParseUploadRequest(JsonUpload(
                R"({"filename": 7, "content_type": "image/png", "image_base64": ")" + ok + "\"}"))),
            "invalid_field");
  EXPECT_EQ(
      SlugOf(ParseUploadRequest(JsonUpload(
          R"({"filename": "", "content_type": "image/png", "image_base64": ")" + ok + "\"}"))),
      "invalid_field");
  EXPECT_EQ(SlugOf(ParseUploadRequest(JsonUpload(
                R"({"filename": "a", "content_type": "image/png", "image_base64": ""})"))),
            "empty_body");
  EXPECT_EQ(SlugOf(ParseUploadRequest(JsonUpload(
                R"({"filename": "a", "content_type": "image/png", "image_base64": "abc"})"))),
            "invalid_base64");
  EXPECT_EQ(SlugOf(ParseUploadRequest(JsonUpload(
                R"({"filename": "a", "content_type": "image/png", "image_base64": "ab=c"})"))),
            "invalid_base64");
  EXPECT_EQ(SlugOf(ParseUploadRequest(
                JsonUpload(R"({"filename": "a", "content_type": "image/png", "image_base64": ")" +
                           ok + R"(", "tags": "x"})"))),
            "invalid_field");
}

TEST(ParseUploadRequest, Multipart) {
  const std::string png = test::TinyPng();
  HttpRequest request;
  request.method = "POST";
  request.path = "/upload";
  request.headers.emplace_back("content-type", "multipart/form-data; boundary=XyZ");
  request.body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\ncat, dog\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b.png\"\r\n"
      "Content-Type: image/png\r\n\r\n" +
      png + "\r\n--XyZ--\r\n";
  auto parsed = ParseUploadRequest(request);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->filename, "a;b.png");
  EXPECT_EQ(parsed->declared_type, "image/png");
  EXPECT_EQ(parsed->bytes, png);
  EXPECT_EQ(parsed->tags, (std::vector<std::string>{"cat", "dog"}));

  request.body = "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--XyZ--\r\n";
  EXPECT_EQ(SlugOf(ParseUploadRequest(request)), "missing_field");
  request.body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end";
  EXPECT_EQ(SlugOf(ParseUploadRequest(request)), "invalid_multipart");
}

TEST(ParseUploadRequest, RawBodyTakesFilenameFromQuery) {
  HttpRequest request;
  request.method = "POST";
  request.path = "/upload";
  request.headers.emplace_back("content-type", "image/png");
  request.query.emplace_back("filename", "raw.png");
  request.body = test::TinyPng();
  auto parsed = ParseUploadRequest(request);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->filename, "raw.png");
  EXPECT_EQ(parsed->declared_type, "image/png");
  request.headers[0].second = "text/html";
  EXPECT_EQ(SlugOf(ParseUploadRequest(request)), "unsupported_media_type");
}

TEST(Cursor, RoundTripsAndRefusesForgeries) {
  const std::string id = "01JDQ7Z8X9ABCDEFGHJKMNPQRS";
  auto decoded = DecodeCursor(EncodeCursor(id));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, id);
  EXPECT_FALSE(DecodeCursor("garbage!"));
  EXPECT_FALSE(DecodeCursor(EncodeBase64Url("v1:not-a-ulid")));
  EXPECT_FALSE(DecodeCursor(EncodeBase64Url("v2:" + id)));
}

}  // namespace
}  // namespace imgup
