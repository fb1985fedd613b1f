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
      signer_(UploadPolicy{StagingKey(owner, ticket.id), type, size_bytes, settings_.form_ttl_s}));
  ticket.expires_at_ms = post.expires_at_ms + settings_.commit_grace_s * 1000;
  IMGUP_RETURN_IF_ERROR(tickets_.PutTicket(ticket));
  return StartedUpload{std::move(ticket), std::move(post)};
}

UploadArrival PresignedUploads::Settled(UploadTicket ticket) {
  // Nothing is committed from the staging key once the ticket is not awaiting: whatever is
  // there now (the refused bytes, or the same form posted again) goes.
  (void)blobs_.Delete(StagingKey(ticket.owner, ticket.id));
  const auto kind = ticket.state == TicketState::kDuplicate ? UploadArrival::Kind::kDuplicate
                                                            : UploadArrival::Kind::kFailed;
  return UploadArrival{kind, std::nullopt, std::move(ticket)};
}

UploadArrival PresignedUploads::Committed(ImageRecord record) {
  // The record exists: readers find it before the ticket, which can go, and so can the staging
  // object (bytes posted again meanwhile are no image's either).
  (void)tickets_.RemoveTicket(record.owner, record.id);
  (void)blobs_.Delete(StagingKey(record.owner, record.id));
  return UploadArrival{UploadArrival::Kind::kCommitted, std::move(record), std::nullopt};
}

UploadArrival PresignedUploads::NoTicket(std::string_view owner, std::string_view id) {
  (void)blobs_.Delete(StagingKey(owner, id));
  return UploadArrival{};
}

Result<UploadArrival> PresignedUploads::Refuse(UploadTicket ticket, TicketState state,
                                               std::string reason, std::string duplicate_of) {
  ticket.state = state;
  ticket.failure_reason = std::move(reason);
  ticket.duplicate_of = std::move(duplicate_of);
  ticket.expires_at_ms = clock_.NowMs() + settings_.finished_ttl_s * 1000;
  if (auto finished = tickets_.FinishTicket(ticket); !finished) {
    if (finished.error().code != ErrorCode::kConflict &&
        finished.error().code != ErrorCode::kNotFound) {
      return tl::unexpected(finished.error());
    }
    // Another delivery settled it first (refused, or committed and removed the ticket): its
    // answer is the upload's.
    auto now = tickets_.GetTicket(ticket.owner, ticket.id);
    if (!now) {
      if (now.error().code == ErrorCode::kNotFound) return NoTicket(ticket.owner, ticket.id);
      return tl::unexpected(now.error());
    }
    if (now->state == TicketState::kAwaitingUpload) {
      // Other bytes of this upload hold the claim and are being committed: these lost.
      if (!now->claimed_sha256.empty() && now->claimed_sha256 != ticket.claimed_sha256) {
        return NoTicket(ticket.owner, ticket.id);
      }
      return Fail(ErrorCode::kUnavailable, "ticket_busy",
                  "The upload's ticket changed while its bytes were checked.",
                  "ticket " + ticket.id + " still awaiting after a refused FinishTicket");
    }
    return Settled(std::move(*now));
  }
  return Settled(std::move(ticket));
}

Result<UploadArrival> PresignedUploads::Arrived(std::string_view owner, std::string_view id) {
  auto found = tickets_.GetTicket(owner, id);
  if (!found) {
    // Committed (the ticket went with it), or settled and expired: an S3 form is good until it
    // expires and can be posted again after the commit; those bytes are nothing's.
    if (found.error().code == ErrorCode::kNotFound) return NoTicket(owner, id);
    return tl::unexpected(found.error());
  }
  UploadTicket ticket = std::move(*found);
  // The claim this delivery holds (FinishTicket reads it so): none until ClaimTicket below.
  ticket.claimed_sha256.clear();
  const std::string staging = StagingKey(owner, id);
  if (ticket.state != TicketState::kAwaitingUpload) return Settled(std::move(ticket));
  auto bytes = blobs_.Get(staging);
  if (!bytes) {
    if (bytes.error().code != ErrorCode::kNotFound) return tl::unexpected(bytes.error());
    // Committed or refused by another delivery since (its ticket says so), or never stored.
    IMGUP_ASSIGN_OR_RETURN(ticket, tickets_.GetTicket(owner, id));
    if (ticket.state != TicketState::kAwaitingUpload) return Arrived(owner, id);
    return Fail(ErrorCode::kNotFound, "not_found", "No bytes were uploaded for this id yet.",
                "key " + staging + ": no object");
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
    // This upload's own record: an earlier delivery of these bytes stopped after its Insert.
    if (existing->id == ticket.id) return Committed(std::move(*existing));
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
  // Two posts of the same form with other bytes can both get here: the claim lets one of them
  // write the original and insert the record; the other's bytes are nothing's. A delivery of
  // the same bytes again (a retried event, a commit that died half-way) holds the same claim.
  const std::int64_t now_ms = clock_.NowMs();
  if (auto claimed = tickets_.ClaimTicket(owner, id, validated->sha256, now_ms,
                                          now_ms - settings_.claim_stale_s * 1000);
      !claimed) {
    if (claimed.error().slug == "claimed") return NoTicket(owner, id);
    // Settled or committed by another delivery since it was read: its answer is the upload's.
    if (claimed.error().code == ErrorCode::kNotFound || claimed.error().slug == "not_awaiting") {
      return Arrived(owner, id);
    }
    return tl::unexpected(claimed.error());
  }
  ticket.claimed_sha256 = validated->sha256;
  // A record with this id: committed by a delivery whose claim went stale (it died before it
  // removed the ticket). Its original is not to be written over.
  auto other = records_.Get(owner, id);
  if (other) return NoTicket(owner, id);
  if (other.error().code != ErrorCode::kNotFound) return tl::unexpected(other.error());

  const SniffResult& sniffed = validated->sniffed;
  const std::string key = OriginalKey(owner, id);
  // The bytes checked above, from memory: a CopyObject of the staging key would copy whatever a
  // post of the same form had put there since. The original first, the record second, as for an
  // inline upload; after a crash in between, a later delivery finds the ticket still awaiting
  // and the staging object still there, and does both again (the Put is idempotent).
  IMGUP_RETURN_IF_ERROR(blobs_.Put(key, validated->request.bytes, sniffed.content_type));
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
      // Another delivery of the same bytes committed it first (this Put wrote what it had
      // written); other bytes only after taking over this delivery's claim as stale.
      IMGUP_ASSIGN_OR_RETURN(ImageRecord stored, records_.Get(owner, id));
      if (stored.sha256 == record.sha256) return Committed(std::move(stored));
      return NoTicket(owner, id);
    }
    if (inserted.error().slug == "duplicate_content") {
      // A concurrent upload of the same bytes won: no record has this id, nor its original.
      (void)blobs_.Delete(key);
      auto winner = records_.FindBySha256(owner, record.sha256);
      return Refuse(std::move(ticket), TicketState::kDuplicate,
                    "duplicate_content: the same bytes as image " +
                        (winner ? winner->id : std::string("(deleted since)")),
                    winner ? winner->id : std::string());
    }
    return tl::unexpected(inserted.error());
  }
  if (queue_ != nullptr) (void)queue_->Enqueue(RecordRef{record.owner, record.id, record.key});
  return Committed(std::move(record));
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
