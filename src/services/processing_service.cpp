#include "services/processing_service.hpp"

#include <algorithm>
#include <exception>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "codecs/sha256.hpp"
#include "domain/blob_keys.hpp"

namespace imgup {

namespace {

std::string ExifToJson(const ExifInfo& exif) {
  nlohmann::json json = nlohmann::json::object();
  auto put = [&json](const char* name, const auto& value) {
    if (value) json[name] = *value;
  };
  put("make", exif.make);
  put("model", exif.model);
  put("lens", exif.lens);
  put("taken_at", exif.taken_at);
  put("exposure", exif.exposure);
  put("f_number", exif.f_number);
  put("iso", exif.iso);
  put("focal_length_mm", exif.focal_length_mm);
  put("orientation", exif.orientation);
  put("gps_latitude", exif.gps_latitude);
  put("gps_longitude", exif.gps_longitude);
  put("gps_altitude_m", exif.gps_altitude_m);
  return json.empty() ? std::string() : json.dump();
}

}  // namespace

namespace {

/// The image's own fault: bytes that do not decode, are too large, or take too long.
bool IsImagesFault(const Error& error) {
  return error.code == ErrorCode::kUnprocessable || error.code == ErrorCode::kUnsupportedMediaType;
}

/// Ends that say nothing about the job: it is made again, and the attempt does not count.
bool IsInterruption(const Error& error) {
  return error.slug == "shutting_down" || error.slug == "processing_starved";
}

}  // namespace

ProcessingOutcome ProcessingService::Run(std::string_view owner, std::string_view id) {
  auto record = records_.Get(owner, id);
  if (!record || record->status != ImageStatus::kProcessing) return {std::move(record), {}};
  return Start(std::move(*record));
}

ProcessingOutcome ProcessingService::RunStoredOriginal(std::string_view key) {
  const std::optional<ImageKey> parsed = ParseImageKey(key);
  if (!parsed || parsed->kind != ImageKey::Kind::kOriginal) {
    return {Fail(ErrorCode::kInvalidArgument, "not_an_original",
                 "Only an image's original is processed.", "key: " + std::string(key)),
            {}};
  }
  auto record = records_.Get(parsed->owner, parsed->id);
  if (record) {
    if (record->status != ImageStatus::kProcessing) return {std::move(record), {}};
    return Start(std::move(*record));
  }
  if (record.error().code != ErrorCode::kNotFound) {
    Error error = record.error();  // the store is failing: the event is not lost for a blip
    error.code = ErrorCode::kUnavailable;
    return {tl::unexpected(std::move(error)), policy_.retry_base};
  }
  // No record. The upload writes the original first and the record second, and deletes the
  // original again when it cannot write the record; a delete removes the record first and the
  // original second. So a missing original means that no record is coming (any more).
  auto original = blobs_.Head(key);
  if (!original && original.error().code == ErrorCode::kNotFound) {
    return {Fail(ErrorCode::kNotFound, "not_found",
                 "No image with this id: it was deleted, or its upload did not complete.",
                 "key " + std::string(key) + ": neither record nor original"),
            {}};
  }
  return {Fail(ErrorCode::kUnavailable, "record_not_yet", "The image's record is not stored yet.",
               "key " + std::string(key) + ": original " +
                   (original ? std::string("stored") : "unknown (" + original.error().slug + ")") +
                   ", no record yet"),
          policy_.retry_base};
}

ProcessingOutcome ProcessingService::Start(ImageRecord record) {
  const std::string owner = record.owner;
  const std::string id = record.id;
  auto attempts = records_.AdjustAttempts(owner, id, 1);
  if (!attempts) {
    if (attempts.error().code == ErrorCode::kNotFound) {
      // No longer "processing" since it was read: another attempt completed it (the answer is
      // the stored record), or it was deleted.
      auto now = records_.Get(owner, id);
      if (now && now->status != ImageStatus::kProcessing) return {std::move(now), {}};
      if (!now && now.error().code != ErrorCode::kNotFound) {
        return {tl::unexpected(now.error()), policy_.retry_base};
      }
      return {tl::unexpected(attempts.error()), {}};
    }
    // The store is failing: try again later, without a count.
    return {tl::unexpected(attempts.error()), policy_.retry_base};
  }
  if (*attempts >
      policy_.max_attempts + std::max<std::uint32_t>(policy_.overlapping_deliveries, 1) - 1) {
    // Every earlier attempt ended without an outcome: each took the process down with it (or
    // more deliveries ran at once than the policy allows for).
    return {MarkFailedKeepingOriginal(
                std::move(record),
                Error{ErrorCode::kInternal, "processing_crashed",
                      "Processing this image stopped the server " + std::to_string(*attempts - 1) +
                          " times; the original is kept.",
                      ""}),
            {}};
  }
  const ImageRecord snapshot = record;
  try {
    return Attempt(std::move(record), *attempts);
  } catch (const std::exception& e) {
    return NotItsFault(snapshot, *attempts,
                       Error{ErrorCode::kInternal, "processing_failed",
                             "The image could not be processed.", e.what()});
  }
}

ProcessingOutcome ProcessingService::Attempt(ImageRecord record, std::uint32_t attempts) {
  const std::string owner = record.owner;
  const std::string id = record.id;
  auto bytes = blobs_.Get(record.key);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::kNotFound) {
      return {MarkFailed(std::move(record),
                         Error{ErrorCode::kUnprocessable, "original_missing",
                               "The original's bytes are missing", bytes.error().detail}),
              {}};
    }
    return NotItsFault(std::move(record), attempts, bytes.error());
  }
  auto sniffed = SniffImage(*bytes);
  if (!sniffed) return {MarkFailed(std::move(record), sniffed.error()), {}};
  ProcessingLimits limits = policy_.limits;
  // A retry may have failed for want of memory that the jobs beside it held.
  limits.run_alone = attempts > 1;
  auto processed = processor_.Process(*bytes, *sniffed, limits);
  bytes = std::string();
  if (!processed) {
    if (IsImagesFault(processed.error()))
      return {MarkFailed(std::move(record), processed.error()), {}};
    return NotItsFault(std::move(record), attempts, processed.error());
  }

  // Variants first, record second: a crash in between leaves orphan variants for fsck, never a
  // ready record whose variants are missing.
  ImageRecord done = record;
  done.variants.clear();
  for (DerivedVariant& variant : processed->variants) {
    const std::string key = VariantKey(owner, id, variant.name);
    if (auto put = blobs_.Put(key, variant.bytes, variant.content_type); !put) {
      return NotItsFault(std::move(record), attempts, put.error());
    }
    done.variants[variant.name] = VariantInfo{
        variant.width, variant.height,          variant.bytes.size(), variant.content_type,
        key,           Sha256Hex(variant.bytes)};
  }
  done.status = ImageStatus::kReady;
  done.failure_reason.clear();
  done.width = processed->width;
  done.height = processed->height;
  done.format = processed->format;
  done.exif_json = ExifToJson(processed->exif);
  done.placeholder = processed->placeholder;
  done.dominant_color = processed->dominant_color;
  done.phash = processed->phash;
  done.info = ImageInfo{processed->bit_depth, processed->bands,       processed->has_alpha,
                        processed->animated,  processed->frame_count, processed->icc_profile};
  if (auto saved = records_.SaveDerived(done); !saved) {
    if (saved.error().code == ErrorCode::kNotFound) {
      // Deleted while it was being processed: the variants just written belong to nobody.
      for (const auto& [name, variant] : done.variants) (void)blobs_.Delete(variant.key);
      return {tl::unexpected(saved.error()), {}};
    }
    if (saved.error().code == ErrorCode::kConflict) {
      // Another delivery completed it meanwhile. It wrote the same variant keys: if its record
      // names them, they are its variants now, and deleting them would break it.
      std::vector<std::string> written;
      for (const auto& [name, variant] : done.variants) written.push_back(variant.key);
      return {CompletedElsewhere(owner, id, written), {}};
    }
    return NotItsFault(std::move(record), attempts, saved.error());
  }
  return {std::move(done), {}};
}

