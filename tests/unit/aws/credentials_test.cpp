// The credential sources one by one, the chain's order, the container and IMDSv2 exchanges over
// a scripted transport, and the refresh before expiry.
#include "aws/credentials.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <utility>

namespace imgup::aws {
namespace {

using namespace std::chrono_literals;

// Answers each (method, url) from a script, in order, and records every call.
class ScriptedTransport : public CredentialsTransport {
 public:
  void Answer(const std::string& method, const std::string& url, Result<Reply> reply) {
    script_[method + " " + url].push_back(std::move(reply));
  }
  Result<Reply> Send(const Call& call) override {
    calls.push_back(call);
    auto& queue = script_[call.method + " " + call.url];
    if (queue.empty()) {
      return Fail(ErrorCode::kUnavailable, "unreachable", "nothing answers", call.url);
    }
    Result<Reply> reply = queue.front();
    if (queue.size() > 1) queue.pop_front();  // the last answer repeats
    return reply;
  }
  std::optional<std::string> ReadFile(const std::string& path) override {
    const auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  }

  std::vector<Call> calls;
  std::map<std::string, std::string> files;

 private:
  std::map<std::string, std::deque<Result<Reply>>> script_;
};

std::string_view HeaderOf(const CredentialsTransport::Call& call, std::string_view name) {
  for (const auto& header : call.headers) {
    if (header.name == name) return header.value;
  }
  return {};
}

constexpr char kDocument[] = R"({
  "Code": "Success",
  "LastUpdated": "2026-12-02T08:00:00Z",
  "Type": "AWS-HMAC",
  "AccessKeyId": "ASIAEXAMPLE",
  "SecretAccessKey": "imdssecret",
  "Token": "imdstoken",
  "Expiration": "2026-12-02T14:00:00Z"
})";

std::chrono::sys_seconds At(int h, int m = 0) {
  return std::chrono::sys_days{std::chrono::year{2026} / std::chrono::December / 2} +
         std::chrono::hours{h} + std::chrono::minutes{m};
}

TEST(AwsTimestamp, ParsesTheExpirationFormats) {
  EXPECT_EQ(ParseAwsTimestamp("2026-12-02T14:00:00Z"), At(14));
  EXPECT_EQ(ParseAwsTimestamp("2026-12-02T14:00:00.123Z"), At(14));
  EXPECT_EQ(ParseAwsTimestamp("2026-12-02T14:00:00+00:00"), At(14));
  for (std::string_view bad :
       {"", "2026-12-02", "2026-12-02T14:00:00", "2026-13-02T14:00:00Z", "2026-02-30T14:00:00Z",
        "2026-12-02T14:00:00+02:00", "2026-12-02T14:00:00.Z", "2026-12-02 14:00:00Z"}) {
    EXPECT_EQ(ParseAwsTimestamp(bad), std::nullopt) << bad;
  }
}

TEST(AwsCredentialSources, Environment) {
  EXPECT_FALSE(CredentialsFromEnvironment({}).value().has_value());
  const auto full = CredentialsFromEnvironment({{"AWS_ACCESS_KEY_ID", "AKID"},
                                                {"AWS_SECRET_ACCESS_KEY", "secret"},
                                                {"AWS_SESSION_TOKEN", "token"}});
  ASSERT_TRUE(full.has_value() && full->has_value());
  EXPECT_EQ((*full)->credentials.session_token, "token");
  EXPECT_EQ((*full)->source, "environment");
  EXPECT_FALSE((*full)->expires_at.has_value());
  const auto legacy = CredentialsFromEnvironment({{"AWS_ACCESS_KEY_ID", "AKID"},
                                                  {"AWS_SECRET_ACCESS_KEY", "s"},
                                                  {"AWS_SECURITY_TOKEN", "old"}});
  EXPECT_EQ((*legacy)->credentials.session_token, "old");
  const auto partial = CredentialsFromEnvironment({{"AWS_ACCESS_KEY_ID", "AKID"}});
  ASSERT_FALSE(partial.has_value());
  EXPECT_EQ(partial.error().slug, "aws_partial_credentials");
}

