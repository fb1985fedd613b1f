#pragma once
// Consistency between the blob store and the metadata store after a crash. Uploads write the
// blob first and the record second, so a crash can leave a blob without a record (an orphan),
// never a record without its blob; deletes remove the record first for the same reason.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "domain/ports/blob_store.hpp"
#include "domain/ports/metadata_store.hpp"

namespace imgup {

struct FsckOptions {
  bool repair = true;  // remove orphans (false: only report)
  std::int64_t now_ms = 0;
  std::int64_t grace_ms = 60'000;  // orphans younger than this may be an upload in flight
  /// Staged bytes of a presigned upload (uploads/, ADR 15) older than this are removed: a
  /// ticket lasts its form's 15 min plus a commit grace, and the commit deletes them. The same
  /// day as the bucket's lifecycle rule for uploads/ on AWS.
  std::int64_t staging_ttl_ms = 86'400'000;
};

struct FsckReport {
  /// Blobs under originals/, quarantine/ or variants/ with no record, and staged uploads past
  /// staging_ttl_ms.
  std::vector<std::string> orphan_blobs;
  std::vector<RecordRef> records_without_blob;  // records whose original is missing
  std::size_t young_orphans_skipped = 0;        // orphans within the grace period
  bool repaired = false;
  bool Clean() const { return orphan_blobs.empty() && records_without_blob.empty(); }
};

/// Every object under `prefix`, in key order, walking every page of BlobStore::List.
Result<std::vector<BlobEntry>> ListAllBlobs(BlobStore& blobs, std::string_view prefix);
/// Every record's ref, in (owner, id) order, walking every page of MetadataStore::ListRefs.
Result<std::vector<RecordRef>> ListAllRefs(MetadataStore& records);

/// Finds (and with `repair`, removes) orphan blobs and records whose original is missing.
Result<FsckReport> RunFsck(BlobStore& blobs, MetadataStore& records, const FsckOptions& options);

}  // namespace imgup
