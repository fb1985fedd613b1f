#pragma once
// The MetadataStore port: image records, scoped to their owner (SqliteMetadataStore; a
// DynamoDB adapter on AWS). Every implementation passes
// tests/unit/metadata_store_contract_test.cpp. The local runtime's scan for records still
// processing is not here: it is the PendingRecords port (pending_records.hpp).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "domain/image_record.hpp"

namespace imgup {

/// One page of MetadataStore::ListPhashes.
struct PhashPage {
  std::vector<PhashEntry> items;
  std::string next_token;  // empty: no more pages
};

/// One page of MetadataStore::ListRefs.
struct RefPage {
  std::vector<RecordRef> items;
  std::string next_token;  // empty: no more pages
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;
  /// Inserts a new record. Errors: kConflict with slug "duplicate_id" when the id exists, with
  /// slug "duplicate_content" when the owner already has a record with the same sha256.
  ///
  /// Dedup without a unique index: an (owner, sha256) pair names at most one record, and that
  /// holds under concurrent inserts of the same bytes (exactly one wins; the others get
  /// "duplicate_content" and leave nothing behind). A key-value store keeps it with a marker
  /// item keyed by (owner, sha256) that is written in the same transaction as the record, on the
  /// condition that neither exists (DynamoDB: TransactWriteItems with attribute_not_exists);
  /// Remove deletes the marker in the same transaction as the record. SQLite keeps it with a
  /// unique index. tests/unit/metadata_store_contract_test.cpp checks exactly this.
  virtual Result<void> Insert(const ImageRecord& record) = 0;
  /// The owner's record `id`. Errors: kNotFound.
  virtual Result<ImageRecord> Get(std::string_view owner, std::string_view id) = 0;
  /// The owner's record with this sha256 (the one Insert let in), or kNotFound.
  virtual Result<ImageRecord> FindBySha256(std::string_view owner, std::string_view sha256) = 0;
  /// The owner's records, newest (largest id) first, filtered by `query`.
  /// `next_before_id` is set iff another page may follow.
  virtual Result<ImagePage> List(std::string_view owner, const ListQuery& query) = 0;
  /// Applies `patch` and returns the updated record. Errors: kNotFound.
  virtual Result<ImageRecord> Update(std::string_view owner, std::string_view id,
                                     const ImagePatch& patch) = 0;
  /// Completes a record: replaces the derived fields (status, failure_reason, key, width,
  /// height, format, variants, exif_json, placeholder, dominant_color, phash, info) of a record
  /// whose stored status is still "processing", atomically with that check, so that of two
  /// deliveries completing the same record (in two processes) exactly one wins.
  /// Errors: kNotFound when the owner has no record `id`; kConflict with slug "not_processing"
  /// when the record is no longer "processing" (another delivery completed it): nothing changes.
  virtual Result<void> SaveDerived(const ImageRecord& record) = 0;
  /// Adds `delta` to the count of processing attempts of a record in status "processing" and
  /// returns the new count (never below 0). The count survives restarts: an attempt that took
  /// the process down is still counted at the next start. Errors: kNotFound (also for a record
  /// that is no longer "processing").
  virtual Result<std::uint32_t> AdjustAttempts(std::string_view owner, std::string_view id,
                                               int delta) = 0;
  /// Deletes the owner's record `id`, and with it its claim on its sha256 (the same bytes may be
  /// inserted again at once). Errors: kNotFound.
  virtual Result<void> Remove(std::string_view owner, std::string_view id) = 0;
  /// One page of every owner's records (owner, id and key), for consistency checks, in
  /// (owner, id) order, starting after the page that returned `token` (empty: from the
  /// first). A page holds at most `limit` refs; a short page is not the last one: only an empty
  /// `next_token` says that no more follow. The token is opaque. Walking every page sees every
  /// record that existed for the whole walk exactly once.
  /// Errors: kInvalidArgument for a token this store did not return, or a `limit` of 0.
  virtual Result<RefPage> ListRefs(std::string_view token, std::size_t limit) = 0;
  /// One page of the owner's records that have a perceptual hash, for near-duplicate search,
  /// newest (largest id) first, starting after the page that returned `token` (empty: from
  /// the newest). A page holds at most `limit` entries; a short page is not the last one: only
  /// an empty `next_token` says that no more follow. The token is opaque and valid only for
  /// this owner. Reads one page of the owner's partition per call, never all of it.
  /// Errors: kInvalidArgument for a `limit` of 0.
  virtual Result<PhashPage> ListPhashes(std::string_view owner, std::string_view token,
                                        std::size_t limit) = 0;
};

}  // namespace imgup
