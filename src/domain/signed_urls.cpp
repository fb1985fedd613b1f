#include "domain/signed_urls.hpp"

#include <charconv>
#include <optional>

#include "codecs/base64.hpp"
#include "codecs/sha256.hpp"
#include "codecs/text.hpp"
#include "domain/blob_keys.hpp"

namespace imgup {

namespace {

std::optional<std::string_view> Field(const FormFields& fields, std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// Constant-time comparison, so that a forger learns nothing from how long a refusal takes.
bool SameBytes(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

tl::unexpected<Error> Denied(std::string slug, std::string message) {
  return Fail(ErrorCode::kPermissionDenied, std::move(slug), std::move(message));
}

/// The fields a signature covers, one per line (none holds a newline: keys are validated, the
/// numbers are numbers, and the content headers are checked below).
std::string Canonical(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const std::string_view part : parts) {
    out += part;
    out += '\n';
  }
  return out;
}

bool HasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

constexpr std::int64_t kMaxExpirySeconds = 7 * 24 * 3600;  // S3's limit for presigned URLs

Result<void> CheckExpiry(std::int64_t expires_in_s) {
  if (expires_in_s <= 0 || expires_in_s > kMaxExpirySeconds) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_expiry",
                "A presigned URL expires after 1 s to 7 days");
  }
  return {};
}

}  // namespace

std::string SignedUrls::Sign(std::string_view what) const {
  return EncodeBase64Url(HmacSha256(secret_, what));
}

std::string SignedUrls::NewNonce() {
  std::lock_guard lock(mutex_);
  return std::to_string(++counter_);
}

bool SignedUrls::UseNonce(const std::string& nonce, std::int64_t expires_at_ms) {
  const std::int64_t now = clock_.NowMs();
  std::lock_guard lock(mutex_);
  // Forget what has expired: an expired URL is refused for its expiry alone.
  std::erase_if(used_, [now](const auto& entry) { return entry.second < now; });
  return used_.emplace(nonce, expires_at_ms).second;
}

bool SignedUrls::NonceUsed(const std::string& nonce) {
  std::lock_guard lock(mutex_);
  return used_.contains(nonce);
}

Result<std::string> SignedUrls::SignGet(std::string_view key, std::int64_t expires_in_s,
                                        const GetUrlOptions& options) {
  if (!IsValidBlobKey(key)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_key", "Not a valid blob key");
  }
  IMGUP_RETURN_IF_ERROR(CheckExpiry(expires_in_s));
  if (HasLineBreak(options.content_type) || HasLineBreak(options.content_disposition)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_header", "A header value has a line break");
  }
  const std::string expires = std::to_string(clock_.NowMs() + expires_in_s * 1000);
  const std::string nonce = NewNonce();
  const std::string signature = Sign(
      Canonical({"GET", key, expires, nonce, options.content_type, options.content_disposition}));
  return std::string(kGetPath) + "?key=" + PercentEncode(key) + "&expires=" + expires +
         "&nonce=" + nonce + "&type=" + PercentEncode(options.content_type) +
         "&disposition=" + PercentEncode(options.content_disposition) + "&signature=" + signature;
}

Result<SignedUrls::GetGrant> SignedUrls::RedeemGet(const FormFields& query) {
  const auto key = Field(query, "key");
  const auto expires = Field(query, "expires");
  const auto nonce = Field(query, "nonce");
  const auto type = Field(query, "type");
  const auto disposition = Field(query, "disposition");
  const auto signature = Field(query, "signature");
  if (!key || !expires || !nonce || !type || !disposition || !signature ||
      !SameBytes(*signature,
                 Sign(Canonical({"GET", *key, *expires, *nonce, *type, *disposition})))) {
    return Denied("signature_mismatch", "This URL is not one this server signed");
  }
  const auto expires_ms = ParseInt(*expires);
  if (!expires_ms || *expires_ms < clock_.NowMs()) {
    return Denied("url_expired", "This URL has expired; ask for a new one");
  }
  if (!UseNonce("g" + std::string(*nonce), *expires_ms)) {
    return Denied("url_used", "This URL has been used; ask for a new one");
  }
  return GetGrant{std::string(*key), GetUrlOptions{std::string(*type), std::string(*disposition)}};
}

