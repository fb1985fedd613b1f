#pragma once
#include <cstdint>
#include <string>

#include "api/http.hpp"

namespace imgup {

/// One JSON line per request, the shape CloudWatch Logs Insights queries: ts, level, msg,
/// request_id, owner, method, route, path, status, bytes_in, bytes_out, duration_ms (and
/// error_detail for errors). The same line comes from the local server and from Lambda.
std::string FormatRequestLog(std::int64_t now_ms, const HttpRequest& request,
                             const HttpResponse& response, double duration_ms);

}  // namespace imgup
