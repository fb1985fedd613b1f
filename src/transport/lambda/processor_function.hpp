#pragma once
// The processor function's handler: an S3 event notification in, each created original through
// the image pipeline (ProcessingService::RunStoredOriginal, docs/adr/0006-processing-by-key.md),
// each presigned upload's staged bytes committed or refused (ADR 15), a summary out. What each
// record's outcome does to the invocation, and so to Lambda's retries and the dead-letter queue
// (docs/adr/0011-processor-function.md):
//
//  outcome    | when                                                   | invocation
//  -----------|--------------------------------------------------------|---------------------------
//  ready      | processed now, or by an earlier delivery               | succeeds
//  committed  | uploads/{owner}/{id}: the bytes passed their ticket and | succeeds: the Put under
//             | were written under originals/ (no pixel work here)     | originals/ raises its own
//             |                                                        | event, which processes it
//  failed     | the image's own fault (does not decode, too large, too | succeeds: retrying cannot
//             | slow): record "failed" with the reason, the original   | help
//             | kept under quarantine/ (or removed, by policy)         |
//  failed     | uploads/...: the bytes refused by the ticket (ADR 15): | succeeds: the ticket says
//             | not the declared type or size; staging object deleted  | why, GET /images/{id} too
//  ignored    | not ObjectCreated:*, not an original's or staging key, | succeeds
//             | neither record nor original any more (deleted, upload  |
//             | undone), or staged bytes no ticket awaits (posted again|
//             | after the commit: deleted)                             |
//  retry      | no record yet (the event beat the upload's second      | fails: Lambda retries it,
//             | write), storage failing, the pipeline crashed with     | then the DLQ
//             | attempts left, the invocation's time ran out           |
//  crashed    | not the image's fault and out of attempts: record      | fails: the DLQ gets the
//             | "failed" with the reason, the original kept in place   | event for an operator
#include <chrono>
#include <string>

#include "base/error.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/image_processor.hpp"
#include "domain/ports/metadata_store.hpp"
#include "domain/ports/upload_tickets.hpp"
#include "services/processing_service.hpp"
#include "transport/lambda/runtime_api.hpp"

namespace imgup {

struct ProcessorFunctionOptions {
  /// The pipeline's settings. limits.max_decode_ms is the most one image may take; an
  /// invocation whose deadline is nearer gives the image less (see deadline_margin).
  ProcessingPolicy policy;
  /// Kept back from the invocation's time (Lambda-Runtime-Deadline-Ms) for what follows the
  /// pixel work: writing the variants, saving the record, posting the answer.
  std::chrono::milliseconds deadline_margin{3000};
  /// With less than this left for the pixel work, a record is not started: the invocation fails
  /// and Lambda delivers the event again to an invocation with its full time.
  std::chrono::milliseconds min_pipeline_time{1000};
};

class S3ProcessorFunction {
 public:
  /// The stores, `processor`, `clock` are not owned and must outlive the function. `log_line`
  /// gets one JSON line per record (its outcome, and why). With `tickets`, the bytes of a
  /// presigned upload (POST /uploads, ADR 15) under its staging key are validated against its
  /// ticket and committed (PresignedUploads::Arrived): outcome "committed"; or refused: outcome
  /// "failed", the staging object deleted. Events on originals/ never read tickets.
  S3ProcessorFunction(BlobStore& blobs, MetadataStore& records, ImageProcessor& processor,
                      ProcessorFunctionOptions options, Clock& clock, LogLine log_line,
                      UploadTickets* tickets = nullptr);

  /// Processes every record of the S3 event in `invocation` and answers {"records": [{"key",
  /// "outcome", "status", "reason"}]} (see the table above). Errors (posted as the invocation's
  /// error, so that Lambda retries the event): the decoding errors of DecodeS3Event; kUnavailable
  /// with the slug of the first record to retry ("record_not_yet", "deadline_too_near", ...);
  /// kInternal "processing_crashed" for a record failed for a reason not the image's own.
  Result<std::string> operator()(const Invocation& invocation) const;

 private:
  BlobStore* blobs_;
  MetadataStore* records_;
  ImageProcessor* processor_;
  ProcessorFunctionOptions options_;
  Clock* clock_;
  LogLine log_line_;
  UploadTickets* tickets_;
};

}  // namespace imgup