TEST(AwsCredentialSources, Profile) {
  const auto profile = LoadProfile(
      {std::nullopt, std::string("[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s\n"
                                 "aws_session_token = t\n[half]\naws_access_key_id = A\n")},
      {"dev", true});
  const auto dev = CredentialsFromProfile(profile.value());
  ASSERT_TRUE(dev.has_value() && dev->has_value());
  EXPECT_EQ((*dev)->credentials.access_key_id, "AKIDDEV");
  EXPECT_EQ((*dev)->source, "profile dev");
  const auto half =
      LoadProfile({std::nullopt, std::string("[half]\naws_access_key_id = A\n")}, {"half", true});
  EXPECT_EQ(CredentialsFromProfile(half.value()).error().slug, "aws_partial_credentials");
  EXPECT_FALSE(CredentialsFromProfile(Profile{}).value().has_value());
}

TEST(AwsCredentialSources, ContainerEndpointRules) {
  EXPECT_FALSE(ContainerEndpointFromEnvironment({}).value().has_value());
  const auto ecs = ContainerEndpointFromEnvironment(
      {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
       {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://ignored.example.com"}});
  EXPECT_EQ((*ecs)->url, "http://169.254.170.2/v2/credentials/abc");

  for (const char* allowed :
       {"https://creds.example.com/x", "http://127.0.0.1:51679/creds", "http://localhost/c",
        "http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1/credentials",
        "http://[::1]:8080/c", "http://127.9.8.7/c"}) {
    const auto endpoint =
        ContainerEndpointFromEnvironment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", allowed}});
    ASSERT_TRUE(endpoint.has_value()) << allowed;
    EXPECT_EQ((*endpoint)->url, allowed);
  }
  for (const char* refused :
       {"http://10.0.0.5/creds", "http://169.254.169.254/x", "http://example.com/c",
        "file:///etc/passwd", "http://127.0.0.1.evil/"}) {
    const auto endpoint =
        ContainerEndpointFromEnvironment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", refused}});
    ASSERT_FALSE(endpoint.has_value()) << refused;
    EXPECT_EQ(endpoint.error().slug, "aws_container_uri");
  }
  EXPECT_FALSE(
      ContainerEndpointFromEnvironment({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "no-slash"}})
          .has_value());
}

TEST(AwsCredentialSources, ContainerFetchSendsTheTokenFromTheFileFirst) {
  ScriptedTransport transport;
  transport.files["/var/run/token"] = "file-token\n";
  const std::string url = "http://169.254.170.23/v1/credentials";
  transport.Answer("GET", url, CredentialsTransport::Reply{200, kDocument});
  const ContainerEndpoint endpoint{url, "env-token", "/var/run/token"};
  const auto creds = FetchContainerCredentials(endpoint, transport);
  ASSERT_TRUE(creds.has_value()) << creds.error().message;
  EXPECT_EQ(creds->credentials.access_key_id, "ASIAEXAMPLE");
  EXPECT_EQ(creds->expires_at, At(14));
  EXPECT_EQ(creds->source, "container");
  ASSERT_EQ(transport.calls.size(), 1u);
  EXPECT_EQ(HeaderOf(transport.calls[0], "Authorization"), "file-token");

  // Without a file, the variable's token; a token that could inject a header is refused.
  EXPECT_TRUE(FetchContainerCredentials({url, "env-token", ""}, transport).has_value());
  EXPECT_EQ(HeaderOf(transport.calls.back(), "Authorization"), "env-token");
  EXPECT_EQ(FetchContainerCredentials({url, "a\r\nX-Evil: 1", ""}, transport).error().slug,
            "aws_container_token");
  EXPECT_EQ(FetchContainerCredentials({url, "", "/missing"}, transport).error().slug,
            "aws_container_token");

  ScriptedTransport failing;
  failing.Answer("GET", url, CredentialsTransport::Reply{500, "oops"});
  EXPECT_EQ(FetchContainerCredentials({url, "", ""}, failing).error().code,
            ErrorCode::kUnavailable);
}

TEST(AwsCredentialSources, CredentialsDocuments) {
  EXPECT_TRUE(ParseCredentialsDocument(kDocument, "x").has_value());
  for (std::string_view bad :
       {"", "[]", "not json", R"({"Code": "Failure", "AccessKeyId": "A", "SecretAccessKey": "S"})",
        R"({"AccessKeyId": "A"})", R"({"AccessKeyId": "A", "SecretAccessKey": "S",
            "Expiration": "tomorrow"})"}) {
    const auto parsed = ParseCredentialsDocument(bad, "container");
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().slug, "aws_credentials_document");
  }
  // Long-term keys from a document have no expiry.
  const auto forever =
      ParseCredentialsDocument(R"({"AccessKeyId": "A", "SecretAccessKey": "S"})", "x");
  ASSERT_TRUE(forever.has_value());
  EXPECT_FALSE(forever->expires_at.has_value());
}

