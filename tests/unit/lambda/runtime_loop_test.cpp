// The runtime loop over a scripted Runtime API: answers, errors and exceptions are posted and
// the loop goes on; a failed init is posted as the init error; the trace id is exported.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <deque>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "transport/lambda/runtime_api.hpp"

namespace imgup {
namespace {

class ScriptedRuntimeApi final : public RuntimeApi {
 public:
  struct Post {
    std::string kind;  // "response", "error", "init_error"
    std::string request_id;
    std::string body;
    std::string error_type;
  };

  void Queue(std::string request_id, std::string payload, std::string trace_id = {}) {
    Invocation invocation;
    invocation.request_id = std::move(request_id);
    invocation.payload = std::move(payload);
    invocation.trace_id = std::move(trace_id);
    invocation.deadline_ms = 1'700'000'003'000;
    queue_.push_back(std::move(invocation));
  }

  Result<Invocation> Next() override {
    if (queue_.empty()) {
      return Fail(ErrorCode::kUnavailable, "runtime_api_unavailable", "no more", "script done");
    }
    Invocation next = std::move(queue_.front());
    queue_.pop_front();
    return next;
  }
  Result<void> PostResponse(std::string_view request_id, std::string_view payload) override {
    posts.push_back({"response", std::string(request_id), std::string(payload), {}});
    return PostResult();
  }
  Result<void> PostError(std::string_view request_id, const FunctionError& error) override {
    posts.push_back({"error", std::string(request_id), error.message, error.type});
    return PostResult();
  }
  Result<void> PostInitError(const FunctionError& error) override {
    posts.push_back({"init_error", {}, error.message, error.type});
    return PostResult();
  }

  std::vector<Post> posts;
  bool fail_posts = false;

