// The HTTP client against a server no one here wrote: Python's http.server (http_peer.py), over
// plain TCP and over TLS with a certificate made for the test by the openssl command.
#include "aws/http_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "aws/child_process.hpp"
#include "codecs/sha256.hpp"
#include "fakes/temp_dir.hpp"
#include "support/test_paths.hpp"

namespace imgup::aws {
namespace {

using namespace std::chrono_literals;
using imgup::testing::ChildProcess;
using json = nlohmann::json;

// One peer process per suite: http_peer.py [--tls CERT KEY], its port read from its stdout.
struct Peer {
  explicit Peer(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{IMGUP_PYTHON3, test::HttpPeerScript()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<ChildProcess>(argv);
    auto line = process->ReadLine();
    if (!line) throw std::runtime_error("http_peer.py did not print its port");
    port = std::stoi(*line);
  }
  std::unique_ptr<ChildProcess> process;
  int port = 0;
};

HttpRequest Get(std::string url) { return HttpRequest{"GET", std::move(url), {}, {}}; }

json Stats(HttpClient& client, const std::string& base) {
  auto response = client.Send(Get(base + "/stats"));
  if (!response || response->status != 200) return json::object();
  return json::parse(response->body);
}

class HttpClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { peer_ = new Peer(); }
  static void TearDownTestSuite() {
    delete peer_;
    peer_ = nullptr;
  }
  // Each test counts connections from where the peer is when it starts.
  void SetUp() override {
    ASSERT_NE(peer_, nullptr);
    base_ = "http://127.0.0.1:" + std::to_string(peer_->port);
    auto fresh = MakeHttpClient();
    connections_before_ = Stats(*fresh, base_).value("connections", -1);
    ASSERT_GE(connections_before_, 1);
  }
  // Connections the peer accepted since SetUp (SetUp's own one excluded).
  int NewConnections() {
    auto fresh = MakeHttpClient();
    return Stats(*fresh, base_).value("connections", -1) - connections_before_ - 1;
  }

  static Peer* peer_;
  std::string base_;
  int connections_before_ = 0;
};
Peer* HttpClientTest::peer_ = nullptr;

TEST_F(HttpClientTest, SendsTheRequestAsGivenAndReadsTheAnswer) {
  auto client = MakeHttpClient();
  HttpRequest request{"PUT",
                      base_ + "/echo?a=1&b=x%20y",
                      {{"X-Custom", "value"}, {"Content-Length", "999"}, {"Connection", "close"}},
                      "hello"};
  auto response = client->Send(request);
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"), "application/json");
  EXPECT_EQ(response->Header("Content-Type"), "");  // names are lower-cased
  auto echo = json::parse(response->body);
  EXPECT_EQ(echo["method"], "PUT");
  EXPECT_EQ(echo["path"], "/echo?a=1&b=x%20y");
  EXPECT_EQ(echo["body"], "hello");
  std::map<std::string, std::string> headers;
  for (const auto& pair : echo["headers"]) headers[pair[0]] = pair[1];
  EXPECT_EQ(headers["X-Custom"], "value");
  EXPECT_EQ(headers["Host"], "127.0.0.1:" + std::to_string(peer_->port));
  EXPECT_EQ(headers["Content-Length"], "5");  // the client's, not the caller's
  EXPECT_EQ(headers.count("Connection"), 0u);
}

TEST_F(HttpClientTest, SendsTheGivenHostHeaderAsIs) {
  auto client = MakeHttpClient();
  HttpRequest request{"GET", base_ + "/echo", {{"Host", "bucket.example:1234"}}, ""};
  auto response = client->Send(request);
  ASSERT_TRUE(response) << response.error().detail;
  auto echo = json::parse(response->body);
  int hosts = 0;
  for (const auto& pair : echo["headers"]) {
    if (pair[0] == "Host") {
      ++hosts;
      EXPECT_EQ(pair[1], "bucket.example:1234");
    }
  }
  EXPECT_EQ(hosts, 1);
}

TEST_F(HttpClientTest, CarriesBinaryBodiesOfMegabytesBothWays) {
  auto client = MakeHttpClient();
  std::string body(3 * 1024 * 1024 + 7, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 131) % 256);
  auto response = client->Send({"POST", base_ + "/echo", {}, body});
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(json::parse(response->body)["body_sha256"], Sha256Hex(body));

