#pragma once
// The Authenticator port: who is calling. The local server checks API keys (ApiKeyAuthenticator);
// on AWS the owner comes from the API Gateway authorizer context.
#include <optional>
#include <string>

#include "base/error.hpp"

namespace imgup {

/// What a request says about who sends it, in transport-neutral form (the router fills it in
/// from the request: CredentialsOf in api/router.hpp).
struct CallerCredentials {
  std::string method;  // "GET", "POST", ...
  std::string host;    // the Host the request was addressed to; "" when absent
  /// The origin the client addressed: "http://" + host, or https behind a TLS proxy that says
  /// so (Forwarded: proto=, X-Forwarded-Proto); "" without a Host.
  std::string public_origin;
  std::optional<std::string> origin;  // the Origin header, when the request has one
  std::string api_key;                // from `x-api-key`, or `Authorization: Bearer KEY`
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  /// The caller's owner id. Errors: kUnauthenticated (missing or wrong credentials),
  /// kPermissionDenied (credentials that are not accepted for this request).
  virtual Result<std::string> Authenticate(const CallerCredentials& caller) = 0;
};

}  // namespace imgup
