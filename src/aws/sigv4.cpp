#include "aws/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "codecs/sha256.hpp"
#include "codecs/text.hpp"

namespace imgup::aws {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool IsAsciiSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool IsHexUpper(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

// RFC 9110 token characters: what a header name or a method may hold.
bool IsTokenChar(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
}

tl::unexpected<Error> Refuse(std::string slug, std::string message) {
  return Fail(ErrorCode::kInvalidArgument, std::move(slug), std::move(message));
}

// SHA-256 fetched from OpenSSL's provider once: EVP_sha256() makes every HMAC() look the
// algorithm up again (OpenSSL 3's implicit fetch), a third of a signature's CPU time.
const EVP_MD* Sha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) std::abort();  // no default provider: nothing can be signed
  return md;
}

std::array<unsigned char, 32> HmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned int size = 0;
  // HMAC only fails on allocation failure or a broken crypto provider, and there is no
  // signature to fall back on (as with Sha256Hex).
  if (HMAC(Sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &size) == nullptr ||
      size != out.size()) {
    std::abort();
  }
  return out;
}

std::string_view AsView(const std::array<unsigned char, 32>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The headers and query parameters the signer writes itself: a request must not bring its own.
bool IsOwnedHeader(std::string_view lower_name) {
  return lower_name == "authorization" || lower_name == "x-amz-date" ||
         lower_name == "x-amz-security-token" || lower_name == "x-amz-content-sha256";
}

bool IsOwnedQueryParam(std::string_view name) {
  const std::string lower = AsciiLower(name);
  return lower == "x-amz-algorithm" || lower == "x-amz-credential" || lower == "x-amz-date" ||
         lower == "x-amz-expires" || lower == "x-amz-signedheaders" ||
         lower == "x-amz-security-token" || lower == "x-amz-signature";
}

// A line break inside a value is only allowed as obs-fold: CRLF or LF, then a space or tab.
// Anything else would let a value start a header of its own.
bool IsFoldedValue(std::string_view value) {
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\0') return false;
    if (c != '\r' && c != '\n') continue;
    if (c == '\r') {
      if (i + 1 >= value.size() || value[i + 1] != '\n') return false;
      ++i;
    }
    if (i + 1 >= value.size() || (value[i + 1] != ' ' && value[i + 1] != '\t')) return false;
  }
  return true;
}

bool IsEncodedPath(std::string_view path) {
  for (std::size_t i = 0; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (IsUnreserved(c) || c == '/') continue;
    if (c == '%' && i + 2 < path.size() && IsHexUpper(path[i + 1]) && IsHexUpper(path[i + 2])) {
      i += 2;
      continue;
    }
    return false;
  }
  return true;
}

std::optional<Error> CheckPath(std::string_view path, const SigningConfig& config) {
  if (path.empty() || path.front() != '/') {
    return Error{ErrorCode::kInvalidArgument, "sigv4_path", "the path to sign must start with '/'",
                 std::string(path)};
  }
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '?' || c == '#' || u < 0x20 || u == 0x7f) {
      return Error{ErrorCode::kInvalidArgument, "sigv4_path",
                   "the path to sign holds a character a request path cannot carry",
                   std::string(path)};
    }
  }
  // A path signed as sent must be sent encoded, or the server, which encodes the decoded path
  // itself, computes another signature.
  if (!config.encode_path && !IsEncodedPath(path)) {
    return Error{ErrorCode::kInvalidArgument, "sigv4_path",
                 "the path must be percent-encoded (UriEncode) when it is signed as sent",
                 std::string(path)};
  }
  return std::nullopt;
}

std::optional<Error> CheckConfig(const SigningConfig& config) {
  const Credentials& creds = config.credentials;
  if (creds.access_key_id.empty() || creds.secret_access_key.empty() || config.region.empty() ||
      config.service.empty()) {
    return Error{ErrorCode::kInvalidArgument,
                 "sigv4_config",
                 "signing needs an access key, a secret key, a region and a service",
                 {}};
  }
  using std::chrono::sys_days;
  const auto earliest = sys_days{std::chrono::year{1970} / 1 / 1};
  const auto latest = sys_days{std::chrono::year{10000} / 1 / 1};
  if (config.time < earliest || config.time >= latest) {
    return Error{ErrorCode::kInvalidArgument,
                 "sigv4_config",
                 "the signing time must lie in years 1970 to 9999",
                 {}};
  }
  return std::nullopt;
}

