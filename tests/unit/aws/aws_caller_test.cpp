// AwsCaller over a scripted HttpClient and a fake clock whose sleep moves it: what is signed and
// sent, which answers are retried, how long it waits (full jitter within its bounds), and when
// it gives up (attempts, total time).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "aws/http_client.hpp"
#include "codecs/sha256.hpp"

namespace imgup::aws {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

const Credentials kCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};

// Answers from a script; each Send takes `latency` of the fake clock.
class ScriptedHttp : public HttpClient {
 public:
  explicit ScriptedHttp(Clock::time_point& now) : now_(now) {}
  Result<HttpResponse> Send(const HttpRequest& request) override {
    sent.push_back(request);
    sent_at.push_back(now_);
    now_ += latency;
    if (script.empty()) return HttpResponse{200, {}, "ok"};
    auto next = script.front();
    if (script.size() > 1 || !repeat_last) script.pop_front();
    return next;
  }
  std::deque<Result<HttpResponse>> script;
  bool repeat_last = false;
  std::chrono::milliseconds latency{100};
  std::vector<HttpRequest> sent;
  std::vector<Clock::time_point> sent_at;

 private:
  Clock::time_point& now_;
};

HttpResponse Status(int status, std::string body = "") {
  return HttpResponse{status, {}, std::move(body)};
}
Result<HttpResponse> Transport(std::string slug) {
  return tl::unexpected<Error>(Error{ErrorCode::kUnavailable, slug, "down", "detail"});
}
std::string HeaderOf(const HttpRequest& request, std::string_view name) {
  for (const auto& header : request.headers) {
    if (header.name == name) return header.value;
  }
  return "<absent>";
}

class AwsCallerTest : public ::testing::Test {
 protected:
  AwsCaller Caller(RetryPolicy policy = {}) {
    return AwsCaller(
        http_,
        [this]() -> Result<Credentials> {
          ++credential_calls_;
          return kCredentials;
        },
        policy, [this] { return now_; },
        [this](std::chrono::milliseconds d) {
          sleeps_.push_back(d);
          now_ += d;
        });
  }
  static SignableRequest PutObject() {
    SignableRequest request;
    request.method = "PUT";
    request.path = "/bucket/a%20key.jpg";
    request.query = {{"x-id", "PutObject"}};
    request.headers = {{"Content-Type", "image/jpeg"}};
    request.body = "image bytes";
    return request;
  }

  Clock::time_point now_ = Clock::time_point{} + 20000 * 24h;  // 2024-10-04
  ScriptedHttp http_{now_};
  std::vector<std::chrono::milliseconds> sleeps_;
  int credential_calls_ = 0;
  const ServiceEndpoint s3_{"http://127.0.0.1:7070", "us-east-1", "s3"};
  const ServiceEndpoint dynamodb_{"https://dynamodb.eu-west-1.amazonaws.com/", "eu-west-1",
                                  "dynamodb"};
};

TEST_F(AwsCallerTest, SignsS3RequestsWithTheHostTheTimeAndThePayloadHash) {
  auto caller = Caller();
  auto response = caller.Call(s3_, PutObject());
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(AwsCaller::LastAttempts(), 1);
  ASSERT_EQ(http_.sent.size(), 1u);
  const HttpRequest& sent = http_.sent[0];
  EXPECT_EQ(sent.method, "PUT");
  EXPECT_EQ(sent.url, "http://127.0.0.1:7070/bucket/a%20key.jpg?x-id=PutObject");
  EXPECT_EQ(sent.body, "image bytes");
  EXPECT_EQ(HeaderOf(sent, "Host"), "127.0.0.1:7070");
  EXPECT_EQ(HeaderOf(sent, "Content-Type"), "image/jpeg");
  EXPECT_EQ(HeaderOf(sent, "X-Amz-Date"), "20241004T000000Z");
  EXPECT_EQ(HeaderOf(sent, "x-amz-content-sha256"), Sha256Hex("image bytes"));

  // The signature is the signer's over exactly what was sent.
  SignableRequest expected = PutObject();
  expected.headers.push_back({"Host", "127.0.0.1:7070"});
  auto signature = SignHeaders(
      expected,
      ForS3(kCredentials, "us-east-1", std::chrono::floor<std::chrono::seconds>(now_ - 100ms)));
  ASSERT_TRUE(signature);
  EXPECT_EQ(HeaderOf(sent, "Authorization"), signature->headers_to_add.back().value);
  EXPECT_NE(HeaderOf(sent, "Authorization").find("/us-east-1/s3/aws4_request"), std::string::npos);
}

