#pragma once
// AWS Signature Version 4, header and presigned-query forms, as plain functions over a request
// description and an explicit signing time. Every step is its own function, and the signing
// result carries the intermediate texts, so that tests can hold each one against AWS's signing
// suite and against an independent signer.
//
// The request is described as it goes on the wire: the path already percent-encoded, the query
// as decoded name/value pairs (the signer encodes them), the headers in the order they are sent.
// S3 and every other service differ in how they canonicalise the path (see SigningConfig).
#include <array>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace imgup::aws {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
/// The payload "hash" of a request whose body is not signed (presigned S3 URLs, streaming).
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
/// The SHA-256 of no bytes: the payload hash of a request without a body.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The longest validity of a presigned URL that AWS accepts (7 days).
inline constexpr std::chrono::seconds kMaxPresignExpiry{604800};

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

struct HttpHeader {
  std::string name;
  std::string value;  // as sent; may hold obs-fold continuation lines ("a\n  b")
};

struct QueryParam {
  std::string name;   // decoded
  std::string value;  // decoded
};

/// One HTTP request to sign.
struct SignableRequest {
  std::string method = "GET";
  /// The path as sent on the wire, starting with '/'. For S3 it must already be percent-encoded
  /// (UriEncode(key, true)); other services sign whatever is sent, encoded once more.
  std::string path = "/";
  std::vector<QueryParam> query;    // decoded, in the order they are sent
  std::vector<HttpHeader> headers;  // as sent; must hold exactly one Host
  /// The body, read only when `payload_hash` is unset. Not owned.
  std::string_view body;
  /// The lowercase hex SHA-256 of the body, or kUnsignedPayload. Unset: hashed from `body`.
  std::optional<std::string> payload_hash;
};

/// How to sign. Use ForS3 or ForService; the fields say what differs.
struct SigningConfig {
  Credentials credentials;
  std::string region;
  std::string service;
  /// The signing time (X-Amz-Date), from the caller's clock.
  std::chrono::sys_seconds time{};
  /// Remove empty, "." and ".." segments from the path (every service but S3).
  bool normalize_path = true;
  /// Percent-encode the already encoded path once more (every service but S3).
  bool encode_path = true;
  /// Header form: add and sign x-amz-content-sha256 with the payload hash. S3 requires it on
  /// every request; other services need it with an unsigned payload.
  bool content_sha256_header = false;
  /// Sign X-Amz-Security-Token (AWS's default). False adds it after signing, unsigned, as a
  /// few services want.
  bool sign_session_token = true;
  /// Presigned form: how long the URL is valid (X-Amz-Expires), 1 s to kMaxPresignExpiry.
  std::chrono::seconds expires{3600};
};

/// S3's rules: the path signed as sent (no normalisation, no second encoding), and
/// x-amz-content-sha256 on every header-signed request.
SigningConfig ForS3(Credentials credentials, std::string region, std::chrono::sys_seconds time);
/// Every other service: the path normalised and encoded a second time.
SigningConfig ForService(Credentials credentials, std::string region, std::string service,
                         std::chrono::sys_seconds time);

struct SigningResult {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;         // lowercase hex
  std::string signed_headers;    // "host;x-amz-date"
  std::string credential_scope;  // "20150830/us-east-1/service/aws4_request"
  std::string payload_hash;      // what the canonical request ends with
  /// Header form: the headers to add to the request, in this order: X-Amz-Security-Token (if
  /// any), X-Amz-Date, x-amz-content-sha256 (if configured), Authorization.
  std::vector<HttpHeader> headers_to_add;
  /// Presigned form: the decoded query parameters to append after the request's own, in this
  /// order: X-Amz-Algorithm, -Credential, -Date, -SignedHeaders, -Expires, -Security-Token (if
  /// any), -Signature. EncodeQuery renders them.
  std::vector<QueryParam> query_to_add;
};

/// Signs `request` with an Authorization header. kInvalidArgument ("sigv4_*") when the request
/// or the configuration cannot be signed: no or several Host headers, a header or query
/// parameter the signer owns (Authorization, X-Amz-Date, X-Amz-Security-Token,
/// x-amz-content-sha256, X-Amz-Signature, ...), a path that is not a wire path (or, for S3, not
/// percent-encoded), a bad header name or line break, empty credentials, region or service.
Result<SigningResult> SignHeaders(const SignableRequest& request, const SigningConfig& config);

/// Signs `request` as a presigned URL (the query-string form), valid for `config.expires`.
/// The same errors as SignHeaders, and an expiry out of range.
Result<SigningResult> Presign(const SignableRequest& request, const SigningConfig& config);

// ---------------------------------------------------------------------------------------------
// The steps, each exposed for tests and for the S3 client (keys, POST policies).

/// RFC 3986 percent-encoding as SigV4 wants it: every byte but A-Z a-z 0-9 - . _ ~ (and '/'
/// when `keep_slash`) as %XX with upper-case hex.
std::string UriEncode(std::string_view bytes, bool keep_slash);

/// Removes empty, "." and ".." segments from an absolute path; keeps a trailing '/'.
std::string NormalizePath(std::string_view path);

/// The path line of the canonical request.
std::string CanonicalPath(std::string_view wire_path, bool normalize, bool encode);

/// The query line: each name and value encoded, sorted by encoded name, then encoded value.
std::string CanonicalQuery(std::span<const QueryParam> params);

/// True for headers the signer leaves out because proxies add, change or drop them
/// (User-Agent, hop-by-hop headers, tracing headers).
bool IsUnsignedHeader(std::string_view name);

/// A header value as signed: trimmed, each run of ASCII whitespace (space, tab, CR, LF, VT, FF)
/// one space.
std::string TrimAll(std::string_view value);

struct CanonicalHeaders {
  std::string block;           // "name:value\n" per signed header, sorted, repeats comma-joined
  std::string signed_headers;  // "name;name"
};
/// The headers part of the canonical request, of every header not IsUnsignedHeader.
CanonicalHeaders CanonicalizeHeaders(std::span<const HttpHeader> headers);

/// Joins the canonical request's lines.
std::string CanonicalRequest(std::string_view method, std::string_view canonical_path,
                             std::string_view canonical_query, const CanonicalHeaders& headers,
                             std::string_view payload_hash);

/// "20150830T123600Z". The time must lie in years 1970 to 9999.
std::string AmzDate(std::chrono::sys_seconds time);
/// "20150830/us-east-1/service/aws4_request".
std::string CredentialScope(std::chrono::sys_seconds time, std::string_view region,
                            std::string_view service);

std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request);

using SigningKey = std::array<unsigned char, 32>;
/// HMAC chain "AWS4"+secret -> date (YYYYMMDD) -> region -> service -> "aws4_request". The key
/// holds for one day, region and service, so a caller may keep it.
SigningKey DeriveSigningKey(std::string_view secret_access_key, std::string_view date,
                            std::string_view region, std::string_view service);

/// Lowercase hex HMAC-SHA256 of the string to sign.
std::string SignatureHex(const SigningKey& key, std::string_view string_to_sign);

/// "name=value&name=value", each encoded as in the canonical query, in the given order.
std::string EncodeQuery(std::span<const QueryParam> params);

}  // namespace imgup::aws
