#pragma once
#include <string>

#include "core/ports.hpp"
#include "core/router.hpp"

namespace imgup {

/// The owner every record belongs to when no API key is configured (loopback-only mode).
inline constexpr const char* kLocalOwner = "local";

/// Whether `name` can be an owner / key name: 1-64 of [a-z0-9_-], starting with [a-z0-9].
bool IsValidOwnerName(std::string_view name);

/// API keys from `Authorization: Bearer KEY` or `x-api-key: KEY`, looked up by their SHA-256.
/// With no key configured every caller is the owner "local" (the server then listens on
/// loopback only).
class ApiKeyAuthenticator final : public Authenticator {
 public:
  explicit ApiKeyAuthenticator(ApiKeyStore& keys) : keys_(keys) {}
  Result<std::string> Authenticate(const HttpRequest& request) override;

 private:
  ApiKeyStore& keys_;
};

/// A new random API key ("imgup_" + 43 base64url characters = 256 bits), from `random_bytes`.
std::string FormatApiKey(std::string_view random_bytes);

}  // namespace imgup
