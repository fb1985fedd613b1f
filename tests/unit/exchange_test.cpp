// What every transport gets from the core for every request (issue R, item 11): the body limit,
// the last-resort catch, the response rules, the trusted principal and the base path.
#include "api/exchange.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/handlers.hpp"
#include "codecs/base64.hpp"
#include "fakes/fixed_clock.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/sequential_ids.hpp"
#include "support/images.hpp"

namespace imgup {
namespace {

class CountingAuthenticator final : public Authenticator {
 public:
  Result<std::string> Authenticate(const CallerCredentials& caller) override {
    ++calls;
    if (caller.api_key == "good") return std::string("alice");
    return Fail(ErrorCode::kUnauthenticated, "unauthorized", "no");
  }
  int calls = 0;
};

HttpRequest Request(std::string method, std::string path) {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.request_id = "req-7";
  return request;
}

class ExchangeTest : public ::testing::Test {
 protected:
  ExchangeTest() : router_(auth_) {
    router_.Add("GET", "/owner", [](const RouteContext& c) -> Result<HttpResponse> {
      return JsonResponse(200, nlohmann::json{{"owner", c.owner}}.dump());
    });
    router_.Add("GET", "/bytes", [](const RouteContext&) -> Result<HttpResponse> {
      HttpResponse response;
      response.body = "0123456789";
      response.SetHeader("Content-Length", "3");  // a handler cannot frame the message
      return response;
    });
    router_.Add("DELETE", "/thing", [](const RouteContext&) -> Result<HttpResponse> {
      HttpResponse response;
      response.status = 204;
      response.body = "stray";
      response.SetHeader("Content-Type", "text/plain");
      return response;
    });
    router_.Add("GET", "/odd-throw", [](const RouteContext&) -> Result<HttpResponse> {
      throw 42;  // not a std::exception
    });
    router_.Add("POST", "/echo", [](const RouteContext& c) -> Result<HttpResponse> {
      return JsonResponse(200, nlohmann::json{{"size", c.request.body.size()}}.dump());
    });
  }
  CountingAuthenticator auth_;
  Router router_;
};

TEST_F(ExchangeTest, EveryResponseCarriesTheRequestId) {
  const HttpResponse response = Answer(router_, Request("GET", "/nowhere"), 100);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.Header("X-Request-Id"), "req-7");
}

TEST_F(ExchangeTest, ABodyWithoutTypeIsOctetStreamAndTheTransportFramesIt) {
  HttpRequest request = Request("GET", "/bytes");
  request.principal = "alice";
  const HttpResponse response = Answer(router_, request, 100);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(response.Header("Content-Length"), "");
  EXPECT_EQ(response.body, "0123456789");
}

TEST_F(ExchangeTest, HeadKeepsTheLengthOfTheBodyItDrops) {
  HttpRequest request = Request("HEAD", "/bytes");
  request.principal = "alice";
  const HttpResponse response = Answer(router_, request, 100);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(response.Header("Content-Length"), "10");
}

TEST_F(ExchangeTest, NoContentHasNoBodyAndNoType) {
  HttpRequest request = Request("DELETE", "/thing");
  request.principal = "alice";
  const HttpResponse response = Answer(router_, request, 100);
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(response.Header("Content-Type"), "");
}

TEST_F(ExchangeTest, ABodyOverTheLimitIs413BeforeAnyHandler) {
  HttpRequest request = Request("POST", "/echo");
  request.principal = "alice";
  request.body = std::string(101, 'x');
  const HttpResponse response = Answer(router_, request, 100);
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(nlohmann::json::parse(response.body)["code"], "payload_too_large");
  request.body.resize(100);
  EXPECT_EQ(Answer(router_, request, 100).status, 200);
}

TEST_F(ExchangeTest, AnythingThrownBecomesA500Problem) {
  HttpRequest request = Request("GET", "/odd-throw");
  request.principal = "alice";
  const HttpResponse direct = router_.Dispatch(request);
  EXPECT_EQ(direct.status, 500);
  const HttpResponse response = Answer(router_, request, 100);
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.Header("Content-Type"), "application/problem+json");
  EXPECT_EQ(nlohmann::json::parse(response.body)["request_id"], "req-7");
}

TEST_F(ExchangeTest, ATrustedPrincipalIsTheOwnerWithoutTheAuthenticator) {
  HttpRequest request = Request("GET", "/owner");
  request.principal = "bob";
  const HttpResponse response = Answer(router_, request, 100);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(nlohmann::json::parse(response.body)["owner"], "bob");
  EXPECT_EQ(response.owner, "bob");
  EXPECT_EQ(auth_.calls, 0);
}