  auto big = client->Send(Get(base_ + "/big?bytes=5000000"));
  ASSERT_TRUE(big) << big.error().detail;
  EXPECT_EQ(big->body.size(), 5000000u);
  EXPECT_EQ(big->body, std::string(5000000, 'x'));
}

TEST_F(HttpClientTest, ReusesOneConnectionForSequentialRequests) {
  auto client = MakeHttpClient();
  for (int i = 0; i < 5; ++i) {
    auto response = client->Send(Get(base_ + "/echo"));
    ASSERT_TRUE(response) << response.error().detail;
  }
  EXPECT_EQ(NewConnections(), 1);
}

TEST_F(HttpClientTest, ReadsChunkedAnswersAndKeepsTheConnection) {
  auto client = MakeHttpClient();
  auto response = client->Send(Get(base_ + "/chunked?parts=4"));
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("transfer-encoding"), "chunked");
  EXPECT_EQ(response->body, "part-0\npart-1\npart-2\npart-3\n");
  ASSERT_TRUE(client->Send(Get(base_ + "/echo")));
  EXPECT_EQ(NewConnections(), 1);
}

TEST_F(HttpClientTest, HeadReadsNoBodyAndTheConnectionStaysInStep) {
  auto client = MakeHttpClient();
  auto head = client->Send({"HEAD", base_ + "/big?bytes=1234", {}, ""});
  ASSERT_TRUE(head) << head.error().detail;
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), "1234");
  EXPECT_EQ(head->body, "");
  auto next = client->Send(Get(base_ + "/chunked?parts=1"));
  ASSERT_TRUE(next) << next.error().detail;
  EXPECT_EQ(next->body, "part-0\n");
  EXPECT_EQ(NewConnections(), 1);
}

TEST_F(HttpClientTest, ReadsAnAnswerEndedByClosingAndDoesNotReuseItsConnection) {
  auto client = MakeHttpClient();
  auto response = client->Send(Get(base_ + "/eof"));
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->body, "until the end");
  ASSERT_TRUE(client->Send(Get(base_ + "/echo")));
  EXPECT_EQ(NewConnections(), 2);
}

TEST_F(HttpClientTest, ReturnsErrorStatusesAsResponses) {
  auto client = MakeHttpClient();
  auto response = client->Send(Get(base_ + "/status?code=503&body=SlowDown"));
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "SlowDown");
}

TEST_F(HttpClientTest, TimesOutASlowAnswerAndRecovers) {
  HttpClientOptions options;
  options.request_timeout = 300ms;
  auto client = MakeHttpClient(options);
  const auto start = std::chrono::steady_clock::now();
  auto response = client->Send(Get(base_ + "/slow?ms=3000"));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().slug, "timeout");
  EXPECT_LT(took, 2s);
  EXPECT_GE(took, 250ms);
  // The timed-out connection is not reused: the next answer is this one's, not the slow one's.
  auto next = client->Send(Get(base_ + "/echo"));
  ASSERT_TRUE(next) << next.error().detail;
  EXPECT_EQ(json::parse(next->body)["method"], "GET");
}

TEST_F(HttpClientTest, AConnectionTheServerClosedWhileIdleIsReplacedBeforeUse) {
  auto client = MakeHttpClient();
  auto first = client->Send(Get(base_ + "/close-idle"));
  ASSERT_TRUE(first) << first.error().detail;
  std::this_thread::sleep_for(50ms);  // the server's FIN arrives
  auto second = client->Send({"POST", base_ + "/echo", {}, "once"});
  ASSERT_TRUE(second) << second.error().detail;
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(NewConnections(), 2);
}

