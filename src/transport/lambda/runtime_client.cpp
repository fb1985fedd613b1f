#include "transport/lambda/runtime_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <optional>
#include <utility>

namespace imgup {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Response = bhttp::response<bhttp::string_body>;

constexpr std::string_view kApiVersion = "/2018-06-01";
// An invocation's event is at most 6 MB (a synchronous invoke's limit); room to spare.
constexpr std::uint64_t kMaxEventBytes = 32ull << 20;
// Kept free past the end of the event: simdjson parses in place when it finds this much.
constexpr std::size_t kJsonPadding = 64;

std::string_view View(beast::string_view text) { return {text.data(), text.size()}; }

Error Unavailable(std::string detail) {
  return Error{ErrorCode::kUnavailable, "runtime_api_unavailable",
               "The Lambda Runtime API could not be reached", std::move(detail)};
}

/// The error for an answer of the Runtime API other than `expected`.
Error StatusError(const Response& response, std::string_view what) {
  const unsigned status = response.result_int();
  std::string detail =
      std::string(what) + ": HTTP " + std::to_string(status) + " " + response.body().substr(0, 512);
  if (status == 413) {
    return Error{ErrorCode::kPayloadTooLarge, "runtime_api_payload_too_large",
                 "The Lambda Runtime API refused the payload's size", std::move(detail)};
  }
  if (status >= 400 && status < 500) {
    return Error{ErrorCode::kInvalidArgument, "runtime_api_refused",
                 "The Lambda Runtime API refused the call", std::move(detail)};
  }
  return Unavailable(std::move(detail));
}

}  // namespace

struct BeastRuntimeClient::Impl {
  std::string host;  // the Host header: AWS_LAMBDA_RUNTIME_API as given
  asio::io_context ioc;
  tcp::resolver::results_type endpoints;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  bool connected = false;

  void Close() {
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    buffer.clear();
    connected = false;
  }

  /// One request and its response. A kept-alive connection that the API closed in the meantime
  /// is replaced once; the Runtime API refuses a second post for the same invocation, so the
  /// retry cannot answer twice.
  Result<Response> Exchange(bhttp::verb verb, std::string_view target, std::string_view body,
                            std::string_view error_type) {
    for (int attempt = 0;; ++attempt) {
      const bool reused = connected;
      beast::error_code ec;
      if (!connected) {
        asio::connect(socket, endpoints, ec);
        if (ec) {
          Close();
          return tl::unexpected(Unavailable("connect to " + host + ": " + ec.message()));
        }
        connected = true;
      }
      bhttp::request<bhttp::span_body<const char>> request{
          verb, beast::string_view(target.data(), target.size()), 11};
      request.set(bhttp::field::host, host);
      request.set(bhttp::field::user_agent, "imgup-lambda");
      if (verb == bhttp::verb::post) {
        request.set(bhttp::field::content_type, "application/json");
        if (!error_type.empty()) {
          request.set("Lambda-Runtime-Function-Error-Type",
                      beast::string_view(error_type.data(), error_type.size()));
        }
        request.body() = beast::span<const char>(body.data(), body.size());
      }
      request.prepare_payload();
      bhttp::write(socket, request, ec);
      std::optional<bhttp::response_parser<bhttp::string_body>> parser;
      if (!ec) {
        parser.emplace();
        parser->body_limit(kMaxEventBytes);
        bhttp::read(socket, buffer, *parser, ec);
      }
      if (ec) {
        Close();
        if (reused && attempt == 0) continue;
        return tl::unexpected(Unavailable(std::string(target) + ": " + ec.message()));
      }
      Response response = parser->release();
      if (!response.keep_alive()) Close();
      return response;
    }
  }

  Result<void> Post(std::string target, std::string_view body, std::string_view error_type) {
    auto response = Exchange(bhttp::verb::post, target, body, error_type);
    if (!response) return tl::unexpected(std::move(response.error()));
    if (response->result_int() != 202) return tl::unexpected(StatusError(*response, target));
    return {};
  }
};

BeastRuntimeClient::BeastRuntimeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BeastRuntimeClient::~BeastRuntimeClient() = default;

Result<std::unique_ptr<BeastRuntimeClient>> BeastRuntimeClient::Create(std::string_view endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == endpoint.size()) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_runtime_api",
                "AWS_LAMBDA_RUNTIME_API must be host:port", std::string(endpoint));
  }
  std::string_view name = endpoint.substr(0, colon);
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);  // [::1]:9001
  }
  auto impl = std::make_unique<Impl>();
  impl->host = std::string(endpoint);
  tcp::resolver resolver(impl->ioc);
  beast::error_code ec;
  impl->endpoints = resolver.resolve(name, endpoint.substr(colon + 1), ec);
  if (ec)
    return tl::unexpected(Unavailable("resolve " + std::string(endpoint) + ": " + ec.message()));
  return std::unique_ptr<BeastRuntimeClient>(new BeastRuntimeClient(std::move(impl)));
}

Result<Invocation> BeastRuntimeClient::Next() {
  const std::string target = std::string(kApiVersion) + "/runtime/invocation/next";
  auto response = impl_->Exchange(bhttp::verb::get, target, {}, {});
  if (!response) return tl::unexpected(std::move(response.error()));
  if (response->result_int() != 200) return tl::unexpected(StatusError(*response, target));
  Invocation invocation;
  invocation.request_id = std::string(View((*response)["Lambda-Runtime-Aws-Request-Id"]));
  if (invocation.request_id.empty()) {
    return tl::unexpected(Unavailable(target + ": no Lambda-Runtime-Aws-Request-Id"));
  }
  const std::string_view deadline = View((*response)["Lambda-Runtime-Deadline-Ms"]);
  std::from_chars(deadline.data(), deadline.data() + deadline.size(), invocation.deadline_ms);
  invocation.function_arn = std::string(View((*response)["Lambda-Runtime-Invoked-Function-Arn"]));
  invocation.trace_id = std::string(View((*response)["Lambda-Runtime-Trace-Id"]));
  invocation.payload = std::move(response->body());
  invocation.payload.reserve(invocation.payload.size() + kJsonPadding);
  return invocation;
}

Result<void> BeastRuntimeClient::PostResponse(std::string_view request_id,
                                              std::string_view payload) {
  return impl_->Post(
      std::string(kApiVersion) + "/runtime/invocation/" + std::string(request_id) + "/response",
      payload, {});
}

Result<void> BeastRuntimeClient::PostError(std::string_view request_id,
                                           const FunctionError& error) {
  return impl_->Post(
      std::string(kApiVersion) + "/runtime/invocation/" + std::string(request_id) + "/error",
      FunctionErrorJson(error), error.type);
}

Result<void> BeastRuntimeClient::PostInitError(const FunctionError& error) {
  return impl_->Post(std::string(kApiVersion) + "/runtime/init/error", FunctionErrorJson(error),
                     error.type);
}

}  // namespace imgup
