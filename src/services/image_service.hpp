#pragma once
// The use cases: upload an image, read, list, change and delete records, read content. The
// service knows only the ports; the composition root picks the adapters.
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "codecs/sniff.hpp"
#include "domain/image_record.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/id_generator.hpp"
#include "domain/ports/metadata_store.hpp"
#include "domain/ports/processing_queue.hpp"

namespace imgup {

struct UploadLimits {
  std::uint64_t max_pixels = 100'000'000;  // width * height from the header
  std::size_t max_tags = 20;
  std::size_t max_tag_chars = 64;            // Unicode characters
  std::size_t max_description_chars = 2000;  // Unicode characters
};

struct UploadRequest {
  std::string owner;
  std::string filename;       // as the client sent it (sanitised here)
  std::string declared_type;  // the client's content type; empty when none was declared
  std::string bytes;
  std::vector<std::string> tags;
  std::string description;
};

/// An upload that passed every check that needs only its bytes and fields (Validate), ready to
/// be stored (Commit).
struct ValidatedUpload {
  UploadRequest request;
  SniffResult sniffed;
  std::string sha256;  // of request.bytes
};

struct UploadOutcome {
  ImageRecord record;
  bool duplicate = false;  // the owner already had these bytes: `record` is the existing one
};

/// Where the bytes of an original or a variant are, without reading them.
struct ContentLocation {
  std::string key;
  std::string content_type;
  std::string sha256;    // of the bytes; "" for variants of records made before variants had it
  std::string filename;  // sanitised, for Content-Disposition
};

struct Content {
  std::string bytes;
  std::string content_type;
  std::string sha256;    // of `bytes`, for the ETag
  std::string filename;  // sanitised, for Content-Disposition
};

/// Checks tags and description against the limits. Errors: kInvalidArgument
/// ("invalid_field", "field_too_long").
Result<void> ValidateAnnotations(const std::vector<std::string>& tags,
                                 const std::string& description, const UploadLimits& limits);

class ImageService {
 public:
  /// New records are stored "processing": their derived work (variants, hashes) is still to be
  /// done, by a ProcessingService that sets them "ready" or "failed". With a `queue` (the local
  /// server's workers) each new record is also handed to it; without one, something else
  /// processes them (on AWS, the processor function triggered by the original's S3 event).
  ImageService(BlobStore& blobs, MetadataStore& records, Clock& clock, IdGenerator& ids,
               UploadLimits limits, ProcessingQueue* queue = nullptr)
      : blobs_(blobs),
        records_(records),
        clock_(clock),
        ids_(ids),
        limits_(limits),
        queue_(queue) {}

  /// Validates, stores the bytes (blob first), then records the metadata. The same owner
  /// uploading the same bytes gets the existing record with duplicate = true, unless that
  /// record failed: it is removed and the upload starts afresh. On any error nothing is left
  /// behind.
  Result<UploadOutcome> Upload(UploadRequest request);
  /// Upload's checks, with no side effect: the file name, tags and description, the declared
  /// type against the allowed ones and the sniffed one, the pixel and frames × canvas limits.
  /// Errors: kInvalidArgument, kUnsupportedMediaType, kUnprocessable.
  Result<ValidatedUpload> Validate(UploadRequest request) const;
  /// Upload's effects for an upload Validate accepted: dedup, the blob, the record, the queue.
  /// A presigned upload, whose bytes arrive later, is validated and committed when they do.
  Result<UploadOutcome> Commit(ValidatedUpload upload);

  Result<ImageRecord> Get(std::string_view owner, std::string_view id);
  Result<ImagePage> List(std::string_view owner, const ListQuery& query);
  Result<ImageRecord> Patch(std::string_view owner, std::string_view id, const ImagePatch& patch);
  /// Removes the record first (so no record ever points at missing bytes), then every blob.
  Result<void> Delete(std::string_view owner, std::string_view id);
  /// The bytes of the original or of a variant ("thumb", "medium"). Errors: kNotFound,
  /// kUnprocessable "image_failed".
  Result<Content> GetContent(std::string_view owner, std::string_view id, std::string_view variant);
  /// Where GetContent's bytes are, with the same errors, without reading them.
  Result<ContentLocation> LocateContent(std::string_view owner, std::string_view id,
                                        std::string_view variant);
  /// A URL that serves `location`'s bytes for `expires_in_s` seconds without credentials
  /// (BlobStore::PresignGet), with its content type and `content_disposition`.
  Result<std::string> PresignContent(const ContentLocation& location, std::int64_t expires_in_s,
                                     std::string content_disposition);

  struct SimilarImage {
    ImageRecord record;
    int distance = 0;  // Hamming distance of the perceptual hashes, 0-64
  };
  /// How many of the owner's newest hashed images a near-duplicate search looks at: the search
  /// reads their hashes page by page, never the owner's whole partition.
  static constexpr std::size_t kSimilarScanLimit = 10'000;
  /// Hashes read per ListPhashes page.
  static constexpr std::size_t kPhashPageSize = 1000;

  /// The owner's other images whose perceptual hash is within `max_distance` of this one's,
  /// nearest first, at most `limit`, among the owner's kSimilarScanLimit newest hashed images.
  /// Empty while the image has no hash yet.
  Result<std::vector<SimilarImage>> FindSimilar(std::string_view owner, std::string_view id,
                                                int max_distance, std::size_t limit);

  const UploadLimits& limits() const { return limits_; }

 private:
  /// Removes the record, then its original and every variant stored under its id.
  Result<void> RemoveWithBlobs(const ImageRecord& record);

  BlobStore& blobs_;
  MetadataStore& records_;
  Clock& clock_;
  IdGenerator& ids_;
  UploadLimits limits_;
  ProcessingQueue* queue_;
};

}  // namespace imgup