TEST_F(HttpClientTest, AnIdempotentRequestOnAConnectionDroppedUnderItIsSentOnceMore) {
  auto client = MakeHttpClient();
  ASSERT_TRUE(client->Send(Get(base_ + "/drop-next")));
  // The server reads this request on the kept-alive connection and closes it unanswered.
  auto response = client->Send({"PUT", base_ + "/echo", {}, "again"});
  ASSERT_TRUE(response) << response.error().detail;
  auto echo = json::parse(response->body);
  EXPECT_EQ(echo["method"], "PUT");
  EXPECT_EQ(echo["body"], "again");
  EXPECT_EQ(NewConnections(), 2);
}

TEST_F(HttpClientTest, APostOnAConnectionDroppedUnderItIsNotRepeated) {
  auto client = MakeHttpClient();
  ASSERT_TRUE(client->Send(Get(base_ + "/drop-next")));
  auto before = Stats(*MakeHttpClient(), base_)["requests"].get<int>();
  auto response = client->Send({"POST", base_ + "/echo", {}, "not twice"});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().slug, "connection_failed");
  // The stats request itself, and the POST once.
  EXPECT_EQ(Stats(*MakeHttpClient(), base_)["requests"].get<int>(), before + 2);
}

TEST_F(HttpClientTest, ANonHttpAnswerIsAConnectionFailure) {
  auto client = MakeHttpClient();
  auto response = client->Send(Get(base_ + "/garbage"));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().slug, "connection_failed");
}

TEST_F(HttpClientTest, AnAnswerOverTheBodyLimitIsRefused) {
  HttpClientOptions options;
  options.max_response_body = 1000;
  auto client = MakeHttpClient(options);
  ASSERT_TRUE(client->Send(Get(base_ + "/big?bytes=1000")));
  auto response = client->Send(Get(base_ + "/big?bytes=1001"));
  ASSERT_FALSE(response) << response->status << " " << response->body.size();
  EXPECT_EQ(response.error().slug, "response_too_large");
  auto chunked = client->Send(Get(base_ + "/chunked?parts=200"));  // 1400 bytes
  ASSERT_FALSE(chunked);
  EXPECT_EQ(chunked.error().slug, "response_too_large");
}

TEST_F(HttpClientTest, KeepsAtMostMaxIdlePerHostConnections) {
  HttpClientOptions options;
  options.max_idle_per_host = 1;
  auto client = MakeHttpClient(options);
  // Three at once need three connections; only one of them is kept.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      if (auto r = client->Send(Get(base_ + "/slow?ms=300")); r && r->status == 200) ++ok;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(NewConnections(), 3);
  connections_before_ += 4;  // the three and NewConnections' own
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Send(Get(base_ + "/echo")));
  EXPECT_EQ(NewConnections(), 0);
}

TEST_F(HttpClientTest, WithNoIdleConnectionsEveryRequestConnectsAnew) {
  HttpClientOptions options;
  options.max_idle_per_host = 0;
  auto client = MakeHttpClient(options);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Send(Get(base_ + "/echo")));
  EXPECT_EQ(NewConnections(), 3);
}

TEST_F(HttpClientTest, IsSafeToShareBetweenThreads) {
  HttpClientOptions options;
  options.max_idle_per_host = 4;
  auto client = MakeHttpClient(options);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string body = std::to_string(t) + "-" + std::to_string(i);
        auto r = client->Send({"POST", base_ + "/echo", {}, body});
        if (r && r->status == 200 && json::parse(r->body)["body"] == body) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_LE(NewConnections(), 4);
}

TEST(HttpClient, RefusesWhatIsNotAnHttpUrl) {
  auto client = MakeHttpClient();
  for (const char* url :
       {"ftp://127.0.0.1/x", "127.0.0.1/x", "http:///x", "http://h:0/", "http://h:99999/",
        "http://h:12a/", "http://user@h/", "http://h/a b", "http://[::1/"}) {
    auto response = client->Send(Get(url));
    ASSERT_FALSE(response) << url;
    EXPECT_EQ(response.error().code, ErrorCode::kInvalidArgument) << url;
    EXPECT_EQ(response.error().slug, "bad_url") << url;
  }
}

