#include "core/auth.hpp"

#include "core/base64.hpp"
#include "core/sha256.hpp"

namespace imgup {

bool IsValidOwnerName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
  }
  return true;
}

Result<std::string> ApiKeyAuthenticator::Authenticate(const HttpRequest& request) {
  auto has_keys = keys_.HasKeys();
  if (!has_keys) return tl::unexpected(has_keys.error());
  if (!*has_keys) return std::string(kLocalOwner);

  std::string_view key = request.Header("x-api-key");
  if (key.empty()) {
    const std::string_view authorization = request.Header("authorization");
    constexpr std::string_view kBearer = "bearer ";
    if (authorization.size() > kBearer.size()) {
      std::string scheme(authorization.substr(0, kBearer.size()));
      for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      if (scheme == kBearer) key = authorization.substr(kBearer.size());
    }
  }
  if (key.empty()) {
    return Fail(ErrorCode::kUnauthenticated, "unauthorized",
                "An API key is required: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'");
  }
  auto owner = keys_.FindByHash(Sha256Hex(key));
  if (!owner) {
    if (owner.error().code == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kUnauthenticated, "unauthorized", "The API key is not valid");
    }
    return tl::unexpected(owner.error());
  }
  return std::move(*owner);
}

std::string FormatApiKey(std::string_view random_bytes) {
  return "imgup_" + EncodeBase64Url(random_bytes);
}

}  // namespace imgup
