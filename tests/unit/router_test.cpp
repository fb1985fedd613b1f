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

// RFC 9110 section 14.1.2's forms, on a 10 000-byte representation.
TEST(HttpHelpers, RangeForms) {
  using Kind = RangeAsk::Kind;
  const auto part = [](std::string_view header, std::uint64_t size = 10000) {
    const RangeAsk ask = ParseRange(header, size);
    EXPECT_EQ(ask.kind, Kind::kPart) << header;
    return std::pair{ask.first, ask.last};
  };
  EXPECT_EQ(part("bytes=0-499"), (std::pair<std::uint64_t, std::uint64_t>{0, 499}));
  EXPECT_EQ(part("bytes=500-999"), (std::pair<std::uint64_t, std::uint64_t>{500, 999}));
  EXPECT_EQ(part("bytes=9500-"), (std::pair<std::uint64_t, std::uint64_t>{9500, 9999}));
  EXPECT_EQ(part("bytes=-500"), (std::pair<std::uint64_t, std::uint64_t>{9500, 9999}));
  EXPECT_EQ(part("bytes=0-0"), (std::pair<std::uint64_t, std::uint64_t>{0, 0}));
  EXPECT_EQ(part("bytes=-1"), (std::pair<std::uint64_t, std::uint64_t>{9999, 9999}));
  // A last position past the end, or a suffix longer than the whole, is cut to the bytes there.
  EXPECT_EQ(part("bytes=9000-20000"), (std::pair<std::uint64_t, std::uint64_t>{9000, 9999}));
  EXPECT_EQ(part("bytes=-20000"), (std::pair<std::uint64_t, std::uint64_t>{0, 9999}));
  EXPECT_EQ(part(" Bytes=1-2 "), (std::pair<std::uint64_t, std::uint64_t>{1, 2}));
}

TEST(HttpHelpers, RangesPastTheEndAreUnsatisfiable) {
  EXPECT_EQ(ParseRange("bytes=10000-", 10000).kind, RangeAsk::Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=10000-10005", 10000).kind, RangeAsk::Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 10000).kind, RangeAsk::Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-", 0).kind, RangeAsk::Kind::kUnsatisfiable);
}

TEST(HttpHelpers, RangesTheServerIgnores) {
  for (const char* header : {"", "bytes=", "items=0-10", "bytes=5-1", "bytes=a-b", "bytes=0-1,5-6",
                             "bytes=--5", "bytes=1", "bytes=99999999999999999999-"}) {
    EXPECT_EQ(ParseRange(header, 10000).kind, RangeAsk::Kind::kWhole) << header;
  }
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
