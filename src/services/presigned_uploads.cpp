#include "services/presigned_uploads.hpp"

#include <utility>

#include "codecs/sniff.hpp"
#include "codecs/text.hpp"
#include "domain/blob_keys.hpp"
#include "domain/filename.hpp"
#include "domain/ulid.hpp"

namespace imgup {

Result<StartedUpload> PresignedUploads::Start(std::string_view owner, std::string_view filename,
                                              std::string_view content_type,
                                              std::uint64_t size_bytes) {
  if (filename.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_field", "filename may not be empty");
  }
  if (filename.size() > kMaxFilenameBytes) {
    return Fail(ErrorCode::kInvalidArgument, "field_too_long",
                "filename: at most " + std::to_string(kMaxFilenameBytes) + " bytes are allowed");
  }
  const std::string type = AsciiLower(content_type);
  if (!IsAllowedImageType(type)) {
    return Fail(ErrorCode::kUnsupportedMediaType, "unsupported_media_type",
                "content_type '" + std::string(content_type) +
                    "' is not allowed; send image/jpeg, image/png, image/webp, image/gif, "
                    "image/heic, image/heif or image/avif");
  }
  if (size_bytes == 0 || size_bytes > settings_.max_upload_bytes) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_field",
                "size_bytes must be from 1 to " + std::to_string(settings_.max_upload_bytes) +
                    " (the largest upload this server takes), not " + std::to_string(size_bytes));
  }
  const std::int64_t now = clock_.NowMs();
  UploadTicket ticket;
  ticket.id = ids_.NewId(now);
  ticket.owner = std::string(owner);
  ticket.filename = SanitizeFilename(filename);
  ticket.content_type = type;
  ticket.max_bytes = size_bytes;
  ticket.created_ms = now;
  ticket.state = TicketState::kAwaitingUpload;
  IMGUP_ASSIGN_OR_RETURN(
      PresignedPost post,
      signer_(UploadPolicy{OriginalKey(owner, ticket.id), type, size_bytes, settings_.form_ttl_s}));
  ticket.expires_at_ms = post.expires_at_ms + settings_.commit_grace_s * 1000;
  IMGUP_RETURN_IF_ERROR(tickets_.PutTicket(ticket));
  return StartedUpload{std::move(ticket), std::move(post)};
}

Result<UploadArrival> PresignedUploads::Refuse(UploadTicket ticket, TicketState state,
                                               std::string reason, std::string duplicate_of) {
  const std::string key = OriginalKey(ticket.owner, ticket.id);
  ticket.state = state;
  ticket.failure_reason = std::move(reason);
  ticket.duplicate_of = std::move(duplicate_of);
  ticket.expires_at_ms = clock_.NowMs() + settings_.finished_ttl_s * 1000;
  if (auto finished = tickets_.FinishTicket(ticket); !finished) {
    if (finished.error().code != ErrorCode::kConflict) return tl::unexpected(finished.error());
    // Another delivery finished it first; its answer is the ticket's.
    IMGUP_ASSIGN_OR_RETURN(ticket, tickets_.GetTicket(ticket.owner, ticket.id));
    return UploadArrival{ticket.state == TicketState::kDuplicate ? UploadArrival::Kind::kDuplicate
                                                                 : UploadArrival::Kind::kFailed,
                         std::nullopt, std::move(ticket)};
  }
  (void)blobs_.Delete(key);
  return UploadArrival{state == TicketState::kDuplicate ? UploadArrival::Kind::kDuplicate
                                                        : UploadArrival::Kind::kFailed,
                       std::nullopt, std::move(ticket)};
}

