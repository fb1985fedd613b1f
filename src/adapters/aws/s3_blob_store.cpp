#include "adapters/aws/s3_blob_store.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "codecs/base64.hpp"
#include "codecs/sha256.hpp"
#include "domain/blob_keys.hpp"

namespace imgup {

namespace {

constexpr std::string_view kStore = "blob store";
constexpr std::size_t kS3PageLimit = 1000;          // ListObjectsV2 and DeleteObjects
constexpr std::int64_t kMaxExpirySeconds = 604800;  // S3's limit for presigned URLs (7 days)

tl::unexpected<Error> InvalidKey(std::string_view key) {
  std::string shown(key.substr(0, 200));
  std::ranges::replace(shown, '\0', '?');
  return Fail(ErrorCode::kInvalidArgument, "invalid_key", "The storage key is not valid.",
              "invalid blob key: " + shown);
}

Result<void> CheckExpiry(std::int64_t expires_in_s) {
  if (expires_in_s <= 0 || expires_in_s > kMaxExpirySeconds) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_expiry",
                "A presigned URL expires after 1 s to 7 days");
  }
  return {};
}

bool HasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

/// The raw bytes of a lowercase hex digest.
std::string HexToBytes(std::string_view hex) {
  std::string bytes(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    unsigned value = 0;
    std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, value, 16);
    bytes[i] = static_cast<char>(value);
  }
  return bytes;
}

/// What S3 answered, for logs: "PutObject k: 403 AccessDenied: Access Denied (request R)".
std::string Describe(std::string_view what, const aws::AwsError& error) {
  std::string detail = std::string(what) + ": " + std::to_string(error.status);
  if (!error.code.empty()) detail += " " + error.code;
  if (!error.message.empty()) detail += ": " + error.message;
  if (!error.request_id.empty()) detail += " (request " + error.request_id + ")";
  return detail;
}

/// The domain's error for an S3 answer that is not a success. `what` names the call and key.
Error MapS3Error(const aws::HttpResponse& response, std::string_view what) {
  const aws::AwsError error = aws::ParseAwsError(response);
  std::string detail = Describe(what, error);
  // HEAD answers have no body: a 404 there is the key's (a missing bucket is found out by the
  // calls that have one, and by CheckBucket). A 404 with another code is not the key's: versitygw
  // answers an unknown access key id with 404 XAdminUserNotFound.
  if (error.code == "NoSuchKey" || (response.status == 404 && error.code == "404")) {
    return Error{ErrorCode::kNotFound, "not_found", "No object under this key.", std::move(detail)};
  }
  if (error.code == "ObjectParentIsFile" || error.code == "ExistingObjectIsDirectory") {
    // File-backed S3 stores (versitygw's posix backend) keep keys as paths, with FsBlobStore's
    // limit: a key cannot be both an object and a prefix of another.
    return Error{ErrorCode::kInvalidArgument, "key_conflict",
                 "The storage key clashes with another key.", std::move(detail)};
  }
  if (aws::IsClockSkew(error)) {
    // S3 refuses a signing time more than 15 minutes off its own; the answer's Date is S3's.
    std::string_view server_date = response.Header("date");
    if (!server_date.empty()) detail += "; the service's clock says " + std::string(server_date);
    return Error{ErrorCode::kUnavailable, "clock_skewed",
                 "The blob store refused the request: this server's clock is too far from the "
                 "storage service's. Set the clock right (NTP).",
                 std::move(detail)};
  }
  if (std::string refusal = aws::CredentialsRefusal(error); !refusal.empty()) {
    return Error{ErrorCode::kInternal, "storage_error",
                 "The blob store refused imgup's credentials.", std::move(detail) + ": " + refusal};
  }
  if (error.code == "InvalidRange") {
    return Error{ErrorCode::kInvalidArgument, "invalid_range", "The range is past the object's end",
                 std::move(detail)};
  }
  return StorageFailure(aws::IsRetryable(error), kStore, std::move(detail));
}

}  // namespace

