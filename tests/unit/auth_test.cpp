#include "api/auth.hpp"

#include <gtest/gtest.h>

#include "api/router.hpp"
#include "codecs/sha256.hpp"
#include "fakes/memory_stores.hpp"

namespace imgup {
namespace {

CallerCredentials Request(std::string method, HeaderList headers) {
  HttpRequest request;
  request.method = std::move(method);
  request.path = "/images";
  request.headers = std::move(headers);
  return CredentialsOf(request);
}

TEST(IsLoopbackAuthority, AcceptsLoopbackNamesWithOrWithoutPort) {
  for (const char* host : {"127.0.0.1:8080", "localhost:8080", "LocalHost:1", "[::1]:8080", "[::1]",
                           "127.0.0.1", "localhost", "127.1.2.3:80", "localhost.:8080"}) {
    EXPECT_TRUE(IsLoopbackAuthority(host)) << host;
  }
}

TEST(IsLoopbackAuthority, RefusesEveryOtherName) {
  // A DNS-rebinding page addresses the server by its own name, which then resolves to 127.0.0.1.
  for (const char* host :
       {"evil.example:8080", "127.0.0.1.evil.example:8080", "127.evil.example",
        "localhost.evil:8080", "0.0.0.0:8080", "10.0.0.1:8080", "[::2]:8080", "[::1",
        "127.0.0.1:", "127.0.0.1:8080x", "127.0.0.1:123456", "127.0.0.01:8080", "127.0.0.256",
        "127.0.0", "127.0.0.1.1", "", "localhost:80:80", "[::1]x"}) {
    EXPECT_FALSE(IsLoopbackAuthority(host)) << host;
  }
}

TEST(IsSameOriginRequest, SafeMethodsAndRequestsWithoutOriginPass) {
  EXPECT_TRUE(IsSameOriginRequest(
      Request("GET", {{"host", "127.0.0.1:8080"}, {"origin", "http://evil.example"}})));
  EXPECT_TRUE(IsSameOriginRequest(Request("POST", {{"host", "127.0.0.1:8080"}})));  // curl, CLI
}

TEST(IsSameOriginRequest, StateChangingRequestNeedsItsOwnOrigin) {
  EXPECT_TRUE(IsSameOriginRequest(
      Request("POST", {{"host", "127.0.0.1:8080"}, {"origin", "http://127.0.0.1:8080"}})));
  EXPECT_TRUE(IsSameOriginRequest(
      Request("DELETE", {{"host", "localhost:8080"}, {"origin", "http://LOCALHOST:8080"}})));
  for (const char* origin : {"http://evil.example", "null", "", "http://127.0.0.1:9090",
                             "https://127.0.0.1:8080", "http://localhost:8080"}) {
    for (const char* method : {"POST", "PATCH", "DELETE", "PUT"}) {
      EXPECT_FALSE(
          IsSameOriginRequest(Request(method, {{"host", "127.0.0.1:8080"}, {"origin", origin}})))
          << method << " " << origin;
    }
  }
}

TEST(IsSameOriginRequest, BehindATlsProxyTheOriginIsHttps) {
  for (const HeaderList& headers :
       {HeaderList{{"host", "localhost:8443"}, {"x-forwarded-proto", "https"}},
        HeaderList{{"host", "localhost:8443"}, {"forwarded", "for=127.0.0.1;proto=https"}}}) {
    HeaderList page = headers;
    page.emplace_back("origin", "https://localhost:8443");
    EXPECT_TRUE(IsSameOriginRequest(Request("POST", page)));
    HeaderList plain = headers;
    plain.emplace_back("origin", "http://localhost:8443");
    EXPECT_FALSE(IsSameOriginRequest(Request("POST", plain)));
    HeaderList evil = headers;
    evil.emplace_back("origin", "https://evil.example");
    EXPECT_FALSE(IsSameOriginRequest(Request("POST", evil)));
  }
}

class ApiKeyAuthenticatorTest : public ::testing::Test {
 protected:
  MemoryMetadataStore keys_;
};

TEST_F(ApiKeyAuthenticatorTest, KeylessIsLocalForLoopbackHosts) {
  ApiKeyAuthenticator auth(keys_);
  auto owner = auth.Authenticate(Request("GET", {{"host", "127.0.0.1:8080"}}));
  ASSERT_TRUE(owner);
  EXPECT_EQ(*owner, kLocalOwner);
}

TEST_F(ApiKeyAuthenticatorTest, KeylessRefusesOtherHostsAndOrigins) {
  ApiKeyAuthenticator auth(keys_);
  auto rebinding = auth.Authenticate(Request("GET", {{"host", "evil.example:8080"}}));
  ASSERT_FALSE(rebinding);
  EXPECT_EQ(rebinding.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(rebinding.error().slug, "forbidden_host");
  auto form = auth.Authenticate(
      Request("POST", {{"host", "127.0.0.1:8080"}, {"origin", "http://evil.example"}}));
  ASSERT_FALSE(form);
  EXPECT_EQ(form.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(form.error().slug, "cross_origin");
}

TEST_F(ApiKeyAuthenticatorTest, WithKeysHostAndOriginDoNotMatterTheKeyDoes) {
  const std::string key = "imgup_secret";
  ASSERT_TRUE(keys_.AddKey("alice", Sha256Hex(key), 1));
  ApiKeyAuthenticator auth(keys_);
  auto owner = auth.Authenticate(Request(
      "POST", {{"host", "images.example"}, {"origin", "http://app.example"}, {"x-api-key", key}}));
  ASSERT_TRUE(owner);
  EXPECT_EQ(*owner, "alice");
}

TEST_F(ApiKeyAuthenticatorTest, StartedWithKeysNeverFallsBackToLocal) {
  ASSERT_TRUE(keys_.AddKey("alice", Sha256Hex("imgup_secret"), 1));
  ApiKeyAuthenticator auth(keys_);
  ASSERT_TRUE(keys_.RemoveKey("alice"));
  auto owner = auth.Authenticate(Request("GET", {{"host", "127.0.0.1:8080"}}));
  ASSERT_FALSE(owner);
  EXPECT_EQ(owner.error().code, ErrorCode::kUnauthenticated);
  auto old_key = auth.Authenticate(
      Request("GET", {{"host", "127.0.0.1:8080"}, {"x-api-key", "imgup_secret"}}));
  ASSERT_FALSE(old_key);
  EXPECT_EQ(old_key.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(ApiKeyAuthenticatorTest, AskedAtTheFirstRequestItSeesTheKeysOfThatMoment) {
  // The Lambda function's init asks nothing: keys removed before the first request were never
  // seen, and keys there at the first request are required from then on.
  ASSERT_TRUE(keys_.AddKey("alice", Sha256Hex("imgup_secret"), 1));
  ApiKeyAuthenticator removed_before(keys_, ApiKeyAuthenticator::FirstLook::kFirstRequest);
  ASSERT_TRUE(keys_.RemoveKey("alice"));
  EXPECT_EQ(removed_before.Authenticate(Request("GET", {{"host", "127.0.0.1:8080"}})), "local");

  ApiKeyAuthenticator lazy(keys_, ApiKeyAuthenticator::FirstLook::kFirstRequest);
  ASSERT_TRUE(keys_.AddKey("bob", Sha256Hex("imgup_bob"), 1));
  auto anonymous = lazy.Authenticate(Request("GET", {{"host", "127.0.0.1:8080"}}));
  ASSERT_FALSE(anonymous);
  EXPECT_EQ(anonymous.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(
      lazy.Authenticate(Request("GET", {{"host", "127.0.0.1:8080"}, {"x-api-key", "imgup_bob"}})),
      "bob");
}

TEST_F(ApiKeyAuthenticatorTest, StartedKeylessRequiresAKeyOnceOneIsAdded) {
  ApiKeyAuthenticator auth(keys_);
  ASSERT_TRUE(auth.Authenticate(Request("GET", {{"host", "127.0.0.1:8080"}})));
  ASSERT_TRUE(keys_.AddKey("alice", Sha256Hex("imgup_secret"), 1));
  auto owner = auth.Authenticate(Request("GET", {{"host", "127.0.0.1:8080"}}));
  ASSERT_FALSE(owner);
  EXPECT_EQ(owner.error().code, ErrorCode::kUnauthenticated);
  // ... and keeps requiring one when it is removed again.
  ASSERT_TRUE(keys_.RemoveKey("alice"));
  EXPECT_FALSE(auth.Authenticate(Request("GET", {{"host", "127.0.0.1:8080"}})));
}

}  // namespace
}  // namespace imgup