struct Prepared {
  std::string amz_date;
  std::string scope;
  std::string payload_hash;
  std::string canonical_path;
};

// The checks and the parts both forms share.
Result<Prepared> Prepare(const SignableRequest& request, const SigningConfig& config) {
  if (auto error = CheckConfig(config)) return tl::unexpected<Error>(std::move(*error));
  if (!IsToken(request.method)) {
    return Refuse("sigv4_method", "the method must be an HTTP token");
  }
  if (auto error = CheckPath(request.path, config)) {
    return tl::unexpected<Error>(std::move(*error));
  }
  int hosts = 0;
  for (const auto& header : request.headers) {
    if (!IsToken(header.name)) {
      return Refuse("sigv4_header_name", "a header name must be an HTTP token: " + header.name);
    }
    const std::string lower = AsciiLower(header.name);
    if (IsOwnedHeader(lower)) {
      return Refuse("sigv4_reserved_header", "the signer writes " + header.name + " itself");
    }
    if (!IsFoldedValue(header.value)) {
      return Refuse("sigv4_header_value",
                    "the value of " + header.name + " breaks a line without continuing it");
    }
    if (lower == "host") ++hosts;
  }
  if (hosts != 1) return Refuse("sigv4_host", "the request must carry exactly one Host header");

  Prepared prepared;
  if (request.payload_hash) {
    const std::string& hash = *request.payload_hash;
    const bool hex = hash.size() == 64 && std::all_of(hash.begin(), hash.end(), [](char c) {
                       return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                     });
    if (!hex && hash != kUnsignedPayload) {
      return Refuse("sigv4_payload_hash",
                    "the payload hash must be a lowercase hex SHA-256 or UNSIGNED-PAYLOAD");
    }
    prepared.payload_hash = hash;
  } else {
    prepared.payload_hash = Sha256Hex(request.body);
  }
  prepared.amz_date = AmzDate(config.time);
  prepared.scope = CredentialScope(config.time, config.region, config.service);
  prepared.canonical_path = CanonicalPath(request.path, config.normalize_path, config.encode_path);
  return prepared;
}

// The signing key changes only with the secret, the day, the region and the service: derived
// once per thread for the last of these (four HMACs of the five a signature costs), as AWS's
// SDKs cache it.
SigningKey CachedSigningKey(std::string_view secret, std::string_view date, std::string_view region,
                            std::string_view service) {
  struct Entry {
    std::string secret, date, region, service;
    SigningKey key{};
  };
  thread_local Entry last;
  if (last.date.empty() || last.secret != secret || last.date != date || last.region != region ||
      last.service != service) {
    last = {std::string(secret), std::string(date), std::string(region), std::string(service),
            DeriveSigningKey(secret, date, region, service)};
  }
  return last.key;
}

void Sign(const SigningConfig& config, const Prepared& prepared, SigningResult& result) {
  result.string_to_sign = StringToSign(prepared.amz_date, prepared.scope, result.canonical_request);
  const SigningKey key = CachedSigningKey(config.credentials.secret_access_key,
                                          std::string_view(prepared.amz_date).substr(0, 8),
                                          config.region, config.service);
  result.signature = SignatureHex(key, result.string_to_sign);
  result.credential_scope = prepared.scope;
  result.payload_hash = prepared.payload_hash;
}

}  // namespace

SigningConfig ForS3(Credentials credentials, std::string region, std::chrono::sys_seconds time) {
  SigningConfig config;
  config.credentials = std::move(credentials);
  config.region = std::move(region);
  config.service = "s3";
  config.time = time;
  config.normalize_path = false;
  config.encode_path = false;
  config.content_sha256_header = true;
  return config;
}

SigningConfig ForService(Credentials credentials, std::string region, std::string service,
                         std::chrono::sys_seconds time) {
  SigningConfig config;
  config.credentials = std::move(credentials);
  config.region = std::move(region);
  config.service = std::move(service);
  config.time = time;
  return config;
}

std::string UriEncode(std::string_view bytes, bool keep_slash) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xF]);
    }
  }
  return out;
}

std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> kept;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
    } else if (!segment.empty() && segment != ".") {
      kept.push_back(segment);
    }
    start = end + 1;
  }
  std::string out = "/";
  for (std::size_t i = 0; i < kept.size(); ++i) {
    out += kept[i];
    if (i + 1 < kept.size()) out.push_back('/');
  }
  if (!kept.empty() && !path.empty() && path.back() == '/') out.push_back('/');
  return out;
}

