// The API function's handler: API Gateway events through the router and Answer, back as proxy
// responses. First over a router with test routes (who the caller is, binary bodies, sizes),
// then over the real routes and handlers on in-memory stores (the seed's upload, links under
// the stage).
#include "transport/lambda/api_function.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "api/auth.hpp"
#include "api/handlers.hpp"
#include "codecs/base64.hpp"
#include "codecs/sha256.hpp"
#include "fakes/memory_stores.hpp"
#include "lambda/fixtures.hpp"
#include "services/image_service.hpp"

namespace imgup {
namespace {

using nlohmann::json;
using test::HttpApiEvent;
using test::RestApiEvent;

class CountingAuthenticator final : public Authenticator {
 public:
  Result<std::string> Authenticate(const CallerCredentials& caller) override {
    ++calls;
    if (caller.api_key == "good") return std::string("keyholder");
    return Fail(ErrorCode::kUnauthenticated, "unauthorized", "A valid API key is required");
  }
  int calls = 0;
};

Invocation InvocationOf(const json& event, std::string request_id = "5a3c-req") {
  Invocation invocation;
  invocation.request_id = std::move(request_id);
  invocation.payload = event.dump();
  return invocation;
}

json WithJwtSub(json event, const std::string& sub) {
  event["requestContext"]["authorizer"] = {{"jwt", {{"claims", {{"sub", sub}}}}}};
  return event;
}

class ApiFunctionTest : public ::testing::Test {
 protected:
  ApiFunctionTest() : router_(auth_) {
    router_.Add("GET", "/whoami", [](const RouteContext& c) -> Result<HttpResponse> {
      return JsonResponse(200, json{{"owner", c.owner}, {"base", c.request.base_path}}.dump());
    });
    router_.Add("GET", "/bytes/{n}", [](const RouteContext& c) -> Result<HttpResponse> {
      HttpResponse response;
      response.SetHeader("Content-Type", "image/webp");
      response.body.assign(std::stoul(std::string(c.Param("n"))), '\xff');
      return response;
    });
    router_.Add("POST", "/echo", [](const RouteContext& c) -> Result<HttpResponse> {
      HttpResponse response;
      response.SetHeader("Content-Type", "application/octet-stream");
      response.headers.emplace_back("Set-Cookie", "a=1");
      response.headers.emplace_back("Set-Cookie", "b=2");
      response.body = c.request.body;
      return response;
    });
    router_.Add("GET", "/boom", [](const RouteContext&) -> Result<HttpResponse> {
      throw std::runtime_error("internals");
    });
  }

  ApiGatewayFunction Function(ApiFunctionOptions options = {}) {
    return ApiGatewayFunction(router_, options, clock_,
                              [this](const std::string& line) { logs_.push_back(line); });
  }

  json Call(const json& event, ApiFunctionOptions options = {}) {
    auto answer = Function(options)(InvocationOf(event));
    EXPECT_TRUE(answer) << answer.error().slug;
    return answer ? json::parse(*answer) : json();
  }

