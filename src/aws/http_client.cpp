#include "aws/http_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>

#include "aws/xml.hpp"
#include "codecs/sha256.hpp"

namespace imgup::aws {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using ErrorCodeT = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

std::string_view HttpResponse::Header(std::string_view lower_name) const {
  for (const auto& header : headers) {
    if (header.name == lower_name) return header.value;
  }
  return {};
}

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IEquals(std::string_view a, std::string_view b) { return Lower(a) == Lower(b); }

// ---------------------------------------------------------------------------------------------
// URLs

struct Url {
  bool https = false;
  std::string host;  // without brackets: "127.0.0.1", "::1", "s3.amazonaws.com"
  std::string port;  // always set: "80", "443" or the URL's
  bool default_port = true;
  std::string target;  // "/path?query", "/" when the URL has no path
  std::string HostHeader() const {
    std::string value = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return default_port ? value : value + ":" + port;
  }
  std::string PoolKey() const { return (https ? "https://" : "http://") + host + "|" + port; }
};

std::optional<Url> ParseUrl(std::string_view text) {
  Url url;
  if (text.starts_with("https://")) {
    url.https = true;
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    text.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  auto path_start = text.find_first_of("/?");
  std::string_view authority = text.substr(0, path_start);
  url.target = path_start == std::string_view::npos ? "/" : std::string(text.substr(path_start));
  if (url.target.starts_with('?')) url.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no userinfo
  std::string_view port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (url.host.find(':') != std::string::npos) return std::nullopt;
  }
  if (url.host.empty()) return std::nullopt;
  for (char c : url.target) {
    // The target is sent as it is: it must already be percent-encoded.
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#') return std::nullopt;
  }
  if (port.empty()) {
    url.port = url.https ? "443" : "80";
    return url;
  }
  if (port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int number = std::stoi(std::string(port));
  if (number < 1 || number > 65535) return std::nullopt;
  url.port = std::to_string(number);
  url.default_port = number == (url.https ? 443 : 80);
  return url;
}

bool IsIpLiteral(const std::string& host) {
  ErrorCodeT ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// ---------------------------------------------------------------------------------------------
// Connections

// One kept-alive connection. Each owns an io_context, so that the one thread using it can run
// its asynchronous operations (which is how Beast puts a deadline on them) to completion.
struct Connection {
  explicit Connection(std::string key_in) : key(std::move(key_in)) {}

  tcp::socket& Socket() { return tls ? beast::get_lowest_layer(*tls).socket() : plain->socket(); }
  void Close() {
    ErrorCodeT ignored;
    Socket().shutdown(tcp::socket::shutdown_both, ignored);
    Socket().close(ignored);
  }

  // Whether a connection that sat idle in the pool can carry another request: a server that
  // closed it (FIN, reset) or sent anything unasked (a TLS close_notify) leaves it readable.
  bool LooksAlive() {
    if (!Socket().is_open()) return false;
    char byte = 0;
    ssize_t got = ::recv(Socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  const std::string key;
  asio::io_context ioc{1};
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since{};
  bool reused = false;
};

// Runs the connection's io_context until the one operation started on it has completed.
void RunToCompletion(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

Error Unavailable(std::string slug, std::string message, std::string detail) {
  return Error{ErrorCode::kUnavailable, std::move(slug), std::move(message), std::move(detail)};
}

Error TransportError(const ErrorCodeT& ec, std::string_view during, const Url& url) {
  std::string where = url.HostHeader() + ": " + std::string(during) + ": " + ec.message();
  if (ec == beast::error::timeout) {
    return Unavailable("timeout", "the storage endpoint did not answer in time", where);
  }
  return Unavailable("connection_failed", "cannot reach the storage endpoint", where);
}

// RFC 9110's token: what a method or a header name may be.
bool IsToken(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool IsIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

// How one exchange on one connection ended.
struct Exchange {
  std::optional<HttpResponse> response;
  std::optional<Error> error;
  bool reusable = false;
  // Nothing of a response arrived before the connection failed: on a reused connection, the
  // server most likely closed it while it sat idle.
  bool nothing_received = false;
  bool write_failed = false;
};

class BeastHttpClient final : public HttpClient {
 public:
  explicit BeastHttpClient(HttpClientOptions options)
      : options_(std::move(options)), tls_context_(ssl::context::tls_client) {
    tls_context_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1);
    tls_context_.set_verify_mode(options_.verify_tls ? ssl::verify_peer : ssl::verify_none);
  }

  ~BeastHttpClient() override {
    for (auto& [key, idle] : pool_) {
      for (auto& connection : idle) connection->Close();
    }
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    std::optional<Url> url = ParseUrl(request.url);
    if (!url) {
      return Fail(ErrorCode::kInvalidArgument, "bad_url", "not an http(s) URL", request.url);
    }
    if (!IsToken(request.method)) {
      return Fail(ErrorCode::kInvalidArgument, "bad_url", "bad HTTP method", request.method);
    }
    for (const auto& header : request.headers) {
      // A line break in a value would end the header there and start another (or the body).
      if (!IsToken(header.name) || header.value.find_first_of("\r\n") != std::string::npos) {
        return Fail(ErrorCode::kInvalidArgument, "bad_header", "a header cannot be sent as it is",
                    header.name);
      }
    }
    std::unique_ptr<Connection> connection = TakeIdle(url->PoolKey());
    if (!connection) {
      IMGUP_ASSIGN_OR_RETURN(connection, Connect(*url));
    }
    Exchange done = Perform(*connection, *url, request);
    if (!done.response && connection->reused && done.nothing_received &&
        (done.write_failed || IsIdempotent(request.method))) {
      // A kept-alive connection the server had closed: the request did not reach it (or is
      // safe to repeat), so once more on a fresh connection, as browsers and curl do.
      connection.reset();
      IMGUP_ASSIGN_OR_RETURN(connection, Connect(*url));
      done = Perform(*connection, *url, request);
    }
    if (done.reusable) {
      GiveBack(std::move(connection));
    } else {
      connection->Close();
    }
    if (done.error) return tl::unexpected<Error>(std::move(*done.error));
    return std::move(*done.response);
  }

 private:
  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    std::vector<std::unique_ptr<Connection>> stale;  // closed outside the lock
    std::unique_ptr<Connection> found;
    {
      std::lock_guard lock(mutex_);
      auto it = pool_.find(key);
      if (it == pool_.end()) return nullptr;
      auto& idle = it->second;
      const auto now = SteadyClock::now();
      while (!idle.empty()) {
        std::unique_ptr<Connection> candidate = std::move(idle.back());  // the most recent
        idle.pop_back();
        if (now - candidate->idle_since <= options_.max_idle_time && candidate->LooksAlive()) {
          found = std::move(candidate);
          break;
        }
        stale.push_back(std::move(candidate));
      }
    }
    for (auto& connection : stale) connection->Close();
    if (found) found->reused = true;
    return found;
  }

  void GiveBack(std::unique_ptr<Connection> connection) {
    if (options_.max_idle_per_host == 0) return connection->Close();
    connection->idle_since = SteadyClock::now();
    std::unique_ptr<Connection> evicted;
    {
      std::lock_guard lock(mutex_);
      auto& idle = pool_[connection->key];
      if (idle.size() >= options_.max_idle_per_host) {
        evicted = std::move(idle.front());  // the one idle longest
        idle.pop_front();
      }
      idle.push_back(std::move(connection));
    }
    if (evicted) evicted->Close();
  }

  Result<std::unique_ptr<Connection>> Connect(const Url& url) {
    auto connection = std::make_unique<Connection>(url.PoolKey());
    const auto deadline = SteadyClock::now() + options_.connect_timeout;

    std::vector<tcp::endpoint> endpoints;
    ErrorCodeT ip_error;
    const auto ip = asio::ip::make_address(url.host, ip_error);
    if (!ip_error) {
      endpoints.emplace_back(ip, static_cast<unsigned short>(std::stoi(url.port)));
    } else {
      // Name resolution has no deadline of its own in Asio: run it for what is left and cancel.
      // Asio resolves on a thread of the io_context's own, so a short-lived io_context here
      // keeps that thread from living on with every pooled connection.
      asio::io_context resolve_context{1};
      tcp::resolver resolver(resolve_context);
      std::optional<ErrorCodeT> resolved;
      resolver.async_resolve(url.host, url.port,
                             [&](const ErrorCodeT& ec, tcp::resolver::results_type results) {
                               resolved = ec;
                               for (const auto& entry : results) endpoints.push_back(entry);
                             });
      resolve_context.run_for(options_.connect_timeout);
      if (!resolved) {
        resolver.cancel();
        RunToCompletion(resolve_context);
        return tl::unexpected<Error>(Unavailable("timeout",
                                                 "the storage endpoint did not answer in time",
                                                 url.HostHeader() + ": name resolution timed out"));
      }
      if (*resolved == asio::error::host_not_found) {
        // The name does not exist (NXDOMAIN): a wrong endpoint, which no retry mends. A failure
        // to ask (EAI_AGAIN: no DNS server answered) stays "connection_failed", retried.
        return tl::unexpected<Error>(
            Unavailable("host_not_found", "the storage endpoint's host name does not exist",
                        url.HostHeader() + ": cannot resolve: " + resolved->message()));
      }
      if (*resolved) {
        return tl::unexpected<Error>(
            Unavailable("connection_failed", "cannot reach the storage endpoint",
                        url.HostHeader() + ": cannot resolve: " + resolved->message()));
      }
    }

    connection->plain.emplace(connection->ioc);
    beast::tcp_stream& stream = *connection->plain;
    ErrorCodeT result;
    stream.expires_at(deadline);
    stream.async_connect(endpoints,
                         [&](const ErrorCodeT& ec, const tcp::endpoint&) { result = ec; });
    RunToCompletion(connection->ioc);
    if (result) return tl::unexpected<Error>(TransportError(result, "connect", url));
    ErrorCodeT ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    if (!url.https) return connection;

    // The trust store loads at the first TLS connection, not here: parsing the system's bundle
    // (~140 certificates) costs more CPU than the rest of a Lambda init (ADR 8).
    std::call_once(trust_loaded_, [this] { LoadTrustStore(); });
    if (!trust_error_.empty()) {
      return tl::unexpected<Error>(Unavailable(
          "tls_certificate", "cannot verify the storage endpoint's TLS certificate", trust_error_));
    }
    connection->tls.emplace(std::move(*connection->plain), tls_context_);
    connection->plain.reset();
    SSL* handle = connection->tls->native_handle();
    const bool ip_literal = IsIpLiteral(url.host);
    // SNI carries host names only (RFC 6066); the certificate must name the host or the address.
    if (!ip_literal && SSL_set_tlsext_host_name(handle, url.host.c_str()) != 1) {
      return tl::unexpected<Error>(
          Unavailable("tls_error", "cannot set up TLS with the storage endpoint", "SNI"));
    }
    if (options_.verify_tls) {
      X509_VERIFY_PARAM* param = SSL_get0_param(handle);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      int set = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str())
                           : X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
      if (set != 1) {
        return tl::unexpected<Error>(Unavailable(
            "tls_error", "cannot set up TLS with the storage endpoint", "host name check"));
      }
    }
    connection->tls->next_layer().expires_at(deadline);
    connection->tls->async_handshake(ssl::stream_base::client,
                                     [&](const ErrorCodeT& ec) { result = ec; });
    RunToCompletion(connection->ioc);
    if (result == beast::error::timeout)
      return tl::unexpected<Error>(TransportError(result, "TLS handshake", url));
    if (result) {
      std::string detail = url.HostHeader() + ": TLS handshake: " + result.message();
      long verify = SSL_get_verify_result(handle);
      if (verify != X509_V_OK) {
        // A certificate this client does not trust, or that names another host: it will be the
        // same certificate next time, so this is not retried (IsTransientTransportError).
        detail += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
        return tl::unexpected<Error>(Unavailable(
            "tls_certificate", "the storage endpoint's TLS certificate is not trusted", detail));
      }
      return tl::unexpected<Error>(
          Unavailable("tls_error", "cannot set up TLS with the storage endpoint", detail));
    }
    return connection;
  }

  void LoadTrustStore() {
    if (!options_.verify_tls) return;
    ErrorCodeT ec;
    if (options_.ca_file.empty()) {
      tls_context_.set_default_verify_paths(ec);  // SSL_CERT_FILE / SSL_CERT_DIR, else OpenSSL's
    } else {
      tls_context_.load_verify_file(options_.ca_file, ec);
    }
    // A trust store that does not load fails every handshake, with this as the reason.
    if (ec) trust_error_ = "cannot load the trust store: " + ec.message();
  }

  Exchange Perform(Connection& connection, const Url& url, const HttpRequest& request) {
    if (connection.tls) return Perform(connection, *connection.tls, url, request);
    return Perform(connection, *connection.plain, url, request);
  }

  template <class Stream>
  Exchange Perform(Connection& connection, Stream& stream, const Url& url,
                   const HttpRequest& request) {
    Exchange done;
    using RequestBody = bhttp::span_body<const char>;
    bhttp::request<RequestBody> message;
    message.version(11);
    message.method_string(request.method);
    message.target(url.target);
    bool has_host = false;
    for (const auto& header : request.headers) {
      if (IEquals(header.name, "content-length") || IEquals(header.name, "connection") ||
          IEquals(header.name, "transfer-encoding")) {
        continue;  // the client's own
      }
      has_host = has_host || IEquals(header.name, "host");
      message.insert(header.name, header.value);
    }
    if (!has_host) message.set(bhttp::field::host, url.HostHeader());
    message.body() = RequestBody::value_type(request.body.data(), request.body.size());
    message.prepare_payload();

    beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
    lowest.expires_after(options_.request_timeout);
    ErrorCodeT result;
    bhttp::async_write(stream, message, [&](const ErrorCodeT& ec, std::size_t) { result = ec; });
    RunToCompletion(connection.ioc);
    if (result) {
      done.error = TransportError(result, "sending the request", url);
      done.write_failed = result != beast::error::timeout;
      done.nothing_received = done.write_failed;
      return done;
    }

    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(options_.max_response_body);
    if (request.method == "HEAD") parser.skip(true);
    // The header first, then the body: Beast 1.74 loses a body_limit error on a Content-Length
    // when the body arrived in the same read as the header (it parses on eagerly), so the limit
    // is checked here, before any of the body is read.
    bhttp::async_read_header(stream, connection.buffer, parser,
                             [&](const ErrorCodeT& ec, std::size_t) { result = ec; });
    RunToCompletion(connection.ioc);
    const bool too_large = result == bhttp::error::body_limit ||
                           (!result && !parser.skip() &&
                            parser.content_length().value_or(0) > options_.max_response_body);
    if (!result && !too_large && !parser.is_done()) {
      bhttp::async_read(stream, connection.buffer, parser,
                        [&](const ErrorCodeT& ec, std::size_t) { result = ec; });
      RunToCompletion(connection.ioc);
    }
    if (too_large || result == bhttp::error::body_limit) {
      done.error = Error{ErrorCode::kInternal, "response_too_large",
                         "the storage endpoint's answer is too large",
                         url.HostHeader() + ": body over " +
                             std::to_string(options_.max_response_body) + " bytes"};
      return done;
    }
    if (result) {
      done.nothing_received = !parser.got_some() && result != beast::error::timeout;
      done.error = TransportError(result, "reading the response", url);
      return done;
    }
    lowest.expires_never();

    auto& answer = parser.get();
    HttpResponse response;
    response.status = static_cast<int>(answer.result_int());
    for (const auto& field : answer) {
      const auto name = field.name_string();
      const auto value = field.value();
      response.headers.push_back({Lower(std::string_view(name.data(), name.size())),
                                  std::string(value.data(), value.size())});
    }
    response.body = std::move(answer.body());
    // Bytes past the answer would be a pipelining the client never asked for: do not reuse.
    done.reusable = answer.keep_alive() && !answer.need_eof() && connection.buffer.size() == 0;
    done.response = std::move(response);
    return done;
  }

  const HttpClientOptions options_;
  ssl::context tls_context_;
  std::once_flag trust_loaded_;
  std::string trust_error_;  // set once, under trust_loaded_
  std::mutex mutex_;         // guards pool_
  std::unordered_map<std::string, std::deque<std::unique_ptr<Connection>>> pool_;
};

// ---------------------------------------------------------------------------------------------
// Errors and retries

std::string ReasonPhrase(int status) {
  if (status < 100 || status > 999) return "HTTP " + std::to_string(status);
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  const std::string text(reason.data(), reason.size());
  return text.empty() || text == "<unknown-status>" ? "HTTP " + std::to_string(status) : text;
}

// "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException" -> "ResourceNotFoundException";
// the x-amzn-errortype header form "Code:http://internal.amazon.com/..." -> "Code".
std::string ShortCode(std::string_view type) {
  auto hash = type.rfind('#');
  if (hash != std::string_view::npos) type = type.substr(hash + 1);
  auto colon = type.find(':');
  if (colon != std::string_view::npos) type = type.substr(0, colon);
  return std::string(type);
}

bool ParseJsonError(std::string_view body, AwsError& error) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return false;
  for (const char* key : {"__type", "code", "Code"}) {
    auto it = json.find(key);
    if (it != json.end() && it->is_string()) {
      error.code = ShortCode(it->get<std::string>());
      break;
    }
  }
  for (const char* key : {"message", "Message"}) {
    auto it = json.find(key);
    if (it != json.end() && it->is_string()) {
      error.message = it->get<std::string>();
      break;
    }
  }
  return !error.code.empty();
}

bool ParseXmlError(std::string_view body, AwsError& error) {
  auto root = ParseXml(body);
  if (!root) return false;
  // S3: <Error><Code/>...; query protocol (and moto's DynamoDB auth errors):
  // <ErrorResponse><Error><Code/>...</Error><RequestId/></ErrorResponse>.
  const XmlElement* element = root->Find("Error");
  if (element == nullptr) element = &*root;
  const XmlElement* code = element->Find("Code");
  if (code == nullptr) return false;
  error.code = code->text;
  if (const XmlElement* message = element->Find("Message")) error.message = message->text;
  if (error.request_id.empty()) {
    const XmlElement* id = root->Find("RequestId");
    if (id == nullptr) id = root->Find("RequestID");
    if (id != nullptr) error.request_id = id->text;
  }
  return !error.code.empty();
}

std::string_view TrimmedBody(std::string_view body) {
  while (!body.empty() && (body.front() == ' ' || body.front() == '\n' || body.front() == '\r' ||
                           body.front() == '\t')) {
    body.remove_prefix(1);
  }
  return body;
}

}  // namespace

std::unique_ptr<HttpClient> MakeHttpClient(HttpClientOptions options) {
  return std::make_unique<BeastHttpClient>(std::move(options));
}

AwsError ParseAwsError(const HttpResponse& response) {
  AwsError error;
  error.status = response.status;
  for (std::string_view name : {"x-amz-request-id", "x-amzn-requestid"}) {
    std::string_view id = response.Header(name);
    if (!id.empty()) {
      error.request_id = std::string(id);
      break;
    }
  }
  std::string_view body = TrimmedBody(response.body);
  bool parsed = false;
  if (body.starts_with('{')) {
    parsed = ParseJsonError(body, error);
  } else if (body.starts_with('<')) {
    parsed = ParseXmlError(body, error);
  }
  if (!parsed) {
    std::string_view type = response.Header("x-amzn-errortype");
    if (!type.empty()) error.code = ShortCode(type);
  }
  if (error.code.empty()) {
    // No body to read (HEAD, or a proxy's page): botocore's convention, the status as the code.
    error.code = std::to_string(response.status);
  }
  if (error.message.empty()) error.message = ReasonPhrase(response.status);
  return error;
}

bool IsRetryable(const AwsError& error) {
  static constexpr std::string_view kThrottling[] = {
      "Throttling",
      "ThrottlingException",
      "ThrottledException",
      "RequestThrottledException",
      "TooManyRequestsException",
      "ProvisionedThroughputExceededException",
      "TransactionInProgressException",
      "RequestLimitExceeded",
      "BandwidthLimitExceeded",
      "LimitExceededException",
      "RequestThrottled",
      "SlowDown",
      "PriorRequestNotComplete",
      "EC2ThrottledException",
  };
  // Transient whatever their status (S3 answers RequestTimeout with 400).
  static constexpr std::string_view kTransient[] = {"RequestTimeout", "RequestTimeoutException",
                                                    "InternalError", "ServiceUnavailable"};
  if (error.status == 429 || (error.status >= 500 && error.status != 501)) return true;
  for (auto code : kThrottling) {
    if (error.code == code) return true;
  }
  for (auto code : kTransient) {
    if (error.code == code) return true;
  }
  return false;
}

bool IsTransientTransportError(const Error& error) {
  return error.code == ErrorCode::kUnavailable && error.slug != "tls_certificate" &&
         error.slug != "host_not_found";
}

std::optional<std::chrono::seconds> RetryAfter(const HttpResponse& response) {
  std::string_view value = response.Header("retry-after");
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  // delta-seconds only (what AWS's services send); an HTTP-date is ignored, and the backoff
  // applies as without the header.
  if (value.empty() || value.size() > 9) return std::nullopt;
  std::int64_t seconds = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return std::chrono::seconds(seconds);
}

std::string CredentialsRefusal(const AwsError& error) {
  // S3's codes, DynamoDB's (JSON) and the query protocol's (moto's DynamoDB in auth mode, STS).
  if (error.code == "SignatureDoesNotMatch" || error.code == "InvalidSignatureException") {
    if (IsClockSkew(error)) return {};
    return "the request's signature does not match: the secret access key is wrong for this "
           "access key id (" +
           error.code + ")";
  }
  // XAdminUserNotFound: versitygw's (a 404) for a key id it has no user for.
  if (error.code == "InvalidAccessKeyId" || error.code == "InvalidClientTokenId" ||
      error.code == "UnrecognizedClientException" || error.code == "XAdminUserNotFound") {
    return "the access key id is not known to the service (" + error.code + ")";
  }
  if (error.code == "ExpiredToken" || error.code == "ExpiredTokenException" ||
      error.code == "TokenRefreshRequired") {
    return "the session token has expired (" + error.code + ")";
  }
  if (error.code == "AccessDenied" || error.code == "AccessDeniedException") {
    return "these credentials are not allowed this call (" + error.code + ")";
  }
  return {};
}

bool IsClockSkew(const AwsError& error) {
  if (error.code == "RequestTimeTooSkewed" || error.code == "RequestExpired") return true;
  // DynamoDB: InvalidSignatureException "Signature expired: 20261202T101010Z is now earlier
  // than ..."; "Signature not yet current: ..." for a clock ahead.
  return error.code == "InvalidSignatureException" &&
         (error.message.find("Signature expired") != std::string::npos ||
          error.message.find("Signature not yet current") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// AwsCaller

namespace {
thread_local int last_attempts = 0;

std::chrono::milliseconds FullJitter(const RetryPolicy& policy, int failures) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const int doublings = std::min(failures - 1, 30);
  const auto ceiling = std::min<std::int64_t>(policy.cap.count(),
                                              policy.base.count() * (std::int64_t{1} << doublings));
  std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(ceiling, 0));
  return std::chrono::milliseconds(pick(random));
}
}  // namespace

AwsCaller::AwsCaller(HttpClient& http, CredentialsSource credentials, RetryPolicy policy, Now now,
                     Sleep sleep)
    : http_(http),
      credentials_(std::move(credentials)),
      policy_(policy),
      now_(now ? std::move(now) : Now([] { return std::chrono::system_clock::now(); })),
      sleep_(sleep ? std::move(sleep)
                   : Sleep([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); })) {}

int AwsCaller::LastAttempts() { return last_attempts; }

Result<HttpResponse> AwsCaller::Call(const ServiceEndpoint& endpoint, SignableRequest request) {
  last_attempts = 0;
  std::string base = endpoint.url;
  while (base.ends_with('/')) base.pop_back();
  std::optional<Url> url = ParseUrl(base);
  if (!url || url->target != "/") {
    return Fail(ErrorCode::kInvalidArgument, "bad_url",
                "not an endpoint URL (scheme://host[:port])", endpoint.url);
  }
  for (const auto& header : request.headers) {
    if (IEquals(header.name, "host")) {
      return Fail(ErrorCode::kInvalidArgument, "bad_request",
                  "the Host header comes from the endpoint", endpoint.url);
    }
  }
  request.headers.push_back({"Host", url->HostHeader()});
  // Hashed once for every attempt (bodies can be megabytes).
  if (!request.payload_hash) request.payload_hash = Sha256Hex(request.body);

  HttpRequest http;
  http.method = request.method;
  http.url = base + request.path;
  if (!request.query.empty()) http.url += "?" + EncodeQuery(request.query);
  http.body = std::string(request.body);

  const auto start = now_();
  std::optional<Result<HttpResponse>> last;
  for (int attempt = 1;; ++attempt) {
    auto credentials = credentials_();
    if (!credentials) return tl::unexpected<Error>(std::move(credentials.error()));
    const auto time = std::chrono::floor<std::chrono::seconds>(now_());
    SigningConfig config =
        endpoint.service == "s3"
            ? ForS3(std::move(*credentials), endpoint.region, time)
            : ForService(std::move(*credentials), endpoint.region, endpoint.service, time);
    IMGUP_ASSIGN_OR_RETURN(SigningResult signature, SignHeaders(request, config));
    http.headers = request.headers;
    http.headers.insert(http.headers.end(), signature.headers_to_add.begin(),
                        signature.headers_to_add.end());

    last = http_.Send(http);
    last_attempts = attempt;
    bool retry = false;
    std::optional<std::chrono::seconds> retry_after;
    if (!*last) {
      retry = IsTransientTransportError(last->error());
    } else if ((*last)->status >= 300) {
      retry = IsRetryable(ParseAwsError(**last));
      retry_after = RetryAfter(**last);
    }
    if (!retry || attempt >= policy_.max_attempts) break;
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now_() - start);
    if (elapsed >= policy_.max_total) break;
    const auto left = policy_.max_total - elapsed;
    if (retry_after) {
      // The server said when to come back: not sooner, and not at all when that is past the
      // time this call may take (the answer is returned now rather than after a useless wait).
      if (*retry_after > left) break;
      sleep_(std::max<std::chrono::milliseconds>(*retry_after,
                                                 std::min(FullJitter(policy_, attempt), left)));
      continue;
    }
    sleep_(std::min(FullJitter(policy_, attempt), left));
  }
  if (!*last) {
    Error error = std::move(last->error());
    error.detail += " (after " + std::to_string(last_attempts) + " attempt(s))";
    return tl::unexpected<Error>(std::move(error));
  }
  return std::move(*last);
}

}  // namespace imgup::aws
