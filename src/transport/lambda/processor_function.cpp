#include "transport/lambda/processor_function.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "api/record_json.hpp"
#include "domain/blob_keys.hpp"
#include "domain/ulid.hpp"
#include "services/image_service.hpp"
#include "services/presigned_uploads.hpp"
#include "transport/lambda/emf.hpp"
#include "transport/lambda/s3_event.hpp"

namespace imgup {

namespace {

/// The pipeline with a deadline cut short by the invocation's: a job stopped at such a deadline
/// says nothing about the image (it would have had longer in an invocation of its own), so its
/// "processing_timeout" becomes a failure to try again, not the image's fault.
class InvocationBoundProcessor final : public ImageProcessor {
 public:
  InvocationBoundProcessor(ImageProcessor& inner, std::uint32_t full_ms)
      : inner_(inner), full_ms_(full_ms) {}
  Result<ProcessedImage> Process(std::string_view bytes, const SniffResult& sniffed,
                                 const ProcessingLimits& limits) override {
    auto processed = inner_.Process(bytes, sniffed, limits);
    if (!processed && processed.error().slug == "processing_timeout" &&
        limits.max_decode_ms < full_ms_) {
      return Fail(ErrorCode::kUnavailable, "invocation_deadline",
                  "The invocation's time ran out before the image was processed.",
                  "stopped after " + std::to_string(limits.max_decode_ms) +
                      " ms, short of the image's " + std::to_string(full_ms_) + " ms");
    }
    return processed;
  }

 private:
  ImageProcessor& inner_;
  std::uint32_t full_ms_;
};

enum class Outcome { kReady, kCommitted, kFailed, kIgnored, kRetry, kCrashed };

const char* Name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kReady:
      return "ready";
    case Outcome::kCommitted:
      return "committed";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kIgnored:
      return "ignored";
    case Outcome::kRetry:
      return "retry";
    case Outcome::kCrashed:
      return "crashed";
  }
  return "?";
}

struct RecordResult {
  Outcome outcome = Outcome::kIgnored;
  std::string key;
  std::string status;  // the record's, when there is one
  std::string reason;  // why (ignored, failed, retry, crashed)
  std::optional<Error> error;
  bool upload = false;  // a presigned upload's staging key (committed or refused, no pixels)
};

/// A record failed with its original still under its own key was failed by
/// MarkFailedKeepingOriginal: not the image's fault (a crash, memory, storage, out of attempts).
/// The image's own failures move the original to quarantine or remove it.
bool FailedNotByTheImage(const ImageRecord& record) {
  return record.status == ImageStatus::kFailed &&
         record.key == OriginalKey(record.owner, record.id);
}

/// A presigned upload's bytes under its staging key (ADR 15): validated against its ticket and
/// committed (the validated bytes written under originals/, whose own ObjectCreated event then
/// starts the processing), or refused; no pixel work here.
RecordResult CommitUpload(BlobStore& blobs, MetadataStore& records, UploadTickets* tickets,
                          Clock& clock, const ProcessingPolicy& policy, const ImageKey& staged,
                          std::optional<ImageRecord>& record) {
  RecordResult result;
  result.upload = true;
  if (tickets == nullptr) {
    result.outcome = Outcome::kIgnored;
    result.reason = "no_tickets: this function commits no presigned uploads";
    return result;
  }
  UlidGenerator ids;  // for the service's constructor: committing makes no new id
  UploadLimits limits;
  limits.max_pixels = policy.limits.max_pixels;
  ImageService images(blobs, records, clock, ids, limits);
  PresignedUploads uploads(
      images, blobs, records, *tickets, clock, ids,
      [](const UploadPolicy&) -> Result<PresignedPost> {
        return Fail(ErrorCode::kInternal, "no_forms", "not here");
      },
      PresignedUploadSettings{});
  auto arrived = uploads.Arrived(staged.owner, staged.id);
  if (!arrived) {
    if (arrived.error().code == ErrorCode::kNotFound) {
      // The staging object is gone (a later post's event, or a delivery after the commit).
      result.outcome = Outcome::kIgnored;
      result.reason = arrived.error().slug + ": " + arrived.error().detail;
      return result;
    }
    result.outcome = Outcome::kRetry;
    result.error = arrived.error();
    return result;
  }
  switch (arrived->kind) {
    case UploadArrival::Kind::kCommitted:
      result.outcome = Outcome::kCommitted;
      result.status = ToString(arrived->record->status);
      record = std::move(arrived->record);
      break;
    case UploadArrival::Kind::kFailed:
    case UploadArrival::Kind::kDuplicate:
      // Refused: the ticket says why, the bytes are deleted; no delivery can change that.
      result.outcome = Outcome::kFailed;
      result.status = ToString(arrived->ticket->state);
      result.reason = arrived->ticket->failure_reason;
      break;
    case UploadArrival::Kind::kNoTicket:
      result.outcome = Outcome::kIgnored;
      result.reason =
          "no_ticket: no upload awaits these bytes (committed or settled before); "
          "the staging object is deleted";
      break;
  }
  return result;
}

}  // namespace

