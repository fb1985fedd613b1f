#include "transport/lambda/api_function.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>

#include "api/exchange.hpp"
#include "api/record_json.hpp"
#include "api/request_log.hpp"
#include "transport/lambda/emf.hpp"

namespace imgup {

ApiGatewayFunction::ApiGatewayFunction(const Router& router, ApiFunctionOptions options,
                                       Clock& clock, LogLine log_line)
    : router_(&router),
      options_(std::move(options)),
      clock_(&clock),
      log_line_(std::move(log_line)) {}

Result<std::string> ApiGatewayFunction::operator()(const Invocation& invocation) const {
  const auto start = std::chrono::steady_clock::now();
  IMGUP_ASSIGN_OR_RETURN(GatewayRequest decoded,
                         DecodeGatewayEvent(invocation.payload, options_.gateway));
  HttpRequest& request = decoded.request;
  request.request_id = invocation.request_id;

  HttpResponse response;
  if (decoded.rejection) {
    response = ProblemResponse(*decoded.rejection, request.request_id);
    response.route = "rejected";
    FinishResponse(request, response);
  } else {
    response = Answer(*router_, request, options_.max_body_bytes);
  }
  std::string payload = EncodeGatewayResponse(response, decoded.version);
  if (payload.size() > options_.max_response_bytes) {
    nlohmann::json line = {{"ts", FormatRfc3339(clock_->NowMs())},
                           {"level", "error"},
                           {"msg", "response over Lambda's payload limit, answered 500 instead"},
                           {"request_id", request.request_id},
                           {"route", response.route},
                           {"status", response.status},
                           {"response_bytes", payload.size()},
                           {"limit_bytes", options_.max_response_bytes}};
    log_line_(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    HttpResponse too_large = ProblemResponse(
        Error{ErrorCode::kInternal, "response_too_large",
              "The response is too large to be returned by this deployment.",
              "a " + std::to_string(payload.size()) + "-byte proxy response for a " +
                  std::to_string(response.status) + " from " + response.route},
        request.request_id);
    too_large.route = std::move(response.route);
    too_large.owner = std::move(response.owner);
    response = std::move(too_large);
    FinishResponse(request, response);
    payload = EncodeGatewayResponse(response, decoded.version);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const std::int64_t now = clock_->NowMs();
  nlohmann::json line = RequestLogJson(now, request, response, ms);
  if (!invocation.trace_id.empty()) line["trace_id"] = XRayTraceId(invocation.trace_id);
  if (!decoded.gateway_request_id.empty()) line["apigw_request_id"] = decoded.gateway_request_id;
  AddEmbeddedMetrics(line, now, ApiRequestMetrics(request, response, ms));
  log_line_(DumpLogLine(line));
  return payload;
}

}  // namespace imgup
