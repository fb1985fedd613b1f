#pragma once
#include <atomic>
#include <string>
#include <string_view>

#include "domain/ports/api_key_store.hpp"
#include "domain/ports/authenticator.hpp"

namespace imgup {

/// The owner every record belongs to when no API key is configured (loopback-only mode).
inline constexpr const char* kLocalOwner = "local";

/// Whether `name` can be an owner / key name: 1-64 of [a-z0-9_-], starting with [a-z0-9].
bool IsValidOwnerName(std::string_view name);

/// API keys from `Authorization: Bearer KEY` or `x-api-key: KEY`, looked up by their SHA-256.
///
/// Keyless mode: while the store holds no key, every caller is the owner "local" (the server
/// then listens on loopback only), provided the request is addressed to a loopback name
/// (IsLoopbackAuthority) — else 403 "forbidden_host", which stops DNS rebinding — and, when it
/// changes data, comes from the server's own page (IsSameOriginRequest) — else 403
/// "cross_origin", which stops cross-site form posts. docs/adr/0003-keyless-mode.md.
///
/// Keyless mode ends for good at the first key seen, at construction or in a later request:
/// removing every key then leaves a server that refuses (401), never one open to all.
class ApiKeyAuthenticator final : public Authenticator {
 public:
  /// When the store is first asked whether it holds keys.
  enum class FirstLook {
    kNow,  // at construction, so that a server that starts with keys never serves without one
    /// At the first request: a Lambda init makes no call to DynamoDB (a round trip, and the TLS
    /// trust store, ADR 8). Keys removed before that request are not seen as having existed.
    kFirstRequest,
  };
  explicit ApiKeyAuthenticator(ApiKeyStore& keys, FirstLook first_look = FirstLook::kNow);
  Result<std::string> Authenticate(const CallerCredentials& caller) override;

 private:
  ApiKeyStore& keys_;
  std::atomic<bool> keyed_{false};  // a key was seen; never cleared
};

/// Whether a Host header value ("name" or "name:port") names this machine's loopback interface
/// by itself, without DNS: "localhost", an IPv4 literal in 127.0.0.0/8 or "[::1]".
bool IsLoopbackAuthority(std::string_view host);

/// Whether a request may change data in keyless mode: safe methods (GET, HEAD, OPTIONS) and
/// requests without an Origin header (not sent by a browser) may; otherwise Origin must be the
/// origin the request is addressed to, "http://" + its Host, or "https://" + its Host behind a
/// TLS proxy that says so (a browser cannot add Forwarded or X-Forwarded-Proto to a cross-site
/// request without a CORS preflight).
bool IsSameOriginRequest(const CallerCredentials& caller);

/// A new random API key ("imgup_" + 43 base64url characters = 256 bits), from `random_bytes`.
std::string FormatApiKey(std::string_view random_bytes);

}  // namespace imgup