Result<std::unique_ptr<S3BlobStore>> S3BlobStore::Make(
    S3BlobStoreConfig config, aws::HttpClient& http, aws::AwsCaller::CredentialsSource credentials,
    Clock& clock) {
  IMGUP_ASSIGN_OR_RETURN(s3::BucketAddress address,
                         s3::AddressBucket(config.endpoint, config.bucket, config.addressing));
  if (config.region.empty() || HasLineBreak(config.region)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_region", "The S3 region is not set");
  }
  const std::string& sse = config.server_side_encryption;
  if (!sse.empty() && sse != "AES256" && sse != "aws:kms" && sse != "aws:kms:dsse") {
    return Fail(ErrorCode::kInvalidArgument, "invalid_sse",
                "Server-side encryption is AES256, aws:kms or aws:kms:dsse", sse);
  }
  if (!config.sse_kms_key_id.empty() && !sse.starts_with("aws:kms")) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_sse",
                "A KMS key id needs aws:kms server-side encryption");
  }
  if (HasLineBreak(config.sse_kms_key_id)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_sse", "The KMS key id has a line break");
  }
  return std::unique_ptr<S3BlobStore>(
      new S3BlobStore(std::move(config), std::move(address), http, std::move(credentials), clock));
}

S3BlobStore::S3BlobStore(S3BlobStoreConfig config, s3::BucketAddress address, aws::HttpClient& http,
                         aws::AwsCaller::CredentialsSource credentials, Clock& clock)
    : config_(std::move(config)),
      address_(std::move(address)),
      endpoint_{address_.origin, config_.region, "s3"},
      credentials_(credentials),
      caller_(http, std::move(credentials), config_.retry, config_.signing_clock),
      clock_(clock) {}

std::chrono::sys_seconds S3BlobStore::SigningTime() {
  return std::chrono::sys_seconds(
      std::chrono::floor<std::chrono::seconds>(std::chrono::milliseconds(clock_.NowMs())));
}

Result<aws::HttpResponse> S3BlobStore::Call(aws::SignableRequest request, std::string_view what) {
  auto response = caller_.Call(endpoint_, std::move(request));
  if (!response) {
    Error error = std::move(response.error());
    if (error.code == ErrorCode::kUnavailable) {
      // An untrusted certificate or a host that does not exist is the configuration's fault:
      // storage_error, not a storage_unavailable that invites trying again.
      return tl::unexpected(StorageFailure(
          aws::IsTransientTransportError(error), kStore,
          std::string(what) + ": " + error.slug + ": " + error.message + ": " + error.detail));
    }
    error.detail = std::string(what) + ": " + error.detail;
    return tl::unexpected(std::move(error));
  }
  return response;
}

Result<void> S3BlobStore::Put(std::string_view key, std::string_view data,
                              std::string_view content_type) {
  if (!IsValidBlobKey(key)) return InvalidKey(key);
  if (HasLineBreak(content_type)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_header", "A header value has a line break");
  }
  const std::string hash = Sha256Hex(data);
  aws::SignableRequest request;
  request.method = "PUT";
  request.path = address_.ObjectPath(key);
  request.body = data;
  request.payload_hash = hash;
  request.headers.push_back({"Content-Type", content_type.empty() ? "application/octet-stream"
                                                                  : std::string(content_type)});
  if (config_.checksum_sha256) {
    request.headers.push_back({"x-amz-checksum-sha256", EncodeBase64(HexToBytes(hash))});
  }
  if (!config_.server_side_encryption.empty()) {
    request.headers.push_back({"x-amz-server-side-encryption", config_.server_side_encryption});
    if (!config_.sse_kms_key_id.empty()) {
      request.headers.push_back(
          {"x-amz-server-side-encryption-aws-kms-key-id", config_.sse_kms_key_id});
    }
  }
  const std::string what = "PutObject " + std::string(key);
  IMGUP_ASSIGN_OR_RETURN(const aws::HttpResponse response, Call(std::move(request), what));
  if (response.status != 200) return tl::unexpected(MapS3Error(response, what));
  return {};
}

