#pragma once
// S3's wire formats as plain functions, so that each is tested on its own: where a bucket's
// requests go (path-style or virtual-hosted), ListObjectsV2 and DeleteObjects bodies, S3's times,
// POST policies, and the BlobStore's list tokens around S3's continuation tokens.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aws/endpoints.hpp"
#include "aws/sigv4.hpp"
#include "base/error.hpp"
#include "domain/ports/blob_store.hpp"

namespace imgup::s3 {

/// Where a bucket's requests go: `origin` is what is signed and sent to (scheme://host[:port]),
/// `path_prefix` comes before each object's path ("/bucket" path-style, "" virtual-hosted, after
/// the endpoint's own base path if it has one).
struct BucketAddress {
  std::string origin;
  std::string path_prefix;
  /// The path of the object `key` (UriEncode'd, '/' kept), e.g. "/bucket/originals/a/1".
  std::string ObjectPath(std::string_view key) const;
  /// The path of the bucket itself: "/bucket" or "/".
  std::string BucketPath() const;
};

/// A bucket name S3 accepts in any region: 3-63 of [a-z0-9.-], starting and ending with a letter
/// or digit, no "..", not an IPv4 address.
bool IsValidBucketName(std::string_view bucket);

/// Where `bucket` lives on `endpoint` ("http(s)://host[:port][/path]"), addressed as
/// aws::LocateS3Object says (path-style when asked, for an IP address or localhost, or for a
/// bucket that cannot be a host name). kInvalidArgument "invalid_s3_endpoint" for an endpoint
/// that is not such a URL, "invalid_bucket" for a bad bucket name.
Result<BucketAddress> AddressBucket(std::string_view endpoint, std::string_view bucket,
                                    aws::S3AddressingStyle style);

/// One page of ListObjectsV2.
struct ListObjectsPage {
  std::vector<BlobEntry> items;
  bool truncated = false;
  std::string next_continuation_token;
};
/// Parses a ListBucketResult. kInternal "s3_bad_answer" for anything else.
Result<ListObjectsPage> ParseListObjectsV2(std::string_view xml);

/// Escapes &, <, >, " and ' for XML text and attribute values.
std::string XmlEscape(std::string_view text);

/// The body of a DeleteObjects call in quiet mode (only failures are reported).
std::string DeleteObjectsBody(std::span<const std::string> keys);
struct DeleteFailure {
  std::string key;
  std::string code;
  std::string message;
};
/// The <Error> entries of a DeleteResult. kInternal "s3_bad_answer" for anything else.
Result<std::vector<DeleteFailure>> ParseDeleteResult(std::string_view xml);

/// "2009-10-12T17:50:30.000Z" (ListObjectsV2's LastModified), fraction optional.
std::optional<std::int64_t> ParseIso8601Ms(std::string_view text);
/// "Wed, 12 Oct 2009 17:50:00 GMT" (IMF-fixdate: Last-Modified).
std::optional<std::int64_t> ParseHttpDateMs(std::string_view text);

/// The BlobStore's list token: S3's continuation token bound to the prefix it was returned for.
/// The binding is a check, not a secret: S3 already refuses tokens it did not issue, and the
/// prefix is sent with every page, so a forged token cannot list outside it; the check makes a
/// token from another prefix fail as the contract says instead of listing from an odd place.
std::string WrapListToken(std::string_view prefix, std::string_view continuation_token);
/// S3's continuation token, or nullopt when `token` is not one of `prefix`.
std::optional<std::string> UnwrapListToken(std::string_view prefix, std::string_view token);

/// A browser-based upload's policy and form, as boto3's generate_presigned_post builds it:
/// fields key, Content-Type, x-amz-algorithm, x-amz-credential, x-amz-date,
/// [x-amz-security-token], policy, x-amz-signature; conditions bucket, key, Content-Type,
/// content-length-range 1..max_bytes and each x-amz-* field.
struct PostForm {
  std::string policy_json;
  std::vector<std::pair<std::string, std::string>> fields;
};
PostForm BuildPostForm(std::string_view bucket, const UploadPolicy& policy,
                       const aws::Credentials& credentials, std::string_view region,
                       std::chrono::sys_seconds now);

}  // namespace imgup::s3