Result<PresignedPost> SignedUrls::SignPost(const UploadPolicy& policy) {
  if (!IsValidBlobKey(policy.key)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_key", "Not a valid blob key");
  }
  IMGUP_RETURN_IF_ERROR(CheckExpiry(policy.expires_in_s));
  if (policy.content_type.empty() || HasLineBreak(policy.content_type) || policy.max_bytes == 0) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_policy",
                "A presigned upload needs a content type and a size above 0");
  }
  const std::int64_t expires_at = clock_.NowMs() + policy.expires_in_s * 1000;
  const std::string expires = std::to_string(expires_at);
  const std::string max = std::to_string(policy.max_bytes);
  const std::string nonce = NewNonce();
  const std::string encoded =
      EncodeBase64Url(Canonical({policy.key, policy.content_type, max, expires, nonce}));
  const std::string signature = Sign("POST\n" + encoded);
  PresignedPost post;
  post.url = std::string(kPostPath) + "?policy=" + encoded + "&x-imgup-signature=" + signature;
  post.fields = {{"key", policy.key},
                 {"Content-Type", policy.content_type},
                 {"policy", encoded},
                 {"x-imgup-signature", signature}};
  post.expires_at_ms = expires_at;
  return post;
}

Result<SignedUrls::SignedPolicy> SignedUrls::OpenPolicy(const FormFields& fields) const {
  const auto encoded = Field(fields, "policy");
  const auto signature = Field(fields, "x-imgup-signature");
  if (!encoded || !signature || !SameBytes(*signature, Sign("POST\n" + std::string(*encoded)))) {
    return Denied("signature_mismatch", "This form is not one this server signed");
  }
  const auto decoded = DecodeBase64Url(*encoded);
  if (!decoded) return Denied("signature_mismatch", "This form is not one this server signed");
  std::vector<std::string_view> lines;
  std::string_view rest = *decoded;
  while (!rest.empty()) {
    const std::size_t newline = rest.find('\n');
    lines.push_back(rest.substr(0, newline));
    rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
  }
  const auto max = lines.size() == 5 ? ParseInt(lines[2]) : std::nullopt;
  const auto expires_ms = lines.size() == 5 ? ParseInt(lines[3]) : std::nullopt;
  if (!max || !expires_ms || *max <= 0) {
    return Denied("signature_mismatch", "This form is not one this server signed");
  }
  if (*expires_ms < clock_.NowMs()) {
    return Denied("url_expired", "This form has expired; ask for a new one");
  }
  return SignedPolicy{UploadPolicy{std::string(lines[0]), std::string(lines[1]),
                                   static_cast<std::uint64_t>(*max), 0},
                      *expires_ms, "p" + std::string(lines[4])};
}

Result<SignedUrls::PostGrant> SignedUrls::RedeemPost(const FormFields& fields) {
  IMGUP_ASSIGN_OR_RETURN(SignedPolicy opened, OpenPolicy(fields));
  const UploadPolicy& policy = opened.policy;
  if (Field(fields, "key") != std::optional<std::string_view>(policy.key) ||
      Field(fields, "Content-Type") != std::optional<std::string_view>(policy.content_type)) {
    return Fail(ErrorCode::kInvalidArgument, "policy_violation",
                "The form's key and Content-Type must be the ones it was signed with");
  }
  if (!UseNonce(opened.nonce, opened.expires_at_ms)) {
    return Denied("url_used", "This form has been used; ask for a new one");
  }
  return PostGrant{std::move(opened.policy), std::move(opened.nonce)};
}

void SignedUrls::ReleasePost(const PostGrant& grant) {
  std::lock_guard lock(mutex_);
  used_.erase(grant.nonce);
}

Result<UploadPolicy> SignedUrls::CheckPostUrl(const FormFields& query) {
  IMGUP_ASSIGN_OR_RETURN(SignedPolicy opened, OpenPolicy(query));
  if (NonceUsed(opened.nonce)) {
    return Denied("url_used", "This form has been used; ask for a new one");
  }
  return std::move(opened.policy);
}

}  // namespace imgup