  CountingAuthenticator auth_;
  Router router_;
  FixedClock clock_;
  std::vector<std::string> logs_;
};

TEST_F(ApiFunctionTest, TheAuthorizersPrincipalIsTheOwnerWithoutTheAuthenticator) {
  const json v2 = Call(WithJwtSub(HttpApiEvent("GET", "/prod/whoami", "prod"), "user-1"));
  EXPECT_EQ(v2["statusCode"], 200);
  EXPECT_EQ(json::parse(v2["body"].get<std::string>()),
            json({{"owner", "user-1"}, {"base", "/prod"}}));
  json rest = RestApiEvent("GET", "/whoami");
  rest["requestContext"]["identity"]["apiKeyId"] = "key-7";
  const json v1 = Call(rest);
  EXPECT_EQ(json::parse(v1["body"].get<std::string>()),
            json({{"owner", "key-7"}, {"base", "/prod"}}));
  EXPECT_EQ(auth_.calls, 0);
}

TEST_F(ApiFunctionTest, WithoutAnAuthorizerTheAuthenticatorDecides) {
  json event = HttpApiEvent("GET", "/whoami");
  EXPECT_EQ(Call(event)["statusCode"], 401);
  event["headers"]["x-api-key"] = "good";
  const json answer = Call(event);
  EXPECT_EQ(answer["statusCode"], 200);
  EXPECT_EQ(json::parse(answer["body"].get<std::string>())["owner"], "keyholder");
  EXPECT_EQ(auth_.calls, 2);
}

TEST_F(ApiFunctionTest, AnAuthorizerWithoutTheClaimIsRefusedWith403) {
  json event = HttpApiEvent("GET", "/whoami");
  event["requestContext"]["authorizer"] = {{"jwt", {{"claims", {{"email", "a@b.c"}}}}}};
  event["headers"]["x-api-key"] = "good";  // not a way around the authorizer
  const json answer = Call(event);
  EXPECT_EQ(answer["statusCode"], 403);
  EXPECT_EQ(answer["headers"]["Content-Type"], "application/problem+json");
  EXPECT_EQ(json::parse(answer["body"].get<std::string>())["code"], "missing_claim");
  EXPECT_EQ(auth_.calls, 0);
}

TEST_F(ApiFunctionTest, APrincipalThatIsNoOwnerNameIsRefused) {
  const json answer = Call(WithJwtSub(HttpApiEvent("GET", "/whoami"), "Not/An Owner"));
  EXPECT_EQ(answer["statusCode"], 403);
  EXPECT_EQ(json::parse(answer["body"].get<std::string>())["code"], "invalid_principal");
}

TEST_F(ApiFunctionTest, ResponsesAreFinishedLikeTheLocalServers) {
  json event = WithJwtSub(HttpApiEvent("GET", "/whoami"), "u");
  auto answer = Function()(InvocationOf(event, "lambda-req-42"));
  ASSERT_TRUE(answer);
  const json out = json::parse(*answer);
  const std::size_t length = out["body"].get<std::string>().size();
  // The invocation's request id, which Lambda's own log lines carry.
  EXPECT_EQ(out["headers"]["X-Request-Id"], "lambda-req-42");
  // One request log line, the local server's shape.
  ASSERT_EQ(logs_.size(), 1u);
  const json line = json::parse(logs_[0]);
  EXPECT_EQ(line["msg"], "request");
  EXPECT_EQ(line["request_id"], "lambda-req-42");
  EXPECT_EQ(line["owner"], "u");
  EXPECT_EQ(line["route"], "/whoami");
  EXPECT_EQ(line["status"], 200);
  EXPECT_EQ(line["apigw_request_id"], "id");  // AWS's sample's requestContext.requestId
  EXPECT_FALSE(line.contains("trace_id")) << "no trace header, no trace id";
  EXPECT_FALSE(line.contains("_aws")) << "GET /whoami counts nothing";

  // With a trace: its id (the header's Root) on the line.
  Invocation traced = InvocationOf(event, "lambda-req-43");
  traced.trace_id = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  ASSERT_TRUE(Function()(traced));
  EXPECT_EQ(json::parse(logs_.back())["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");

  // HEAD: no body, the length it would have had.
  event["requestContext"]["http"]["method"] = "HEAD";
  const json head = Call(event);
  EXPECT_EQ(head["statusCode"], 200);
  EXPECT_EQ(head["body"], "");
  EXPECT_EQ(head["headers"]["Content-Length"], std::to_string(length));

  // A handler that throws: a 500 problem, the loop's invocation still answered.
  const json boom = Call(WithJwtSub(HttpApiEvent("GET", "/boom"), "u"));
  EXPECT_EQ(boom["statusCode"], 500);
  EXPECT_EQ(boom["body"].get<std::string>().find("internals"), std::string::npos);

  // An unknown path: 404 problem.
  EXPECT_EQ(Call(WithJwtSub(HttpApiEvent("GET", "/nope"), "u"))["statusCode"], 404);
}

TEST_F(ApiFunctionTest, BinaryBodiesAndCookiesGoBothWays) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  json event = WithJwtSub(HttpApiEvent("POST", "/echo"), "u");
  event["body"] = EncodeBase64(bytes);
  event["isBase64Encoded"] = true;
  const json v2 = Call(event);
  EXPECT_EQ(v2["isBase64Encoded"], true);
  EXPECT_EQ(DecodeBase64(v2["body"].get<std::string>()).value(), bytes);
  EXPECT_EQ(v2["cookies"], json({"a=1", "b=2"}));

  json rest = RestApiEvent("POST", "/echo");
  rest["requestContext"]["identity"]["apiKeyId"] = "k";
  rest["body"] = EncodeBase64(bytes);
  rest["isBase64Encoded"] = true;
  const json v1 = Call(rest);
  EXPECT_EQ(DecodeBase64(v1["body"].get<std::string>()).value(), bytes);
  EXPECT_EQ(v1["multiValueHeaders"]["Set-Cookie"], json({"a=1", "b=2"}));
}

TEST_F(ApiFunctionTest, ABodyOverTheLimitIs413) {
  json event = WithJwtSub(HttpApiEvent("POST", "/echo"), "u");
  event["body"] = std::string(101, 'x');
  ApiFunctionOptions options;
  options.max_body_bytes = 100;
  EXPECT_EQ(Call(event, options)["statusCode"], 413);
  event["body"] = std::string(100, 'x');
  EXPECT_EQ(Call(event, options)["statusCode"], 200);
}

TEST_F(ApiFunctionTest, AResponseOverLambdasLimitIsNeverAttempted) {
  ApiFunctionOptions options;
  options.max_response_bytes = 4096;
  // 3000 bytes are 4000 in base64: with the rest of the document, over 4096.
  const json answer = Call(WithJwtSub(HttpApiEvent("GET", "/bytes/3000"), "u"), options);
  EXPECT_EQ(answer["statusCode"], 500);
  const json problem = json::parse(answer["body"].get<std::string>());
  EXPECT_EQ(problem["code"], "response_too_large");
  ASSERT_EQ(logs_.size(), 2u);
  const json warning = json::parse(logs_[0]);
  EXPECT_EQ(warning["level"], "error");
  EXPECT_EQ(warning["route"], "/bytes/{n}");
  EXPECT_EQ(warning["status"], 200);
  EXPECT_GT(warning["response_bytes"].get<std::size_t>(), 4096u);
  EXPECT_EQ(json::parse(logs_[1])["status"], 500);

  EXPECT_EQ(Call(WithJwtSub(HttpApiEvent("GET", "/bytes/2000"), "u"), options)["statusCode"], 200);
}

TEST_F(ApiFunctionTest, WhatIsNotAnApiGatewayEventIsTheInvocationsError) {
  Invocation invocation;
  invocation.request_id = "r";
  invocation.payload = R"({"Records": []})";
  auto answer = Function()(invocation);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().slug, "not_an_api_gateway_event");
}

// --- the real routes ---

class ApiFunctionHandlersTest : public ::testing::Test {
 protected:
  ApiFunctionHandlersTest()
      : urls_(std::string(32, 's'), clock_),
        blobs_(&clock_, &urls_),
        service_(blobs_, records_, clock_, ids_, UploadLimits{}),
        auth_(records_),
        router_(auth_) {
    ApiConfig config;
    config.content_redirect = true;
    RegisterApiRoutes(router_, service_, config);
  }

