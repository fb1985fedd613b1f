#pragma once
// Presigned URLs for a blob store without its own (the local folder): HMAC-signed, expiring,
// one-time URLs on the local server, the stand-in for S3's presigned GET and POST. The local
// server answers them (api/blob_routes.hpp); a URL is good for this process only, as the secret
// is.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/ports/clock.hpp"

namespace imgup {

using FormFields = std::vector<std::pair<std::string, std::string>>;

class SignedUrls {
 public:
  /// Where the local server answers the URLs, relative to it.
  static constexpr std::string_view kGetPath = "/blobs/object";
  static constexpr std::string_view kPostPath = "/blobs/upload";

  /// `secret`: at least 32 random bytes. `clock` is not owned.
  SignedUrls(std::string secret, Clock& clock) : secret_(std::move(secret)), clock_(clock) {}

  /// A one-time GET URL for `key` (BlobStore::PresignGet).
  Result<std::string> SignGet(std::string_view key, std::int64_t expires_in_s,
                              const GetUrlOptions& options);
  /// A one-time form (BlobStore::PresignPost). Its URL carries the policy and its signature in
  /// its query as well as in the fields, so that the server can check it before the body.
  Result<PresignedPost> SignPost(const UploadPolicy& policy);

  struct GetGrant {
    std::string key;
    GetUrlOptions options;
  };
  /// Checks a GET URL's query parameters and uses it up. Errors: kPermissionDenied
  /// ("signature_mismatch", "url_expired", "url_used").
  Result<GetGrant> RedeemGet(const FormFields& query);

  struct PostGrant {
    UploadPolicy policy;  // the policy the form was signed with (expires_in_s is 0)
    std::string nonce;
  };
  /// Checks a form's fields (every part but the file) and uses it up. Errors: kPermissionDenied
  /// as RedeemGet; kInvalidArgument ("policy_violation") when a field differs from the policy.
  Result<PostGrant> RedeemPost(const FormFields& fields);
  /// Makes a redeemed form usable again (until it expires): what it was to store could not be
  /// stored, and the client may try again with the same form.
  void ReleasePost(const PostGrant& grant);

  /// Checks a form's URL (its query) before the form's body is read: signed by this server, not
  /// expired, not used. It does not use the form up: RedeemPost does, with the fields. The
  /// policy it was signed with (expires_in_s is 0). Errors: kPermissionDenied as RedeemGet.
  Result<UploadPolicy> CheckPostUrl(const FormFields& query);

 private:
  struct SignedPolicy {
    UploadPolicy policy;
    std::int64_t expires_at_ms = 0;
    std::string nonce;
  };
  /// The policy of `fields`' "policy", when "x-imgup-signature" signs it and it has not expired.
  Result<SignedPolicy> OpenPolicy(const FormFields& fields) const;
  std::string Sign(std::string_view what) const;
  /// Marks `nonce` used until `expires_at_ms`; false when it was used before.
  bool UseNonce(const std::string& nonce, std::int64_t expires_at_ms);
  bool NonceUsed(const std::string& nonce);
  std::string NewNonce();

  std::string secret_;
  Clock& clock_;
  std::mutex mutex_;
  std::uint64_t counter_ = 0;
  std::unordered_map<std::string, std::int64_t> used_;  // nonce -> expiry (ms)
};

}  // namespace imgup
