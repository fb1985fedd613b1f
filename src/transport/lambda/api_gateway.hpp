#pragma once
// API Gateway's Lambda proxy integration, both directions: the event of an HTTP API (payload
// format 2.0) or a REST API (1.0) → imgup's transport-neutral HttpRequest, and an HttpResponse →
// the proxy response document API Gateway turns back into HTTP.
//
// What the event says and where it goes:
// - method, path (percent-decoded), query (in order, repeated names kept: 2.0's rawQueryString,
//   1.0's multiValueQueryStringParameters), headers (names lower-cased; 1.0's multiValueHeaders
//   one entry per value), 2.0's `cookies` back into one Cookie header, requestContext.domainName
//   as the Host when no header names one, the body (base64-decoded when isBase64Encoded), the
//   source IP;
// - the stage: a path that starts with it loses it, and it becomes `base_path` ("/prod"), so the
//   links imgup writes go back through the stage; "$default" has none. A REST API event's own
//   `path` has no stage; what its requestContext.path has in front of it is the base path
//   (the stage, or a custom domain's base path mapping);
// - the authorizer context becomes the trusted principal (the owner), and nothing else does:
//   an HTTP API JWT authorizer's claim (`sub` unless configured), a REST API Cognito user pool
//   authorizer's claim, else a REST API's API key id. An event without an authorizer has none,
//   and the router's Authenticator decides as for any request;
// - path parameters are API Gateway's view of its own routes: the router matches the path
//   itself, so they are not used.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "api/http.hpp"
#include "base/error.hpp"

namespace imgup {

/// Lambda's limit on a synchronous invocation's response (and request) payload, 6 MB.
inline constexpr std::size_t kLambdaPayloadLimitBytes = 6 * 1024 * 1024;

enum class PayloadVersion {
  kRestV1,  // REST API (and an HTTP API set to payload format 1.0)
  kHttpV2,  // HTTP API, payload format 2.0
};

struct GatewayOptions {
  /// The claim of a JWT (HTTP API JWT authorizer, REST API Cognito authorizer) that names the
  /// owner.
  std::string principal_claim = "sub";
};

struct GatewayRequest {
  PayloadVersion version = PayloadVersion::kHttpV2;
  HttpRequest request;
  /// API Gateway's own id of the request (requestContext.requestId: the `apigw-requestid` header
  /// of an HTTP API's answer, the $context.requestId of its access log); "" when absent.
  std::string gateway_request_id;
  /// An event that API Gateway sent but that must not reach the router; answered with this
  /// error's problem: kInvalidArgument "invalid_base64" for a body that does not decode,
  /// kPermissionDenied "missing_claim" when an authorizer vouched for the caller but its context
  /// lacks the principal claim (refused rather than handed to the Authenticator).
  std::optional<Error> rejection;
};

/// Decodes an API Gateway proxy event. `request_id` is left empty for the caller to set.
/// Errors: kInvalidArgument "not_an_api_gateway_event" when `event` is not JSON, or is neither
/// payload version (no requestContext.http.method with version "2.0", no httpMethod).
Result<GatewayRequest> DecodeGatewayEvent(const std::string& event, const GatewayOptions& options);

/// The proxy response for `response` (finished by FinishResponse) in `version`'s shape:
/// statusCode, headers, body and isBase64Encoded. The body goes as text when its Content-Type is
/// textual (text/*, JSON, XML, JavaScript, form data) and it is valid UTF-8, else base64-encoded
/// (a REST API passes binary through only for media types in its binaryMediaTypes). 2.0 takes
/// each Set-Cookie into `cookies` and joins other repeated headers with ", "; 1.0 gives every
/// header as multiValueHeaders.
std::string EncodeGatewayResponse(const HttpResponse& response, PayloadVersion version);

/// Whether a body of `content_type` is sent as text (see EncodeGatewayResponse).
bool IsTextualMediaType(std::string_view content_type);

}  // namespace imgup
