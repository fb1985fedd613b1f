#include "services/image_service.hpp"

#include <algorithm>
#include <string>

#include "codecs/sha256.hpp"
#include "codecs/sniff.hpp"
#include "domain/blob_keys.hpp"
#include "domain/filename.hpp"
#include "domain/phash_distance.hpp"
#include "domain/ulid.hpp"

namespace imgup {

namespace {

/// The number of Unicode characters in UTF-8 text (continuation bytes are not counted).
std::size_t CharacterCount(std::string_view text) {
  std::size_t count = 0;
  for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

}  // namespace

namespace {

std::string DescribeTextProblem(TextProblem problem) {
  switch (problem) {
    case TextProblem::kNone:
      break;
    case TextProblem::kInvalidUtf8:
      return "must be valid UTF-8";
    case TextProblem::kControl:
      return "may not contain control characters";
    case TextProblem::kBidiControl:
      return "may not contain bidirectional control characters (U+202A-U+202E, U+2066-U+2069)";
    case TextProblem::kInvisibleOnly:
      return "may not consist only of invisible (zero-width) characters";
  }
  return {};
}

}  // namespace

Result<void> ValidateAnnotations(const std::vector<std::string>& tags,
                                 const std::string& description, const UploadLimits& limits) {
  if (tags.size() > limits.max_tags) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_field",
                "tags: at most " + std::to_string(limits.max_tags) + " tags are allowed");
  }
  for (const std::string& tag : tags) {
    if (tag.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "invalid_field", "tags: a tag may not be empty");
    }
    if (CharacterCount(tag) > limits.max_tag_chars) {
      return Fail(
          ErrorCode::kInvalidArgument, "field_too_long",
          "tags: a tag may have at most " + std::to_string(limits.max_tag_chars) + " characters");
    }
    if (const TextProblem problem = CheckAnnotationText(tag, /*multiline=*/false);
        problem != TextProblem::kNone) {
      return Fail(ErrorCode::kInvalidArgument, "invalid_field",
                  "tags: a tag " + DescribeTextProblem(problem));
    }
  }
  if (CharacterCount(description) > limits.max_description_chars) {
    return Fail(ErrorCode::kInvalidArgument, "field_too_long",
                "description: at most " + std::to_string(limits.max_description_chars) +
                    " characters are allowed");
  }
  if (const TextProblem problem = CheckAnnotationText(description, /*multiline=*/true);
      problem != TextProblem::kNone) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_field",
                "description: " + DescribeTextProblem(problem));
  }
  return {};
}

Result<UploadOutcome> ImageService::Upload(UploadRequest request) {
  IMGUP_ASSIGN_OR_RETURN(ValidatedUpload upload, Validate(std::move(request)));
  return Commit(std::move(upload));
}

Result<ValidatedUpload> ImageService::Validate(UploadRequest request) const {
  if (request.filename.size() > kMaxFilenameBytes) {
    return Fail(ErrorCode::kInvalidArgument, "field_too_long",
                "filename: at most " + std::to_string(kMaxFilenameBytes) + " bytes are allowed");
  }
  IMGUP_RETURN_IF_ERROR(ValidateAnnotations(request.tags, request.description, limits_));
  if (!request.declared_type.empty() && !IsAllowedImageType(request.declared_type)) {
    return Fail(ErrorCode::kUnsupportedMediaType, "unsupported_media_type",
                "content_type '" + request.declared_type +
                    "' is not allowed; send image/jpeg, image/png, image/webp, image/gif, "
                    "image/heic, image/heif or image/avif");
  }
  IMGUP_ASSIGN_OR_RETURN(SniffResult sniffed, SniffImage(request.bytes));
  if (!request.declared_type.empty() && !DeclaredTypeMatches(request.declared_type, sniffed)) {
    return Fail(
        ErrorCode::kUnsupportedMediaType, "content_type_mismatch",
        "The content is " + sniffed.content_type + " but was declared as " + request.declared_type);
  }
  const std::uint64_t pixels = std::uint64_t{sniffed.width} * sniffed.height;
  if (pixels > limits_.max_pixels) {
    return Fail(ErrorCode::kUnprocessable, "image_too_large",
                "The image is " + std::to_string(sniffed.width) + "x" +
                    std::to_string(sniffed.height) + " pixels; at most " +
                    std::to_string(limits_.max_pixels) + " pixels are allowed");
  }
  // Decoders composite every frame of an animation onto a full canvas: frames × canvas is the
  // work, however small the file (900 frames of 1x1 over a 10000x10000 canvas fit in 43 KB).
  // imgproxy sums the frames against the same limit as one frame.
  if (sniffed.frame_count > 1 && sniffed.TotalPixels() > limits_.max_pixels) {
    return Fail(ErrorCode::kUnprocessable, "image_too_large",
                "The animation is " + std::to_string(sniffed.frame_count) + " frames x " +
                    std::to_string(sniffed.width) + "x" + std::to_string(sniffed.height) +
                    " canvas = " + std::to_string(sniffed.TotalPixels()) +
                    " pixels (frames × canvas); at most " + std::to_string(limits_.max_pixels) +
                    " pixels are allowed");
  }

  std::string sha256 = Sha256Hex(request.bytes);
  return ValidatedUpload{std::move(request), std::move(sniffed), std::move(sha256)};
}

