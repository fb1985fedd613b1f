#pragma once
// The UploadTickets port: presigned uploads whose bytes have not been committed yet
// (docs/adr/0015-presigned-uploads.md). A ticket is written by POST /uploads and read when the
// bytes arrive (the local server's form route, the processor function's S3 event); it is not an
// image record: no list, dedup or tag index sees it. SqliteMetadataStore and DynamoMetadataStore
// implement it; tests/unit/upload_tickets_contract_test.cpp holds them to this contract.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace imgup {

enum class TicketState {
  kAwaitingUpload,  // the form was handed out; no bytes have been committed
  kFailed,          // the bytes that arrived were refused (failure_reason); they were deleted
  kDuplicate,       // the bytes were the owner's image `duplicate_of`; they were deleted
};
inline const char* ToString(TicketState state) {
  switch (state) {
    case TicketState::kAwaitingUpload:
      return "awaiting_upload";
    case TicketState::kFailed:
      return "failed";
    case TicketState::kDuplicate:
      return "duplicate";
  }
  return "?";
}

struct UploadTicket {
  std::string id;  // the image id the upload will have (a ULID)
  std::string owner;
  std::string filename;      // sanitised
  std::string content_type;  // declared: what the form allows and the bytes must be
  std::uint64_t max_bytes = 0;
  std::int64_t created_ms = 0;
  /// When the ticket is gone for readers (Unix epoch ms): the form's expiry plus time for the
  /// bytes to be committed, or a while after the ticket failed. DynamoDB's TTL deletes the item
  /// some time after this (attribute `expires_at`, epoch seconds); readers never see it past it.
  std::int64_t expires_at_ms = 0;
  TicketState state = TicketState::kAwaitingUpload;
  std::string failure_reason;  // kFailed
  std::string duplicate_of;    // kDuplicate
  /// The SHA-256 of the bytes being committed (ClaimTicket), while the ticket still awaits; empty
  /// when unclaimed. FinishTicket reads it as the claim the finishing delivery holds.
  std::string claimed_sha256;
  std::int64_t claimed_at_ms = 0;
};

class UploadTickets {
 public:
  virtual ~UploadTickets() = default;
  /// Stores a new ticket (state kAwaitingUpload). Errors: kConflict "duplicate_id" when the
  /// owner has a ticket with this id; kInvalidArgument for an owner with '#'.
  virtual Result<void> PutTicket(const UploadTicket& ticket) = 0;
  /// The owner's ticket `id`, whatever its expiry (the caller compares it with its clock).
  /// Errors: kNotFound.
  virtual Result<UploadTicket> GetTicket(std::string_view owner, std::string_view id) = 0;
  /// Moves a ticket out of kAwaitingUpload to `finished`'s state, reason, duplicate_of and
  /// expires_at_ms, atomically with that check: of two deliveries of the same bytes exactly one
  /// finishes it. A claimed ticket is finished only by the delivery holding the claim
  /// (`finished.claimed_sha256` equal to the stored one; empty: the caller holds none).
  /// Errors: kNotFound; kConflict "not_awaiting" when it was finished already, "claimed" when
  /// other bytes hold its claim.
  virtual Result<void> FinishTicket(const UploadTicket& finished) = 0;
  /// Claims an awaiting ticket for the bytes whose SHA-256 is `sha256`, before they are written
  /// under the image's key, atomically with the check: of two posts of the same form with other
  /// bytes, one commits and the other learns it lost. Succeeds when the ticket is unclaimed,
  /// claimed for the same sha256 (a retried delivery of those bytes) or claimed before
  /// `stale_before_ms` (a delivery that died mid-commit); sets claimed_at_ms to `now_ms`.
  /// Errors: kNotFound; kConflict "not_awaiting" when it was finished already, "claimed" when
  /// other bytes hold the claim.
  virtual Result<void> ClaimTicket(std::string_view owner, std::string_view id,
                                   std::string_view sha256, std::int64_t now_ms,
                                   std::int64_t stale_before_ms) = 0;
  /// Deletes the ticket (its image record exists now). Deleting a missing ticket succeeds.
  virtual Result<void> RemoveTicket(std::string_view owner, std::string_view id) = 0;
};

}  // namespace imgup
