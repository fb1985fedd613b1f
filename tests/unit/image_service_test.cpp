// ImageService over the in-memory fakes: what is stored, what is refused, and that a refusal
// or a failure leaves nothing behind.
#include "services/image_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "codecs/sha256.hpp"
#include "domain/blob_keys.hpp"
#include "fakes/fixed_clock.hpp"
#include "fakes/forwarding_metadata_store.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/sequential_ids.hpp"
#include "services/fsck.hpp"
#include "support/images.hpp"

namespace imgup {
namespace {

/// A metadata store whose inserts fail, to prove the blob written before is removed again.
class FailingInsertStore final : public ForwardingMetadataStore {
 public:
  using ForwardingMetadataStore::ForwardingMetadataStore;
  Result<void> Insert(const ImageRecord&) override {
    return Fail(ErrorCode::kUnavailable, "unavailable", "database is locked");
  }
};

/// A metadata store whose owners have endless hashed images: every ListPhashes page is full and
/// another follows. It counts what it hands out, to show that a near-duplicate search is
/// bounded. Its first entry is `near_id`, a real record; the others name no record.
class EndlessPhashStore final : public ForwardingMetadataStore {
 public:
  EndlessPhashStore(MetadataStore& inner, std::string near_id, std::string phash)
      : ForwardingMetadataStore(inner), near_id_(std::move(near_id)), phash_(std::move(phash)) {}
  Result<PhashPage> ListPhashes(std::string_view, std::string_view, std::size_t n) override {
    ++pages;
    largest_page = std::max(largest_page, n);
    PhashPage page;
    for (std::size_t i = 0; i < n; ++i, ++handed_out) {
      page.items.push_back(
          {handed_out == 0 ? near_id_ : "gone-" + std::to_string(handed_out), phash_});
    }
    page.next_token = "more";
    return page;
  }

  std::size_t pages = 0;
  std::size_t largest_page = 0;
  std::size_t handed_out = 0;

 private:
  std::string near_id_;
  std::string phash_;
};

class UploadServiceTest : public ::testing::Test {
 protected:
  UploadServiceTest() : service_(blobs_, records_, clock_, ids_, UploadLimits{}) {}

  UploadRequest Png(std::string owner = "local", std::string name = "photo.png") {
    return UploadRequest{std::move(owner), std::move(name), "image/png", test::TinyPng(), {}, ""};
  }
  std::size_t BlobCount() { return ListAllBlobs(blobs_, "").value().size(); }
  std::size_t RecordCount() { return ListAllRefs(records_).value().size(); }

  MemoryBlobStore blobs_;
  MemoryMetadataStore records_;
  FixedClock clock_;
  SequentialIds ids_;
  ImageService service_;
};

TEST_F(UploadServiceTest, StoresBytesThenRecordsTheSeedFields) {
  auto outcome = service_.Upload(Png());
  ASSERT_TRUE(outcome) << outcome.error().message;
  const ImageRecord& record = outcome->record;
  EXPECT_FALSE(outcome->duplicate);
  EXPECT_EQ(record.filename, "photo.png");
  EXPECT_EQ(record.content_type, "image/png");
  EXPECT_EQ(record.uploaded_at_ms, clock_.NowMs());
  EXPECT_EQ(record.key, "originals/local/" + record.id);
  EXPECT_EQ(record.size_bytes, test::TinyPng().size());
  EXPECT_EQ(record.width, 1u);
  EXPECT_EQ(record.height, 1u);
  EXPECT_EQ(record.sha256, Sha256Hex(test::TinyPng()));
  EXPECT_EQ(blobs_.Get(record.key).value(), test::TinyPng());
  EXPECT_EQ(records_.Get("local", record.id).value().sha256, record.sha256);
}

TEST_F(UploadServiceTest, ValidateChecksWithoutEffectsAndCommitStores) {
  auto validated = service_.Validate(Png());
  ASSERT_TRUE(validated) << validated.error().message;
  EXPECT_EQ(validated->sniffed.content_type, "image/png");
  EXPECT_EQ(validated->sha256, Sha256Hex(test::TinyPng()));
  EXPECT_EQ(BlobCount(), 0u);
  EXPECT_EQ(RecordCount(), 0u);

  UploadRequest lying = Png();
  lying.declared_type = "image/jpeg";
  EXPECT_EQ(service_.Validate(lying).error().slug, "content_type_mismatch");
  EXPECT_EQ(BlobCount(), 0u);

  auto committed = service_.Commit(std::move(*validated));
  ASSERT_TRUE(committed) << committed.error().message;
  EXPECT_FALSE(committed->duplicate);
  EXPECT_EQ(blobs_.Get(committed->record.key).value(), test::TinyPng());
  EXPECT_EQ(RecordCount(), 1u);
}

TEST_F(UploadServiceTest, AnUploadIsProcessingEvenWithNoQueueToFeed) {
  // No queue here, as in the AWS API function: the original's S3 event feeds the processor.
  // The derived work is pending all the same, and the record must say so.
  auto outcome = service_.Upload(Png());
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->record.status, ImageStatus::kProcessing);
  EXPECT_EQ(records_.Get("local", outcome->record.id)->status, ImageStatus::kProcessing);
  auto waiting = records_.ListProcessing(10);
  ASSERT_TRUE(waiting);
  ASSERT_EQ(waiting->size(), 1u);
  EXPECT_EQ((*waiting)[0].id, outcome->record.id);
  EXPECT_EQ((*waiting)[0].key, outcome->record.key);
}

TEST_F(UploadServiceTest, TheClientFileNameNeverReachesTheKey) {
  auto outcome = service_.Upload(Png("local", "../../etc/passwd\x01.png"));
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->record.filename, "passwd.png");
  EXPECT_EQ(outcome->record.key.find("passwd"), std::string::npos);
}