Result<UploadOutcome> ImageService::Commit(ValidatedUpload upload) {
  UploadRequest& request = upload.request;
  const SniffResult& sniffed = upload.sniffed;
  const std::string& sha256 = upload.sha256;
  if (auto existing = records_.FindBySha256(request.owner, sha256)) {
    if (existing->status != ImageStatus::kFailed) return UploadOutcome{std::move(*existing), true};
    // A failure is not the last word on these bytes (it may have been the server's: memory, a
    // crash): the failed record makes way for a new attempt, under a new id.
    if (auto removed = RemoveWithBlobs(*existing);
        !removed && removed.error().code != ErrorCode::kNotFound) {
      return tl::unexpected(removed.error());
    }
  } else if (existing.error().code != ErrorCode::kNotFound) {
    return tl::unexpected(existing.error());
  }

  const std::int64_t now = clock_.NowMs();
  ImageRecord record;
  record.id = ids_.NewId(now);
  record.owner = request.owner;
  record.filename = SanitizeFilename(request.filename);
  record.content_type = sniffed.content_type;
  record.format = sniffed.format;
  record.uploaded_at_ms = now;
  record.key = OriginalKey(request.owner, record.id);
  record.size_bytes = request.bytes.size();
  record.width = sniffed.DisplayWidth();
  record.height = sniffed.DisplayHeight();
  record.sha256 = sha256;
  // Whoever does the derived work, it is pending now.
  record.status = ImageStatus::kProcessing;
  record.tags = std::move(request.tags);
  record.description = std::move(request.description);

  // Blob first, record second: a crash in between leaves an orphan blob (fsck removes it),
  // never a record without bytes.
  IMGUP_RETURN_IF_ERROR(blobs_.Put(record.key, request.bytes, record.content_type));
  if (auto inserted = records_.Insert(record); !inserted) {
    (void)blobs_.Delete(record.key);
    if (inserted.error().slug == "duplicate_content") {
      // A concurrent upload of the same bytes won the race.
      auto existing = records_.FindBySha256(request.owner, sha256);
      if (existing) return UploadOutcome{std::move(*existing), true};
    }
    return tl::unexpected(inserted.error());
  }
  if (queue_ != nullptr) {
    // A record that could not be queued (shutting down) stays "processing" and is queued
    // again at the next start.
    (void)queue_->Enqueue(RecordRef{record.owner, record.id, record.key});
  }
  return UploadOutcome{std::move(record), false};
}

Result<ImageRecord> ImageService::Get(std::string_view owner, std::string_view id) {
  if (!IsValidUlid(id)) {
    return Fail(ErrorCode::kNotFound, "not_found", "No image with this id.");
  }
  return records_.Get(owner, id);
}

Result<ImagePage> ImageService::List(std::string_view owner, const ListQuery& query) {
  return records_.List(owner, query);
}

Result<ImageRecord> ImageService::Patch(std::string_view owner, std::string_view id,
                                        const ImagePatch& patch) {
  IMGUP_RETURN_IF_ERROR(ValidateAnnotations(patch.tags.value_or(std::vector<std::string>{}),
                                            patch.description.value_or(std::string{}), limits_));
  if (!IsValidUlid(id)) {
    return Fail(ErrorCode::kNotFound, "not_found", "No image with this id.");
  }
  return records_.Update(owner, id, patch);
}

Result<void> ImageService::Delete(std::string_view owner, std::string_view id) {
  IMGUP_ASSIGN_OR_RETURN(const ImageRecord record, Get(owner, id));
  return RemoveWithBlobs(record);
}