S3ProcessorFunction::S3ProcessorFunction(BlobStore& blobs, MetadataStore& records,
                                         ImageProcessor& processor,
                                         ProcessorFunctionOptions options, Clock& clock,
                                         LogLine log_line, UploadTickets* tickets)
    : blobs_(&blobs),
      records_(&records),
      processor_(&processor),
      options_(std::move(options)),
      clock_(&clock),
      log_line_(std::move(log_line)),
      tickets_(tickets) {}

Result<std::string> S3ProcessorFunction::operator()(const Invocation& invocation) const {
  IMGUP_ASSIGN_OR_RETURN(const std::vector<S3EventRecord> events,
                         DecodeS3Event(invocation.payload));
  const std::uint32_t full_ms = options_.policy.limits.max_decode_ms;
  std::vector<RecordResult> results;
  for (const S3EventRecord& event : events) {
    const std::int64_t started = clock_->NowMs();
    RecordResult result;
    result.key = event.key;
    std::optional<ImageRecord> record;
    if (!event.IsObjectCreated()) {
      result.outcome = Outcome::kIgnored;
      result.reason = "not an object creation: " + event.event_name;
    } else {
      ProcessingPolicy policy = options_.policy;
      bool started_pipeline = true;
      if (invocation.deadline_ms > 0) {
        const std::int64_t left =
            invocation.deadline_ms - started - options_.deadline_margin.count();
        if (left < options_.min_pipeline_time.count()) {
          started_pipeline = false;
          result.outcome = Outcome::kRetry;
          result.error =
              Error{ErrorCode::kUnavailable, "deadline_too_near",
                    "Too little of the invocation's time is left to process the image.",
                    std::to_string(std::max<std::int64_t>(left, 0)) + " ms left for the pipeline"};
        } else if (left < static_cast<std::int64_t>(full_ms)) {
          policy.limits.max_decode_ms = static_cast<std::uint32_t>(left);
        }
      }
      const std::optional<ImageKey> image = ParseImageKey(event.key);
      if (started_pipeline && image && image->kind == ImageKey::Kind::kStaging) {
        started_pipeline = false;
        result =
            CommitUpload(*blobs_, *records_, tickets_, *clock_, options_.policy, *image, record);
        result.key = event.key;
      }
      if (started_pipeline) {
        InvocationBoundProcessor bound(*processor_, full_ms);
        ProcessingService service(*blobs_, *records_, bound, std::move(policy));
        ProcessingOutcome outcome = service.RunStoredOriginal(event.key);
        if (outcome.record) {
          record = std::move(*outcome.record);
          result.status = ToString(record->status);
          result.reason = record->failure_reason;
          if (record->status == ImageStatus::kReady) {
            result.outcome = Outcome::kReady;
          } else if (record->status == ImageStatus::kFailed) {
            result.outcome = FailedNotByTheImage(*record) ? Outcome::kCrashed : Outcome::kFailed;
          } else {
            // Still "processing" without an error: nothing completed it. Deliver again.
            result.outcome = Outcome::kRetry;
            result.error = Error{ErrorCode::kUnavailable, "still_processing",
                                 "The image is still being processed.", ""};
          }
        } else if (outcome.retry_after) {
          result.outcome = Outcome::kRetry;
          result.error = outcome.record.error();
        } else if (outcome.record.error().slug == "not_an_original" ||
                   outcome.record.error().code == ErrorCode::kNotFound) {
          result.outcome = Outcome::kIgnored;
          result.reason = outcome.record.error().slug + ": " + outcome.record.error().detail;
        } else {
          result.outcome = Outcome::kRetry;  // unforeseen: let Lambda deliver it again
          result.error = outcome.record.error();
        }
      }
    }
    if (result.error) {
      result.reason = result.error->slug + ": " + result.error->message +
                      (result.error->detail.empty() ? "" : " (" + result.error->detail + ")");
    }

    const std::int64_t now = clock_->NowMs();
    const std::int64_t duration_ms = now - started;
    nlohmann::json line = {{"ts", FormatRfc3339(now)},
                           {"level", "info"},
                           {"msg", "s3 record"},
                           {"request_id", invocation.request_id},
                           {"event_name", event.event_name},
                           {"bucket", event.bucket},
                           {"key", event.key},
                           {"outcome", Name(result.outcome)},
                           {"duration_ms", duration_ms}};
    if (!invocation.trace_id.empty()) line["trace_id"] = XRayTraceId(invocation.trace_id);
    if (!event.sequencer.empty()) line["sequencer"] = event.sequencer;
    if (record) {
      line["id"] = record->id;
      line["owner"] = record->owner;
    }
    if (!result.status.empty()) line["status"] = result.status;
    if (!result.reason.empty()) line["reason"] = result.reason;
    // The error's code alone (the reason's first word): what the metrics count by.
    std::string error_code;
    if (result.error) {
      error_code = result.error->slug;
    } else if (result.outcome == Outcome::kFailed || result.outcome == Outcome::kCrashed) {
      error_code = result.reason.substr(0, result.reason.find(':'));
    }
    if (!error_code.empty()) line["error_code"] = error_code;
    AddEmbeddedMetrics(
        line, now,
        ProcessorRecordMetrics(Name(result.outcome), error_code, static_cast<double>(duration_ms)));
    switch (result.outcome) {
      case Outcome::kRetry:
        line["level"] = "warn";
        line["msg"] = result.error->slug == "record_not_yet"
                          ? "the image's record is not stored yet: failing the invocation so "
                            "that Lambda delivers the event again"
                          : "failing the invocation so that Lambda delivers the event again";
        break;
      case Outcome::kCrashed:
        line["level"] = "error";
        line["msg"] =
            "the image could not be processed, not by its own fault: record failed, original "
            "kept; failing the invocation so that the event reaches the dead-letter queue";
        break;
      case Outcome::kFailed:
        line["msg"] = result.upload
                          ? "upload refused: the ticket says why, the staging object is deleted"
                          : "the image is unusable: record failed, original kept aside";
        break;
      case Outcome::kIgnored:
        line["msg"] = "ignored";
        break;
      case Outcome::kReady:
        line["msg"] = "processed";
        break;
      case Outcome::kCommitted:
        line["msg"] =
            "upload committed: the validated bytes are the image's original now, whose own "
            "event processes it";
        break;
    }
    log_line_(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    results.push_back(std::move(result));
  }

  nlohmann::json answer = {{"records", nlohmann::json::array()}};
  const RecordResult* retry = nullptr;
  const RecordResult* crashed = nullptr;
  for (const RecordResult& result : results) {
    nlohmann::json entry = {{"key", result.key}, {"outcome", Name(result.outcome)}};
    if (!result.status.empty()) entry["status"] = result.status;
    if (!result.reason.empty()) entry["reason"] = result.reason;
    answer["records"].push_back(std::move(entry));
    if (result.outcome == Outcome::kRetry && !retry) retry = &result;
    if (result.outcome == Outcome::kCrashed && !crashed) crashed = &result;
  }
  // The whole event is delivered again: the records already done answer at once (a record that
  // is not "processing" is returned as stored).
  if (retry) {
    return Fail(ErrorCode::kUnavailable, retry->error->slug,
                retry->error->message + " Lambda delivers the event again.",
                "key " + retry->key + ": " + retry->error->detail);
  }
  if (crashed) {
    return Fail(ErrorCode::kInternal, "processing_crashed",
                "The image could not be processed, not by its own fault; its record is failed "
                "and its original kept.",
                "key " + crashed->key + ": " + crashed->reason);
  }
  return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace imgup
