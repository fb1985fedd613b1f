#pragma once
// The ports: small abstract interfaces the domain needs from the outside world. Implementations
// are named for their technology (FsBlobStore, SqliteMetadataStore, S3BlobStore, ...). Every
// implementation passes the same contract suite in tests/unit/*_contract_test.cpp.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/image_record.hpp"

namespace imgup {

struct BlobEntry {
  std::string key;
  std::uint64_t size_bytes = 0;
  std::int64_t modified_ms = 0;  // last modification, Unix epoch milliseconds
};

/// Stores opaque bytes under keys like "originals/{owner}/{id}".
/// Keys are relative, '/'-separated, made of [A-Za-z0-9._-] segments; no segment is "." or "..".
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
  /// Every object whose key starts with `prefix`, in key order. Never lists partial writes.
  virtual Result<std::vector<BlobEntry>> List(std::string_view prefix) = 0;
};

/// Stores image records. Every read and write is scoped to an owner: a record of another owner
/// behaves exactly like a missing one.
class MetadataStore {
 public:
  virtual ~MetadataStore() = default;
  /// Inserts a new record. Errors: kConflict with slug "duplicate_id" when the id exists, with
  /// slug "duplicate_content" when the owner already has a record with the same sha256.
  virtual Result<void> Insert(const ImageRecord& record) = 0;
  /// The owner's record `id`. Errors: kNotFound.
  virtual Result<ImageRecord> Get(std::string_view owner, std::string_view id) = 0;
  /// The owner's record with this sha256, or kNotFound.
  virtual Result<ImageRecord> FindBySha256(std::string_view owner, std::string_view sha256) = 0;
  /// The owner's records, newest (largest id) first, filtered by `query`.
  /// `next_before_id` is set iff another page may follow.
  virtual Result<ImagePage> List(std::string_view owner, const ListQuery& query) = 0;
  /// Applies `patch` and returns the updated record. Errors: kNotFound.
  virtual Result<ImageRecord> Update(std::string_view owner, std::string_view id,
                                     const ImagePatch& patch) = 0;
  /// Replaces the derived fields (status, failure_reason, key, width, height, format, variants,
  /// exif_json, placeholder, dominant_color, phash, info) of an existing record.
  /// Errors: kNotFound.
  virtual Result<void> SaveDerived(const ImageRecord& record) = 0;
  /// Adds `delta` to the count of processing attempts of a record in status "processing" and
  /// returns the new count (never below 0). The count survives restarts: an attempt that took
  /// the process down is still counted at the next start. Errors: kNotFound (also for a record
  /// that is no longer "processing").
  virtual Result<std::uint32_t> AdjustAttempts(std::string_view owner, std::string_view id,
                                               int delta) = 0;
  /// Deletes the owner's record `id`. Errors: kNotFound.
  virtual Result<void> Remove(std::string_view owner, std::string_view id) = 0;
  /// Every record's owner, id and key, for consistency checks.
  virtual Result<std::vector<RecordRef>> ListRefs() = 0;
  /// Up to `limit` records (of every owner) in `status`, oldest first: the records a crash left
  /// in `processing` are picked up again at start-up.
  virtual Result<std::vector<RecordRef>> ListByStatus(ImageStatus status, std::size_t limit) = 0;
  /// The owner's records that have a perceptual hash, for near-duplicate search.
  virtual Result<std::vector<PhashEntry>> ListPhashes(std::string_view owner) = 0;
};

struct ApiKeyInfo {
  std::string name;  // also the owner of everything uploaded with the key
  std::int64_t created_ms = 0;
};

/// API keys, stored only as SHA-256 hashes.
class ApiKeyStore {
 public:
  virtual ~ApiKeyStore() = default;
  /// Stores the hash of a new key for `name`. Errors: kConflict when the name exists.
  virtual Result<void> AddKey(std::string_view name, std::string_view key_sha256_hex,
                              std::int64_t created_ms) = 0;
  /// The name whose key hashes to `key_sha256_hex`. Errors: kNotFound.
  virtual Result<std::string> FindByHash(std::string_view key_sha256_hex) = 0;
  virtual Result<std::vector<ApiKeyInfo>> ListKeys() = 0;
  /// Errors: kNotFound.
  virtual Result<void> RemoveKey(std::string_view name) = 0;
  /// Whether any key is configured (auth is off when none is).
  virtual Result<bool> HasKeys() = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  /// Unix epoch milliseconds, UTC.
  virtual std::int64_t NowMs() = 0;
};

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  /// A new unique id that sorts after every id this generator returned before (ULID).
  virtual std::string NewId(std::int64_t now_ms) = 0;
};

}  // namespace imgup
