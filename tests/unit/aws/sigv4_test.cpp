// The SigV4 steps one by one, the examples of AWS's S3 and IAM documentation, S3's rules
// against every other service's, and the requests the signer refuses.
#include "aws/sigv4.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "codecs/sha256.hpp"

namespace imgup::aws {
namespace {

using std::chrono::sys_days;
using namespace std::chrono_literals;

std::chrono::sys_seconds At(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days{std::chrono::year_month_day{std::chrono::year{y}, std::chrono::month{mo},
                                              std::chrono::day{d}}} +
         std::chrono::hours{h} + std::chrono::minutes{mi} + std::chrono::seconds{s};
}

std::string HexOf(const SigningKey& key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : key) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xF]);
  }
  return out;
}

const HttpHeader* FindAdded(const SigningResult& result, std::string_view name) {
  for (const auto& header : result.headers_to_add) {
    if (header.name == name) return &header;
  }
  return nullptr;
}

// The S3 documentation's examples sign with this key pair (note the '/' in the secret).
const Credentials kS3DocCredentials{"AKIAIOSFODNN7EXAMPLE",
                                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

// ---------------------------------------------------------------------------------------------
// Steps

TEST(SigV4UriEncode, KeepsUnreservedAndEncodesEverythingElseInUpperCaseHex) {
  EXPECT_EQ(UriEncode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(UriEncode("a b+c=d&e/f", false), "a%20b%2Bc%3Dd%26e%2Ff");
  EXPECT_EQ(UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(UriEncode("\xe1\x88\xb4", false), "%E1%88%B4");
  EXPECT_EQ(UriEncode("%2F", true), "%252F");
  EXPECT_EQ(UriEncode(std::string_view("\0\xff", 2), false), "%00%FF");
  EXPECT_EQ(UriEncode("!*'()", false), "%21%2A%27%28%29");
}

TEST(SigV4NormalizePath, RemovesDotAndEmptySegmentsAndKeepsATrailingSlash) {
  EXPECT_EQ(NormalizePath("/"), "/");
  EXPECT_EQ(NormalizePath("//"), "/");
  EXPECT_EQ(NormalizePath("/./"), "/");
  EXPECT_EQ(NormalizePath("/example/.."), "/");
  EXPECT_EQ(NormalizePath("/example1/example2/../.."), "/");
  EXPECT_EQ(NormalizePath("/.."), "/");
  EXPECT_EQ(NormalizePath("/../a"), "/a");
  EXPECT_EQ(NormalizePath("/./example"), "/example");
  EXPECT_EQ(NormalizePath("//example//"), "/example/");
  EXPECT_EQ(NormalizePath("/a/b/."), "/a/b");
  EXPECT_EQ(NormalizePath("/a/./b/../../c/"), "/c/");
  EXPECT_EQ(NormalizePath("/a/.../b"), "/a/.../b");
  EXPECT_EQ(NormalizePath("/a/../"), "/");
}

TEST(SigV4CanonicalPath, EncodesOnceMoreAndNormalisesOnlyWhenAsked) {
  EXPECT_EQ(CanonicalPath("/a b/../c%20d", true, true), "/c%2520d");
  EXPECT_EQ(CanonicalPath("/a b/../c%20d", false, true), "/a%20b/../c%2520d");
  EXPECT_EQ(CanonicalPath("/bucket//a/./b%20c", false, false), "/bucket//a/./b%20c");
}

TEST(SigV4CanonicalQuery, SortsByEncodedNameThenValueAndEncodesBoth) {
  const std::vector<QueryParam> params = {{"b", "2"},        {"a", "z"},    {"a", "y"},
                                          {"\xc3\xa9", "1"}, {"", "empty"}, {"c d", "e+f"},
                                          {"flag", ""},      {"a-", "1"}};
  // "%C3%A9" sorts before "a" once encoded ('%' < 'a'), though 0xC3 > 'a' before.
  EXPECT_EQ(CanonicalQuery(params), "=empty&%C3%A9=1&a=y&a=z&a-=1&b=2&c%20d=e%2Bf&flag=");
  EXPECT_EQ(CanonicalQuery({}), "");
}

TEST(SigV4Headers, TrimAllCollapsesAsciiWhitespaceOnly) {
  EXPECT_EQ(TrimAll("  a   b\t\tc \r\n d  "), "a b c d");
  EXPECT_EQ(TrimAll("value1\n  value2\n     value3"), "value1 value2 value3");
  EXPECT_EQ(TrimAll("\v\f"), "");
  // A no-break space (U+00A0) is not whitespace here: the bytes stay as they are.
  EXPECT_EQ(TrimAll("a\xc2\xa0 b"), "a\xc2\xa0 b");
}

TEST(SigV4Headers, CanonicalizeSortsLowercasesJoinsRepeatsAndSkipsProxyHeaders) {
  const std::vector<HttpHeader> headers = {{"Host", "example.com"},
                                           {"X-B", " 2 "},
                                           {"x-a", "1"},
                                           {"X-B", "3"},
                                           {"User-Agent", "ua"},
                                           {"Connection", "keep-alive"},
                                           {"X-Amzn-Trace-Id", "Root=1"},
                                           {"x-empty", ""},
                                           {"X-B", ""}};
  const CanonicalHeaders canonical = CanonicalizeHeaders(headers);
  EXPECT_EQ(canonical.block, "host:example.com\nx-a:1\nx-b:2,3,\nx-empty:\n");
  EXPECT_EQ(canonical.signed_headers, "host;x-a;x-b;x-empty");
  EXPECT_TRUE(IsUnsignedHeader("user-agent"));
  EXPECT_TRUE(IsUnsignedHeader("Expect"));
  EXPECT_TRUE(IsUnsignedHeader("transfer-encoding"));
  EXPECT_FALSE(IsUnsignedHeader("content-type"));
  EXPECT_FALSE(IsUnsignedHeader("host"));
}

TEST(SigV4Dates, FormatsTheAmzDateAndTheScope) {
  EXPECT_EQ(AmzDate(At(2015, 8, 30, 12, 36, 0)), "20150830T123600Z");
  EXPECT_EQ(AmzDate(At(2000, 1, 2, 3, 4, 5)), "20000102T030405Z");
  EXPECT_EQ(CredentialScope(At(2015, 8, 30, 23, 59, 59), "us-east-1", "service"),
            "20150830/us-east-1/service/aws4_request");
}

// The signing key of the IAM documentation's "deriving the signing key" example.
TEST(SigV4Key, DerivesTheDocumentedSigningKey) {
  EXPECT_EQ(HexOf(DeriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                                   "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

// ---------------------------------------------------------------------------------------------
// The S3 documentation's examples (Signature Version 4, "Examples: signature calculations").

TEST(SigV4S3Examples, GetObjectWithRange) {
  SignableRequest request;
  request.method = "GET";
  request.path = "/test.txt";
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}};
  const auto result = SignHeaders(request, ForS3(kS3DocCredentials, "us-east-1", At(2013, 5, 24)));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:" +
                std::string(kEmptyPayloadSha256) +
                "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" +
                std::string(kEmptyPayloadSha256));
  EXPECT_EQ(result->signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  const HttpHeader* authorization = FindAdded(*result, "Authorization");
  ASSERT_NE(authorization, nullptr);
  EXPECT_EQ(authorization->value,
            "AWS4-HMAC-SHA256 "
            "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// A PutObject whose Date header is signed like any other header (X-Amz-Date still rules).
TEST(SigV4S3Examples, PutObjectWithABody) {
  const std::string body = "Welcome to Amazon S3.";
  SignableRequest request;
  request.method = "PUT";
  request.path = "/test%24file.text";
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                     {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  request.body = body;
  const auto result = SignHeaders(request, ForS3(kS3DocCredentials, "us-east-1", At(2013, 5, 24)));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->payload_hash,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(result->signed_headers,
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(result->signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");

  // The same payload hash handed over instead of the body signs the same.
  SignableRequest hashed = request;
  hashed.body = {};
  hashed.payload_hash = Sha256Hex(body);
  const auto from_hash =
      SignHeaders(hashed, ForS3(kS3DocCredentials, "us-east-1", At(2013, 5, 24)));
  ASSERT_TRUE(from_hash.has_value());
  EXPECT_EQ(from_hash->signature, result->signature);
}

TEST(SigV4S3Examples, PresignedGetObject) {
  SignableRequest request;
  request.method = "GET";
  request.path = "/test.txt";
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  request.payload_hash = std::string(kUnsignedPayload);
  SigningConfig config = ForS3(kS3DocCredentials, "us-east-1", At(2013, 5, 24));
  config.expires = 86400s;
  const auto result = Presign(request, config);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->canonical_request,
            "GET\n/test.txt\n"
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
            "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
            "X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\n"
            "UNSIGNED-PAYLOAD");
  EXPECT_EQ(result->signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  EXPECT_EQ(EncodeQuery(result->query_to_add),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
            "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&"
            "X-Amz-Expires=86400&X-Amz-Signature="
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

// ---------------------------------------------------------------------------------------------
// S3's rules against every other service's, payloads, session tokens

SignableRequest OddPathRequest() {
  SignableRequest request;
  request.method = "GET";
  request.path = "/bucket//a/./b/../c%20d";
  request.headers = {{"Host", "example.amazonaws.com"}};
  return request;
}

TEST(SigV4Rules, S3SignsThePathAsSentOtherServicesNormaliseAndEncodeTwice) {
  const Credentials creds{"AKID", "secret", ""};
  const auto s3 = SignHeaders(OddPathRequest(), ForS3(creds, "us-east-1", At(2020, 1, 1)));
  ASSERT_TRUE(s3.has_value());
  EXPECT_EQ(s3->canonical_request.substr(0, s3->canonical_request.find("\n\n")),
            "GET\n/bucket//a/./b/../c%20d");
  const auto other =
      SignHeaders(OddPathRequest(), ForService(creds, "us-east-1", "execute-api", At(2020, 1, 1)));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->canonical_request.substr(0, other->canonical_request.find("\n\n")),
            "GET\n/bucket/a/c%2520d");
}

TEST(SigV4Rules, S3HeaderFormCarriesTheContentHashOthersOnlyWhenAsked) {
  const Credentials creds{"AKID", "secret", ""};
  SignableRequest request = OddPathRequest();
  request.path = "/bucket/key";
  request.body = "hello";

  const auto s3 = SignHeaders(request, ForS3(creds, "us-east-1", At(2020, 1, 1)));
  ASSERT_TRUE(s3.has_value());
  const HttpHeader* hash = FindAdded(*s3, "x-amz-content-sha256");
  ASSERT_NE(hash, nullptr);
  EXPECT_EQ(hash->value, Sha256Hex("hello"));
  EXPECT_NE(s3->signed_headers.find("x-amz-content-sha256"), std::string::npos);

  const auto other =
      SignHeaders(request, ForService(creds, "us-east-1", "dynamodb", At(2020, 1, 1)));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(FindAdded(*other, "x-amz-content-sha256"), nullptr);
  EXPECT_EQ(other->payload_hash, Sha256Hex("hello"));

  request.payload_hash = std::string(kUnsignedPayload);
  const auto unsigned_s3 = SignHeaders(request, ForS3(creds, "us-east-1", At(2020, 1, 1)));
  ASSERT_TRUE(unsigned_s3.has_value());
  EXPECT_EQ(FindAdded(*unsigned_s3, "x-amz-content-sha256")->value, kUnsignedPayload);
  EXPECT_TRUE(unsigned_s3->canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
  EXPECT_NE(unsigned_s3->signature, s3->signature);
}

TEST(SigV4Rules, SessionTokenIsSignedOrAddedAfterSigning) {
  const Credentials creds{"AKID", "secret", "token/with+chars="};
  SigningConfig config = ForService(creds, "us-east-1", "sts", At(2020, 1, 1));
  SignableRequest request = OddPathRequest();

  const auto header_signed = SignHeaders(request, config);
  ASSERT_TRUE(header_signed.has_value());
  EXPECT_EQ(header_signed->headers_to_add.front().name, "X-Amz-Security-Token");
  EXPECT_EQ(header_signed->headers_to_add.front().value, "token/with+chars=");
  EXPECT_EQ(header_signed->signed_headers, "host;x-amz-date;x-amz-security-token");

  const auto presigned = Presign(request, config);
  ASSERT_TRUE(presigned.has_value());
  EXPECT_NE(presigned->canonical_request.find("X-Amz-Security-Token=token%2Fwith%2Bchars%3D"),
            std::string::npos);

  config.sign_session_token = false;
  const auto header_unsigned = SignHeaders(request, config);
  ASSERT_TRUE(header_unsigned.has_value());
  EXPECT_EQ(header_unsigned->signed_headers, "host;x-amz-date");
  EXPECT_EQ(header_unsigned->headers_to_add.front().name, "X-Amz-Security-Token");
  const auto presigned_unsigned = Presign(request, config);
  ASSERT_TRUE(presigned_unsigned.has_value());
  EXPECT_EQ(presigned_unsigned->canonical_request.find("Security-Token"), std::string::npos);
  EXPECT_EQ(presigned_unsigned->query_to_add[5].name, "X-Amz-Security-Token");
}

TEST(SigV4Rules, TheSignatureDependsOnEverySignedPart) {
  const Credentials creds{"AKID", "secret", ""};
  SignableRequest base = OddPathRequest();
  base.query = {{"a", "1"}};
  base.headers.push_back({"X-Custom", "v"});
  const SigningConfig config = ForService(creds, "eu-west-1", "service", At(2020, 1, 1));
  const std::string signature = SignHeaders(base, config).value().signature;

  auto differs = [&](SignableRequest request, SigningConfig changed) {
    return SignHeaders(request, changed).value().signature != signature;
  };
  SignableRequest r = base;
  r.method = "PUT";
  EXPECT_TRUE(differs(r, config));
  r = base;
  r.path = "/bucket/other";
  EXPECT_TRUE(differs(r, config));
  r = base;
  r.query[0].value = "2";
  EXPECT_TRUE(differs(r, config));
  r = base;
  r.headers[1].value = "w";
  EXPECT_TRUE(differs(r, config));
  r = base;
  r.body = "x";
  EXPECT_TRUE(differs(r, config));
  SigningConfig c = config;
  c.region = "eu-west-2";
  EXPECT_TRUE(differs(base, c));
  c = config;
  c.service = "other";
  EXPECT_TRUE(differs(base, c));
  c = config;
  c.time += 1s;
  EXPECT_TRUE(differs(base, c));
  c = config;
  c.credentials.secret_access_key = "secreT";
  EXPECT_TRUE(differs(base, c));
  // An unsigned header changes nothing.
  r = base;
  r.headers.push_back({"User-Agent", "imgup"});
  EXPECT_FALSE(differs(r, config));
}

// ---------------------------------------------------------------------------------------------
// Requests the signer refuses

void ExpectRefused(const Result<SigningResult>& result, std::string_view slug) {
  ASSERT_FALSE(result.has_value()) << "signed, expected " << slug;
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(result.error().slug, slug);
}

TEST(SigV4Refuses, RequestsItCannotSignHonestly) {
  const Credentials creds{"AKID", "secret", ""};
  const SigningConfig config = ForService(creds, "us-east-1", "service", At(2020, 1, 1));
  const SigningConfig s3 = ForS3(creds, "us-east-1", At(2020, 1, 1));
  SignableRequest r = OddPathRequest();

  r.headers.clear();
  ExpectRefused(SignHeaders(r, config), "sigv4_host");
  r.headers = {{"Host", "a"}, {"host", "b"}};
  ExpectRefused(SignHeaders(r, config), "sigv4_host");

  for (const char* owned :
       {"Authorization", "X-Amz-Date", "x-amz-security-token", "X-Amz-Content-SHA256"}) {
    r = OddPathRequest();
    r.headers.push_back({owned, "x"});
    ExpectRefused(SignHeaders(r, config), "sigv4_reserved_header");
    ExpectRefused(Presign(r, config), "sigv4_reserved_header");
  }
  for (const char* owned : {"X-Amz-Signature", "X-Amz-Credential", "x-amz-date", "X-Amz-Expires",
                            "X-Amz-SignedHeaders", "X-Amz-Algorithm", "X-Amz-Security-Token"}) {
    r = OddPathRequest();
    r.query.push_back({owned, "x"});
    ExpectRefused(Presign(r, config), "sigv4_reserved_query");
  }

  r = OddPathRequest();
  r.headers.push_back({"Bad Name", "x"});
  ExpectRefused(SignHeaders(r, config), "sigv4_header_name");
  r = OddPathRequest();
  r.headers.push_back({"X-Split", "a\r\nX-Injected: b"});
  ExpectRefused(SignHeaders(r, config), "sigv4_header_value");
  r = OddPathRequest();
  r.headers.push_back({"X-Split", "a\n"});
  ExpectRefused(SignHeaders(r, config), "sigv4_header_value");

  for (const char* path : {"", "relative", "/a?b", "/a#b", "/a\nb"}) {
    r = OddPathRequest();
    r.path = path;
    ExpectRefused(SignHeaders(r, config), "sigv4_path");
  }
  // S3 signs the path as sent, so it must be sent encoded.
  for (const char* path : {"/a b", "/a%2", "/a%zz", "/caf\xc3\xa9", "/a%2f"}) {
    r = OddPathRequest();
    r.path = path;
    ExpectRefused(SignHeaders(r, s3), "sigv4_path");
  }

  r = OddPathRequest();
  r.method = "";
  ExpectRefused(SignHeaders(r, config), "sigv4_method");

  r = OddPathRequest();
  r.payload_hash = "abc";
  ExpectRefused(SignHeaders(r, config), "sigv4_payload_hash");

  SigningConfig bad = config;
  bad.credentials.access_key_id.clear();
  ExpectRefused(SignHeaders(OddPathRequest(), bad), "sigv4_config");
  bad = config;
  bad.region.clear();
  ExpectRefused(SignHeaders(OddPathRequest(), bad), "sigv4_config");
  bad = config;
  bad.time = At(1969, 12, 31);
  ExpectRefused(SignHeaders(OddPathRequest(), bad), "sigv4_config");
  bad = config;
  bad.expires = 0s;
  ExpectRefused(Presign(OddPathRequest(), bad), "sigv4_expires");
  bad.expires = kMaxPresignExpiry + 1s;
  ExpectRefused(Presign(OddPathRequest(), bad), "sigv4_expires");
  bad.expires = kMaxPresignExpiry;
  EXPECT_TRUE(Presign(OddPathRequest(), bad).has_value());
}

}  // namespace
}  // namespace imgup::aws

namespace imgup::aws {
namespace {

// The signing key is cached per thread for the last (secret, day, region, service): each of them
// changing must give the signature a fresh derivation would.
TEST(SigV4SigningKeyCache, EachPartOfTheScopeAndTheSecretIsHonoured) {
  SignableRequest request;
  request.method = "GET";
  request.path = "/bucket/key";
  request.headers = {{"Host", "s3.amazonaws.com"}};
  const auto day1 = std::chrono::sys_seconds(sys_days(std::chrono::year{2026} / 12 / 2));
  const auto day2 = day1 + std::chrono::hours(24);
  auto sign = [&](std::string secret, std::string region, std::chrono::sys_seconds time) {
    auto signed_request = SignHeaders(request, ForS3({"AKID", secret, ""}, region, time));
    EXPECT_TRUE(signed_request);
    return signed_request->signature;
  };
  auto fresh = [&](std::string secret, std::string region, std::chrono::sys_seconds time) {
    auto signed_request = SignHeaders(request, ForS3({"AKID", secret, ""}, region, time));
    const auto date = signed_request->credential_scope.substr(0, 8);
    return SignatureHex(DeriveSigningKey(secret, date, region, "s3"),
                        signed_request->string_to_sign);
  };
  const std::string a = sign("secret-a", "us-east-1", day1);
  EXPECT_EQ(a, fresh("secret-a", "us-east-1", day1));
  EXPECT_EQ(sign("secret-b", "us-east-1", day1), fresh("secret-b", "us-east-1", day1));
  EXPECT_EQ(sign("secret-b", "eu-west-1", day1), fresh("secret-b", "eu-west-1", day1));
  EXPECT_EQ(sign("secret-b", "eu-west-1", day2), fresh("secret-b", "eu-west-1", day2));
  EXPECT_EQ(sign("secret-a", "us-east-1", day1), a);
  EXPECT_NE(sign("secret-b", "us-east-1", day1), a);
}

}  // namespace
}  // namespace imgup::aws