TEST_F(ExchangeTest, APrincipalThatIsNoOwnerNameIsRefused) {
  HttpRequest request = Request("GET", "/owner");
  request.principal = "../bob";
  const HttpResponse response = Answer(router_, request, 100);
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(nlohmann::json::parse(response.body)["code"], "invalid_principal");
  EXPECT_EQ(auth_.calls, 0);
}

TEST_F(ExchangeTest, WithoutAPrincipalTheAuthenticatorDecides) {
  HttpRequest request = Request("GET", "/owner");
  request.headers.emplace_back("x-api-key", "good");
  EXPECT_EQ(nlohmann::json::parse(Answer(router_, request, 100).body)["owner"], "alice");
  request.headers.clear();
  EXPECT_EQ(Answer(router_, request, 100).status, 401);
  EXPECT_EQ(auth_.calls, 2);
}

/// Behind an API Gateway stage the API lives under "/prod": every link it gives out, and the
/// page's own references, must start there.
TEST(BasePath, LinksAndThePageStartWithIt) {
  MemoryBlobStore blobs;
  MemoryMetadataStore records;
  FixedClock clock;
  SequentialIds ids;
  ImageService service(blobs, records, clock, ids, UploadLimits{});
  CountingAuthenticator auth;
  Router router(auth);
  RegisterApiRoutes(router, service, ApiConfig{});

  HttpRequest upload = Request("POST", "/upload");
  upload.base_path = "/prod";
  upload.principal = "alice";
  upload.headers.emplace_back("content-type", "application/json");
  upload.body = R"({"filename": "a.png", "content_type": "image/png", "image_base64": ")" +
                EncodeBase64(test::TinyPng()) + R"("})";
  const HttpResponse created = Answer(router, upload, 1 << 20);
  ASSERT_EQ(created.status, 201) << created.body;
  const auto record = nlohmann::json::parse(created.body);
  const std::string id = record["id"];
  EXPECT_EQ(created.Header("Location"), "/prod/images/" + id);
  EXPECT_EQ(record["urls"]["self"], "/prod/images/" + id);
  EXPECT_EQ(record["urls"]["content"], "/prod/images/" + id + "/content");

  HttpRequest list = Request("GET", "/images");
  list.base_path = "/prod";
  list.principal = "alice";
  const auto listed = nlohmann::json::parse(Answer(router, list, 0).body);
  EXPECT_EQ(listed["items"][0]["urls"]["self"], "/prod/images/" + id);

  HttpRequest page = Request("GET", "/");
  page.base_path = "/prod";
  const HttpResponse html = Answer(router, page, 0);
  EXPECT_NE(html.body.find(R"(<meta name="imgup-base" content="/prod">)"), std::string::npos);
  EXPECT_NE(html.body.find(R"(src="/prod/assets/app.js")"), std::string::npos);
  EXPECT_EQ(html.body.find("{{BASE}}"), std::string::npos);
  page.base_path = "";
  EXPECT_NE(Answer(router, page, 0).body.find(R"(src="/assets/app.js")"), std::string::npos);
}

/// An absolute URL of this server (the local form of POST /uploads) is at the origin the client
/// addressed: behind a TLS proxy that says so, https.
TEST(PublicOrigin, IsTheHostWithTheSchemeAProxySays) {
  HttpRequest request = Request("POST", "/uploads");
  EXPECT_EQ(request.PublicOrigin(), "");
  request.headers.emplace_back("host", "img.example.com");
  EXPECT_EQ(request.PublicOrigin(), "http://img.example.com");
  request.headers.emplace_back("x-forwarded-proto", "https, http");
  EXPECT_EQ(request.PublicOrigin(), "https://img.example.com");
  // RFC 7239's header first; its first element is the proxy nearest the client.
  request.headers.emplace_back("forwarded",
                               R"(for=192.0.2.60;Proto="HTTP";by=203.0.113.43, proto=https)");
  EXPECT_EQ(request.PublicOrigin(), "http://img.example.com");
  request.headers.back().second = "for=192.0.2.60;by=203.0.113.43";
  EXPECT_EQ(request.PublicOrigin(), "https://img.example.com");  // no proto: X-Forwarded-Proto's
  // Anything but http or https is no scheme of this server's.
  request.headers = {{"host", "127.0.0.1:8080"}, {"x-forwarded-proto", "javascript"}};
  EXPECT_EQ(request.PublicOrigin(), "http://127.0.0.1:8080");
}

}  // namespace
}  // namespace imgup
