#pragma once
// Derived work, off the request path: the local worker pool and the AWS processor function
// both call ProcessingService::Process for a stored original.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/ports/blob_store.hpp"
#include "domain/ports/image_processor.hpp"
#include "domain/ports/metadata_store.hpp"

namespace imgup {

/// What to do with the original of an image that fails the full decode. It is never served.
enum class FailedOriginalPolicy {
  kRemove,      // delete the bytes; the record stays, status "failed", with the reason
  kQuarantine,  // move the bytes to quarantine/{owner}/{id} for inspection
};

struct ProcessingPolicy {
  ProcessingLimits limits;
  FailedOriginalPolicy failed_originals = FailedOriginalPolicy::kRemove;
  /// Attempts at a record whose failures are not the image's own fault (memory, a killed or
  /// crashed worker, storage) before it is marked failed, its original kept.
  std::uint32_t max_attempts = 3;
  /// The wait before the second attempt; each later one waits 4 times longer (with jitter).
  std::chrono::milliseconds retry_base{1000};
};

/// What became of one attempt at a record.
struct ProcessingOutcome {
  /// The record as stored after the attempt, or why there is none (see ProcessingService::Run).
  Result<ImageRecord> record;
  /// Set when the attempt should be made again after this long (the record stays "processing").
  std::optional<std::chrono::milliseconds> retry_after;
};

class ProcessingService {
 public:
  ProcessingService(BlobStore& blobs, MetadataStore& records, ImageProcessor& processor,
                    ProcessingPolicy policy)
      : blobs_(blobs), records_(records), processor_(processor), policy_(std::move(policy)) {}

  /// Derives everything for the owner's record `id` and saves it: variants first, then the
  /// record (status "ready"), or status "failed" with a reason. Idempotent: a record that is not
  /// "processing" is returned unchanged, since events may be delivered more than once.
  ///
  /// Each attempt is counted in the record before it starts. A failure that is the image's own
  /// (kUnprocessable, kUnsupportedMediaType: it does not decode, is too large, takes too long)
  /// fails the record and removes or quarantines the original by policy. Any other failure
  /// (memory, a worker that died, storage, an exception) leaves the record "processing" with a
  /// retry_after, up to max_attempts; then the record fails with that reason and the original is
  /// kept. An attempt that finds the count already past max_attempts means that the earlier ones
  /// took the process down with them: the record fails as "processing_crashed", original kept.
  /// Attempts ended by a shutdown or by a machine too busy to give the job the CPU do not count.
  /// Errors in `record`: kNotFound; kUnavailable for an attempt to make again.
  ProcessingOutcome Run(std::string_view owner, std::string_view id);
  /// Run(), without the retry advice.
  Result<ImageRecord> Process(std::string_view owner, std::string_view id) {
    return Run(owner, id).record;
  }

 private:
  Result<ImageRecord> MarkFailed(ImageRecord record, const Error& error);
  /// Status "failed" with `reason`; the original stays where it is (not the image's fault).
  Result<ImageRecord> MarkFailedKeepingOriginal(ImageRecord record, const Error& reason);
  ProcessingOutcome NotItsFault(ImageRecord record, std::uint32_t attempts, const Error& error);
  ProcessingOutcome Attempt(ImageRecord record, std::uint32_t attempts);

  BlobStore& blobs_;
  MetadataStore& records_;
  ImageProcessor& processor_;
  ProcessingPolicy policy_;
};

}  // namespace imgup
