#pragma once
// What every transport does with every request and its response, so that the local server and
// the Lambda runtime answer alike: the body limit, dispatch with a last-resort catch, and the
// rules every response follows (request id, default content type, HEAD, 204 and 304).
#include <cstddef>
#include <string>

#include "api/http.hpp"
#include "api/router.hpp"

namespace imgup {

/// Answers `request` through `router`: 413 when its body is over `max_body_bytes`, else the
/// router's answer, finished by FinishResponse. Never throws: a failure anywhere, even while
/// building the error response, gives a 500.
HttpResponse Answer(const Router& router, const HttpRequest& request,
                    std::size_t max_body_bytes) noexcept;

/// Applies the rules every response follows, for `request`:
/// - `X-Request-Id` is the request's id;
/// - Content-Length and Transfer-Encoding belong to the transport and are removed, except that
///   a response to HEAD keeps the Content-Length of the body it no longer carries;
/// - 1xx, 204 and 304 carry no body and no Content-Type;
/// - any other response with a body but no Content-Type gets application/octet-stream.
void FinishResponse(const HttpRequest& request, HttpResponse& response);

/// Whether a response with this status never carries a body (1xx, 204, 304).
bool HasNoBody(int status);

/// A 500 problem response for `request`, with `what` for the log only.
HttpResponse InternalErrorResponse(const HttpRequest& request, std::string what);

}  // namespace imgup