TEST(AwsCredentialSources, ImdsSettings) {
  const auto defaults = ImdsSettingsFromEnvironment({});
  EXPECT_EQ((*defaults)->endpoint, "http://169.254.169.254");
  EXPECT_EQ((*defaults)->timeout, 1s);
  EXPECT_EQ((*defaults)->attempts, 1);
  EXPECT_FALSE(ImdsSettingsFromEnvironment({{"AWS_EC2_METADATA_DISABLED", "TRUE"}})->has_value());
  EXPECT_EQ((*ImdsSettingsFromEnvironment({{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6"}}))
                ->endpoint,
            "http://[fd00:ec2::254]");
  const auto custom =
      ImdsSettingsFromEnvironment({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/"},
                                   {"AWS_METADATA_SERVICE_TIMEOUT", "3"},
                                   {"AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2"}});
  EXPECT_EQ((*custom)->endpoint, "http://127.0.0.1:1338");
  EXPECT_EQ((*custom)->timeout, 3s);
  EXPECT_EQ((*custom)->attempts, 2);
  EXPECT_FALSE(ImdsSettingsFromEnvironment({{"AWS_METADATA_SERVICE_TIMEOUT", "0"}}).has_value());
  EXPECT_FALSE(
      ImdsSettingsFromEnvironment({{"AWS_METADATA_SERVICE_NUM_ATTEMPTS", "x"}}).has_value());
  EXPECT_FALSE(
      ImdsSettingsFromEnvironment({{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "v5"}}).has_value());
}

constexpr char kImds[] = "http://169.254.169.254/latest/";

TEST(AwsCredentialSources, ImdsV2Exchange) {
  ScriptedTransport transport;
  transport.Answer("PUT", std::string(kImds) + "api/token",
                   CredentialsTransport::Reply{200, "TOKEN"});
  transport.Answer("GET", std::string(kImds) + "meta-data/iam/security-credentials/",
                   CredentialsTransport::Reply{200, "web-role\n"});
  transport.Answer("GET", std::string(kImds) + "meta-data/iam/security-credentials/web-role",
                   CredentialsTransport::Reply{200, kDocument});
  const auto creds = FetchImdsCredentials({"http://169.254.169.254", 1s, 1}, transport);
  ASSERT_TRUE(creds.has_value()) << creds.error().message << " " << creds.error().detail;
  EXPECT_EQ(creds->source, "imds role web-role");
  EXPECT_EQ(creds->credentials.session_token, "imdstoken");
  ASSERT_EQ(transport.calls.size(), 3u);
  EXPECT_EQ(transport.calls[0].method, "PUT");
  EXPECT_EQ(HeaderOf(transport.calls[0], "x-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(HeaderOf(transport.calls[1], "x-aws-ec2-metadata-token"), "TOKEN");
  EXPECT_EQ(HeaderOf(transport.calls[2], "x-aws-ec2-metadata-token"), "TOKEN");
  EXPECT_EQ(transport.calls[2].timeout, 1s);
}

TEST(AwsCredentialSources, ImdsFailuresNameTheStepAndRetryOnlyOutages) {
  // IMDSv1 only (the token PUT refused): no fallback to unauthenticated requests.
  ScriptedTransport v1_only;
  v1_only.Answer("PUT", std::string(kImds) + "api/token", CredentialsTransport::Reply{403, ""});
  const auto refused = FetchImdsCredentials({"http://169.254.169.254", 1s, 3}, v1_only);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().slug, "aws_imds");
  EXPECT_NE(refused.error().message.find("session token"), std::string::npos);
  EXPECT_EQ(v1_only.calls.size(), 1u);  // a 403 is an answer: not retried

  ScriptedTransport flaky;
  flaky.Answer("PUT", std::string(kImds) + "api/token", CredentialsTransport::Reply{503, ""});
  flaky.Answer("PUT", std::string(kImds) + "api/token", CredentialsTransport::Reply{200, "T"});
  flaky.Answer("GET", std::string(kImds) + "meta-data/iam/security-credentials/",
               CredentialsTransport::Reply{404, ""});
  const auto no_role = FetchImdsCredentials({"http://169.254.169.254", 1s, 2}, flaky);
  ASSERT_FALSE(no_role.has_value());
  EXPECT_NE(no_role.error().message.find("role"), std::string::npos);
  EXPECT_EQ(flaky.calls.size(), 3u);  // the 503 was tried again, the 404 was not
}

TEST(AwsCredentialChain, TakesTheFirstSourceThatHasCredentials) {
  ScriptedTransport transport;
  const SharedFiles files{std::nullopt, std::string("[default]\naws_access_key_id = AKIDFILE\n"
                                                    "aws_secret_access_key = s\n")};
  const Environment env_keys = {{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", "s"}};
  EXPECT_EQ(ResolveCredentials(env_keys, files, transport)->source, "environment");
  EXPECT_EQ(ResolveCredentials({}, files, transport)->source, "profile default");
  EXPECT_TRUE(transport.calls.empty());

  transport.Answer("GET", "http://169.254.170.2/creds",
                   CredentialsTransport::Reply{200, kDocument});
  const Environment container = {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds"}};
  EXPECT_EQ(ResolveCredentials(container, {}, transport)->source, "container");

  transport.Answer("PUT", std::string(kImds) + "api/token", CredentialsTransport::Reply{200, "T"});
  transport.Answer("GET", std::string(kImds) + "meta-data/iam/security-credentials/",
                   CredentialsTransport::Reply{200, "r"});
  transport.Answer("GET", std::string(kImds) + "meta-data/iam/security-credentials/r",
                   CredentialsTransport::Reply{200, kDocument});
  EXPECT_EQ(ResolveCredentials({}, {}, transport)->source, "imds role r");
}

TEST(AwsCredentialChain, SaysWhyThereAreNone) {
  ScriptedTransport nothing_answers;
  const auto off_ec2 = ResolveCredentials({}, {}, nothing_answers);
  ASSERT_FALSE(off_ec2.has_value());
  EXPECT_EQ(off_ec2.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(off_ec2.error().slug, "aws_no_credentials");

  const auto disabled =
      ResolveCredentials({{"AWS_EC2_METADATA_DISABLED", "true"}}, {}, nothing_answers);
  EXPECT_NE(disabled.error().message.find("disabled"), std::string::npos);

  // A configured source that fails is that source's error, not "no credentials".
  const auto missing_profile = ResolveCredentials({{"AWS_PROFILE", "nope"}}, {}, nothing_answers);
  EXPECT_EQ(missing_profile.error().slug, "aws_profile_not_found");
  const auto container_down = ResolveCredentials(
      {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds"}}, {}, nothing_answers);
  EXPECT_EQ(container_down.error().code, ErrorCode::kUnavailable);
}

TEST(AwsCachingProvider, RefreshesBeforeExpiryAndRidesOutAShortOutage) {
  int calls = 0;
  std::deque<Result<SourcedCredentials>> answers;
  auto temporary = [](std::string key, std::chrono::sys_seconds expires) {
    SourcedCredentials c;
    c.credentials = {std::move(key), "s", "t"};
    c.expires_at = expires;
    c.source = "imds role r";
    return c;
  };
  answers.push_back(temporary("first", At(14)));
  answers.push_back(Fail(ErrorCode::kUnavailable, "aws_imds", "down"));
  answers.push_back(Fail(ErrorCode::kUnavailable, "aws_imds", "down"));
  answers.push_back(temporary("second", At(20)));
  CachingCredentialsProvider provider([&]() -> Result<SourcedCredentials> {
    ++calls;
    auto next = answers.front();
    answers.pop_front();
    return next;
  });

  EXPECT_EQ(provider.Get(At(9))->credentials.access_key_id, "first");
  EXPECT_EQ(provider.Get(At(13, 54))->credentials.access_key_id, "first");  // 6 minutes left
  EXPECT_EQ(calls, 1);
  // 4 minutes left: time to refresh; the source is down, and the old ones still work.
  EXPECT_EQ(provider.Get(At(13, 56))->credentials.access_key_id, "first");
  EXPECT_EQ(calls, 2);
  // 30 seconds left and still down: no credentials that might lapse mid-request.
  const auto lapsing = provider.Get(At(13, 59) + 30s);
  ASSERT_FALSE(lapsing.has_value());
  EXPECT_EQ(lapsing.error().slug, "aws_imds");
  EXPECT_EQ(provider.Get(At(14, 5))->credentials.access_key_id, "second");
  EXPECT_EQ(calls, 4);
}

TEST(AwsCachingProvider, KeepsLongTermKeysForever) {
  int calls = 0;
  CachingCredentialsProvider provider([&]() -> Result<SourcedCredentials> {
    ++calls;
    return SourcedCredentials{{"AKID", "s", ""}, std::nullopt, "environment"};
  });
  for (int hour = 0; hour < 24; ++hour) EXPECT_TRUE(provider.Get(At(hour)).has_value());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace imgup::aws
