#pragma once
// Uploads past the inline limit (docs/adr/0015-presigned-uploads.md): POST /uploads hands out a
// presigned form for a staging key (uploads/{owner}/{id}) and records an upload ticket; when the
// bytes arrive (the local server's form route, or on AWS the staging object's S3 event in the
// processor function) Arrived() validates them against the ticket and commits them: the bytes it
// validated are written under the image's key (originals/{owner}/{id}) and an image record is
// inserted, whose processing then follows the inline upload's path. A form can be posted again
// until it expires, so nothing under the staging key is ever served or processed.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/error.hpp"
#include "domain/image_record.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/id_generator.hpp"
#include "domain/ports/metadata_store.hpp"
#include "domain/ports/processing_queue.hpp"
#include "domain/ports/upload_tickets.hpp"
#include "services/image_service.hpp"

namespace imgup {

struct PresignedUploadSettings {
  /// The largest size_bytes a client may declare (the form's content-length-range maximum).
  std::uint64_t max_upload_bytes = 64ull << 20;
  /// How long the form works.
  std::int64_t form_ttl_s = 900;
  /// How long an awaiting ticket outlives its form: bytes posted at the form's last second, and
  /// S3 events that are retried, are still committed.
  std::int64_t commit_grace_s = 900;
  /// How long a failed (or duplicate) ticket stays readable, so that a client polling the id
  /// learns why.
  std::int64_t finished_ttl_s = 86400;
  /// How long a delivery's claim on the ticket (UploadTickets::ClaimTicket) holds against other
  /// bytes: longer than a commit can take (the processor function's timeout is 60 s), so a live
  /// commit is never taken over; past it, a delivery that died mid-commit no longer blocks a
  /// new post of the form.
  std::int64_t claim_stale_s = 300;
};

/// What signs the form: the blob store's own presigned POST (S3), or the local server's
/// one-time URLs (SignedUrls::SignPost) where the server receives the bytes itself.
using PostSigner = std::function<Result<PresignedPost>(const UploadPolicy&)>;

struct StartedUpload {
  UploadTicket ticket;
  PresignedPost post;
};

struct UploadArrival {
  enum class Kind {
    kNoTicket,   // no awaiting ticket (committed before, or expired) or another post's bytes
                 // committed already: the staging object is deleted, nothing else changes
    kCommitted,  // the bytes passed: `record` is the image record ("processing" when new)
    kFailed,     // the bytes were refused: `ticket` says why; the staging object is deleted
    kDuplicate,  // the owner had these bytes: `ticket.duplicate_of`; staging object deleted
  };
  Kind kind = Kind::kNoTicket;
  std::optional<ImageRecord> record;
  std::optional<UploadTicket> ticket;
};

/// What GET /images/{id} finds for an id that has no image record (yet).
struct PendingUpload {
  UploadTicket ticket;
  /// For a duplicate: the owner's image with the same bytes.
  std::optional<ImageRecord> duplicate_of;
};

class PresignedUploads {
 public:
  /// Every reference is not owned and must outlive this. `queue`: where a committed record goes
  /// for processing (the local server's workers); none on AWS, where the processor function
  /// that committed it goes on to process it.
  PresignedUploads(ImageService& images, BlobStore& blobs, MetadataStore& records,
                   UploadTickets& tickets, Clock& clock, IdGenerator& ids, PostSigner signer,
                   PresignedUploadSettings settings, ProcessingQueue* queue = nullptr)
      : images_(images),
        blobs_(blobs),
        records_(records),
        tickets_(tickets),
        clock_(clock),
        ids_(ids),
        signer_(std::move(signer)),
        settings_(settings),
        queue_(queue) {}

  /// A ticket and its form. Errors: kInvalidArgument ("invalid_field", "field_too_long") for a
  /// bad file name or a size of 0 or above max_upload_bytes, kUnsupportedMediaType for a type
  /// that is not an allowed image type; the stores' errors.
  Result<StartedUpload> Start(std::string_view owner, std::string_view filename,
                              std::string_view content_type, std::uint64_t size_bytes);

  /// The bytes of the owner's upload `id` are stored under its staging key: validates them
  /// against the ticket (size, the sniffed type equal to the declared one, the image limits) and
  /// commits them (the validated bytes Put under the original's key with the sniffed type, the
  /// record inserted, the ticket removed), or refuses them (ticket finished); the staging object
  /// is deleted either way. Idempotent: a second delivery finds the ticket finished (the same
  /// answer) or gone (kNoTicket) and changes nothing but deleting the staging object.
  /// Errors: the stores' (try again); kNotFound when the ticket awaits and nothing is staged.
  Result<UploadArrival> Arrived(std::string_view owner, std::string_view id);

  /// The owner's upload `id` while it has a ticket that has not expired. Errors: kNotFound.
  Result<PendingUpload> Find(std::string_view owner, std::string_view id);

  const PresignedUploadSettings& settings() const { return settings_; }

 private:
  /// Finishes the ticket as `state` and deletes the staging object (ticket first: a reader
  /// never learns of bytes that are gone).
  Result<UploadArrival> Refuse(UploadTicket ticket, TicketState state, std::string reason,
                               std::string duplicate_of);
  /// The answer for a ticket refused before; its staging object deleted.
  UploadArrival Settled(UploadTicket ticket);
  /// The answer for the upload's record; its ticket and staging object deleted.
  UploadArrival Committed(ImageRecord record);
  /// The answer when there is nothing to commit; the staging object deleted.
  UploadArrival NoTicket(std::string_view owner, std::string_view id);

  ImageService& images_;
  BlobStore& blobs_;
  MetadataStore& records_;
  UploadTickets& tickets_;
  Clock& clock_;
  IdGenerator& ids_;
  PostSigner signer_;
  PresignedUploadSettings settings_;
  ProcessingQueue* queue_;
};

}  // namespace imgup