TEST(HttpClient, RefusesHeadersThatWouldSplitTheRequest) {
  auto client = MakeHttpClient();
  const std::string url = "http://127.0.0.1:9/";  // never reached
  for (HttpHeader header : std::vector<HttpHeader>{{"X-Meta", "a\r\nX-Injected: 1"},
                                                   {"X-Meta", "a\nb"},
                                                   {"Bad Name", "v"},
                                                   {"", "v"},
                                                   {"X:Colon", "v"}}) {
    auto response = client->Send({"GET", url, {header}, ""});
    ASSERT_FALSE(response) << header.name;
    EXPECT_EQ(response.error().slug, "bad_header") << header.name;
  }
  auto method = client->Send({"GET /x HTTP/1.1\r\n", url, {}, ""});
  ASSERT_FALSE(method);
  EXPECT_EQ(method.error().code, ErrorCode::kInvalidArgument);
}

// A port nothing listens on: bound, then closed.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

TEST(HttpClient, ARefusedConnectionIsAConnectionFailure) {
  auto client = MakeHttpClient();
  auto response = client->Send(Get("http://127.0.0.1:" + std::to_string(ClosedPort()) + "/"));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().slug, "connection_failed");
}

// RFC 6761: names under .invalid never resolve. The name does not exist, so it is not retried
// (a resolver that cannot be reached answers EAI_AGAIN instead, which is).
TEST(HttpClient, AHostNameThatDoesNotExistIsNotRetried) {
  auto client = MakeHttpClient();
  AwsCaller caller(*client, []() -> Result<Credentials> {
    return Credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  });
  SignableRequest request;
  request.method = "GET";
  request.path = "/";
  auto response = caller.Call({"http://imgup-test.invalid:9", "us-east-1", "s3"}, request);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().slug, "host_not_found") << response.error().detail;
  EXPECT_EQ(AwsCaller::LastAttempts(), 1);
}

TEST(HttpClient, AConnectThatHangsTimesOut) {
  // A listener whose accept queue is full: Linux drops further SYNs, so connect() hangs.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  socklen_t size = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size);
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);

  HttpClientOptions options;
  options.connect_timeout = 300ms;
  auto client = MakeHttpClient(options);
  const auto start = std::chrono::steady_clock::now();
  auto response =
      client->Send(Get("http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/"));
  const auto took = std::chrono::steady_clock::now() - start;
  for (int fd : fillers) ::close(fd);
  ::close(listener);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().slug, "timeout") << response.error().detail;
  EXPECT_LT(took, 2s);
}

// ---------------------------------------------------------------------------------------------
// TLS: a throwaway self-signed certificate for "localhost" only (no IP address in it).

class HttpsClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    cert_ = (dir_->path() / "cert.pem").string();
    const std::string key = (dir_->path() / "key.pem").string();
    const std::string command =
        std::string(IMGUP_OPENSSL) +
        " req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout '" +
        key + "' -out '" + cert_ + "' 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    peer_ = new Peer({"--tls", cert_, key});
  }
  static void TearDownTestSuite() {
    delete peer_;
    delete dir_;
    peer_ = nullptr;
    dir_ = nullptr;
  }
  std::string Url(const std::string& host, const std::string& path) const {
    return "https://" + host + ":" + std::to_string(peer_->port) + path;
  }
  static HttpClientOptions Trusting() {
    HttpClientOptions options;
    options.ca_file = cert_;
    return options;
  }

  static TempDir* dir_;
  static std::string cert_;
  static Peer* peer_;
};
TempDir* HttpsClientTest::dir_ = nullptr;
std::string HttpsClientTest::cert_;
Peer* HttpsClientTest::peer_ = nullptr;

TEST_F(HttpsClientTest, VerifiesTheCertificateAndSendsTheHostNameAsSni) {
  auto client = MakeHttpClient(Trusting());
  auto response = client->Send({"POST", Url("localhost", "/echo"), {}, "over tls"});
  ASSERT_TRUE(response) << response.error().detail;
  auto echo = json::parse(response->body);
  EXPECT_EQ(echo["sni"], "localhost");
  EXPECT_EQ(echo["body"], "over tls");
}

