#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "api/http.hpp"

namespace imgup {

/// One JSON line per request, the shape CloudWatch Logs Insights queries: ts, level, msg,
/// request_id, owner, method, route, path, status, bytes_in, bytes_out, duration_ms; for an
/// upload, image_bytes; for an error, error_code (the problem's `code`) and error_detail (its
/// internal cause). The same line comes from the local server and from Lambda, where the API
/// function adds the invocation's fields and its metrics (transport/lambda/api_function).
nlohmann::json RequestLogJson(std::int64_t now_ms, const HttpRequest& request,
                              const HttpResponse& response, double duration_ms);

/// RequestLogJson as one line of text (invalid UTF-8 from a request replaced, never thrown).
std::string FormatRequestLog(std::int64_t now_ms, const HttpRequest& request,
                             const HttpResponse& response, double duration_ms);

/// `line` as one line of text, as FormatRequestLog writes it.
std::string DumpLogLine(const nlohmann::json& line);

}  // namespace imgup
