#include "api/router.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace imgup {
namespace {

class StubAuthenticator final : public Authenticator {
 public:
  Result<std::string> Authenticate(const CallerCredentials& caller) override {
    if (caller.api_key == "good") return std::string("alice");
    return Fail(ErrorCode::kUnauthenticated, "unauthorized", "no");
  }
};

HttpRequest Request(std::string method, std::string path, std::string key = "good") {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.request_id = "req-1";
  if (!key.empty()) request.headers.emplace_back("x-api-key", std::move(key));
  return request;
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : router_(auth_) {
    router_.Add("GET", "/images/{id}", [](const RouteContext& c) -> Result<HttpResponse> {
      return JsonResponse(200, nlohmann::json{{"id", c.Param("id")}, {"owner", c.owner}}.dump());
    });
    router_.Add("DELETE", "/images/{id}", [](const RouteContext&) -> Result<HttpResponse> {
      return Fail(ErrorCode::kNotFound, "not_found", "No image with id x", "internal cause");
    });
    router_.Add("GET", "/boom", [](const RouteContext&) -> Result<HttpResponse> {
      throw std::runtime_error("secret internals");
    });
    router_.Add(
        "GET", "/health",
        [](const RouteContext&) -> Result<HttpResponse> { return JsonResponse(200, "{}"); },
        /*is_public=*/true);
  }
  StubAuthenticator auth_;
  Router router_;
};

TEST_F(RouterTest, CapturesPathParametersAndOwner) {
  const HttpResponse response = router_.Dispatch(Request("GET", "/images/abc"));
  EXPECT_EQ(response.status, 200);
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["id"], "abc");
  EXPECT_EQ(body["owner"], "alice");
  EXPECT_EQ(response.route, "/images/{id}");
  EXPECT_EQ(response.owner, "alice");
}

TEST_F(RouterTest, UnknownPathIsProblem404) {
  const HttpResponse response = router_.Dispatch(Request("GET", "/nope"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.Header("Content-Type"), "application/problem+json");
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["code"], "not_found");
  EXPECT_EQ(body["status"], 404);
  EXPECT_EQ(body["request_id"], "req-1");
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  const HttpResponse response = router_.Dispatch(Request("PUT", "/images/abc"));
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.Header("Allow"), "GET, DELETE");
  EXPECT_EQ(nlohmann::json::parse(response.body)["code"], "method_not_allowed");
}

TEST_F(RouterTest, HeadIsServedByGet) {
  EXPECT_EQ(router_.Dispatch(Request("HEAD", "/images/abc")).status, 200);
}

TEST_F(RouterTest, MissingCredentialsAre401WithChallenge) {
  const HttpResponse response = router_.Dispatch(Request("GET", "/images/abc", "bad"));
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.Header("WWW-Authenticate"), "Bearer realm=\"imgup\"");
  EXPECT_EQ(nlohmann::json::parse(response.body)["code"], "unauthorized");
}

TEST_F(RouterTest, PublicRoutesSkipAuthentication) {
  EXPECT_EQ(router_.Dispatch(Request("GET", "/health", "")).status, 200);
}

TEST_F(RouterTest, HandlerErrorsBecomeProblemsWithoutInternalDetail) {
  const HttpResponse response = router_.Dispatch(Request("DELETE", "/images/abc"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body.find("internal cause"), std::string::npos);
  EXPECT_EQ(response.error_detail, "internal cause");
}

TEST_F(RouterTest, ExceptionsBecome500WithoutLeakingTheMessage) {
  const HttpResponse response = router_.Dispatch(Request("GET", "/boom"));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(nlohmann::json::parse(response.body)["code"], "internal");
  EXPECT_EQ(response.body.find("secret"), std::string::npos);
  EXPECT_EQ(response.error_detail, "secret internals");
}

TEST(HttpHelpers, QueryStringDecoding) {
  const HeaderList query = ParseQueryString("a=1&b=x%20y&c=p+q&&d=&e=%zz");
  ASSERT_EQ(query.size(), 5u);
  EXPECT_EQ(query[1].second, "x y");
  EXPECT_EQ(query[2].second, "p q");
  EXPECT_EQ(query[3].first, "d");
  EXPECT_EQ(query[3].second, "");
  EXPECT_EQ(query[4].second, "%zz");
  EXPECT_FALSE(PercentDecode("%4", false).has_value());
}

TEST(CredentialsOfTest, ReadsTheKeyHostAndOriginOfARequest) {
  HttpRequest request;
  request.method = "POST";
  request.headers = {{"host", "127.0.0.1:8080"}, {"authorization", "BeArEr secret-key"}};
  CallerCredentials caller = CredentialsOf(request);
  EXPECT_EQ(caller.method, "POST");
  EXPECT_EQ(caller.host, "127.0.0.1:8080");
  EXPECT_EQ(caller.api_key, "secret-key") << "the scheme is case-insensitive";
  EXPECT_FALSE(caller.origin);

  request.headers = {
      {"x-api-key", "from-header"}, {"authorization", "Bearer other"}, {"origin", ""}};
  caller = CredentialsOf(request);
  EXPECT_EQ(caller.api_key, "from-header") << "x-api-key first";
  ASSERT_TRUE(caller.origin) << "an empty Origin is still an Origin";
  EXPECT_EQ(*caller.origin, "");

  request.headers = {{"authorization", "Basic dXNlcjpwYXNz"}};
  EXPECT_EQ(CredentialsOf(request).api_key, "");
  request.headers = {{"authorization", "Bearer "}};
  EXPECT_EQ(CredentialsOf(request).api_key, "");
}

}  // namespace
}  // namespace imgup