TEST_F(HttpsClientTest, ReusesTheTlsConnectionAndReadsChunkedAnswers) {
  auto client = MakeHttpClient(Trusting());
  std::vector<int> connections;
  for (int i = 0; i < 3; ++i) {
    auto response = client->Send(Get(Url("localhost", "/echo")));
    ASSERT_TRUE(response) << response.error().detail;
    connections.push_back(json::parse(response->body)["connection"].get<int>());
  }
  EXPECT_EQ(connections[0], connections[1]);
  EXPECT_EQ(connections[1], connections[2]);
  auto chunked = client->Send(Get(Url("localhost", "/chunked?parts=2")));
  ASSERT_TRUE(chunked) << chunked.error().detail;
  EXPECT_EQ(chunked->body, "part-0\npart-1\n");
}

TEST_F(HttpsClientTest, ReplacesATlsConnectionTheServerClosed) {
  auto client = MakeHttpClient(Trusting());
  ASSERT_TRUE(client->Send(Get(Url("localhost", "/close-idle"))));
  std::this_thread::sleep_for(50ms);
  auto response = client->Send(Get(Url("localhost", "/echo")));
  ASSERT_TRUE(response) << response.error().detail;
  ASSERT_TRUE(client->Send(Get(Url("localhost", "/drop-next"))));
  auto dropped = client->Send(Get(Url("localhost", "/echo")));
  ASSERT_TRUE(dropped) << dropped.error().detail;
}

TEST_F(HttpsClientTest, ThreadsThatConnectAtOnceShareOneTrustStore) {
  // The trust store loads at the first TLS connection: several first connections at once.
  auto client = MakeHttpClient(Trusting());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (auto r = client->Send(Get(Url("localhost", "/echo"))); r && r->status == 200) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 20);
}

TEST_F(HttpsClientTest, RefusesACertificateThatDoesNotNameTheHost) {
  auto client = MakeHttpClient(Trusting());
  auto response = client->Send(Get(Url("127.0.0.1", "/echo")));  // the cert names localhost only
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().slug, "tls_certificate");
  EXPECT_NE(response.error().detail.find("mismatch"), std::string::npos) << response.error().detail;
}

TEST_F(HttpsClientTest, RefusesACertificateTheTrustStoreDoesNotKnow) {
  auto client = MakeHttpClient();  // the system's trust store
  auto response = client->Send(Get(Url("localhost", "/echo")));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().slug, "tls_certificate");
  EXPECT_NE(response.error().detail.find("self"), std::string::npos) << response.error().detail;
}

TEST_F(HttpsClientTest, AMissingCaFileFailsEveryHandshakeClearly) {
  HttpClientOptions options;
  options.ca_file = (dir_->path() / "missing.pem").string();
  auto client = MakeHttpClient(options);
  auto response = client->Send(Get(Url("localhost", "/echo")));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().slug, "tls_certificate");
  EXPECT_NE(response.error().detail.find("trust store"), std::string::npos);
}

// AWS's SDKs retry a failed connection; a certificate that is not trusted fails the same way every
// time, so AwsCaller tries once and says why (it used to retry for its whole 10 s).
TEST_F(HttpsClientTest, AnUntrustedCertificateIsNotRetried) {
  auto client = MakeHttpClient();  // the system's trust store: the test's certificate is not in it
  AwsCaller caller(*client, []() -> Result<Credentials> {
    return Credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  });
  SignableRequest request;
  request.method = "GET";
  request.path = "/bucket/key";
  auto response = caller.Call({Url("localhost", ""), "us-east-1", "s3"}, request);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().slug, "tls_certificate");
  EXPECT_NE(response.error().detail.find("self-signed certificate"), std::string::npos)
      << response.error().detail;
  EXPECT_EQ(AwsCaller::LastAttempts(), 1);
  EXPECT_FALSE(IsTransientTransportError(response.error()));
}

TEST_F(HttpsClientTest, WithoutVerificationAnyCertificateIsAccepted) {
  HttpClientOptions options;
  options.verify_tls = false;
  auto client = MakeHttpClient(options);
  auto response = client->Send(Get(Url("127.0.0.1", "/echo")));
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 200);
}

}  // namespace
}  // namespace imgup::aws