Result<void> ImageService::RemoveWithBlobs(const ImageRecord& record) {
  if (auto removed = records_.Remove(record.owner, record.id); !removed) return removed;
  // Every variant stored for the id, not only those in the record read above: processing may
  // have completed the record between that read and its removal. Processing that completes
  // after the removal finds no record and removes what it wrote itself. Leftovers after a
  // failure here are orphans, which fsck removes.
  // A handful of variants: one page, but every page all the same.
  const std::string prefix = VariantPrefix(record.owner, record.id);
  std::string token;
  do {
    auto variants = blobs_.List(prefix, token, 1000);
    if (!variants) break;
    for (const BlobEntry& variant : variants->items) (void)blobs_.Delete(variant.key);
    token = std::move(variants->next_token);
  } while (!token.empty());
  for (const auto& [name, variant] : record.variants) (void)blobs_.Delete(variant.key);
  // A failed image whose original was removed by policy owns no bytes.
  if (record.key.empty()) return {};
  return blobs_.Delete(record.key);
}

Result<ContentLocation> ImageService::LocateContent(std::string_view owner, std::string_view id,
                                                    std::string_view variant) {
  IMGUP_ASSIGN_OR_RETURN(const ImageRecord record, Get(owner, id));
  if (record.status == ImageStatus::kFailed) {
    // It failed the full decode: its bytes are never served.
    return Fail(ErrorCode::kUnprocessable, "image_failed",
                "Image " + record.id + " failed processing (" + record.failure_reason +
                    ") and is not served");
  }
  if (variant.empty() || variant == "original") {
    return ContentLocation{record.key, record.content_type, record.sha256, record.filename};
  }
  const auto it = record.variants.find(std::string(variant));
  if (it == record.variants.end()) {
    return Fail(ErrorCode::kNotFound, "not_found",
                "Image " + record.id + " has no variant '" + std::string(variant) + "'" +
                    (record.status == ImageStatus::kProcessing ? " yet" : ""));
  }
  return ContentLocation{it->second.key, it->second.content_type, it->second.sha256,
                         record.filename};
}

Result<Content> ImageService::GetContent(std::string_view owner, std::string_view id,
                                         std::string_view variant) {
  IMGUP_ASSIGN_OR_RETURN(ContentLocation location, LocateContent(owner, id, variant));
  IMGUP_ASSIGN_OR_RETURN(std::string bytes, blobs_.Get(location.key));
  // Records made before variants carried their hash compute it here, per request.
  if (location.sha256.empty()) location.sha256 = Sha256Hex(bytes);
  return Content{std::move(bytes), std::move(location.content_type), std::move(location.sha256),
                 std::move(location.filename)};
}

Result<std::string> ImageService::PresignContent(const ContentLocation& location,
                                                 std::int64_t expires_in_s,
                                                 std::string content_disposition) {
  return blobs_.PresignGet(location.key, expires_in_s,
                           GetUrlOptions{location.content_type, std::move(content_disposition)});
}

Result<std::vector<ImageService::SimilarImage>> ImageService::FindSimilar(std::string_view owner,
                                                                          std::string_view id,
                                                                          int max_distance,
                                                                          std::size_t limit) {
  IMGUP_ASSIGN_OR_RETURN(const ImageRecord record, Get(owner, id));
  std::vector<SimilarImage> similar;
  if (record.phash.empty()) return similar;
  // The newest kSimilarScanLimit hashes, page by page.
  std::vector<std::pair<int, std::string>> near;
  std::size_t scanned = 0;
  std::string token;
  do {
    IMGUP_ASSIGN_OR_RETURN(
        PhashPage hashes,
        records_.ListPhashes(owner, token, std::min(kPhashPageSize, kSimilarScanLimit - scanned)));
    scanned += hashes.items.size();
    for (const PhashEntry& entry : hashes.items) {
      if (entry.id == record.id) continue;
      const int distance = PhashDistance(record.phash, entry.phash);
      if (distance <= max_distance) near.emplace_back(distance, entry.id);
    }
    token = std::move(hashes.next_token);
  } while (!token.empty() && scanned < kSimilarScanLimit);
  std::sort(near.begin(), near.end());
  if (near.size() > limit) near.resize(limit);
  for (auto& [distance, other_id] : near) {
    auto other = records_.Get(owner, other_id);
    if (!other) continue;  // deleted meanwhile
    similar.push_back(SimilarImage{std::move(*other), distance});
  }
  return similar;
}

}  // namespace imgup
