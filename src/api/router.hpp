#pragma once
// The transport-agnostic router: matches method + path pattern ("/images/{id}"), resolves the
// caller's owner, runs the handler and turns every failure into problem+json.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.hpp"
#include "base/error.hpp"
#include "domain/ports/authenticator.hpp"

namespace imgup {

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
  /// 405 with Allow, handler errors and exceptions a problem+json response. The caller is the
  /// request's trusted `principal` when a transport set one, else whom the Authenticator says.
  /// With CORS origins set, the pages of those origins (`scheme://host[:port]`, compared
  /// case-insensitively) may call the API: their preflights (OPTIONS with
  /// Access-Control-Request-Method) get 204 with what may be sent, their requests
  /// Access-Control-Allow-Origin and the headers they may read, and keyless mode takes them for
  /// this server's own page (docs/adr/0014-cors.md). Other origins get no CORS header.
  HttpResponse Dispatch(const HttpRequest& request) const;

  /// The origins whose pages may call the API (CORS); none by default.
  void AllowOrigins(std::vector<std::string> origins);

 private:
  HttpResponse RouteRequest(const HttpRequest& request, bool trusted_origin) const;
  HttpResponse Preflight(const HttpRequest& request) const;
  bool IsAllowedOrigin(std::string_view origin) const;

  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    RouteHandler handler;
    bool is_public = false;
  };
  Authenticator& authenticator_;
  std::vector<Route> routes_;
  std::vector<std::string> cors_origins_;  // lower case
};

/// What `request` says about its sender: method, Host, Origin and the API key of `x-api-key` or
/// `Authorization: Bearer`.
CallerCredentials CredentialsOf(const HttpRequest& request);

/// An RFC 9457 problem+json response for `error`.
HttpResponse ProblemResponse(const Error& error, std::string_view request_id);

/// A JSON response with the given status.
HttpResponse JsonResponse(int status, std::string body);

}  // namespace imgup
