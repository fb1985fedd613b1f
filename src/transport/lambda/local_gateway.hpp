#pragma once
// API Gateway's Lambda proxy integration the other way round, for `imgup gateway` (make
// run-lambda): an HTTP request → the event API Gateway would send the function (HTTP API payload
// 2.0 or REST API 1.0), and the function's proxy response → the HTTP answer API Gateway would
// give. api_gateway.hpp is the function's side of the same documents; each direction is tested
// against the other and against AWS's sample events.
#include <cstdint>
#include <string>

#include "api/http.hpp"
#include "base/error.hpp"
#include "transport/lambda/api_gateway.hpp"

namespace imgup {

/// API Gateway's request payload limit (HTTP API and REST API): 10 MB.
inline constexpr std::size_t kApiGatewayPayloadLimitBytes = 10 * 1024 * 1024;

struct GatewayEventOptions {
  PayloadVersion version = PayloadVersion::kHttpV2;
  /// The stage the API is deployed to ("prod"); empty: HTTP API's "$default" stage, whose paths
  /// carry no prefix. With a stage, `request.path` must start with "/STAGE" (see StageOf).
  std::string stage;
  std::string request_id;
  std::int64_t now_ms = 0;
  std::string account_id = "123456789012";
  std::string api_id = "local";
};

/// Whether `path` is inside `stage` ("/prod" or "/prod/..."); always for no stage.
bool InStage(std::string_view path, std::string_view stage);

/// The proxy event for `request` (path and query as the local server decoded them; they are
/// encoded again as the client could have sent them). 2.0: rawPath (with the stage prefix),
/// rawQueryString, headers joined with "," per name, Cookie headers as `cookies`,
/// requestContext.http. 1.0: `path` without the stage, requestContext.path with it, headers
/// and query both single- and multi-value, resource "/{proxy+}". The body goes base64-encoded
/// unless its Content-Type is textual and it is valid UTF-8, as API Gateway does.
std::string EncodeGatewayEvent(const HttpRequest& request, const GatewayEventOptions& options);

/// The HTTP answer for a function's proxy response. 2.0: statusCode, headers, `cookies` (each a
/// Set-Cookie), body, isBase64Encoded; a JSON document without statusCode is taken as a 200
/// application/json body, as HTTP API does. 1.0: statusCode is required; headers and
/// multiValueHeaders merge (multiValueHeaders win for a name in both).
/// Errors: kInternal "bad_proxy_response" when API Gateway would answer 502 (not JSON, no valid
/// statusCode where one is needed, a body that is not valid base64).
Result<HttpResponse> DecodeGatewayResponse(const std::string& payload, PayloadVersion version);

/// Lambda's answer to an invocation is a function error (an unhandled error of the handler or
/// of its init): the X-Amz-Function-Error header, a non-200 status, or an errorType/errorMessage
/// document with no statusCode.
bool IsFunctionError(int invoke_status, bool function_error_header, const std::string& payload);

/// API Gateway's own answers, `{"message": ...}` as JSON: 502 "Internal Server Error" (the
/// function failed or answered something malformed), 413 "Request Entity Too Large", 404 "Not
/// Found" (outside the stage), 504 "Endpoint request timed out" (for the timeout).
HttpResponse GatewayMessage(int status, std::string_view message);

}  // namespace imgup
