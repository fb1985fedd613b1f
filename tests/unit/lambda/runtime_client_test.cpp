// BeastRuntimeClient on the wire, against a Runtime API played by a small Beast server on a
// loopback port picked by the kernel: the documented paths, headers and bodies, the status
// codes, and connections that the API closes.
#include "transport/lambda/runtime_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace imgup {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct Seen {
  std::string method;
  std::string target;
  std::string host;
  std::string content_type;
  std::string error_type;
  std::string body;
};

struct Reply {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = true;
  bool drop_after = false;  // closes the connection after answering, without saying so
};

/// One connection at a time, as the Runtime API has one client.
class FakeRuntimeApi {
 public:
  explicit FakeRuntimeApi(std::function<Reply(const Seen&)> reply) : reply_(std::move(reply)) {
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeRuntimeApi() {
    stopping_ = true;
    // Wakes the blocking accept.
    asio::io_context ioc;
    tcp::socket poke(ioc);
    beast::error_code ec;
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
  }

  std::string Endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<Seen> Requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }
  int Connections() const { return connections_.load(); }

 private:
  void Serve() {
    while (!stopping_) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++connections_;
      beast::flat_buffer buffer;
      for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(64 << 20);
        bhttp::read(socket, buffer, parser, ec);
        if (ec) break;
        const auto& request = parser.get();
        Seen seen{std::string(request.method_string()),
                  std::string(request.target()),
                  std::string(request[bhttp::field::host]),
                  std::string(request[bhttp::field::content_type]),
                  std::string(request["Lambda-Runtime-Function-Error-Type"]),
                  request.body()};
        {
          std::lock_guard<std::mutex> lock(mutex_);
          seen_.push_back(seen);
        }
        const Reply reply = reply_(seen);
        bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(reply.status), 11};
        for (const auto& [name, value] : reply.headers) response.set(name, value);
        response.body() = reply.body;
        response.keep_alive(reply.keep_alive);
        response.prepare_payload();
        bhttp::write(socket, response, ec);
        if (ec || !reply.keep_alive || reply.drop_after) break;
      }
      socket.close(ec);
    }
  }

  std::function<Reply(const Seen&)> reply_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  unsigned short port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::vector<Seen> seen_;
};

Reply AnInvocation(std::string id, std::string payload) {
  Reply reply;
  reply.headers = {
      {"Content-Type", "application/json"},
      {"Lambda-Runtime-Aws-Request-Id", std::move(id)},
      {"Lambda-Runtime-Deadline-Ms", "1796201453801"},
      {"Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:012345678912:function:api"},
      {"Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}};
  reply.body = std::move(payload);
  return reply;
}

Reply Accepted() {
  Reply reply;
  reply.status = 202;
  reply.body = R"({"status":"OK"})";
  return reply;
}

/// The Runtime API's usual answers: an invocation for next, 202 for posts.
Reply Usual(const Seen& seen) {
  if (seen.method == "GET") return AnInvocation("8d16eb59-98a9", R"({"version":"2.0"})");
  return Accepted();
}

std::unique_ptr<BeastRuntimeClient> Client(const FakeRuntimeApi& api) {
  auto client = BeastRuntimeClient::Create(api.Endpoint());
  EXPECT_TRUE(client) << client.error().detail;
  return std::move(*client);
}

TEST(BeastRuntimeClient, NextGetsTheInvocationAndItsHeaders) {
  FakeRuntimeApi api(Usual);
  auto client = Client(api);
  auto invocation = client->Next();
  ASSERT_TRUE(invocation) << invocation.error().detail;
  EXPECT_EQ(invocation->request_id, "8d16eb59-98a9");
  EXPECT_EQ(invocation->deadline_ms, 1796201453801);
  EXPECT_EQ(invocation->function_arn, "arn:aws:lambda:us-east-1:012345678912:function:api");
  EXPECT_EQ(invocation->trace_id, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
  EXPECT_EQ(invocation->payload, R"({"version":"2.0"})");
  const auto requests = api.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/2018-06-01/runtime/invocation/next");
  EXPECT_EQ(requests[0].host, api.Endpoint());
}

TEST(BeastRuntimeClient, PostsGoToTheDocumentedPaths) {
  FakeRuntimeApi api(Usual);
  auto client = Client(api);
  ASSERT_TRUE(client->PostResponse("id-1", R"({"statusCode":200})"));
  ASSERT_TRUE(client->PostError("id-2", FunctionError{"Imgup.not_an_api_gateway_event", "no"}));
  ASSERT_TRUE(client->PostInitError(FunctionError{"Imgup.storage_unavailable", "cannot open"}));
  const auto requests = api.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/2018-06-01/runtime/invocation/id-1/response");
  EXPECT_EQ(requests[0].body, R"({"statusCode":200})");
  EXPECT_EQ(requests[0].error_type, "");
  EXPECT_EQ(requests[1].target, "/2018-06-01/runtime/invocation/id-2/error");
  EXPECT_EQ(requests[1].error_type, "Imgup.not_an_api_gateway_event");
  EXPECT_EQ(requests[1].content_type, "application/json");
  const auto error = nlohmann::json::parse(requests[1].body);
  EXPECT_EQ(error["errorType"], "Imgup.not_an_api_gateway_event");
  EXPECT_EQ(error["errorMessage"], "no");
  EXPECT_EQ(requests[2].target, "/2018-06-01/runtime/init/error");
  EXPECT_EQ(requests[2].error_type, "Imgup.storage_unavailable");
  EXPECT_EQ(nlohmann::json::parse(requests[2].body)["errorMessage"], "cannot open");
  // All on one kept-alive connection.
  EXPECT_EQ(api.Connections(), 1);
}

TEST(BeastRuntimeClient, ALargeResponseGoesWhole) {
  FakeRuntimeApi api(Usual);
  auto client = Client(api);
  const std::string big(5 << 20, 'x');
  auto posted = client->PostResponse("id", big);
  ASSERT_TRUE(posted) << posted.error().detail;
  EXPECT_EQ(api.Requests().at(0).body.size(), big.size());
}

TEST(BeastRuntimeClient, RefusalsBecomeErrors) {
  FakeRuntimeApi api([](const Seen& seen) {
    Reply reply;
    if (seen.target.find("/next") != std::string::npos) {
      reply.status = 500;  // "Container error. Non-recoverable state."
    } else if (seen.target.find("big") != std::string::npos) {
      reply.status = 413;
    } else {
      reply.status = 400;
      reply.body = R"({"errorType":"InvalidStateTransition"})";
    }
    return reply;
  });
  auto client = Client(api);
  auto next = client->Next();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, ErrorCode::kUnavailable);
  auto too_big = client->PostResponse("big", "x");
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, ErrorCode::kPayloadTooLarge);
  auto refused = client->PostResponse("twice", "x");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().detail.find("InvalidStateTransition"), std::string::npos);
}

