#include "api/router.hpp"

#include <exception>
#include <nlohmann/json.hpp>

#include "api/auth.hpp"

namespace imgup {

namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) segments.emplace_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

bool Matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
             std::vector<std::pair<std::string, std::string>>& params) {
  if (pattern.size() != path.size()) return false;
  params.clear();
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const std::string& seg = pattern[i];
    if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
      params.emplace_back(seg.substr(1, seg.size() - 2), path[i]);
    } else if (seg != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view RouteContext::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

void Router::Add(std::string method, std::string pattern, RouteHandler handler, bool is_public) {
  Route route{std::move(method), pattern, SplitPath(pattern), std::move(handler), is_public};
  routes_.push_back(std::move(route));
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.SetHeader("Content-Type", "application/json");
  return response;
}

HttpResponse ProblemResponse(const Error& error, std::string_view request_id) {
  const int status = HttpStatus(error.code);
  nlohmann::json problem = {
      {"type", "urn:imgup:problem:" + error.slug},
      {"title", Title(error.code)},
      {"status", status},
      {"detail", error.message},
      {"code", error.slug},
      {"request_id", std::string(request_id)},
  };
  HttpResponse response;
  response.status = status;
  response.body = problem.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.SetHeader("Content-Type", "application/problem+json");
  response.error_code = error.slug;
  response.error_detail = error.detail;
  if (error.code == ErrorCode::kUnauthenticated) {
    response.SetHeader("WWW-Authenticate", "Bearer realm=\"imgup\"");
  }
  return response;
}

void Router::AllowOrigins(std::vector<std::string> origins) {
  for (std::string& origin : origins) origin = AsciiLower(origin);
  cors_origins_ = std::move(origins);
}

bool Router::IsAllowedOrigin(std::string_view origin) const {
  const std::string lower = AsciiLower(origin);
  for (const std::string& allowed : cors_origins_) {
    if (allowed == lower) return true;
  }
  return false;
}

HttpResponse Router::Dispatch(const HttpRequest& request) const {
  if (cors_origins_.empty()) return RouteRequest(request, false);
  const std::string_view origin = request.Header("origin");
  const bool allowed = !origin.empty() && IsAllowedOrigin(origin);
  HttpResponse response = allowed && request.method == "OPTIONS" &&
                                  !request.Header("access-control-request-method").empty()
                              ? Preflight(request)
                              : RouteRequest(request, allowed);
  // Caches must not give one origin's answer to another.
  response.SetHeader("Vary", "Origin");
  if (allowed) {
    response.SetHeader("Access-Control-Allow-Origin", std::string(origin));
    response.SetHeader("Access-Control-Expose-Headers",
                       "Location, ETag, Content-Range, Accept-Ranges, Content-Disposition, "
                       "X-Request-Id, Retry-After");
  }
  return response;
}

HttpResponse Router::Preflight(const HttpRequest& request) const {
  const std::vector<std::string> segments = SplitPath(request.path);
  std::vector<std::pair<std::string, std::string>> params;
  std::string methods;
  std::string pattern;
  for (const Route& route : routes_) {
    if (!Matches(route.segments, segments, params)) continue;
    methods += (methods.empty() ? "" : ", ") + route.method;
    pattern = route.pattern;
  }
  if (methods.empty()) return RouteRequest(request, true);  // 404 as for any unknown path
  HttpResponse response;
  response.status = 204;
  response.route = pattern;
  response.SetHeader("Access-Control-Allow-Methods", methods);
  response.SetHeader("Access-Control-Allow-Headers",
                     "Authorization, X-Api-Key, Content-Type, Range, If-Range, If-None-Match");
  response.SetHeader("Access-Control-Max-Age", "600");
  return response;
}

HttpResponse Router::RouteRequest(const HttpRequest& request, bool trusted_origin) const {
  const std::vector<std::string> segments = SplitPath(request.path);
  std::vector<std::pair<std::string, std::string>> params;
  const Route* found = nullptr;
  std::string allow;
  const std::string* matched_pattern = nullptr;
  for (const Route& route : routes_) {
    if (!Matches(route.segments, segments, params)) continue;
    matched_pattern = &route.pattern;
    const bool head_as_get = request.method == "HEAD" && route.method == "GET";
    if (route.method == request.method || head_as_get) {
      found = &route;
      break;
    }
    if (!allow.empty()) allow += ", ";
    allow += route.method;
  }

  HttpResponse response;
  if (found == nullptr) {
    if (matched_pattern != nullptr) {
      response = ProblemResponse(
          Error{ErrorCode::kMethodNotAllowed,
                "method_not_allowed",
                request.method + " is not allowed on " + *matched_pattern + "; use " + allow,
                {}},
          request.request_id);
      response.SetHeader("Allow", allow);
      response.route = *matched_pattern;
    } else {
      response = ProblemResponse(
          Error{ErrorCode::kNotFound, "not_found", "No such endpoint: " + request.path, {}},
          request.request_id);
      response.route = "unmatched";
    }
    return response;
  }

  RouteContext context{request, {}, params};
  try {
    if (!found->is_public && request.principal) {
      if (!IsValidOwnerName(*request.principal)) {
        response = ProblemResponse(Error{ErrorCode::kPermissionDenied, "invalid_principal",
                                         "The authorizer's principal is not a valid owner name "
                                         "(1-64 of a-z, 0-9, '_' and '-')",
                                         "principal: " + *request.principal},
                                   request.request_id);
        response.route = found->pattern;
        return response;
      }
      context.owner = *request.principal;
    } else if (!found->is_public) {
      CallerCredentials caller = CredentialsOf(request);
      // A page of an origin the operator allowed (--cors-origin) is no cross-site form.
      if (trusted_origin) caller.origin.reset();
      auto owner = authenticator_.Authenticate(caller);
      if (!owner) {
        response = ProblemResponse(owner.error(), request.request_id);
        response.route = found->pattern;
        return response;
      }
      context.owner = std::move(*owner);
    }
    auto result = found->handler(context);
    if (result) {
      response = std::move(*result);
    } else {
      response = ProblemResponse(result.error(), request.request_id);
    }
  } catch (const std::exception& e) {
    response = ProblemResponse(
        Error{ErrorCode::kInternal, "internal", "An internal error occurred.", e.what()},
        request.request_id);
  } catch (...) {
    response = ProblemResponse(
        Error{ErrorCode::kInternal, "internal", "An internal error occurred.", "unknown exception"},
        request.request_id);
  }
  response.route = found->pattern;
  response.owner = context.owner;
  return response;
}

CallerCredentials CredentialsOf(const HttpRequest& request) {
  CallerCredentials caller;
  caller.method = request.method;
  caller.host = std::string(request.Header("host"));
  caller.public_origin = request.PublicOrigin();
  for (const auto& [name, value] : request.headers) {
    if (name == "origin") {
      caller.origin = value;
      break;
    }
  }
  caller.api_key = std::string(request.Header("x-api-key"));
  if (caller.api_key.empty()) {
    const std::string_view authorization = request.Header("authorization");
    constexpr std::string_view kBearer = "bearer ";
    if (authorization.size() > kBearer.size() &&
        AsciiLower(authorization.substr(0, kBearer.size())) == kBearer) {
      caller.api_key = std::string(authorization.substr(kBearer.size()));
    }
  }
  return caller;
}

}  // namespace imgup
