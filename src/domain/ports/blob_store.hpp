#pragma once
// The BlobStore port: opaque bytes under keys (FsBlobStore; S3BlobStore on AWS). Every
// implementation passes tests/unit/blob_store_contract_test.cpp.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"

namespace imgup {

struct BlobEntry {
  std::string key;
  std::uint64_t size_bytes = 0;
  std::int64_t modified_ms = 0;  // last modification, Unix epoch milliseconds
};

/// How a presigned GET answers, besides the bytes (S3's response-content-type and
/// response-content-disposition overrides).
struct GetUrlOptions {
  std::string content_type;         // "" : the stored object's
  std::string content_disposition;  // "" : none
};

/// What a presigned POST allows (S3's POST policy): one object under a fixed key, of a fixed
/// content type, 1 to `max_bytes` long, sent before `expires_in_s` seconds have passed.
struct UploadPolicy {
  std::string key;
  std::string content_type;
  std::uint64_t max_bytes = 0;
  std::int64_t expires_in_s = 0;
};

/// A presigned POST, in the shape boto3's generate_presigned_post returns: an HTML form posted
/// to `url` (multipart/form-data) with `fields` first, in order, and the file last, in a part
/// named "file".
struct PresignedPost {
  std::string url;
  std::vector<std::pair<std::string, std::string>> fields;
  std::int64_t expires_at_ms = 0;  // Unix epoch milliseconds
};

/// One page of BlobStore::List.
struct BlobPage {
  std::vector<BlobEntry> items;
  std::string next_token;  // empty: no more pages
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  /// Stores `data` under `key`, replacing any previous object. Atomic: a reader sees the whole
  /// new object or the previous state, never a partial one, even if the process dies mid-way.
  /// Errors: kInvalidArgument for an invalid key, kUnavailable/kInternal for storage failures.
  virtual Result<void> Put(std::string_view key, std::string_view data,
                           std::string_view content_type) = 0;
  /// Returns the bytes stored under `key`. Errors: kNotFound, kInvalidArgument (bad key).
  virtual Result<std::string> Get(std::string_view key) = 0;
  /// Size and time of the object. Errors: kNotFound, kInvalidArgument (bad key).
  virtual Result<BlobEntry> Head(std::string_view key) = 0;
  /// Removes the object. Removing a missing key succeeds (idempotent).
  virtual Result<void> Delete(std::string_view key) = 0;
  /// One page of the objects whose key starts with `prefix`, in key order, starting after the
  /// page that returned `token` (empty: from the first key). Never lists partial writes.
  /// A page holds at most `limit` objects (S3 lists at most 1000 at a time, whatever the
  /// limit); a short page is not the last one: only an empty `next_token` says that no more
  /// follow. The token is opaque, and valid only with the prefix it was returned for.
  /// Walking every page sees every object that existed for the whole walk exactly once.
  /// Errors: kInvalidArgument for an invalid prefix, a token that is not one of this prefix,
  /// or a `limit` of 0.
  virtual Result<BlobPage> List(std::string_view prefix, std::string_view token,
                                std::size_t limit) = 0;

  /// A URL that lets whoever holds it GET the object under `key` for `expires_in_s` seconds,
  /// without credentials: answered with the object's bytes and `options`' headers; refused
  /// (403) once expired or altered. Whether the object exists is only known when it is used.
  /// Local URLs are relative to the local server and can be used once; S3's are absolute.
  /// Errors: kInvalidArgument (bad key, expiry not above 0).
  virtual Result<std::string> PresignGet(std::string_view key, std::int64_t expires_in_s,
                                         const GetUrlOptions& options) = 0;
  /// A form that lets whoever holds it store one object as `policy` allows, without
  /// credentials. A form that breaks the policy (other key or type, too large, empty, expired,
  /// altered) stores nothing. Local forms can be used once.
  /// Errors: kInvalidArgument (bad key, no content type, max_bytes or expiry not above 0).
  virtual Result<PresignedPost> PresignPost(const UploadPolicy& policy) = 0;
};

}  // namespace imgup