std::string CanonicalPath(std::string_view wire_path, bool normalize, bool encode) {
  std::string path = normalize ? NormalizePath(wire_path) : std::string(wire_path);
  return encode ? UriEncode(path, true) : path;
}

std::string CanonicalQuery(std::span<const QueryParam> params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& param : params) {
    encoded.emplace_back(UriEncode(param.name, false), UriEncode(param.value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

bool IsUnsignedHeader(std::string_view name) {
  // botocore's list and the AWS Common Runtime's, together.
  static constexpr std::string_view kUnsigned[] = {"baggage",
                                                   "connection",
                                                   "expect",
                                                   "keep-alive",
                                                   "proxy-authenticate",
                                                   "proxy-authorization",
                                                   "sec-websocket-key",
                                                   "sec-websocket-protocol",
                                                   "sec-websocket-version",
                                                   "te",
                                                   "traceparent",
                                                   "tracestate",
                                                   "trailer",
                                                   "transfer-encoding",
                                                   "upgrade",
                                                   "user-agent",
                                                   "x-amzn-trace-id"};
  const std::string lower = AsciiLower(name);
  return std::find(std::begin(kUnsigned), std::end(kUnsigned), lower) != std::end(kUnsigned);
}

std::string TrimAll(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char ch : value) {
    if (IsAsciiSpace(static_cast<unsigned char>(ch))) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(ch);
  }
  return out;
}

CanonicalHeaders CanonicalizeHeaders(std::span<const HttpHeader> headers) {
  // A stable sort by lower-case name keeps repeated headers in the order they are sent, which is
  // the order their values are joined in.
  std::vector<std::pair<std::string, std::string>> lowered;
  lowered.reserve(headers.size());
  for (const auto& header : headers) {
    if (IsUnsignedHeader(header.name)) continue;
    lowered.emplace_back(AsciiLower(header.name), TrimAll(header.value));
  }
  std::stable_sort(lowered.begin(), lowered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (std::size_t i = 0; i < lowered.size(); ++i) {
    const auto& [name, value] = lowered[i];
    if (i > 0 && lowered[i - 1].first == name) {
      out.block.back() = ',';  // replaces the previous value's '\n'
    } else {
      if (!out.signed_headers.empty()) out.signed_headers.push_back(';');
      out.signed_headers += name;
      out.block += name;
      out.block.push_back(':');
    }
    out.block += value;
    out.block.push_back('\n');
  }
  return out;
}

std::string CanonicalRequest(std::string_view method, std::string_view canonical_path,
                             std::string_view canonical_query, const CanonicalHeaders& headers,
                             std::string_view payload_hash) {
  std::string out;
  out.reserve(method.size() + canonical_path.size() + canonical_query.size() +
              headers.block.size() + headers.signed_headers.size() + payload_hash.size() + 8);
  out += method;
  out.push_back('\n');
  out += canonical_path;
  out.push_back('\n');
  out += canonical_query;
  out.push_back('\n');
  out += headers.block;
  out.push_back('\n');
  out += headers.signed_headers;
  out.push_back('\n');
  out += payload_hash;
  return out;
}

std::string AmzDate(std::chrono::sys_seconds time) {
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{time - day};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buffer;
}

std::string CredentialScope(std::chrono::sys_seconds time, std::string_view region,
                            std::string_view service) {
  std::string scope = AmzDate(time).substr(0, 8);
  scope.push_back('/');
  scope += region;
  scope.push_back('/');
  scope += service;
  scope += "/aws4_request";
  return scope;
}

std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request) {
  std::string out(kSigV4Algorithm);
  out.push_back('\n');
  out += amz_date;
  out.push_back('\n');
  out += credential_scope;
  out.push_back('\n');
  unsigned char digest[32];
  unsigned int size = 0;
  if (EVP_Digest(canonical_request.data(), canonical_request.size(), digest, &size, Sha256(),
                 nullptr) != 1 ||
      size != sizeof digest) {
    std::abort();
  }
  for (unsigned char byte : digest) {
    out.push_back(kHexLower[byte >> 4]);
    out.push_back(kHexLower[byte & 0xF]);
  }
  return out;
}

SigningKey DeriveSigningKey(std::string_view secret_access_key, std::string_view date,
                            std::string_view region, std::string_view service) {
  const std::string secret = "AWS4" + std::string(secret_access_key);
  const auto date_key = HmacSha256(secret, date);
  const auto region_key = HmacSha256(AsView(date_key), region);
  const auto service_key = HmacSha256(AsView(region_key), service);
  return HmacSha256(AsView(service_key), "aws4_request");
}

std::string SignatureHex(const SigningKey& key, std::string_view string_to_sign) {
  const auto mac = HmacSha256(AsView(key), string_to_sign);
  std::string out(64, '0');
  for (std::size_t i = 0; i < mac.size(); ++i) {
    out[2 * i] = kHexLower[mac[i] >> 4];
    out[2 * i + 1] = kHexLower[mac[i] & 0xF];
  }
  return out;
}

std::string EncodeQuery(std::span<const QueryParam> params) {
  std::string out;
  for (const auto& param : params) {
    if (!out.empty()) out.push_back('&');
    out += UriEncode(param.name, false);
    out.push_back('=');
    out += UriEncode(param.value, false);
  }
  return out;
}

Result<SigningResult> SignHeaders(const SignableRequest& request, const SigningConfig& config) {
  IMGUP_ASSIGN_OR_RETURN(const Prepared prepared, Prepare(request, config));
  const std::string& token = config.credentials.session_token;

  std::vector<HttpHeader> added;
  if (!token.empty()) added.push_back({"X-Amz-Security-Token", token});
  added.push_back({"X-Amz-Date", prepared.amz_date});
  if (config.content_sha256_header) {
    added.push_back({"x-amz-content-sha256", prepared.payload_hash});
  }

  std::vector<HttpHeader> signed_headers = request.headers;
  for (const auto& header : added) {
    if (header.name == "X-Amz-Security-Token" && !config.sign_session_token) continue;
    signed_headers.push_back(header);
  }
  const CanonicalHeaders canonical_headers = CanonicalizeHeaders(signed_headers);

  SigningResult result;
  result.signed_headers = canonical_headers.signed_headers;
  result.canonical_request =
      CanonicalRequest(request.method, prepared.canonical_path, CanonicalQuery(request.query),
                       canonical_headers, prepared.payload_hash);
  Sign(config, prepared, result);

  std::string authorization(kSigV4Algorithm);
  authorization += " Credential=" + config.credentials.access_key_id + "/" + prepared.scope;
  authorization += ", SignedHeaders=" + result.signed_headers;
  authorization += ", Signature=" + result.signature;
  added.push_back({"Authorization", std::move(authorization)});
  result.headers_to_add = std::move(added);
  return result;
}

Result<SigningResult> Presign(const SignableRequest& request, const SigningConfig& config) {
  if (config.expires < std::chrono::seconds{1} || config.expires > kMaxPresignExpiry) {
    return Refuse("sigv4_expires", "a presigned URL is valid for 1 second to 7 days");
  }
  for (const auto& param : request.query) {
    if (IsOwnedQueryParam(param.name)) {
      return Refuse("sigv4_reserved_query", "the signer writes " + param.name + " itself");
    }
  }
  IMGUP_ASSIGN_OR_RETURN(const Prepared prepared, Prepare(request, config));
  const CanonicalHeaders canonical_headers = CanonicalizeHeaders(request.headers);
  const std::string& token = config.credentials.session_token;

  std::vector<QueryParam> added = {
      {"X-Amz-Algorithm", std::string(kSigV4Algorithm)},
      {"X-Amz-Credential", config.credentials.access_key_id + "/" + prepared.scope},
      {"X-Amz-Date", prepared.amz_date},
      {"X-Amz-SignedHeaders", canonical_headers.signed_headers},
      {"X-Amz-Expires", std::to_string(config.expires.count())},
  };
  if (!token.empty()) added.push_back({"X-Amz-Security-Token", token});

  std::vector<QueryParam> signed_query = request.query;
  for (const auto& param : added) {
    if (param.name == "X-Amz-Security-Token" && !config.sign_session_token) continue;
    signed_query.push_back(param);
  }

  SigningResult result;
  result.signed_headers = canonical_headers.signed_headers;
  result.canonical_request =
      CanonicalRequest(request.method, prepared.canonical_path, CanonicalQuery(signed_query),
                       canonical_headers, prepared.payload_hash);
  Sign(config, prepared, result);
  added.push_back({"X-Amz-Signature", result.signature});
  result.query_to_add = std::move(added);
  return result;
}

}  // namespace imgup::aws