 private:
  Result<void> PostResult() {
    if (fail_posts) return Fail(ErrorCode::kPayloadTooLarge, "runtime_api_payload_too_large", "x");
    return {};
  }
  std::deque<Invocation> queue_;
};

struct Logs {
  std::vector<std::string> lines;
  LogLine Sink() {
    return [this](const std::string& line) { lines.push_back(line); };
  }
};

TEST(RunRuntimeLoop, AnswersEveryInvocationAndGoesOnAfterFailures) {
  ScriptedRuntimeApi api;
  api.Queue("r1", "one");
  api.Queue("r2", "fail");
  api.Queue("r3", "throw");
  api.Queue("r4", "two");
  Logs logs;
  std::vector<std::string> seen;
  const int code = RunRuntimeLoop(
      api,
      [&](const Invocation& invocation) -> Result<std::string> {
        seen.push_back(invocation.request_id);
        if (invocation.payload == "fail") {
          return Fail(ErrorCode::kInvalidArgument, "not_an_api_gateway_event", "Not an event",
                      "no requestContext");
        }
        if (invocation.payload == "throw") throw std::runtime_error("handler blew up");
        return "answer to " + invocation.payload;
      },
      logs.Sink());
  EXPECT_EQ(code, 1);  // the Runtime API gave no more: Lambda starts a new process
  EXPECT_EQ(seen, (std::vector<std::string>{"r1", "r2", "r3", "r4"}));
  ASSERT_EQ(api.posts.size(), 4u);
  EXPECT_EQ(api.posts[0].kind, "response");
  EXPECT_EQ(api.posts[0].request_id, "r1");
  EXPECT_EQ(api.posts[0].body, "answer to one");
  EXPECT_EQ(api.posts[1].kind, "error");
  EXPECT_EQ(api.posts[1].request_id, "r2");
  EXPECT_EQ(api.posts[1].error_type, "Imgup.not_an_api_gateway_event");
  EXPECT_EQ(api.posts[1].body, "Not an event — no requestContext");
  EXPECT_EQ(api.posts[2].kind, "error");
  EXPECT_EQ(api.posts[2].error_type, "Imgup.unhandled_exception");
  EXPECT_EQ(api.posts[2].body, "handler blew up");
  EXPECT_EQ(api.posts[3].kind, "response");
  EXPECT_EQ(api.posts[3].body, "answer to two");
  // Each failure and the end are logged as JSON lines.
  ASSERT_EQ(logs.lines.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(logs.lines[0])["request_id"], "r2");
  EXPECT_EQ(nlohmann::json::parse(logs.lines[2])["level"], "error");
}

TEST(RunRuntimeLoop, APostThatFailsIsLoggedAndTheLoopGoesOn) {
  ScriptedRuntimeApi api;
  api.fail_posts = true;
  api.Queue("r1", "a");
  api.Queue("r2", "b");
  Logs logs;
  int calls = 0;
  RunRuntimeLoop(
      api, [&](const Invocation&) -> Result<std::string> { return std::to_string(++calls); },
      logs.Sink());
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(logs.lines.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(logs.lines[0])["msg"], "could not post the response");
  EXPECT_EQ(nlohmann::json::parse(logs.lines[0])["error"], "runtime_api_payload_too_large");
}

TEST(RunRuntimeLoop, ExportsEachInvocationsTraceId) {
  ScriptedRuntimeApi api;
  api.Queue("r1", "a",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
  api.Queue("r2", "b");
  std::vector<std::string> traces;
  RunRuntimeLoop(
      api,
      [&](const Invocation&) -> Result<std::string> {
        const char* trace = getenv("_X_AMZN_TRACE_ID");
        traces.push_back(trace == nullptr ? "(unset)" : trace);
        return "";
      },
      [](const std::string&) {});
  EXPECT_EQ(traces,
            (std::vector<std::string>{
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                "(unset)"}));
}

TEST(RunFunction, AFailedInitPostsTheInitErrorAndServesNothing) {
  ScriptedRuntimeApi api;
  api.Queue("r1", "a");
  Logs logs;
  const int code = RunFunction(
      api,
      []() -> Result<InvocationHandler> {
        return Fail(ErrorCode::kUnavailable, "storage_unavailable", "cannot open the store",
                    "EACCES");
      },
      logs.Sink());
  EXPECT_EQ(code, 1);
  ASSERT_EQ(api.posts.size(), 1u);
  EXPECT_EQ(api.posts[0].kind, "init_error");
  EXPECT_EQ(api.posts[0].error_type, "Imgup.storage_unavailable");
  EXPECT_EQ(api.posts[0].body, "cannot open the store — EACCES");
  ASSERT_EQ(logs.lines.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(logs.lines[0])["msg"], "init failed");
}

TEST(RunFunction, AnInitThatThrowsPostsTheInitError) {
  ScriptedRuntimeApi api;
  const int code = RunFunction(
      api, []() -> Result<InvocationHandler> { throw std::runtime_error("bad config"); },
      [](const std::string&) {});
  EXPECT_EQ(code, 1);
  ASSERT_EQ(api.posts.size(), 1u);
  EXPECT_EQ(api.posts[0].kind, "init_error");
  EXPECT_EQ(api.posts[0].body, "bad config");
}

TEST(RunFunction, ASuccessfulInitServesInvocations) {
  ScriptedRuntimeApi api;
  api.Queue("r1", "a");
  RunFunction(
      api,
      []() -> Result<InvocationHandler> {
        return InvocationHandler(
            [](const Invocation& invocation) -> Result<std::string> { return invocation.payload; });
      },
      [](const std::string&) {});
  ASSERT_EQ(api.posts.size(), 1u);
  EXPECT_EQ(api.posts[0].kind, "response");
  EXPECT_EQ(api.posts[0].body, "a");
}

TEST(FunctionErrorJson, IsTheRuntimeApisErrorDocument) {
  const auto document =
      nlohmann::json::parse(FunctionErrorJson(FunctionError{"Imgup.x", "it \"broke\""}));
  EXPECT_EQ(document["errorType"], "Imgup.x");
  EXPECT_EQ(document["errorMessage"], "it \"broke\"");
  EXPECT_EQ(document["stackTrace"], nlohmann::json::array());
}

}  // namespace
}  // namespace imgup