Result<UploadArrival> PresignedUploads::Arrived(std::string_view owner, std::string_view id) {
  auto found = tickets_.GetTicket(owner, id);
  if (!found) {
    if (found.error().code == ErrorCode::kNotFound) return UploadArrival{};
    return tl::unexpected(found.error());
  }
  UploadTicket ticket = std::move(*found);
  const std::string key = OriginalKey(owner, id);
  if (ticket.state == TicketState::kFailed || ticket.state == TicketState::kDuplicate) {
    // Settled: no record has this id, so whatever is at its key now is not an image's. An S3
    // form is good until it expires, and a client may post it again after the refusal: those
    // bytes go too (a delivery of the first event finds nothing to delete).
    (void)blobs_.Delete(key);
    return UploadArrival{ticket.state == TicketState::kDuplicate ? UploadArrival::Kind::kDuplicate
                                                                 : UploadArrival::Kind::kFailed,
                         std::nullopt, std::move(ticket)};
  }
  auto bytes = blobs_.Get(key);
  if (!bytes) {
    if (bytes.error().code != ErrorCode::kNotFound) return tl::unexpected(bytes.error());
    // Refused and deleted by another delivery (its ticket says so), or never stored.
    IMGUP_ASSIGN_OR_RETURN(ticket, tickets_.GetTicket(owner, id));
    if (ticket.state != TicketState::kAwaitingUpload) return Arrived(owner, id);
    return Fail(ErrorCode::kNotFound, "not_found", "No bytes were uploaded for this id yet.",
                "key " + key + ": no object");
  }
  // S3 enforces the form's content-length-range; the local route does too. Checked again, as
  // the ticket is what the client declared.
  if (bytes->empty() || bytes->size() > ticket.max_bytes) {
    std::string reason = "size_mismatch: " + std::to_string(bytes->size()) +
                         " bytes arrived; the upload declared 1 to " +
                         std::to_string(ticket.max_bytes);
    return Refuse(std::move(ticket), TicketState::kFailed, std::move(reason), {});
  }
  UploadRequest request;
  request.owner = std::string(owner);
  request.filename = ticket.filename;
  request.declared_type = ticket.content_type;
  request.bytes = std::move(*bytes);
  auto validated = images_.Validate(std::move(request));
  if (!validated) {
    return Refuse(std::move(ticket), TicketState::kFailed,
                  validated.error().slug + ": " + validated.error().message, {});
  }

  // The same bytes already uploaded by the owner: the upload is a duplicate, as an inline one
  // would be, unless that image failed (it makes way, as in ImageService::Commit).
  if (auto existing = records_.FindBySha256(owner, validated->sha256)) {
    if (existing->id == ticket.id) {
      (void)tickets_.RemoveTicket(owner, id);
      return UploadArrival{UploadArrival::Kind::kCommitted, std::move(*existing), std::nullopt};
    }
    if (existing->status != ImageStatus::kFailed) {
      return Refuse(std::move(ticket), TicketState::kDuplicate,
                    "duplicate_content: the same bytes as image " + existing->id, existing->id);
    }
    if (auto removed = images_.Delete(owner, existing->id);
        !removed && removed.error().code != ErrorCode::kNotFound) {
      return tl::unexpected(removed.error());
    }
  } else if (existing.error().code != ErrorCode::kNotFound) {
    return tl::unexpected(existing.error());
  }

  const SniffResult& sniffed = validated->sniffed;
  ImageRecord record;
  record.id = ticket.id;
  record.owner = std::string(owner);
  record.filename = ticket.filename;
  record.content_type = sniffed.content_type;
  record.format = sniffed.format;
  record.uploaded_at_ms = clock_.NowMs();
  record.key = key;
  record.size_bytes = validated->request.bytes.size();
  record.width = sniffed.DisplayWidth();
  record.height = sniffed.DisplayHeight();
  record.sha256 = validated->sha256;
  record.status = ImageStatus::kProcessing;
  if (auto inserted = records_.Insert(record); !inserted) {
    if (inserted.error().slug == "duplicate_id") {
      // Another delivery committed it first.
      IMGUP_ASSIGN_OR_RETURN(ImageRecord stored, records_.Get(owner, id));
      (void)tickets_.RemoveTicket(owner, id);
      return UploadArrival{UploadArrival::Kind::kCommitted, std::move(stored), std::nullopt};
    }
    if (inserted.error().slug == "duplicate_content") {
      // A concurrent upload of the same bytes won.
      auto winner = records_.FindBySha256(owner, record.sha256);
      return Refuse(std::move(ticket), TicketState::kDuplicate,
                    "duplicate_content: the same bytes as image " +
                        (winner ? winner->id : std::string("(deleted since)")),
                    winner ? winner->id : std::string());
    }
    return tl::unexpected(inserted.error());
  }
  // The record exists now: readers find it before the ticket, which can go.
  (void)tickets_.RemoveTicket(owner, id);
  if (queue_ != nullptr) (void)queue_->Enqueue(RecordRef{record.owner, record.id, record.key});
  return UploadArrival{UploadArrival::Kind::kCommitted, std::move(record), std::nullopt};
}

Result<PendingUpload> PresignedUploads::Find(std::string_view owner, std::string_view id) {
  if (!IsValidUlid(id)) return Fail(ErrorCode::kNotFound, "not_found", "No image with this id.");
  IMGUP_ASSIGN_OR_RETURN(UploadTicket ticket, tickets_.GetTicket(owner, id));
  // DynamoDB's TTL deletes an expired item within days, SQLite's rows stay until the next
  // sweep: past its expiry a ticket is gone for every reader, whatever the store still holds.
  if (ticket.expires_at_ms <= clock_.NowMs()) {
    return Fail(ErrorCode::kNotFound, "not_found", "No image with this id.",
                "upload ticket expired");
  }
  PendingUpload pending{std::move(ticket), std::nullopt};
  if (pending.ticket.state == TicketState::kDuplicate && !pending.ticket.duplicate_of.empty()) {
    if (auto other = records_.Get(owner, pending.ticket.duplicate_of)) {
      pending.duplicate_of = std::move(*other);
    }
  }
  return pending;
}

}  // namespace imgup