TEST_F(UploadServiceTest, SameBytesSameOwnerIsADuplicate) {
  auto first = service_.Upload(Png());
  auto second = service_.Upload(Png("local", "again.png"));
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->record.id, first->record.id);
  EXPECT_EQ(BlobCount(), 1u);
  // Another owner uploading the same bytes gets a record of its own.
  auto other = service_.Upload(Png("bob"));
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->duplicate);
  EXPECT_EQ(BlobCount(), 2u);
}

TEST_F(UploadServiceTest, RefusalsLeaveNothingBehind) {
  auto expect_refused = [&](UploadRequest request, ErrorCode code, const std::string& slug) {
    auto outcome = service_.Upload(std::move(request));
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().code, code);
    EXPECT_EQ(outcome.error().slug, slug);
    EXPECT_EQ(BlobCount(), 0u);
    EXPECT_EQ(RecordCount(), 0u);
  };
  UploadRequest mismatch = Png();
  mismatch.declared_type = "image/jpeg";
  expect_refused(mismatch, ErrorCode::kUnsupportedMediaType, "content_type_mismatch");
  UploadRequest svg = Png();
  svg.declared_type = "image/svg+xml";
  expect_refused(svg, ErrorCode::kUnsupportedMediaType, "unsupported_media_type");
  UploadRequest html = Png();
  html.bytes = "<html><script>alert(1)</script></html>";
  expect_refused(html, ErrorCode::kUnsupportedMediaType, "unsupported_media_type");
  expect_refused(Png("local", std::string(10'000, 'a')), ErrorCode::kInvalidArgument,
                 "field_too_long");
  UploadRequest tags = Png();
  tags.tags = {""};
  expect_refused(tags, ErrorCode::kInvalidArgument, "invalid_field");
}

TEST_F(UploadServiceTest, PixelCapIsCheckedFromTheHeader) {
  ImageService strict(blobs_, records_, clock_, ids_, UploadLimits{.max_pixels = 1000});
  auto outcome = strict.Upload(UploadRequest{
      "local", "big.png", "image/png", test::CorpusFile("pngsuite/png/basn2c08.png"), {}, ""});
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().slug, "image_too_large");
  EXPECT_EQ(BlobCount(), 0u);
}

// A GIF of `frames` frames, each w x h and each only "clear, end" in LZW (the canvas bomb of
// issue F, at any size).
std::string CanvasBombGif(std::uint16_t w, std::uint16_t h, int frames) {
  auto le16 = [](std::uint16_t v) {
    return std::string{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)};
  };
  std::string gif = "GIF89a" + le16(w) + le16(h) + std::string("\x80\0\0\0\0\0\xFF\xFF\xFF", 9);
  for (int i = 0; i < frames; ++i) {
    gif += std::string("\x21\xF9\x04\x04\x05\0\0\0\x2C", 9) + le16(0) + le16(0) + le16(w) +
           le16(h) + std::string("\0\x02\x01\x2C\0", 5);
  }
  return gif + "\x3B";
}

TEST_F(UploadServiceTest, AnimationsAreCappedOnFramesTimesCanvas) {
  ImageService strict(blobs_, records_, clock_, ids_, UploadLimits{.max_pixels = 1000});
  // 20 frames of 10x10: each frame is within the cap, the animation (2000 pixels) is not.
  auto outcome = strict.Upload(
      UploadRequest{"local", "anim.gif", "image/gif", CanvasBombGif(10, 10, 20), {}, ""});
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(outcome.error().slug, "image_too_large");
  EXPECT_NE(outcome.error().message.find("20 frames x 10x10 canvas"), std::string::npos)
      << outcome.error().message;
  EXPECT_NE(outcome.error().message.find("frames × canvas"), std::string::npos);
  EXPECT_EQ(BlobCount(), 0u);
  // Exactly at the cap is allowed, and a still image is one frame.
  EXPECT_TRUE(strict.Upload(
      UploadRequest{"local", "anim.gif", "image/gif", CanvasBombGif(10, 10, 10), {}, ""}));
  EXPECT_TRUE(strict.Upload(
      UploadRequest{"local", "still.gif", "image/gif", CanvasBombGif(31, 32, 1), {}, ""}));
}

