// API Gateway's proxy events → HttpRequest and HttpResponse → proxy responses, on AWS's own
// sample events (sam local generate-event) and on edits of them for what the samples lack.
#include "transport/lambda/api_gateway.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "codecs/base64.hpp"
#include "lambda/fixtures.hpp"

namespace imgup {
namespace {

using nlohmann::json;
using test::AwsEvent;
using test::HttpApiEvent;
using test::RestApiEvent;

GatewayRequest Decode(const json& event, GatewayOptions options = {}) {
  auto decoded = DecodeGatewayEvent(event.dump(), options);
  if (!decoded) {
    ADD_FAILURE() << decoded.error().slug << ": " << decoded.error().detail;
    return {};
  }
  return std::move(*decoded);
}

std::vector<std::string> HeaderValues(const HttpRequest& request, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : request.headers) {
    if (key == name) values.push_back(value);
  }
  return values;
}

// --- AWS's samples, as generated ---

TEST(HttpApiEvent, AwsSampleDecodesEveryPart) {
  auto decoded =
      DecodeGatewayEvent(test::ReadAwsFixture("http-api-proxy.json"), GatewayOptions{"claim1"});
  ASSERT_TRUE(decoded) << decoded.error().detail;
  EXPECT_EQ(decoded->version, PayloadVersion::kHttpV2);
  EXPECT_FALSE(decoded->rejection);
  const HttpRequest& request = decoded->request;
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/path/to/resource");
  EXPECT_EQ(request.base_path, "");  // stage "$default"
  // rawQueryString keeps the order and the repeated name that queryStringParameters joins.
  EXPECT_EQ(
      request.query,
      (HeaderList{{"parameter1", "value1"}, {"parameter1", "value2"}, {"parameter2", "value"}}));
  EXPECT_EQ(request.Header("header1"), "value1");
  EXPECT_EQ(request.Header("header2"), "value1,value2");
  EXPECT_EQ(request.Header("cookie"), "cookie1; cookie2");
  // No Host header in the sample: API Gateway's domain name stands in.
  EXPECT_EQ(request.Header("host"), "id.execute-api.us-east-1.amazonaws.com");
  EXPECT_EQ(request.body, R"({"test":"body"})");  // isBase64Encoded: true
  EXPECT_EQ(request.remote_addr, "192.168.0.1/32");
  EXPECT_EQ(request.principal, "value1");  // the JWT authorizer's configured claim
  EXPECT_TRUE(request.request_id.empty());
}

TEST(HttpApiEvent, AwsSampleWithoutTheSubClaimIsRefusedNotAuthenticatedOtherwise) {
  // The sample's JWT authorizer vouched for a caller, but its claims have no "sub": the request
  // must not fall through to API keys.
  auto decoded = DecodeGatewayEvent(test::ReadAwsFixture("http-api-proxy.json"), {});
  ASSERT_TRUE(decoded);
  ASSERT_TRUE(decoded->rejection);
  EXPECT_EQ(decoded->rejection->code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(decoded->rejection->slug, "missing_claim");
  EXPECT_FALSE(decoded->request.principal);
}

TEST(RestApiEvent, AwsSampleDecodesEveryPart) {
  auto decoded = DecodeGatewayEvent(test::ReadAwsFixture("aws-proxy.json"), {});
  ASSERT_TRUE(decoded) << decoded.error().detail;
  EXPECT_EQ(decoded->version, PayloadVersion::kRestV1);
  EXPECT_FALSE(decoded->rejection);
  const HttpRequest& request = decoded->request;
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/path/to/resource");
  // requestContext.path is "/prod/path/to/resource": the stage is where the API is mounted.
  EXPECT_EQ(request.base_path, "/prod");
  EXPECT_EQ(request.query, (HeaderList{{"foo", "bar"}}));
  // multiValueHeaders wins over headers (the sample's two Host values differ).
  EXPECT_EQ(request.Header("host"), "0123456789.execute-api.us-east-1.amazonaws.com");
  EXPECT_EQ(request.Header("x-forwarded-for"), "127.0.0.1, 127.0.0.2");
  EXPECT_EQ(request.Header("user-agent"), "Custom User Agent String");
  EXPECT_EQ(HeaderValues(request, "accept").size(), 1u);
  EXPECT_EQ(request.body, R"({"test":"body"})");
  EXPECT_EQ(request.remote_addr, "127.0.0.1");
  EXPECT_FALSE(request.principal);  // no authorizer, no API key: the Authenticator decides
}

TEST(SeedUploadEvents, BothPayloadVersionsCarryTheSeedRequest) {
  for (const char* name : {"http-api-proxy-seed-upload.json", "aws-proxy-seed-upload.json"}) {
    SCOPED_TRACE(name);
    auto decoded = DecodeGatewayEvent(test::ReadAwsFixture(name), GatewayOptions{"claim1"});
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->request.method, "POST");
    EXPECT_EQ(decoded->request.path, "/upload");
    const json body = json::parse(decoded->request.body);
    EXPECT_EQ(body["filename"], "photo.png");
    EXPECT_EQ(body["content_type"], "image/png");
    auto png = DecodeBase64(body["image_base64"].get<std::string>());
    ASSERT_TRUE(png);
    EXPECT_EQ(png->substr(1, 3), "PNG");
  }
}

// --- stages and paths ---

TEST(HttpApiEvent, ANamedStageInThePathBecomesTheBasePath) {
  GatewayRequest decoded = Decode(HttpApiEvent("GET", "/prod/images/01J", "prod"));
  EXPECT_EQ(decoded.request.path, "/images/01J");
  EXPECT_EQ(decoded.request.base_path, "/prod");

  decoded = Decode(HttpApiEvent("GET", "/prod", "prod"));
  EXPECT_EQ(decoded.request.path, "/");
  EXPECT_EQ(decoded.request.base_path, "/prod");

  decoded = Decode(HttpApiEvent("GET", "/prod/", "prod"));
  EXPECT_EQ(decoded.request.path, "/");
  EXPECT_EQ(decoded.request.base_path, "/prod");
}

TEST(HttpApiEvent, APathWithoutTheStageKeepsItsPathAndHasNoBasePath) {
  // A custom domain maps the stage away; "/production" only starts with the letters of "prod".
  GatewayRequest decoded = Decode(HttpApiEvent("GET", "/images", "prod"));
  EXPECT_EQ(decoded.request.path, "/images");
  EXPECT_EQ(decoded.request.base_path, "");
  decoded = Decode(HttpApiEvent("GET", "/production/images", "prod"));
  EXPECT_EQ(decoded.request.path, "/production/images");
  EXPECT_EQ(decoded.request.base_path, "");
  decoded = Decode(HttpApiEvent("GET", "/$default/images", "$default"));
  EXPECT_EQ(decoded.request.path, "/$default/images");
  EXPECT_EQ(decoded.request.base_path, "");
}

TEST(HttpApiEvent, ThePathIsPercentDecoded) {
  GatewayRequest decoded = Decode(HttpApiEvent("GET", "/images/a%20b%2Fc"));
  EXPECT_EQ(decoded.request.path, "/images/a b/c");
  decoded = Decode(HttpApiEvent("GET", "/images/bad%zz"));
  EXPECT_EQ(decoded.request.path, "/images/bad%zz");  // kept: matches no route
}

TEST(RestApiEvent, WhatRequestContextPathHasInFrontIsTheBasePath) {
  json event = RestApiEvent("GET", "/images/01J");
  EXPECT_EQ(Decode(event).request.base_path, "/prod");
  EXPECT_EQ(Decode(event).request.path, "/images/01J");

  // A custom domain's base path mapping.
  event["requestContext"]["path"] = "/v1/images/01J";
  EXPECT_EQ(Decode(event).request.base_path, "/v1");
  // Called on the custom domain's root mapping: nothing in front.
  event["requestContext"]["path"] = "/images/01J";
  EXPECT_EQ(Decode(event).request.base_path, "");

  // The stage's root.
  event = RestApiEvent("GET", "/");
  event["requestContext"]["path"] = "/prod/";
  EXPECT_EQ(Decode(event).request.path, "/");
  EXPECT_EQ(Decode(event).request.base_path, "/prod");
}

TEST(RestApiEvent, AnHttpApiAtPayload10StripsItsStageFromThePath) {
  json event = RestApiEvent("GET", "/prod/images");
  event["version"] = "1.0";
  event["requestContext"]["path"] = "/prod/images";
  GatewayRequest decoded = Decode(event);
  EXPECT_EQ(decoded.version, PayloadVersion::kRestV1);
  EXPECT_EQ(decoded.request.path, "/images");
  EXPECT_EQ(decoded.request.base_path, "/prod");
}

TEST(RestApiEvent, PathParametersAreNotNeededToRoute) {
  // "{proxy+}" captures "images/01J" (AWS's sample even writes it with a leading slash): the
  // router matches `path` itself.
  json event = RestApiEvent("GET", "/images/01J");
  event["pathParameters"] = {{"proxy", "images/01J"}};
  EXPECT_EQ(Decode(event).request.path, "/images/01J");
  event["pathParameters"] = nullptr;
  EXPECT_EQ(Decode(event).request.path, "/images/01J");
}

// --- query strings, headers, cookies ---

TEST(HttpApiEvent, QueryWithoutRawQueryStringComesFromTheParameters) {
  json event = HttpApiEvent("GET", "/images");
  event["rawQueryString"] = "tag=a%20b&tag=c&limit=2";
  EXPECT_EQ(Decode(event).request.query,
            (HeaderList{{"tag", "a b"}, {"tag", "c"}, {"limit", "2"}}));
  event.erase("rawQueryString");
  event["queryStringParameters"] = {{"limit", "2"}};
  EXPECT_EQ(Decode(event).request.query, (HeaderList{{"limit", "2"}}));
}

TEST(RestApiEvent, MultiValueQueryAndHeadersKeepEveryValue) {
  json event = RestApiEvent("GET", "/images");
  event["queryStringParameters"] = {{"tag", "b"}};
  event["multiValueQueryStringParameters"] = {{"tag", {"a b", "b"}}};
  event["headers"] = {{"X-Thing", "2"}, {"Cookie", "a=1; b=2"}};
  event["multiValueHeaders"] = {{"X-Thing", {"1", "2"}}, {"Cookie", {"a=1; b=2"}}};
  GatewayRequest decoded = Decode(event);
  EXPECT_EQ(decoded.request.query, (HeaderList{{"tag", "a b"}, {"tag", "b"}}));
  EXPECT_EQ(HeaderValues(decoded.request, "x-thing"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(decoded.request.Header("cookie"), "a=1; b=2");

  // Without the multi-value forms, the single ones.
  event["multiValueQueryStringParameters"] = nullptr;
  event.erase("multiValueHeaders");
  decoded = Decode(event);
  EXPECT_EQ(decoded.request.query, (HeaderList{{"tag", "b"}}));
  EXPECT_EQ(HeaderValues(decoded.request, "x-thing"), (std::vector<std::string>{"2"}));
}

TEST(HttpApiEvent, AHostHeaderWinsOverTheDomainName) {
  json event = HttpApiEvent("GET", "/");
  event["headers"]["host"] = "api.example.com";
  EXPECT_EQ(Decode(event).request.Header("host"), "api.example.com");
  EXPECT_EQ(HeaderValues(Decode(event).request, "host").size(), 1u);
  event["headers"].erase("host");
  event["requestContext"].erase("domainName");
  EXPECT_EQ(Decode(event).request.Header("host"), "");
}

TEST(HttpApiEvent, CookiesBecomeOneCookieHeader) {
  json event = HttpApiEvent("GET", "/");
  event["cookies"] = {"session=abc", "theme=dark"};
  EXPECT_EQ(Decode(event).request.Header("cookie"), "session=abc; theme=dark");
  event["cookies"] = json::array();
  EXPECT_EQ(Decode(event).request.Header("cookie"), "");
}

// --- bodies ---

TEST(HttpApiEvent, Base64BodiesAreDecodedToTheirBytes) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  json event = HttpApiEvent("POST", "/upload");
  event["body"] = EncodeBase64(bytes);
  event["isBase64Encoded"] = true;
  EXPECT_EQ(Decode(event).request.body, bytes);

  event["body"] = "plain text, not base64: as it is";
  event["isBase64Encoded"] = false;
  EXPECT_EQ(Decode(event).request.body, "plain text, not base64: as it is");
}

TEST(HttpApiEvent, ABodyThatIsNotBase64IsRejectedWith400) {
  json event = HttpApiEvent("POST", "/upload");
  event["body"] = "not*base64";
  event["isBase64Encoded"] = true;
  GatewayRequest decoded = Decode(event);
  ASSERT_TRUE(decoded.rejection);
  EXPECT_EQ(decoded.rejection->code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(decoded.rejection->slug, "invalid_base64");
}

// --- who is calling ---

TEST(HttpApiEvent, TheJwtSubClaimIsThePrincipal) {
  json event = HttpApiEvent("GET", "/images");
  event["requestContext"]["authorizer"] = {
      {"jwt",
       {{"claims", {{"sub", "3f1c2a9e-0000-4000-8000-000000000001"}, {"email", "a@b.c"}}},
        {"scopes", nullptr}}}};
  EXPECT_EQ(Decode(event).request.principal, "3f1c2a9e-0000-4000-8000-000000000001");
  EXPECT_EQ(Decode(event, GatewayOptions{"email"}).request.principal, "a@b.c");
}

TEST(HttpApiEvent, NoAuthorizerOrAnotherKindGivesNoPrincipal) {
  json event = HttpApiEvent("GET", "/images");
  // A header can never set the principal.
  event["headers"]["x-imgup-principal"] = "mallory";
  event["headers"]["x-api-key"] = "imgup_key";
  GatewayRequest decoded = Decode(event);
  EXPECT_FALSE(decoded.request.principal);
  EXPECT_FALSE(decoded.rejection);
  EXPECT_EQ(decoded.request.Header("x-api-key"), "imgup_key");

  event["requestContext"]["authorizer"] = {{"lambda", {{"sub", "x"}}}};
  EXPECT_FALSE(Decode(event).request.principal);
  EXPECT_FALSE(Decode(event).rejection);
}

TEST(HttpApiEvent, AJwtAuthorizerWithoutClaimsIsRefused) {
  json event = HttpApiEvent("GET", "/images");
  event["requestContext"]["authorizer"] = {{"jwt", {{"scopes", {"a"}}}}};
  ASSERT_TRUE(Decode(event).rejection);
  event["requestContext"]["authorizer"] = {{"jwt", {{"claims", {{"sub", ""}}}}}};
  ASSERT_TRUE(Decode(event).rejection);
  EXPECT_EQ(Decode(event).rejection->slug, "missing_claim");
  event["requestContext"]["authorizer"] = {{"jwt", {{"claims", {{"sub", 7}}}}}};
  ASSERT_TRUE(Decode(event).rejection);
}

TEST(RestApiEvent, CognitoClaimsThenTheApiKeyIdAreThePrincipal) {
  json event = RestApiEvent("GET", "/images");
  event["requestContext"]["identity"]["apiKeyId"] = "k3y1d";
  EXPECT_EQ(Decode(event).request.principal, "k3y1d");

  event["requestContext"]["authorizer"] = {
      {"claims", {{"sub", "3f1c2a9e-0000-4000-8000-000000000001"}, {"cognito:username", "ann"}}}};
  EXPECT_EQ(Decode(event).request.principal, "3f1c2a9e-0000-4000-8000-000000000001");
  EXPECT_EQ(Decode(event, GatewayOptions{"cognito:username"}).request.principal, "ann");

  // A Cognito authorizer that does not name the caller is refused, not taken for the API key.
  GatewayRequest decoded = Decode(event, GatewayOptions{"email"});
  EXPECT_FALSE(decoded.request.principal);
  ASSERT_TRUE(decoded.rejection);
  EXPECT_EQ(decoded.rejection->slug, "missing_claim");

  event["requestContext"]["identity"]["apiKeyId"] = "";
  event["requestContext"]["authorizer"] = nullptr;
  EXPECT_FALSE(Decode(event).request.principal);
}

// --- not API Gateway's ---

TEST(DecodeGatewayEvent, OtherPayloadsAreNotEvents) {
  for (const char* payload :
       {"", "not json", "[]", "{}", R"({"requestContext": {}})", R"({"version": "2.0"})",
        R"({"Records": [{"eventSource": "aws:s3"}]})",
        R"({"version": "2.0", "rawPath": "/", "requestContext": {"http": {}}})"}) {
    SCOPED_TRACE(payload);
    auto decoded = DecodeGatewayEvent(payload, {});
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error().slug, "not_an_api_gateway_event");
  }
}

// --- responses ---

HttpResponse Response(int status, std::string content_type, std::string body) {
  HttpResponse response;
  response.status = status;
  if (!content_type.empty()) response.SetHeader("Content-Type", std::move(content_type));
  response.body = std::move(body);
  return response;
}

TEST(EncodeGatewayResponse, JsonGoesAsTextWithItsHeaders) {
  HttpResponse response = Response(201, "application/json", R"({"id":"01J","name":"é"})");
  response.SetHeader("Location", "/prod/images/01J");
  response.headers.emplace_back("Vary", "Origin");
  response.headers.emplace_back("vary", "Accept");
  const json v2 = json::parse(EncodeGatewayResponse(response, PayloadVersion::kHttpV2));
  EXPECT_EQ(v2["statusCode"], 201);
  EXPECT_EQ(v2["body"], R"({"id":"01J","name":"é"})");
  EXPECT_EQ(v2["isBase64Encoded"], false);
  EXPECT_EQ(v2["headers"]["Content-Type"], "application/json");
  EXPECT_EQ(v2["headers"]["Location"], "/prod/images/01J");
  EXPECT_EQ(v2["headers"]["Vary"], "Origin, Accept");
  EXPECT_FALSE(v2.contains("cookies"));
  EXPECT_FALSE(v2.contains("multiValueHeaders"));

  const json v1 = json::parse(EncodeGatewayResponse(response, PayloadVersion::kRestV1));
  EXPECT_EQ(v1["statusCode"], 201);
  EXPECT_EQ(v1["body"], R"({"id":"01J","name":"é"})");
  EXPECT_EQ(v1["isBase64Encoded"], false);
  EXPECT_EQ(v1["multiValueHeaders"]["Vary"], json({"Origin", "Accept"}));
  EXPECT_EQ(v1["multiValueHeaders"]["Location"], json({"/prod/images/01J"}));
}

TEST(EncodeGatewayResponse, BinaryBodiesAreBase64Encoded) {
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  for (PayloadVersion version : {PayloadVersion::kHttpV2, PayloadVersion::kRestV1}) {
    const json out = json::parse(EncodeGatewayResponse(Response(200, "image/png", png), version));
    EXPECT_EQ(out["isBase64Encoded"], true);
    EXPECT_EQ(DecodeBase64(out["body"].get<std::string>()).value(), png);
  }
  // Text that is not UTF-8 cannot go in a JSON string as it is.
  const json latin1 = json::parse(EncodeGatewayResponse(
      Response(200, "text/plain; charset=iso-8859-1", "caf\xe9"), PayloadVersion::kHttpV2));
  EXPECT_EQ(latin1["isBase64Encoded"], true);
  EXPECT_EQ(DecodeBase64(latin1["body"].get<std::string>()).value(), "caf\xe9");
  // An unknown type is binary.
  const json octets = json::parse(EncodeGatewayResponse(
      Response(200, "application/octet-stream", "abc"), PayloadVersion::kHttpV2));
  EXPECT_EQ(octets["isBase64Encoded"], true);
}

TEST(EncodeGatewayResponse, SetCookieGoesToCookiesInV2AndMultiValueHeadersInV1) {
  HttpResponse response = Response(200, "text/plain", "ok");
  response.headers.emplace_back("Set-Cookie", "a=1; Path=/; HttpOnly");
  response.headers.emplace_back("set-cookie", "b=2, with a comma");
  const json v2 = json::parse(EncodeGatewayResponse(response, PayloadVersion::kHttpV2));
  EXPECT_EQ(v2["cookies"], json({"a=1; Path=/; HttpOnly", "b=2, with a comma"}));
  EXPECT_FALSE(v2["headers"].contains("Set-Cookie"));
  EXPECT_FALSE(v2["headers"].contains("set-cookie"));
  const json v1 = json::parse(EncodeGatewayResponse(response, PayloadVersion::kRestV1));
  EXPECT_EQ(v1["multiValueHeaders"]["Set-Cookie"],
            json({"a=1; Path=/; HttpOnly", "b=2, with a comma"}));
  EXPECT_FALSE(v1.contains("cookies"));
}

TEST(EncodeGatewayResponse, NoBodyIsAnEmptyTextBody) {
  const json out =
      json::parse(EncodeGatewayResponse(Response(204, "", ""), PayloadVersion::kHttpV2));
  EXPECT_EQ(out["statusCode"], 204);
  EXPECT_EQ(out["body"], "");
  EXPECT_EQ(out["isBase64Encoded"], false);
}

TEST(IsTextualMediaType, TextJsonXmlAndFormsAreText) {
  for (const char* type :
       {"text/html; charset=utf-8", "TEXT/CSS", "application/json", "application/problem+json",
        "application/vnd.oai.openapi+json", "application/javascript", "image/svg+xml",
        "application/xml", "application/x-www-form-urlencoded"}) {
    EXPECT_TRUE(IsTextualMediaType(type)) << type;
  }
  for (const char* type : {"image/png", "image/webp", "application/octet-stream", "", "+json",
                           "application/jsonx", "multipart/form-data"}) {
    EXPECT_FALSE(IsTextualMediaType(type)) << type;
  }
}

}  // namespace
}  // namespace imgup
