#pragma once
// The API function's handler: an API Gateway event in, the router's answer out, with the same
// finishing as the local server (api/exchange's Answer) and the same request log line.
#include <cstddef>
#include <string>

#include "api/router.hpp"
#include "base/error.hpp"
#include "domain/ports/clock.hpp"
#include "transport/lambda/api_gateway.hpp"
#include "transport/lambda/runtime_api.hpp"

namespace imgup {

struct ApiFunctionOptions {
  /// Larger request bodies get 413 (Answer).
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  /// A proxy response document larger than this is never handed to Lambda, which would fail
  /// the invocation and leave API Gateway to answer a bare 502.
  std::size_t max_response_bytes = kLambdaPayloadLimitBytes;
  GatewayOptions gateway;
};

class ApiGatewayFunction {
 public:
  /// `router` and `clock` are not owned. `log_line` gets one JSON line per request
  /// (RequestLogJson, plus the invocation's trace_id and API Gateway's apigw_request_id, and the
  /// request's metrics in Embedded Metric Format: ApiRequestMetrics), plus one for a response
  /// over the size limit.
  ApiGatewayFunction(const Router& router, ApiFunctionOptions options, Clock& clock,
                     LogLine log_line);

  /// The proxy response for the event of `invocation`; X-Request-Id is the invocation's request
  /// id, which Lambda's own log lines carry too. An event that API Gateway sent is always
  /// answered (its errors are problem responses); a response too large for Lambda becomes a 500
  /// problem "response_too_large". Errors (posted as the invocation's error):
  /// kInvalidArgument "not_an_api_gateway_event".
  Result<std::string> operator()(const Invocation& invocation) const;

 private:
  const Router* router_;
  ApiFunctionOptions options_;
  Clock* clock_;
  LogLine log_line_;
};

}  // namespace imgup