Result<std::string> S3BlobStore::Get(std::string_view key) {
  if (!IsValidBlobKey(key)) return InvalidKey(key);
  aws::SignableRequest request;
  request.method = "GET";
  request.path = address_.ObjectPath(key);
  const std::string what = "GetObject " + std::string(key);
  IMGUP_ASSIGN_OR_RETURN(aws::HttpResponse response, Call(std::move(request), what));
  if (response.status != 200) return tl::unexpected(MapS3Error(response, what));
  return std::move(response.body);
}

Result<std::string> S3BlobStore::GetRange(std::string_view key, std::uint64_t offset,
                                          std::uint64_t length) {
  if (!IsValidBlobKey(key)) return InvalidKey(key);
  if (length == 0) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_range", "A range holds at least one byte");
  }
  aws::SignableRequest request;
  request.method = "GET";
  request.path = address_.ObjectPath(key);
  request.headers.push_back(
      {"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)});
  const std::string what = "GetObject " + std::string(key) + " (range)";
  IMGUP_ASSIGN_OR_RETURN(aws::HttpResponse response, Call(std::move(request), what));
  if (response.status != 206 && response.status != 200) {
    return tl::unexpected(MapS3Error(response, what));
  }
  if (response.status == 200) {
    // A store that ignores Range sends the whole object: cut it here.
    if (offset >= response.body.size()) {
      return Fail(ErrorCode::kInvalidArgument, "invalid_range",
                  "The range is past the object's end");
    }
    return response.body.substr(offset, length);
  }
  return std::move(response.body);
}

Result<BlobEntry> S3BlobStore::Head(std::string_view key) {
  if (!IsValidBlobKey(key)) return InvalidKey(key);
  aws::SignableRequest request;
  request.method = "HEAD";
  request.path = address_.ObjectPath(key);
  const std::string what = "HeadObject " + std::string(key);
  IMGUP_ASSIGN_OR_RETURN(const aws::HttpResponse response, Call(std::move(request), what));
  if (response.status != 200) return tl::unexpected(MapS3Error(response, what));
  BlobEntry entry;
  entry.key = std::string(key);
  const std::string_view length = response.Header("content-length");
  const auto [end, ec] =
      std::from_chars(length.data(), length.data() + length.size(), entry.size_bytes);
  const auto modified = s3::ParseHttpDateMs(response.Header("last-modified"));
  if (length.empty() || ec != std::errc{} || end != length.data() + length.size() || !modified) {
    return tl::unexpected(
        StorageFailure(false, kStore, what + ": no Content-Length or Last-Modified"));
  }
  entry.modified_ms = *modified;
  return entry;
}

Result<void> S3BlobStore::Delete(std::string_view key) {
  if (!IsValidBlobKey(key)) return InvalidKey(key);
  aws::SignableRequest request;
  request.method = "DELETE";
  request.path = address_.ObjectPath(key);
  const std::string what = "DeleteObject " + std::string(key);
  IMGUP_ASSIGN_OR_RETURN(const aws::HttpResponse response, Call(std::move(request), what));
  // S3 answers 204 whether or not the key existed; some stores say 404 NoSuchKey.
  if (response.status == 204 || response.status == 200) return {};
  Error error = MapS3Error(response, what);
  if (error.code == ErrorCode::kNotFound) return {};
  return tl::unexpected(std::move(error));
}

Result<void> S3BlobStore::DeleteKeys(std::span<const std::string> keys) {
  for (const auto& key : keys) {
    if (!IsValidBlobKey(key)) return InvalidKey(key);
  }
  for (std::size_t start = 0; start < keys.size(); start += kS3PageLimit) {
    const auto batch = keys.subspan(start, std::min(kS3PageLimit, keys.size() - start));
    const std::string body = s3::DeleteObjectsBody(batch);
    const std::string hash = Sha256Hex(body);
    aws::SignableRequest request;
    request.method = "POST";
    request.path = address_.BucketPath();
    request.query.push_back({"delete", ""});
    request.body = body;
    request.payload_hash = hash;
    request.headers.push_back({"Content-Type", "application/xml"});
    // S3 requires a checksum of a DeleteObjects body (Content-MD5 or an x-amz-checksum-*).
    request.headers.push_back({"x-amz-checksum-sha256", EncodeBase64(HexToBytes(hash))});
    const std::string what =
        "DeleteObjects (" + std::to_string(batch.size()) + " keys from " + batch.front() + ")";
    IMGUP_ASSIGN_OR_RETURN(const aws::HttpResponse response, Call(std::move(request), what));
    if (response.status != 200) return tl::unexpected(MapS3Error(response, what));
    IMGUP_ASSIGN_OR_RETURN(const auto failures, s3::ParseDeleteResult(response.body));
    for (const auto& failure : failures) {
      if (failure.code == "NoSuchKey") continue;
      return tl::unexpected(
          StorageFailure(failure.code == "InternalError" || failure.code == "SlowDown", kStore,
                         what + ": " + failure.key + ": " + failure.code + ": " + failure.message));
    }
  }
  return {};
}

Result<std::size_t> S3BlobStore::DeletePrefix(std::string_view prefix) {
  if (prefix.empty() || !IsValidBlobPrefix(prefix)) return InvalidKey(prefix);
  std::size_t removed = 0;
  // Each page is removed before the next is asked for; S3's continuation token stays good
  // when the keys before it go.
  std::string token;
  do {
    IMGUP_ASSIGN_OR_RETURN(const BlobPage page, List(prefix, token, kS3PageLimit));
    std::vector<std::string> keys;
    keys.reserve(page.items.size());
    for (const auto& entry : page.items) keys.push_back(entry.key);
    IMGUP_RETURN_IF_ERROR(DeleteKeys(keys));
    removed += keys.size();
    token = page.next_token;
  } while (!token.empty());
  return removed;
}

Result<BlobPage> S3BlobStore::List(std::string_view prefix, std::string_view token,
                                   std::size_t limit) {
  if (!IsValidBlobPrefix(prefix)) return InvalidKey(prefix);
  if (limit == 0) return Fail(ErrorCode::kInvalidArgument, "invalid_limit", "limit is 0");
  aws::SignableRequest request;
  request.method = "GET";
  request.path = address_.BucketPath();
  request.query.push_back({"list-type", "2"});
  if (!token.empty()) {
    auto continuation = s3::UnwrapListToken(prefix, token);
    if (!continuation) {
      return Fail(ErrorCode::kInvalidArgument, "invalid_token", "Not a token of this prefix.");
    }
    request.query.push_back({"continuation-token", std::move(*continuation)});
  }
  request.query.push_back({"max-keys", std::to_string(std::min(limit, kS3PageLimit))});
  request.query.push_back({"prefix", std::string(prefix)});
  const std::string what = "ListObjectsV2 '" + std::string(prefix) + "'";
  IMGUP_ASSIGN_OR_RETURN(const aws::HttpResponse response, Call(std::move(request), what));
  if (response.status != 200) return tl::unexpected(MapS3Error(response, what));
  IMGUP_ASSIGN_OR_RETURN(s3::ListObjectsPage listed, s3::ParseListObjectsV2(response.body));
  BlobPage page;
  for (auto& entry : listed.items) {
    // A key that is not a BlobStore key (written by something else) is not this store's.
    if (IsValidBlobKey(entry.key) && entry.key.starts_with(prefix)) {
      page.items.push_back(std::move(entry));
    }
  }
  if (listed.truncated) page.next_token = s3::WrapListToken(prefix, listed.next_continuation_token);
  return page;
}

Result<std::string> S3BlobStore::PresignGet(std::string_view key, std::int64_t expires_in_s,
                                            const GetUrlOptions& options) {
  if (!IsValidBlobKey(key)) return InvalidKey(key);
  IMGUP_RETURN_IF_ERROR(CheckExpiry(expires_in_s));
  if (HasLineBreak(options.content_type) || HasLineBreak(options.content_disposition)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_header", "A header value has a line break");
  }
  auto credentials = credentials_();
  if (!credentials) return tl::unexpected(std::move(credentials.error()));
  aws::SignableRequest request;
  request.method = "GET";
  request.path = address_.ObjectPath(key);
  // In the order boto3 puts them (the signature does not depend on it).
  if (!options.content_disposition.empty()) {
    request.query.push_back({"response-content-disposition", options.content_disposition});
  }
  if (!options.content_type.empty()) {
    request.query.push_back({"response-content-type", options.content_type});
  }
  const std::string origin = address_.origin;
  request.headers.push_back({"Host", origin.substr(origin.find("://") + 3)});
  request.payload_hash = std::string(aws::kUnsignedPayload);
  aws::SigningConfig config = aws::ForS3(std::move(*credentials), config_.region, SigningTime());
  config.expires = std::chrono::seconds(expires_in_s);
  auto signature = aws::Presign(request, config);
  if (!signature) {
    return tl::unexpected(StorageFailure(
        false, kStore, "presign " + std::string(key) + ": " + signature.error().detail));
  }
  std::vector<aws::QueryParam> query = request.query;
  query.insert(query.end(), signature->query_to_add.begin(), signature->query_to_add.end());
  return origin + request.path + "?" + aws::EncodeQuery(query);
}

Result<PresignedPost> S3BlobStore::PresignPost(const UploadPolicy& policy) {
  if (!IsValidBlobKey(policy.key)) return InvalidKey(policy.key);
  IMGUP_RETURN_IF_ERROR(CheckExpiry(policy.expires_in_s));
  if (policy.content_type.empty() || HasLineBreak(policy.content_type) || policy.max_bytes == 0) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_policy",
                "A presigned upload needs a content type and a size above 0");
  }
  auto credentials = credentials_();
  if (!credentials) return tl::unexpected(std::move(credentials.error()));
  const auto now = SigningTime();
  s3::PostForm form = s3::BuildPostForm(config_.bucket, policy, *credentials, config_.region, now);
  PresignedPost post;
  // boto3's url: the bucket's, with the path-style bucket and no trailing slash.
  post.url = address_.origin + (address_.path_prefix.empty() ? "/" : address_.path_prefix);
  post.fields = std::move(form.fields);
  post.expires_at_ms = (now.time_since_epoch().count() + policy.expires_in_s) * 1000;
  return post;
}

