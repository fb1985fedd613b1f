#pragma once
// Derived work, off the request path: the local worker pool calls ProcessingService::Run for a
// record, the AWS processor function calls ProcessingService::RunStoredOriginal for the object
// key of an S3 event (docs/adr/0006-processing-by-key.md).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  /// Also the wait RunStoredOriginal advises for a record that does not exist yet.
  std::chrono::milliseconds retry_base{1000};
  /// For callers of RunStoredOriginal, which own the count of their deliveries: how many times
  /// to ask again about a key whose record does not exist yet before giving up on the event.
  /// The service cannot count these itself: there is no record to count in.
  std::uint32_t max_record_waits = 5;
  /// How many attempts at one record may run at the same time: deliveries of one S3 event to
  /// several processes (at-least-once delivery). Every attempt counts itself before it starts,
  /// so a count past max_attempts proves that earlier attempts crashed only once it is past
  /// max_attempts + overlapping_deliveries - 1; below that, the attempts beside this one may
  /// still be running. 1 for the local runtime, which never runs one record twice at once.
  std::uint32_t overlapping_deliveries = 1;
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
  ///
  /// Safe to run in several processes at once for the same record (at-least-once delivery):
  /// MetadataStore::SaveDerived completes only a record still "processing", so exactly one
  /// attempt completes it; every other one returns the record as that one stored it, and
  /// deletes what it wrote itself unless the stored record points at it (variant keys are the
  /// same for every attempt at a record).
  /// Errors in `record`: kNotFound (no such record, or deleted meanwhile); kUnavailable for an
  /// attempt to make again.
  ProcessingOutcome Run(std::string_view owner, std::string_view id);
  /// Run() for the original stored under `key` ("originals/{owner}/{id}"): the entry point of
  /// the S3 event processor, which knows an object key, not a record. Unlike Run(), a record
  /// that does not exist is not the end: the object's event can arrive before the upload has
  /// written the record (blob first, record second). While the original exists and the record
  /// does not, the answer is kUnavailable "record_not_yet" with a retry_after; the caller owns
  /// the count of its deliveries and gives up after policy().max_record_waits of them (a record
  /// that never comes is an upload that died between its two writes: its original is an orphan
  /// for fsck). With neither record nor original, the image was deleted or its upload undone:
  /// kNotFound, final. A failing metadata store is kUnavailable with a retry_after too.
  /// Errors in `record`: kInvalidArgument "not_an_original" for any key that is not an
  /// original's (final: the event is dropped), and those of Run().
  ProcessingOutcome RunStoredOriginal(std::string_view key);
  /// Run(), without the retry advice.
  Result<ImageRecord> Process(std::string_view owner, std::string_view id) {
    return Run(owner, id).record;
  }

  const ProcessingPolicy& policy() const { return policy_; }

 private:
  /// Run(), for a record just read in status "processing".
  ProcessingOutcome Start(ImageRecord record);
  /// SaveDerived found the record completed by another attempt: answers with the stored record,
  /// after deleting those of `written` (keys this attempt wrote) that it does not point at.
  Result<ImageRecord> CompletedElsewhere(std::string_view owner, std::string_view id,
                                         const std::vector<std::string>& written);
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
