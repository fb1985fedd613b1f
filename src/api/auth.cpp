#include "api/auth.hpp"

#include "api/http.hpp"
#include "codecs/base64.hpp"
#include "codecs/sha256.hpp"

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

namespace {

bool IsDecimalOctet(std::string_view text) {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text.front() == '0')) return false;
  int value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return value <= 255;
}

bool IsLoopbackIpv4(std::string_view name) {
  int octets = 0;
  bool first_is_127 = false;
  for (std::size_t start = 0; start <= name.size();) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view octet = name.substr(start, dot - start);
    if (!IsDecimalOctet(octet)) return false;
    if (octets == 0) first_is_127 = octet == "127";
    ++octets;
    start = dot + 1;
  }
  return octets == 4 && first_is_127;
}

Result<std::string> AuthenticateKeyless(const CallerCredentials& caller) {
  const std::string& host = caller.host;
  // A request without Host (HTTP/1.0; the transport refuses HTTP/1.1 without one) is not from a
  // browser, and only a browser can be made to send a rebinding attacker's requests.
  if (!host.empty() && !IsLoopbackAuthority(host)) {
    return Fail(ErrorCode::kPermissionDenied, "forbidden_host",
                "Without API keys this server answers only requests addressed to localhost, "
                "127.0.0.1 or [::1]; this one was addressed to '" +
                    std::string(host) +
                    "'. Add a key ('imgup keys add NAME') to serve other names.");
  }
  if (!IsSameOriginRequest(caller)) {
    return Fail(ErrorCode::kPermissionDenied, "cross_origin",
                "Without API keys, a request that changes data must come from this server's own "
                "page: Origin '" +
                    caller.origin.value_or("") + "' is not " + caller.public_origin);
  }
  return std::string(kLocalOwner);
}

}  // namespace

bool IsLoopbackAuthority(std::string_view host) {
  std::string_view name = host;
  std::string_view port;
  if (!name.empty() && name.front() == '[') {
    const std::size_t close = name.find(']');
    if (close == std::string_view::npos) return false;
    port = name.substr(close + 1);
    name = name.substr(1, close - 1);
    if (!port.empty() && port.front() != ':') return false;
  } else {
    const std::size_t colon = name.find(':');
    if (colon != std::string_view::npos) {
      port = name.substr(colon);
      name = name.substr(0, colon);
    }
  }
  if (!port.empty()) {
    port.remove_prefix(1);  // ':'
    if (port.empty() || port.size() > 5) return false;
    for (const char c : port) {
      if (c < '0' || c > '9') return false;
    }
  }
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // "localhost." is the same
  const std::string lower = AsciiLower(name);
  return lower == "localhost" || lower == "::1" || IsLoopbackIpv4(lower);
}

bool IsSameOriginRequest(const CallerCredentials& caller) {
  if (caller.method == "GET" || caller.method == "HEAD" || caller.method == "OPTIONS") return true;
  if (!caller.origin) return true;
  return !caller.public_origin.empty() &&
         AsciiLower(*caller.origin) == AsciiLower(caller.public_origin);
}

ApiKeyAuthenticator::ApiKeyAuthenticator(ApiKeyStore& keys, FirstLook first_look) : keys_(keys) {
  if (first_look == FirstLook::kFirstRequest) return;
  // An error here is reported by the first request, which asks again.
  auto has_keys = keys_.HasKeys();
  keyed_.store(has_keys && *has_keys);
}

Result<std::string> ApiKeyAuthenticator::Authenticate(const CallerCredentials& caller) {
  if (!keyed_.load()) {
    IMGUP_ASSIGN_OR_RETURN(const bool has_keys, keys_.HasKeys());
    if (!has_keys) return AuthenticateKeyless(caller);
    keyed_.store(true);
  }
  if (caller.api_key.empty()) {
    return Fail(ErrorCode::kUnauthenticated, "unauthorized",
                "An API key is required: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'");
  }
  auto owner = keys_.FindByHash(Sha256Hex(caller.api_key));
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
