#pragma once
// The transport-agnostic router: matches method + path pattern ("/images/{id}"), resolves the
// caller's owner, runs the handler and turns every failure into problem+json.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/http.hpp"

namespace imgup {

/// Decides who is calling. The local server uses API keys; on AWS the owner comes from the
/// API Gateway authorizer context.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  /// The caller's owner id. Errors: kUnauthenticated (missing or wrong credentials).
  virtual Result<std::string> Authenticate(const HttpRequest& request) = 0;
};

struct RouteContext {
  const HttpRequest& request;
  std::string owner;  // empty on public routes
  std::vector<std::pair<std::string, std::string>> params;

  std::string_view Param(std::string_view name) const;
};

using RouteHandler = std::function<Result<HttpResponse>(const RouteContext&)>;

class Router {
 public:
  explicit Router(Authenticator& authenticator) : authenticator_(authenticator) {}

  /// Adds a route. `pattern` segments in braces capture a parameter. `is_public` routes skip
  /// authentication (health, the OpenAPI document, the web page).
  void Add(std::string method, std::string pattern, RouteHandler handler, bool is_public = false);

  /// Answers a request. Never throws: unknown paths give 404, known paths with another method
  /// 405 with Allow, handler errors and exceptions a problem+json response.
  HttpResponse Dispatch(const HttpRequest& request) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    RouteHandler handler;
    bool is_public = false;
  };
  Authenticator& authenticator_;
  std::vector<Route> routes_;
};

/// An RFC 9457 problem+json response for `error`.
HttpResponse ProblemResponse(const Error& error, std::string_view request_id);

/// A JSON response with the given status.
HttpResponse JsonResponse(int status, std::string body);

}  // namespace imgup