Result<ImageRecord> ProcessingService::CompletedElsewhere(std::string_view owner,
                                                          std::string_view id,
                                                          const std::vector<std::string>& written) {
  auto stored = records_.Get(owner, id);
  // Unable to read what the stored record points at, keep everything: blobs under the image's
  // id are deleted with it, while a deleted variant would be missing for good.
  if (!stored && stored.error().code != ErrorCode::kNotFound) return stored;
  for (const std::string& key : written) {
    const bool pointed_at =
        stored &&
        (stored->key == key || std::ranges::any_of(stored->variants, [&key](const auto& named) {
           return named.second.key == key;
         }));
    if (!pointed_at) (void)blobs_.Delete(key);
  }
  return stored;
}

ProcessingOutcome ProcessingService::NotItsFault(ImageRecord record, std::uint32_t attempts,
                                                 const Error& error) {
  if (IsInterruption(error)) {
    (void)records_.AdjustAttempts(record.owner, record.id, -1);
    if (error.slug == "shutting_down") return {tl::unexpected(error), {}};
    return {tl::unexpected(error), policy_.retry_base};
  }
  if (attempts >= policy_.max_attempts) {
    Error reason = error;
    if (reason.slug == "worker_crashed") reason.slug = "processing_crashed";
    reason.message += " (" + std::to_string(attempts) + " attempts; the original is kept)";
    return {MarkFailedKeepingOriginal(std::move(record), reason), {}};
  }
  // 1x, 4x, 16x the base, each with up to 50% of jitter so that retries do not march in step.
  std::chrono::milliseconds delay = policy_.retry_base;
  for (std::uint32_t i = 1; i < attempts; ++i) delay *= 4;
  const auto jitter =
      static_cast<std::int64_t>(std::hash<std::string>{}(record.id + std::to_string(attempts)) %
                                static_cast<std::size_t>(delay.count() / 2 + 1));
  delay += std::chrono::milliseconds(jitter);
  Error retry = error;
  retry.code = ErrorCode::kUnavailable;
  retry.detail = "attempt " + std::to_string(attempts) + " of " +
                 std::to_string(policy_.max_attempts) + " failed: " + error.slug +
                 (error.detail.empty() ? "" : " (" + error.detail + ")");
  return {tl::unexpected(std::move(retry)), delay};
}