TEST_F(AwsCallerTest, OtherServicesSignWithTheirRulesAndNoContentShaHeader) {
  auto caller = Caller();
  SignableRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                     {"X-Amz-Target", "DynamoDB_20120810.ListTables"}};
  request.body = "{}";
  ASSERT_TRUE(caller.Call(dynamodb_, request));
  const HttpRequest& sent = http_.sent[0];
  EXPECT_EQ(sent.url, "https://dynamodb.eu-west-1.amazonaws.com/");
  EXPECT_EQ(HeaderOf(sent, "Host"), "dynamodb.eu-west-1.amazonaws.com");
  EXPECT_EQ(HeaderOf(sent, "x-amz-content-sha256"), "<absent>");
  EXPECT_NE(HeaderOf(sent, "Authorization").find("/eu-west-1/dynamodb/aws4_request"),
            std::string::npos);
  EXPECT_NE(HeaderOf(sent, "Authorization").find("x-amz-target"), std::string::npos);
}

TEST_F(AwsCallerTest, RefusesAHostHeaderAndAnEndpointWithAPath) {
  auto caller = Caller();
  SignableRequest request = PutObject();
  request.headers.push_back({"host", "elsewhere"});
  auto with_host = caller.Call(s3_, request);
  ASSERT_FALSE(with_host);
  EXPECT_EQ(with_host.error().code, ErrorCode::kInvalidArgument);
  auto with_path = caller.Call({"http://127.0.0.1:7070/prefix", "us-east-1", "s3"}, PutObject());
  ASSERT_FALSE(with_path);
  EXPECT_EQ(with_path.error().slug, "bad_url");
  EXPECT_TRUE(http_.sent.empty());
}

TEST_F(AwsCallerTest, RetriesThrottlingAndReSignsEachAttemptWithAFreshTime) {
  http_.script = {Status(503, "<Error><Code>SlowDown</Code></Error>"),
                  Status(400, R"({"__type":"x#ProvisionedThroughputExceededException"})"),
                  Status(200, "done")};
  http_.latency = 1500ms;  // so that each attempt is in another second
  auto caller = Caller();
  auto response = caller.Call(s3_, PutObject());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "done");
  EXPECT_EQ(AwsCaller::LastAttempts(), 3);
  ASSERT_EQ(http_.sent.size(), 3u);
  EXPECT_EQ(sleeps_.size(), 2u);
  EXPECT_EQ(credential_calls_, 3);  // asked each time: credentials may have been refreshed
  std::set<std::string> dates;
  for (const auto& sent : http_.sent) dates.insert(HeaderOf(sent, "X-Amz-Date"));
  EXPECT_EQ(dates.size(), 3u);
  EXPECT_NE(HeaderOf(http_.sent[0], "Authorization"), HeaderOf(http_.sent[2], "Authorization"));
}

TEST_F(AwsCallerTest, RetriesTransportFailuresAnd429And5xx) {
  http_.script = {Transport("connection_failed"),
                  Transport("timeout"),
                  Transport("tls_error"),
                  Status(429),
                  Status(500),
                  Status(200)};
  auto caller = Caller(RetryPolicy{10, 10ms, 100ms, 10000ms});
  auto response = caller.Call(s3_, PutObject());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(AwsCaller::LastAttempts(), 6);
}