Result<void> S3BlobStore::CreateBucket() {
  aws::SignableRequest request;
  request.method = "PUT";
  request.path = address_.BucketPath();
  std::string body;
  if (config_.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        s3::XmlEscape(config_.region) + "</LocationConstraint></CreateBucketConfiguration>";
  }
  request.body = body;
  const std::string what = "CreateBucket " + config_.bucket;
  IMGUP_ASSIGN_OR_RETURN(const aws::HttpResponse response, Call(std::move(request), what));
  if (response.status == 200) return {};
  if (aws::ParseAwsError(response).code == "BucketAlreadyOwnedByYou") return {};
  return tl::unexpected(MapS3Error(response, what));
}

Result<void> S3BlobStore::DeleteBucket() {
  aws::SignableRequest request;
  request.method = "DELETE";
  request.path = address_.BucketPath();
  const std::string what = "DeleteBucket " + config_.bucket;
  IMGUP_ASSIGN_OR_RETURN(const aws::HttpResponse response, Call(std::move(request), what));
  if (response.status == 204 || response.status == 200) return {};
  if (aws::ParseAwsError(response).code == "NoSuchBucket") return {};
  return tl::unexpected(MapS3Error(response, what));
}

Result<void> S3BlobStore::CheckBucket() {
  aws::SignableRequest request;
  request.method = "HEAD";
  request.path = address_.BucketPath();
  const std::string what = "HeadBucket " + config_.bucket;
  IMGUP_ASSIGN_OR_RETURN(const aws::HttpResponse response, Call(std::move(request), what));
  if (response.status == 200) return {};
  // HEAD answers carry no body: the status says what went wrong.
  std::string detail = what + ": " + std::to_string(response.status);
  if (response.status == 404) detail += " (no such bucket)";
  if (response.status == 403) detail += " (access denied: credentials or policy)";
  if (response.status == 400 || response.status == 301) detail += " (wrong region or endpoint)";
  return tl::unexpected(StorageFailure(response.status >= 500, kStore, std::move(detail)));
}

}  // namespace imgup
