// imgup gateway's codec (API Gateway the other way round): the events it makes have the shape of
// AWS's own samples (sam local generate-event) and decode, with the function's decoder, to the
// request that came in; the function's proxy responses decode to the answer it meant.
#include "transport/lambda/local_gateway.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "codecs/text.hpp"
#include "lambda/fixtures.hpp"

namespace imgup {
namespace {

using nlohmann::json;
using test::AwsEvent;

std::set<std::string> Keys(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

/// Every key of `expected` that `actual` lacks, but for `optional` ones.
std::set<std::string> Missing(const json& expected, const json& actual,
                              const std::set<std::string>& optional) {
  std::set<std::string> missing;
  for (const std::string& key : Keys(expected)) {
    if (!actual.contains(key) && !optional.contains(key)) missing.insert(key);
  }
  return missing;
}

HttpRequest Upload() {
  HttpRequest request;
  request.method = "POST";
  request.path = "/prod/images/a b";
  request.query = {{"tag", "x&y"}, {"tag", "z"}, {"limit", "5"}};
  request.headers = {{"host", "127.0.0.1:8080"}, {"content-type", "image/png"},
                     {"accept", "a/b"},          {"accept", "c/d"},
                     {"cookie", "one=1; two=2"}, {"user-agent", "curl/8"}};
  request.body = std::string("\x89PNG\r\n\x1a\n\x00\xff", 10);
  request.remote_addr = "127.0.0.1";
  return request;
}

GatewayEventOptions Options(PayloadVersion version, std::string stage) {
  GatewayEventOptions options;
  options.version = version;
  options.stage = std::move(stage);
  options.request_id = "req-1";
  options.now_ms = 1583348638390;
  return options;
}

TEST(LocalGatewayEvent, HttpApiEventHasTheShapeOfAwsSample) {
  const json event =
      json::parse(EncodeGatewayEvent(Upload(), Options(PayloadVersion::kHttpV2, "")));
  const json sample = AwsEvent("http-api-proxy.json");
  // What an HTTP API leaves out when there is nothing to say (no authorizer, no route
  // parameters, no stage variables, no mutual TLS).
  EXPECT_EQ(Missing(sample, event, {"pathParameters", "stageVariables"}), std::set<std::string>{});
  EXPECT_EQ(
      Missing(sample["requestContext"], event["requestContext"], {"authentication", "authorizer"}),
      std::set<std::string>{});
  EXPECT_EQ(Keys(sample["requestContext"]["http"]), Keys(event["requestContext"]["http"]));
  EXPECT_EQ(event["version"], "2.0");
  EXPECT_EQ(event["rawPath"], "/prod/images/a%20b");
  EXPECT_EQ(event["rawQueryString"], "tag=x%26y&tag=z&limit=5");
  EXPECT_EQ(event["queryStringParameters"]["tag"], "x&y,z");
  EXPECT_EQ(event["headers"]["accept"], "a/b,c/d");
  EXPECT_FALSE(event["headers"].contains("cookie"));
  EXPECT_EQ(event["cookies"], json::array({"one=1", "two=2"}));
  EXPECT_EQ(event["isBase64Encoded"], true);
  EXPECT_EQ(event["requestContext"]["stage"], "$default");
  EXPECT_EQ(event["requestContext"]["time"], "04/Mar/2020:19:03:58 +0000");
  EXPECT_EQ(event["requestContext"]["http"]["sourceIp"], "127.0.0.1");
}

TEST(LocalGatewayEvent, RestApiEventHasTheShapeOfAwsSample) {
  const json event =
      json::parse(EncodeGatewayEvent(Upload(), Options(PayloadVersion::kRestV1, "prod")));
  const json sample = AwsEvent("aws-proxy.json");
  EXPECT_EQ(Keys(sample), Keys(event));
  EXPECT_EQ(Missing(sample["requestContext"], event["requestContext"], {}),
            std::set<std::string>{});
  EXPECT_EQ(event["path"], "/images/a%20b");
  EXPECT_EQ(event["requestContext"]["path"], "/prod/images/a%20b");
  EXPECT_EQ(event["requestContext"]["stage"], "prod");
  EXPECT_EQ(event["pathParameters"]["proxy"], "images/a%20b");
  EXPECT_EQ(event["multiValueHeaders"]["accept"], json::array({"a/b", "c/d"}));
  EXPECT_EQ(event["headers"]["accept"], "c/d");  // the last value, as API Gateway gives it
  EXPECT_EQ(event["multiValueQueryStringParameters"]["tag"], json::array({"x&y", "z"}));
  EXPECT_EQ(event["queryStringParameters"]["tag"], "z");
}

// Each payload version, through the function's own decoder, gives back the request.
class LocalGatewayRoundTrip : public testing::TestWithParam<PayloadVersion> {};

TEST_P(LocalGatewayRoundTrip, TheFunctionSeesTheRequestThatCameIn) {
  const HttpRequest in = Upload();
  auto decoded = DecodeGatewayEvent(EncodeGatewayEvent(in, Options(GetParam(), "prod")), {});
  ASSERT_TRUE(decoded) << decoded.error().detail;
  const HttpRequest& out = decoded->request;
  EXPECT_EQ(decoded->version, GetParam());
  EXPECT_FALSE(decoded->rejection);
  EXPECT_EQ(out.method, "POST");
  EXPECT_EQ(out.base_path, "/prod");
  EXPECT_EQ(out.path, "/images/a b");
  if (GetParam() == PayloadVersion::kHttpV2) {
    EXPECT_EQ(out.query, in.query);  // rawQueryString keeps the order
  } else {
    // multiValueQueryStringParameters is an object: each name's values in order, names not.
    HeaderList expected = in.query;
    std::stable_sort(expected.begin(), expected.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    EXPECT_EQ(out.query, expected);
  }
  EXPECT_EQ(out.body, in.body);
  EXPECT_EQ(out.Header("content-type"), "image/png");
  EXPECT_EQ(out.Header("cookie"), "one=1; two=2");
  EXPECT_EQ(out.Header("host"), "127.0.0.1:8080");
  EXPECT_EQ(out.remote_addr, "127.0.0.1");
  EXPECT_FALSE(out.principal);  // no authorizer: the function's Authenticator decides
}

TEST_P(LocalGatewayRoundTrip, TextBodiesGoAsTextAndTheRootPathWithoutAStage) {
  HttpRequest in;
  in.method = "GET";
  in.path = "/";
  in.headers = {{"content-type", "application/json"}};
  in.body = R"({"filename":"é.png"})";
  const json event = json::parse(EncodeGatewayEvent(in, Options(GetParam(), "")));
  EXPECT_EQ(event["isBase64Encoded"], false);
  EXPECT_EQ(event["body"], in.body);
  auto decoded = DecodeGatewayEvent(event.dump(), {});
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->request.path, "/");
  EXPECT_EQ(decoded->request.base_path, "");
  EXPECT_EQ(decoded->request.body, in.body);
}

TEST_P(LocalGatewayRoundTrip, TheFunctionsResponseComesBackAsItWasMeant) {
  HttpResponse in;
  in.status = 201;
  in.headers = {{"Content-Type", "image/webp"},
                {"Set-Cookie", "a=1; Path=/"},
                {"Set-Cookie", "b=2"},
                {"Vary", "Origin"},
                {"X-Request-Id", "r"}};
  in.body = std::string("RIFF\x00\x01\xff", 7);
  auto out = DecodeGatewayResponse(EncodeGatewayResponse(in, GetParam()), GetParam());
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(out->status, 201);
  EXPECT_EQ(out->body, in.body);
  EXPECT_EQ(out->Header("content-type"), "image/webp");
  EXPECT_EQ(out->Header("x-request-id"), "r");
  std::vector<std::string> cookies;
  for (const auto& [name, value] : out->headers) {
    if (AsciiLower(name) == "set-cookie") cookies.push_back(value);
  }
  EXPECT_EQ(cookies, (std::vector<std::string>{"a=1; Path=/", "b=2"}));
}

INSTANTIATE_TEST_SUITE_P(BothPayloads, LocalGatewayRoundTrip,
                         testing::Values(PayloadVersion::kHttpV2, PayloadVersion::kRestV1));

TEST(LocalGatewayResponse, HttpApiInfersA200FromJsonWithoutStatusCode) {
  auto out = DecodeGatewayResponse(R"({"hello":"world"})", PayloadVersion::kHttpV2);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200);
  EXPECT_EQ(out->Header("content-type"), "application/json");
  EXPECT_EQ(out->body, R"({"hello":"world"})");
  EXPECT_FALSE(DecodeGatewayResponse(R"({"hello":"world"})", PayloadVersion::kRestV1));
}

TEST(LocalGatewayResponse, MultiValueHeadersWinOverSingleOnes) {
  auto out = DecodeGatewayResponse(
      R"({"statusCode":"204","headers":{"A":"1","B":"x"},"multiValueHeaders":{"a":["2","3"]}})",
      PayloadVersion::kRestV1);
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(out->status, 204);
  HeaderList expected = {{"A", "2"}, {"A", "3"}, {"B", "x"}};
  EXPECT_EQ(out->headers, expected);
}

TEST(LocalGatewayResponse, WhatApiGatewayWouldAnswer502For) {
  for (const char* bad : {"not json", R"({"statusCode":42})", R"({"statusCode":"x"})",
                          R"({"statusCode":200,"body":"%%%","isBase64Encoded":true})",
                          R"({"statusCode":200,"body":{"a":1}})"}) {
    for (auto version : {PayloadVersion::kHttpV2, PayloadVersion::kRestV1}) {
      auto out = DecodeGatewayResponse(bad, version);
      ASSERT_FALSE(out) << bad;
      EXPECT_EQ(out.error().slug, "bad_proxy_response");
    }
  }
}

TEST(LocalGateway, FunctionErrorsAreTold) {
  EXPECT_TRUE(IsFunctionError(200, true, R"({"statusCode":200})"));
  EXPECT_TRUE(IsFunctionError(502, false, R"({"errorType":"x","errorMessage":"y"})"));
  EXPECT_TRUE(IsFunctionError(200, false, R"({"errorType":"x","errorMessage":"y"})"));
  EXPECT_FALSE(IsFunctionError(200, false, R"({"statusCode":500,"body":"errorType"})"));
  EXPECT_FALSE(IsFunctionError(200, false, R"({"errorType":"only one"})"));
}

TEST(LocalGateway, StagesAndApiGatewaysOwnAnswers) {
  EXPECT_TRUE(InStage("/anything", ""));
  EXPECT_TRUE(InStage("/prod", "prod"));
  EXPECT_TRUE(InStage("/prod/images", "prod"));
  EXPECT_FALSE(InStage("/production", "prod"));
  EXPECT_FALSE(InStage("/images", "prod"));
  const HttpResponse message = GatewayMessage(502, "Internal Server Error");
  EXPECT_EQ(message.status, 502);
  EXPECT_EQ(json::parse(message.body), json({{"message", "Internal Server Error"}}));
}

}  // namespace
}  // namespace imgup