TEST_F(AwsCallerTest, DoesNotRetryClientErrors) {
  for (auto answer : {Status(404, "<Error><Code>NoSuchKey</Code></Error>"),
                      Status(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>"),
                      Status(400, R"({"__type":"x#ValidationException","message":"bad"})"),
                      Status(400, R"({"__type":"x#ConditionalCheckFailedException"})"), Status(501),
                      Status(304)}) {
    http_.sent.clear();
    sleeps_.clear();
    http_.script = {answer};
    auto caller = Caller();
    auto response = caller.Call(s3_, PutObject());
    ASSERT_TRUE(response);  // an answer, for the adapter to map
    EXPECT_EQ(response->status, answer.status);
    EXPECT_EQ(http_.sent.size(), 1u) << answer.body;
    EXPECT_TRUE(sleeps_.empty());
  }
}

TEST_F(AwsCallerTest, DoesNotRetryAnErrorThatIsNotTheTransports) {
  http_.script = {tl::unexpected<Error>(Error{ErrorCode::kInvalidArgument, "bad_url", "", ""})};
  auto caller = Caller();
  auto response = caller.Call(s3_, PutObject());
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().slug, "bad_url");
  EXPECT_EQ(http_.sent.size(), 1u);
}

TEST_F(AwsCallerTest, StopsAtMaxAttemptsAndReturnsTheLastAnswer) {
  http_.script = {Status(500, "<Error><Code>InternalError</Code></Error>")};
  http_.repeat_last = true;
  auto caller = Caller(RetryPolicy{4, 25ms, 2000ms, 60000ms});
  auto response = caller.Call(s3_, PutObject());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(http_.sent.size(), 4u);
  EXPECT_EQ(sleeps_.size(), 3u);
  EXPECT_EQ(AwsCaller::LastAttempts(), 4);
}

TEST_F(AwsCallerTest, TransportFailuresThatOutliveTheRetriesAreUnavailable) {
  http_.script = {Transport("timeout")};
  http_.repeat_last = true;
  auto caller = Caller(RetryPolicy{3, 25ms, 2000ms, 60000ms});
  auto response = caller.Call(s3_, PutObject());
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().slug, "timeout");
  EXPECT_NE(response.error().detail.find("3 attempt"), std::string::npos);
  EXPECT_EQ(http_.sent.size(), 3u);
}

TEST_F(AwsCallerTest, EachWaitIsFullJitterUnderTheCappedExponentialCeiling) {
  const RetryPolicy policy{8, 20ms, 500ms, 3600000ms};
  std::vector<std::vector<std::chrono::milliseconds>> by_retry(7);
  for (int call = 0; call < 150; ++call) {
    sleeps_.clear();
    http_.script = {Status(503)};
    http_.repeat_last = true;
    auto caller = Caller(policy);
    ASSERT_TRUE(caller.Call(s3_, PutObject()));
    ASSERT_EQ(sleeps_.size(), 7u);
    for (std::size_t n = 0; n < sleeps_.size(); ++n) by_retry[n].push_back(sleeps_[n]);
  }
  for (std::size_t n = 0; n < by_retry.size(); ++n) {
    const auto ceiling = std::min<std::chrono::milliseconds>(500ms, 20ms * (1 << n));
    const auto [low, high] = std::minmax_element(by_retry[n].begin(), by_retry[n].end());
    EXPECT_GE(low->count(), 0) << "retry " << n;
    EXPECT_LE(*high, ceiling) << "retry " << n;
    // Full jitter: spread over the whole range, not bunched at the ceiling.
    EXPECT_LT(*low, ceiling / 4) << "retry " << n;
    EXPECT_GT(*high, ceiling * 3 / 4) << "retry " << n;
  }
}

TEST_F(AwsCallerTest, NoAttemptStartsPastMaxTotal) {
  http_.script = {Status(503)};
  http_.repeat_last = true;
  http_.latency = 400ms;
  const RetryPolicy policy{1000, 300ms, 300ms, 2000ms};
  auto caller = Caller(policy);
  const auto start = now_;
  auto response = caller.Call(s3_, PutObject());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_LT(http_.sent.size(), 1000u);
  EXPECT_GE(http_.sent.size(), 4u);  // 2 s hold at least 4 attempts of 400 ms + 300 ms
  for (auto at : http_.sent_at) EXPECT_LE(at - start, 2000ms);
  EXPECT_LE(now_ - start, 2000ms + http_.latency);
}

TEST_F(AwsCallerTest, TransportFailuresThatCannotHealAreNotRetried) {
  // An untrusted certificate stays untrusted, and a name that does not exist stays missing.
  for (const char* slug : {"tls_certificate", "host_not_found"}) {
    http_.sent.clear();
    sleeps_.clear();
    http_.script = {Transport(slug), Status(200)};
    auto caller = Caller();
    auto response = caller.Call(s3_, PutObject());
    ASSERT_FALSE(response) << slug;
    EXPECT_EQ(response.error().slug, slug);
    EXPECT_EQ(http_.sent.size(), 1u) << slug;
    EXPECT_EQ(AwsCaller::LastAttempts(), 1) << slug;
    EXPECT_TRUE(sleeps_.empty()) << slug;
  }
}

HttpResponse WithRetryAfter(int status, std::string value, std::string body) {
  return HttpResponse{status, {{"retry-after", std::move(value)}}, std::move(body)};
}

TEST_F(AwsCallerTest, WaitsAtLeastWhatRetryAfterSays) {
  http_.script = {WithRetryAfter(503, "3", "<Error><Code>SlowDown</Code></Error>"),
                  WithRetryAfter(429, " 1 ", ""), Status(200, "done")};
  auto caller = Caller(RetryPolicy{5, 10ms, 50ms, 10000ms});  // backoff far below the header
  auto response = caller.Call(s3_, PutObject());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "done");
  ASSERT_EQ(sleeps_.size(), 2u);
  EXPECT_EQ(sleeps_[0], 3000ms);
  EXPECT_EQ(sleeps_[1], 1000ms);
}