  json Call(const json& event) {
    ApiGatewayFunction function(router_, ApiFunctionOptions{}, clock_, [](const std::string&) {});
    auto answer = function(InvocationOf(event));
    EXPECT_TRUE(answer);
    return answer ? json::parse(*answer) : json();
  }

  FixedClock clock_;
  SequentialIds ids_;
  SignedUrls urls_;
  MemoryBlobStore blobs_;
  MemoryMetadataStore records_;
  ImageService service_;
  ApiKeyAuthenticator auth_;
  Router router_;
};

TEST_F(ApiFunctionHandlersTest, TheSeedUploadThroughARestStageLinksUnderTheStage) {
  json event = test::AwsEvent("aws-proxy-seed-upload.json");
  event["requestContext"]["authorizer"] = {{"claims", {{"sub", "ann"}}}};
  const json created = Call(event);
  ASSERT_EQ(created["statusCode"], 201) << created.dump();
  const json record = json::parse(created["body"].get<std::string>());
  EXPECT_EQ(record["filename"], "photo.png");
  EXPECT_EQ(record["content_type"], "image/png");
  EXPECT_EQ(record["width"], 4);
  const std::string id = record["id"];
  EXPECT_EQ(created["multiValueHeaders"]["Location"], json({"/prod/images/" + id}));

  // The same bytes again: the existing record, 200 and duplicate.
  const json again = Call(event);
  EXPECT_EQ(again["statusCode"], 200);
  EXPECT_EQ(json::parse(again["body"].get<std::string>())["duplicate"], true);

  // Another owner does not see it.
  json other = RestApiEvent("GET", "/images/" + id);
  other["requestContext"]["authorizer"] = {{"claims", {{"sub", "bob"}}}};
  EXPECT_EQ(Call(other)["statusCode"], 404);
  other["requestContext"]["authorizer"]["claims"]["sub"] = "ann";
  EXPECT_EQ(Call(other)["statusCode"], 200);
}

TEST_F(ApiFunctionHandlersTest, TheSeedUploadThroughAnHttpApiThenListAndContent) {
  json event = WithJwtSub(test::AwsEvent("http-api-proxy-seed-upload.json"), "ann");
  const json created = Call(event);
  ASSERT_EQ(created["statusCode"], 201) << created.dump();
  const std::string id = json::parse(created["body"].get<std::string>())["id"];

  json list = WithJwtSub(HttpApiEvent("GET", "/prod/images", "prod"), "ann");
  list["rawQueryString"] = "limit=5";
  const json listed = Call(list);
  ASSERT_EQ(listed["statusCode"], 200);
  const json page = json::parse(listed["body"].get<std::string>());
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["id"], id);

  // Content is a redirect to a presigned URL, under the stage (Lambda answers at most 6 MB).
  const json content =
      Call(WithJwtSub(HttpApiEvent("GET", "/prod/images/" + id + "/content", "prod"), "ann"));
  EXPECT_EQ(content["statusCode"], 302);
  EXPECT_EQ(content["headers"]["Location"].get<std::string>().rfind("/prod/blobs/object?", 0), 0u)
      << content.dump();
}

TEST_F(ApiFunctionHandlersTest, KeysStillWorkForEventsWithoutAnAuthorizer) {
  ASSERT_TRUE(records_.AddKey("carol", Sha256Hex("imgup_secret"), 0));
  json event = test::AwsEvent("http-api-proxy-seed-upload.json");
  event["requestContext"].erase("authorizer");
  EXPECT_EQ(Call(event)["statusCode"], 401);
  event["headers"]["authorization"] = "Bearer imgup_secret";
  const json created = Call(event);
  ASSERT_EQ(created["statusCode"], 201) << created.dump();
  EXPECT_EQ(json::parse(created["body"].get<std::string>())["filename"], "photo.png");
}

}  // namespace
}  // namespace imgup
