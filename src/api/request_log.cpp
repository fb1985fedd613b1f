#include "api/request_log.hpp"

#include "api/record_json.hpp"

namespace imgup {

nlohmann::json RequestLogJson(std::int64_t now_ms, const HttpRequest& request,
                              const HttpResponse& response, double duration_ms) {
  nlohmann::json line = {
      {"ts", FormatRfc3339(now_ms)},
      {"level", response.status >= 500 ? "error" : (response.status >= 400 ? "warn" : "info")},
      {"msg", "request"},
      {"request_id", request.request_id},
      {"owner", response.owner},
      {"method", request.method},
      {"route", response.route},
      {"path", request.path},
      {"status", response.status},
      {"bytes_in", request.body.size()},
      {"bytes_out", response.body.size()},
      {"duration_ms", static_cast<double>(static_cast<std::int64_t>(duration_ms * 1000)) / 1000},
  };
  if (response.image_bytes > 0) line["image_bytes"] = response.image_bytes;
  if (!response.error_code.empty()) line["error_code"] = response.error_code;
  if (!response.error_detail.empty()) line["error_detail"] = response.error_detail;
  return line;
}

std::string FormatRequestLog(std::int64_t now_ms, const HttpRequest& request,
                             const HttpResponse& response, double duration_ms) {
  return DumpLogLine(RequestLogJson(now_ms, request, response, duration_ms));
}

std::string DumpLogLine(const nlohmann::json& line) {
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace imgup