TEST_F(AwsCallerTest, ARetryAfterPastTheTimeLeftEndsTheCallWithTheAnswer) {
  http_.script = {WithRetryAfter(503, "30", "<Error><Code>SlowDown</Code></Error>"),
                  Status(200, "never asked")};
  auto caller = Caller(RetryPolicy{5, 10ms, 50ms, 10000ms});
  auto response = caller.Call(s3_, PutObject());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(http_.sent.size(), 1u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(AwsCallerTest, ARetryAfterThatIsNotSecondsLeavesTheBackoffAlone) {
  http_.script = {WithRetryAfter(503, "Wed, 21 Oct 2015 07:28:00 GMT", ""),
                  WithRetryAfter(503, "-1", ""), WithRetryAfter(503, "1e3", ""), Status(200)};
  auto caller = Caller(RetryPolicy{5, 10ms, 50ms, 10000ms});
  ASSERT_TRUE(caller.Call(s3_, PutObject()));
  ASSERT_EQ(sleeps_.size(), 3u);
  for (auto slept : sleeps_) EXPECT_LE(slept, 50ms);
}

TEST_F(AwsCallerTest, ACredentialsFailureIsReturnedWithoutSending) {
  AwsCaller caller(
      http_,
      []() -> Result<Credentials> {
        return Fail(ErrorCode::kUnauthenticated, "no_credentials", "no credentials");
      },
      {}, [this] { return now_; }, [](std::chrono::milliseconds) {});
  auto response = caller.Call(s3_, PutObject());
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().slug, "no_credentials");
  EXPECT_TRUE(http_.sent.empty());
}

TEST_F(AwsCallerTest, ARequestTheSignerRefusesIsNotSent) {
  auto caller = Caller();
  SignableRequest request = PutObject();
  request.headers.push_back({"Authorization", "mine"});
  auto response = caller.Call(s3_, request);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(http_.sent.empty());
}

}  // namespace
}  // namespace imgup::aws
