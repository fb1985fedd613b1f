// PresignedUploads (ADR 15) over the in-memory blob store and the SQLite metadata store (records
// and tickets), with a frozen clock: what a form's bytes under the staging key become, and that
// nothing posted under it reaches an image's key unvalidated, whenever it is posted.
#include "services/presigned_uploads.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "adapters/local/sqlite_metadata_store.hpp"
#include "codecs/sha256.hpp"
#include "domain/blob_keys.hpp"
#include "fakes/fixed_clock.hpp"
#include "fakes/forwarding_metadata_store.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/sequential_ids.hpp"
#include "fakes/temp_dir.hpp"
#include "support/images.hpp"

namespace imgup {
namespace {

std::uint32_t Crc32(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

/// TinyPng with a tEXt chunk after IHDR: another valid PNG, with other bytes.
std::string OtherPng(std::string_view comment) {
  const std::string png = test::TinyPng();
  const std::size_t after_ihdr = 8 + 4 + 4 + 13 + 4;
  std::string chunk = "tEXt" + std::string("Comment") + '\0' + std::string(comment);
  const auto length = static_cast<std::uint32_t>(chunk.size() - 4);
  const std::uint32_t crc = Crc32(chunk);
  std::string framed;
  for (int shift = 24; shift >= 0; shift -= 8)
    framed += static_cast<char>((length >> shift) & 0xFF);
  framed += chunk;
  for (int shift = 24; shift >= 0; shift -= 8) framed += static_cast<char>((crc >> shift) & 0xFF);
  return png.substr(0, after_ihdr) + framed + png.substr(after_ihdr);
}

const std::string kHtml = "<!doctype html><script>alert(document.cookie)</script>";

/// The SQLite store with a hook that runs before each Insert (a delivery racing this one) and
/// Insert failures to order.
class HookedRecords final : public ForwardingMetadataStore {
 public:
  using ForwardingMetadataStore::ForwardingMetadataStore;
  Result<void> Insert(const ImageRecord& record) override {
    if (auto hook = std::exchange(before_insert, nullptr)) hook();
    if (fail_inserts > 0) {
      --fail_inserts;
      return Fail(ErrorCode::kUnavailable, "storage_unavailable", "database is locked");
    }
    return ForwardingMetadataStore::Insert(record);
  }
  std::function<void()> before_insert;
  int fail_inserts = 0;
};

class PresignedUploadsTest : public ::testing::Test {
 protected:
  PresignedUploadsTest()
      : db_(Open(dir_)),
        records_(*db_),
        images_(blobs_, records_, clock_, ids_, UploadLimits{}),
        uploads_(
            images_, blobs_, records_, *db_, clock_, ids_,
            [this](const UploadPolicy& policy) -> Result<PresignedPost> {
              signed_key_ = policy.key;
              return PresignedPost{"https://bucket.example/",
                                   {{"key", policy.key}},
                                   clock_.NowMs() + policy.expires_in_s * 1000};
            },
            PresignedUploadSettings{}) {}

  static std::shared_ptr<SqliteMetadataStore> Open(const TempDir& dir) {
    auto store = SqliteMetadataStore::Open(dir.path() / "imgup.db");
    if (!store) throw std::runtime_error(store.error().detail);
    return std::shared_ptr<SqliteMetadataStore>(std::move(*store));
  }

  /// A started upload of `size` bytes declared as `type`; its id.
  std::string Start(std::uint64_t size, std::string type = "image/png") {
    auto started = uploads_.Start("ann", "big.png", type, size);
    EXPECT_TRUE(started) << started.error().message;
    return started->ticket.id;
  }
  /// What the form does: the bytes under its key.
  void Post(const std::string& id, std::string_view bytes) {
    ASSERT_TRUE(blobs_.Put(StagingKey("ann", id), bytes, "image/png"));
  }
  bool Staged(const std::string& id) { return blobs_.Head(StagingKey("ann", id)).has_value(); }
  std::string Original(const std::string& id) {
    auto bytes = blobs_.Get(OriginalKey("ann", id));
    return bytes ? *bytes : "(none: " + bytes.error().slug + ")";
  }
  ErrorCode TicketError(const std::string& id) {
    auto ticket = db_->GetTicket("ann", id);
    return ticket ? ErrorCode::kInternal : ticket.error().code;
  }
  /// A delivery of the staged bytes of `id` that commits them.
  void ArriveAndCommit(const std::string& id) {
    auto arrived = uploads_.Arrived("ann", id);
    ASSERT_TRUE(arrived) << arrived.error().detail;
    EXPECT_EQ(arrived->kind, UploadArrival::Kind::kCommitted);
  }
  /// A delivery that finds the ticket claimed for other bytes: it changes nothing.
  void ArriveAndFindTheTicketClaimed(const std::string& id) {
    auto racing = uploads_.Arrived("ann", id);
    ASSERT_TRUE(racing) << racing.error().detail;
    EXPECT_EQ(racing->kind, UploadArrival::Kind::kNoTicket);
  }
  /// The original under the record's key is `bytes`, and so is the record's SHA-256.
  void ExpectOriginalAndRecordAre(const std::string& id, const std::string& bytes) {
    EXPECT_EQ(Original(id), bytes);
    auto record = records_.Get("ann", id);
    ASSERT_TRUE(record) << record.error().detail;
    EXPECT_EQ(record->sha256, Sha256Hex(bytes));
  }

  TempDir dir_;
  std::shared_ptr<SqliteMetadataStore> db_;
  HookedRecords records_;
  MemoryBlobStore blobs_;
  FixedClock clock_;
  SequentialIds ids_;
  ImageService images_;
  PresignedUploads uploads_;
  std::string signed_key_;
};

TEST_F(PresignedUploadsTest, TheFormStoresUnderTheStagingKeyAndTheCommitUnderTheOriginal) {
  const std::string png = test::TinyPng();
  const std::string id = Start(png.size());
  EXPECT_EQ(signed_key_, "uploads/ann/" + id);
  Post(id, png);

  auto arrived = uploads_.Arrived("ann", id);
  ASSERT_TRUE(arrived) << arrived.error().detail;
  ASSERT_EQ(arrived->kind, UploadArrival::Kind::kCommitted);
  EXPECT_EQ(arrived->record->key, OriginalKey("ann", id));
  EXPECT_EQ(arrived->record->status, ImageStatus::kProcessing);
  EXPECT_EQ(arrived->record->sha256, Sha256Hex(png));
  EXPECT_EQ(Original(id), png);
  EXPECT_EQ(blobs_.ContentType(OriginalKey("ann", id)), "image/png");  // the sniffed type
  EXPECT_FALSE(Staged(id));
  EXPECT_EQ(TicketError(id), ErrorCode::kNotFound);
  EXPECT_EQ(records_.Get("ann", id)->sha256, Sha256Hex(png));
}

TEST_F(PresignedUploadsTest, BytesOfAnotherSizeAreRefusedAndDeleted) {
  const std::string png = test::TinyPng();
  const std::string id = Start(png.size() - 1);
  Post(id, png);
  auto arrived = uploads_.Arrived("ann", id);
  ASSERT_TRUE(arrived);
  ASSERT_EQ(arrived->kind, UploadArrival::Kind::kFailed);
  EXPECT_EQ(arrived->ticket->failure_reason.rfind("size_mismatch:", 0), 0u);
  EXPECT_FALSE(Staged(id));
  EXPECT_EQ(Original(id), "(none: not_found)");
  EXPECT_EQ(db_->GetTicket("ann", id)->state, TicketState::kFailed);
  EXPECT_EQ(records_.Get("ann", id).error().code, ErrorCode::kNotFound);
}

TEST_F(PresignedUploadsTest, BytesOfAnotherTypeAreRefusedAndDeleted) {
  const std::string png = test::TinyPng();
  const std::string id = Start(png.size(), "image/jpeg");
  Post(id, png);
  auto arrived = uploads_.Arrived("ann", id);
  ASSERT_TRUE(arrived);
  ASSERT_EQ(arrived->kind, UploadArrival::Kind::kFailed);
  EXPECT_EQ(arrived->ticket->failure_reason.rfind("content_type_mismatch:", 0), 0u);

  const std::string html_id = Start(kHtml.size(), "image/jpeg");
  Post(html_id, kHtml);
  auto html = uploads_.Arrived("ann", html_id);
  ASSERT_TRUE(html);
  EXPECT_EQ(html->kind, UploadArrival::Kind::kFailed);
  for (const std::string& each : {id, html_id}) {
    EXPECT_FALSE(Staged(each));
    EXPECT_EQ(Original(each), "(none: not_found)");
  }
  EXPECT_EQ(blobs_.size(), 0u);
}

TEST_F(PresignedUploadsTest, TheOwnersBytesAgainAreADuplicate) {
  const std::string png = test::TinyPng();
  auto inline_upload = images_.Upload(UploadRequest{"ann", "a.png", "image/png", png, {}, ""});
  ASSERT_TRUE(inline_upload);
  const std::string id = Start(png.size());
  Post(id, png);
  auto arrived = uploads_.Arrived("ann", id);
  ASSERT_TRUE(arrived);
  ASSERT_EQ(arrived->kind, UploadArrival::Kind::kDuplicate);
  EXPECT_EQ(arrived->ticket->duplicate_of, inline_upload->record.id);
  EXPECT_FALSE(Staged(id));
  EXPECT_EQ(Original(id), "(none: not_found)");
  auto pending = uploads_.Find("ann", id);
  ASSERT_TRUE(pending);
  ASSERT_TRUE(pending->duplicate_of);
  EXPECT_EQ(pending->duplicate_of->id, inline_upload->record.id);
}

TEST_F(PresignedUploadsTest, AFailedEarlierImageOfTheSameBytesMakesWay) {
  const std::string png = test::TinyPng();
  auto earlier = images_.Upload(UploadRequest{"ann", "a.png", "image/png", png, {}, ""});
  ASSERT_TRUE(earlier);
  ImageRecord failed = earlier->record;
  failed.status = ImageStatus::kFailed;
  failed.failure_reason = "decode_failed: test";
  ASSERT_TRUE(records_.SaveDerived(failed));

  const std::string id = Start(png.size());
  Post(id, png);
  auto arrived = uploads_.Arrived("ann", id);
  ASSERT_TRUE(arrived) << arrived.error().detail;
  EXPECT_EQ(arrived->kind, UploadArrival::Kind::kCommitted);
  EXPECT_EQ(records_.Get("ann", earlier->record.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Original(id), png);
}

TEST_F(PresignedUploadsTest, TheFormPostedAgainAfterTheCommitIsDeletedAndTheOriginalUntouched) {
  const std::string png = test::TinyPng();
  const std::string id = Start(png.size());
  Post(id, png);
  ASSERT_EQ(uploads_.Arrived("ann", id)->kind, UploadArrival::Kind::kCommitted);
  const ImageRecord committed = records_.Get("ann", id).value();

  for (const std::string& again : {kHtml, OtherPng("another")}) {
    Post(id, again);  // an S3 form is good until it expires
    auto arrived = uploads_.Arrived("ann", id);
    ASSERT_TRUE(arrived);
    EXPECT_EQ(arrived->kind, UploadArrival::Kind::kNoTicket);
    EXPECT_FALSE(Staged(id));
    EXPECT_EQ(Original(id), png);
    EXPECT_EQ(records_.Get("ann", id)->sha256, committed.sha256);
  }
}

TEST_F(PresignedUploadsTest, TheFormPostedAgainAfterARefusalIsDeleted) {
  const std::string id = Start(kHtml.size(), "image/jpeg");
  Post(id, kHtml);
  ASSERT_EQ(uploads_.Arrived("ann", id)->kind, UploadArrival::Kind::kFailed);
  Post(id, test::TinyPng());
  auto again = uploads_.Arrived("ann", id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->kind, UploadArrival::Kind::kFailed);
  EXPECT_FALSE(Staged(id));
  EXPECT_EQ(Original(id), "(none: not_found)");
}

TEST_F(PresignedUploadsTest, StagedBytesWithoutATicketAreDeletedAndNothingElseChanges) {
  const std::string id = SequentialIds::Format(777);
  Post(id, test::TinyPng());
  auto arrived = uploads_.Arrived("ann", id);
  ASSERT_TRUE(arrived);
  EXPECT_EQ(arrived->kind, UploadArrival::Kind::kNoTicket);
  EXPECT_EQ(blobs_.size(), 0u);
  EXPECT_EQ(records_.Get("ann", id).error().code, ErrorCode::kNotFound);
}

TEST_F(PresignedUploadsTest, TheSameArrivalTwiceLeavesOneRecord) {
  const std::string png = test::TinyPng();
  const std::string id = Start(png.size());
  Post(id, png);
  ASSERT_EQ(uploads_.Arrived("ann", id)->kind, UploadArrival::Kind::kCommitted);
  auto again = uploads_.Arrived("ann", id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->kind, UploadArrival::Kind::kNoTicket);
  EXPECT_EQ(blobs_.Keys(), std::vector<std::string>{OriginalKey("ann", id)});
  auto refs = db_->ListRefs("", 100);
  ASSERT_TRUE(refs);
  EXPECT_EQ(refs->items.size(), 1u);
}

TEST_F(PresignedUploadsTest, ACommitStoppedAfterTheOriginalIsRedoneByTheNextDelivery) {
  const std::string png = test::TinyPng();
  const std::string id = Start(png.size());
  Post(id, png);
  records_.fail_inserts = 1;
  auto stopped = uploads_.Arrived("ann", id);
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, ErrorCode::kUnavailable);
  // Between the two writes: the original, no record; the ticket awaits and the bytes are staged.
  EXPECT_EQ(Original(id), png);
  EXPECT_TRUE(Staged(id));
  EXPECT_EQ(db_->GetTicket("ann", id)->state, TicketState::kAwaitingUpload);

  ArriveAndCommit(id);  // the next delivery redoes the commit
  ExpectOriginalAndRecordAre(id, png);
  EXPECT_FALSE(Staged(id));
}

TEST_F(PresignedUploadsTest, AnInvalidPostRacingTheCommitNeverReachesTheOriginal) {
  const std::string png = test::TinyPng();
  const std::string id = Start(png.size() + kHtml.size());
  Post(id, png);
  // The form posted again, and its event handled, while this delivery is between its Put and
  // its Insert.
  records_.before_insert = [&] {
    Post(id, kHtml);
    // The PNG's claim holds the ticket: the refusal of these bytes changes nothing.
    ArriveAndFindTheTicketClaimed(id);
    EXPECT_EQ(db_->GetTicket("ann", id)->state, TicketState::kAwaitingUpload);
  };
  ArriveAndCommit(id);
  ExpectOriginalAndRecordAre(id, png);
  EXPECT_FALSE(Staged(id));
  EXPECT_EQ(TicketError(id), ErrorCode::kNotFound);  // the record is the answer
}

TEST_F(PresignedUploadsTest, AValidPostRacingTheCommitLeavesTheRecordAndTheOriginalAgreeing) {
  const std::string png = test::TinyPng();
  const std::string other = OtherPng("posted again");
  const std::string id = Start(other.size());
  Post(id, png);
  records_.before_insert = [&] {
    Post(id, other);
    // This delivery claimed the ticket for its bytes before its Put: the racing post lost.
    ArriveAndFindTheTicketClaimed(id);
  };
  ArriveAndCommit(id);
  ExpectOriginalAndRecordAre(id, png);
  EXPECT_FALSE(Staged(id));
}

TEST_F(PresignedUploadsTest, TwoValidPostsInterleavedLeaveTheRecordAndTheOriginalAgreeing) {
  const std::string png = test::TinyPng();
  const std::string other = OtherPng("posted again");
  const std::string id = Start(other.size());
  Post(id, png);
  // Two deliveries in the order A Put, B Put, A Insert, B Insert: at this delivery's (A's)
  // Insert the form was posted again with other valid bytes, and that delivery (B) goes on
  // until its own Insert, which fails. Without the claim B's bytes were the original and A's
  // the record.
  records_.before_insert = [&] {
    Post(id, other);
    records_.before_insert = [&] { records_.fail_inserts = 1; };
    ArriveAndFindTheTicketClaimed(id);
  };
  ArriveAndCommit(id);
  ExpectOriginalAndRecordAre(id, png);
}

TEST_F(PresignedUploadsTest, AClaimLeftByADeliveryThatStoppedIsTakenOverOnceStale) {
  const std::string png = test::TinyPng();
  const std::string other = OtherPng("posted again");
  const std::string id = Start(other.size());
  Post(id, png);
  records_.fail_inserts = 1;
  ASSERT_FALSE(uploads_.Arrived("ann", id));  // claimed for the PNG, stopped after its Put
  EXPECT_FALSE(db_->GetTicket("ann", id)->claimed_sha256.empty());

  // The form posted again with other bytes while the claim is fresh: they lose.
  Post(id, other);
  ArriveAndFindTheTicketClaimed(id);
  EXPECT_FALSE(Staged(id));

  // Once the claim is older than a commit can take, a new post commits.
  clock_.Advance((uploads_.settings().claim_stale_s + 1) * 1000);
  Post(id, other);
  ArriveAndCommit(id);
  ExpectOriginalAndRecordAre(id, other);
}

}  // namespace
}  // namespace imgup
