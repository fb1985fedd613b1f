#include "api/exchange.hpp"

#include <exception>
#include <utility>

#include "api/handlers.hpp"

namespace imgup {

bool HasNoBody(int status) {
  return status == 204 || status == 304 || (status >= 100 && status < 200);
}

HttpResponse InternalErrorResponse(const HttpRequest& request, std::string what) {
  HttpResponse response = ProblemResponse(
      Error{ErrorCode::kInternal, "internal", "An internal error occurred.", std::move(what)},
      request.request_id);
  response.route = request.path;
  return response;
}

void FinishResponse(const HttpRequest& request, HttpResponse& response) {
  std::erase_if(response.headers, [](const auto& header) {
    const std::string name = AsciiLower(header.first);
    return name == "content-length" || name == "transfer-encoding";
  });
  response.SetHeader("X-Request-Id", request.request_id);
  if (HasNoBody(response.status)) {
    response.body.clear();
    std::erase_if(response.headers,
                  [](const auto& header) { return AsciiLower(header.first) == "content-type"; });
    return;
  }
  if (!response.body.empty() && response.Header("Content-Type").empty()) {
    response.SetHeader("Content-Type", "application/octet-stream");
  }
  if (request.method == "HEAD") {
    response.SetHeader("Content-Length", std::to_string(response.body.size()));
    response.body.clear();
  }
}

HttpResponse Answer(const Router& router, const HttpRequest& request,
                    std::size_t max_body_bytes) noexcept {
  try {
    HttpResponse response;
    try {
      if (request.body.size() > max_body_bytes) {
        response = ProblemResponse(PayloadTooLarge(max_body_bytes), request.request_id);
        response.route = request.path;
      } else {
        response = router.Dispatch(request);
      }
    } catch (const std::exception& e) {
      response = InternalErrorResponse(request, e.what());
    } catch (...) {
      response = InternalErrorResponse(request, "unknown exception");
    }
    FinishResponse(request, response);
    return response;
  } catch (...) {
    // Out of memory while building even the error: a bare 500 allocates nothing.
    HttpResponse bare;
    bare.status = 500;
    return bare;
  }
}

}  // namespace imgup