Result<ImageRecord> ProcessingService::MarkFailedKeepingOriginal(ImageRecord record,
                                                                 const Error& reason) {
  record.status = ImageStatus::kFailed;
  record.failure_reason = reason.slug + ": " + reason.message;
  record.variants.clear();
  if (auto saved = records_.SaveDerived(record); !saved) {
    if (saved.error().code == ErrorCode::kConflict) {
      return CompletedElsewhere(record.owner, record.id, {});
    }
    return tl::unexpected(saved.error());
  }
  return record;
}

Result<ImageRecord> ProcessingService::MarkFailed(ImageRecord record, const Error& error) {
  const std::string original = record.key;
  if (policy_.failed_originals == FailedOriginalPolicy::kQuarantine) {
    auto bytes = blobs_.Get(original);
    if (bytes) {
      const std::string quarantine = QuarantineKey(record.owner, record.id);
      IMGUP_RETURN_IF_ERROR(blobs_.Put(quarantine, *bytes, record.content_type));
      record.key = quarantine;
    } else {
      record.key.clear();
    }
  } else {
    record.key.clear();
  }
  record.status = ImageStatus::kFailed;
  record.failure_reason = error.slug + ": " + error.message;
  record.variants.clear();
  // The record first: it must never point at bytes that are gone.
  if (auto saved = records_.SaveDerived(record); !saved) {
    if (saved.error().code == ErrorCode::kConflict) {
      // Completed by another delivery: the original is the stored record's to keep, and the
      // copy made here is deleted unless that delivery quarantined it under the same key.
      std::vector<std::string> written;
      if (!record.key.empty() && record.key != original) written.push_back(record.key);
      return CompletedElsewhere(record.owner, record.id, written);
    }
    if (saved.error().code == ErrorCode::kNotFound && record.key != original) {
      (void)blobs_.Delete(record.key);  // deleted meanwhile: the quarantined copy is nobody's
    }
    return tl::unexpected(saved.error());
  }
  if (record.key != original) (void)blobs_.Delete(original);
  return record;
}

}  // namespace imgup