TEST_F(UploadServiceTest, AFailedRecordWriteRemovesTheBlob) {
  FailingInsertStore failing(records_);
  ImageService service(blobs_, failing, clock_, ids_, UploadLimits{});
  auto outcome = service.Upload(Png());
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(BlobCount(), 0u);
}

TEST_F(UploadServiceTest, OwnersAreIsolated) {
  auto mine = service_.Upload(Png("alice"));
  ASSERT_TRUE(mine);
  const std::string id = mine->record.id;
  EXPECT_EQ(service_.Get("bob", id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_.GetContent("bob", id, "original").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_.Delete("bob", id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_.Patch("bob", id, ImagePatch{}).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(service_.Get("alice", id));
}

TEST_F(UploadServiceTest, DeleteRemovesRecordAndEveryBlob) {
  auto outcome = service_.Upload(Png());
  ASSERT_TRUE(outcome);
  ImageRecord record = outcome->record;
  const std::string thumb_key = VariantKey("local", record.id, "thumb");
  ASSERT_TRUE(blobs_.Put(thumb_key, "webp", "image/webp"));
  record.variants["thumb"] = VariantInfo{1, 1, 4, "image/webp", thumb_key, ""};
  record.status = ImageStatus::kReady;  // as processing would complete it
  ASSERT_TRUE(records_.SaveDerived(record));
  ASSERT_EQ(service_.GetContent("local", record.id, "thumb").value().bytes, "webp");

  ASSERT_TRUE(service_.Delete("local", record.id));
  EXPECT_EQ(BlobCount(), 0u);
  EXPECT_EQ(RecordCount(), 0u);
  EXPECT_EQ(service_.Delete("local", record.id).error().code, ErrorCode::kNotFound);
}

TEST_F(UploadServiceTest, ContentOfOriginalAndMissingVariant) {
  auto outcome = service_.Upload(Png());
  ASSERT_TRUE(outcome);
  auto content = service_.GetContent("local", outcome->record.id, "original");
  ASSERT_TRUE(content);
  EXPECT_EQ(content->bytes, test::TinyPng());
  EXPECT_EQ(content->content_type, "image/png");
  EXPECT_EQ(service_.GetContent("local", outcome->record.id, "medium").error().code,
            ErrorCode::kNotFound);
}

TEST_F(UploadServiceTest, MalformedIdsAreNotFound) {
  EXPECT_EQ(service_.Get("local", "../../etc").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_.Get("local", "").error().code, ErrorCode::kNotFound);
}

TEST_F(UploadServiceTest, PatchValidatesAndApplies) {
  auto outcome = service_.Upload(Png());
  ASSERT_TRUE(outcome);
  auto patched = service_.Patch("local", outcome->record.id,
                                ImagePatch{std::vector<std::string>{"cat"}, "a cat"});
  ASSERT_TRUE(patched);
  EXPECT_EQ(patched->tags, std::vector<std::string>{"cat"});
  EXPECT_EQ(patched->description, "a cat");
  auto too_long =
      service_.Patch("local", outcome->record.id, ImagePatch{std::nullopt, std::string(5000, 'x')});
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().slug, "field_too_long");
}

TEST(FindSimilarTest, LooksAtTheNewestHashesOnlyPageByPage) {
  MemoryBlobStore blobs;
  MemoryMetadataStore inner;
  FixedClock clock;
  SequentialIds ids;
  for (std::uint64_t n = 1; n <= 2; ++n) {
    ImageRecord record;
    record.id = SequentialIds::Format(n);
    record.owner = "local";
    record.key = "originals/local/" + record.id;
    record.sha256 = std::string(63, 'a') + std::to_string(n);
    record.status = ImageStatus::kReady;
    record.phash = "0123456789abcdef";
    ASSERT_TRUE(inner.Insert(record));
  }
  EndlessPhashStore records(inner, SequentialIds::Format(2), "0123456789abcdef");
  ImageService service(blobs, records, clock, ids, UploadLimits{});
  auto similar = service.FindSimilar("local", SequentialIds::Format(1), 10, 20);
  ASSERT_TRUE(similar) << similar.error().detail;
  ASSERT_EQ(similar->size(), 1u);
  EXPECT_EQ((*similar)[0].record.id, SequentialIds::Format(2));
  EXPECT_EQ((*similar)[0].distance, 0);
  // Ten thousand of an endless partition, a thousand at a time.
  EXPECT_EQ(records.handed_out, ImageService::kSimilarScanLimit);
  EXPECT_LE(records.largest_page, ImageService::kPhashPageSize);
  EXPECT_EQ(records.pages, ImageService::kSimilarScanLimit / ImageService::kPhashPageSize);
}

}  // namespace
}  // namespace imgup