TEST(BeastRuntimeClient, AnInvocationWithoutARequestIdIsAnError) {
  FakeRuntimeApi api([](const Seen&) { return Reply{}; });
  auto client = Client(api);
  auto next = client->Next();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, ErrorCode::kUnavailable);
}

TEST(BeastRuntimeClient, ConnectionCloseMeansANewConnectionForTheNextCall) {
  // aws-lambda-rie answers with "Connection: close".
  FakeRuntimeApi api([](const Seen& seen) {
    Reply reply = Usual(seen);
    reply.keep_alive = false;
    return reply;
  });
  auto client = Client(api);
  ASSERT_TRUE(client->Next());
  ASSERT_TRUE(client->PostResponse("8d16eb59-98a9", "{}"));
  ASSERT_TRUE(client->Next());
  EXPECT_EQ(api.Requests().size(), 3u);
  EXPECT_EQ(api.Connections(), 3);
}

TEST(BeastRuntimeClient, AKeptAliveConnectionTheApiDroppedIsReplacedOnce) {
  FakeRuntimeApi api([](const Seen& seen) {
    Reply reply = Usual(seen);
    reply.drop_after = true;  // says keep-alive, then closes
    return reply;
  });
  auto client = Client(api);
  ASSERT_TRUE(client->Next());
  auto posted = client->PostResponse("8d16eb59-98a9", "{}");
  ASSERT_TRUE(posted) << posted.error().detail;
  ASSERT_TRUE(client->Next());
  EXPECT_EQ(api.Requests().size(), 3u);
  EXPECT_EQ(api.Connections(), 3);
}

TEST(BeastRuntimeClient, NoApiListeningIsUnavailable) {
  std::string endpoint;
  {
    FakeRuntimeApi api(Usual);
    endpoint = api.Endpoint();
  }
  auto client = BeastRuntimeClient::Create(endpoint);
  ASSERT_TRUE(client);
  auto next = (*client)->Next();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, ErrorCode::kUnavailable);
}

TEST(BeastRuntimeClient, TheEndpointMustBeHostAndPort) {
  for (const char* endpoint : {"", "127.0.0.1", ":9001", "127.0.0.1:"}) {
    auto client = BeastRuntimeClient::Create(endpoint);
    ASSERT_FALSE(client) << endpoint;
    EXPECT_EQ(client.error().slug, "invalid_runtime_api");
  }
}

}  // namespace
}  // namespace imgup
