// ProcessingService over the in-memory fakes and a scripted ImageProcessor: what is stored when
// processing succeeds, fails, or races a delete.
#include "services/processing_service.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "codecs/sha256.hpp"
#include "domain/blob_keys.hpp"
#include "fakes/fixed_clock.hpp"
#include "fakes/forwarding_metadata_store.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/sequential_ids.hpp"
#include "services/fsck.hpp"
#include "services/image_service.hpp"
#include "support/images.hpp"

namespace imgup {
namespace {

/// An ImageProcessor whose answer the test decides; `before_return` runs just before it answers.
class ScriptedProcessor final : public ImageProcessor {
 public:
  Result<ProcessedImage> Process(std::string_view, const SniffResult&,
                                 const ProcessingLimits& limits) override {
    ++calls;
    last_run_alone = limits.run_alone;
    if (before_return) before_return();
    if (throws) throw std::runtime_error("a library threw");
    if (error) return tl::unexpected(*error);
    if (fail) return Fail(ErrorCode::kUnprocessable, "decode_failed", "corrupt");
    ProcessedImage out;
    out.width = 1;
    out.height = 1;
    out.format = "png";
    out.bands = 4;
    out.bit_depth = 8;
    out.frame_count = 1;
    out.has_alpha = true;
    out.variants.push_back({"thumb", "thumb-bytes", 1, 1, "image/webp"});
    out.variants.push_back({"medium", "medium-bytes", 1, 1, "image/webp"});
    out.placeholder = "L00000fQfQfQfQfQfQfQfQfQfQfQ";
    out.dominant_color = "#000000";
    out.phash = "0000000000000000";
    return out;
  }
  bool fail = false;
  bool throws = false;
  std::optional<Error> error;  // answered instead of an image when set
  std::function<void()> before_return;
  int calls = 0;
  bool last_run_alone = false;
};

/// Counts what it is given, runs nothing: the test drives ProcessingService itself.
class RecordingQueue final : public ProcessingQueue {
 public:
  Result<void> Enqueue(const RecordRef& ref) override {
    queued.push_back(ref);
    return {};
  }
  std::vector<RecordRef> queued;
};

class ProcessingServiceTest : public ::testing::Test {
 protected:
  ProcessingServiceTest()
      : uploads_(blobs_, records_, clock_, ids_, UploadLimits{}, &queue_),
        processing_(blobs_, records_, processor_, ProcessingPolicy{}) {}

  ImageRecord UploadOne() {
    auto outcome =
        uploads_.Upload(UploadRequest{"local", "a.png", "image/png", test::TinyPng(), {}, ""});
    EXPECT_TRUE(outcome);
    return outcome->record;
  }
  std::size_t BlobCount() { return ListAllBlobs(blobs_, "").value().size(); }
  /// The first half of an upload (the original stored, blob first) of image `n`, whose record
  /// is returned but not inserted: the moment an S3 event can arrive before the record.
  ImageRecord StoreOriginalOnly(std::uint64_t n) {
    ImageRecord record;
    record.id = SequentialIds::Format(1000 + n);
    record.owner = "local";
    record.filename = "a.png";
    record.content_type = "image/png";
    record.format = "png";
    record.key = OriginalKey(record.owner, record.id);
    record.size_bytes = test::TinyPng().size();
    record.width = 1;
    record.height = 1;
    record.sha256 = Sha256Hex("image " + std::to_string(n));  // unique per owner
    record.status = ImageStatus::kProcessing;
    EXPECT_TRUE(blobs_.Put(record.key, test::TinyPng(), record.content_type));
    return record;
  }
  /// The blob keys stored for the image `id` (original, variants, quarantine).
  std::set<std::string> KeysOf(const std::string& id) {
    std::set<std::string> keys;
    for (const std::string& key : blobs_.Keys()) {
      if (key.find("/" + id) != std::string::npos) keys.insert(key);
    }
    return keys;
  }
  /// Expects `record` ready and exactly its original and its variants stored, each variant
  /// with the bytes the scripted processor makes.
  void ExpectOneCompleteImage(const ImageRecord& record) {
    const ImageRecord stored = records_.Get(record.owner, record.id).value();
    EXPECT_EQ(stored.status, ImageStatus::kReady);
    EXPECT_EQ(stored.key, record.key);
    ASSERT_EQ(stored.variants.size(), 2u);
    EXPECT_EQ(blobs_.Get(stored.variants.at("thumb").key).value(), "thumb-bytes");
    EXPECT_EQ(blobs_.Get(stored.variants.at("medium").key).value(), "medium-bytes");
    EXPECT_EQ(blobs_.Get(stored.key).value(), test::TinyPng());
    EXPECT_EQ(KeysOf(record.id), (std::set<std::string>{stored.key, stored.variants.at("thumb").key,
                                                        stored.variants.at("medium").key}))
        << "no orphan beside the image's own blobs";
  }

  MemoryBlobStore blobs_;
  MemoryMetadataStore records_;
  FixedClock clock_;
  SequentialIds ids_;
  RecordingQueue queue_;
  ScriptedProcessor processor_;
  ImageService uploads_;
  ProcessingService processing_;
  // A second delivery of the same events, as another process would make it: its own service
  // and processor over the same stores.
  ScriptedProcessor other_processor_;
  ProcessingService other_{blobs_, records_, other_processor_, ProcessingPolicy{}};
};

TEST_F(ProcessingServiceTest, UploadsStartProcessingAndAreQueued) {
  const ImageRecord record = UploadOne();
  EXPECT_EQ(record.status, ImageStatus::kProcessing);
  ASSERT_EQ(queue_.queued.size(), 1u);
  EXPECT_EQ(queue_.queued[0].id, record.id);
}

TEST_F(ProcessingServiceTest, ReadyRecordHasEveryDerivedFieldAndVariantBlobs) {
  const ImageRecord record = UploadOne();
  auto done = processing_.Process("local", record.id);
  ASSERT_TRUE(done) << done.error().message;
  const ImageRecord stored = records_.Get("local", record.id).value();
  EXPECT_EQ(stored.status, ImageStatus::kReady);
  EXPECT_EQ(stored.info.bands, 4u);
  EXPECT_EQ(stored.phash, "0000000000000000");
  ASSERT_EQ(stored.variants.size(), 2u);
  EXPECT_EQ(blobs_.Get(stored.variants.at("thumb").key).value(), "thumb-bytes");
  // The variant's hash (its ETag) is computed once, when it is made.
  EXPECT_EQ(stored.variants.at("thumb").sha256, Sha256Hex("thumb-bytes"));
  // Delivered again (at-least-once): nothing changes, nothing is redone.
  processor_.fail = true;
  EXPECT_EQ(processing_.Process("local", record.id).value().status, ImageStatus::kReady);
}

TEST_F(ProcessingServiceTest, AFailedImageKeepsItsRecordButNotItsBytes) {
  const ImageRecord record = UploadOne();
  processor_.fail = true;
  auto failed = processing_.Process("local", record.id);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, ImageStatus::kFailed);
  EXPECT_NE(failed->failure_reason.find("decode_failed"), std::string::npos);
  EXPECT_EQ(BlobCount(), 0u);
  EXPECT_EQ(uploads_.GetContent("local", record.id, "original").error().slug, "image_failed");
  // And it can still be deleted.
  EXPECT_TRUE(uploads_.Delete("local", record.id));
  EXPECT_EQ(ListAllRefs(records_).value().size(), 0u);
}

TEST_F(ProcessingServiceTest, QuarantineKeepsTheBytesAside) {
  ProcessingService quarantining(blobs_, records_, processor_,
                                 ProcessingPolicy{{}, FailedOriginalPolicy::kQuarantine});
  const ImageRecord record = UploadOne();
  processor_.fail = true;
  auto failed = quarantining.Process("local", record.id);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->key, QuarantineKey("local", record.id));
  EXPECT_EQ(blobs_.Get(failed->key).value(), test::TinyPng());
  EXPECT_EQ(ListAllBlobs(blobs_, "originals/").value().size(), 0u);
}

TEST_F(ProcessingServiceTest, ADeleteDuringProcessingLeavesNoVariantBehind) {
  const ImageRecord record = UploadOne();
  processor_.before_return = [&] { ASSERT_TRUE(uploads_.Delete("local", record.id)); };
  auto result = processing_.Process("local", record.id);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(BlobCount(), 0u);
}

TEST_F(ProcessingServiceTest, ADeleteThatReadTheRecordBeforeProcessingCompletedLeavesNothing) {
  // Delete reads the record (no variants yet); processing completes it; then Delete removes it.
  // The variants written in between must go too, though Delete's copy never named them.
  const ImageRecord record = UploadOne();
  class CompletingOnRemove final : public ForwardingMetadataStore {
   public:
    CompletingOnRemove(MetadataStore& inner, std::function<void()> on_remove)
        : ForwardingMetadataStore(inner), on_remove_(std::move(on_remove)) {}
    Result<void> Remove(std::string_view o, std::string_view i) override {
      if (on_remove_) std::exchange(on_remove_, nullptr)();
      return inner_.Remove(o, i);
    }

   private:
    std::function<void()> on_remove_;
  } racing(records_, [&] {
    ASSERT_EQ(processing_.Process("local", record.id)->status, ImageStatus::kReady);
  });
  ImageService deleting(blobs_, racing, clock_, ids_, UploadLimits{}, &queue_);
  ASSERT_TRUE(deleting.Delete("local", record.id));
  EXPECT_EQ(BlobCount(), 0u) << "variants written while the delete ran are left behind";
}

TEST_F(ProcessingServiceTest, AFailureNotTheImagesOwnIsRetriedThenFailsKeepingTheOriginal) {
  const ImageRecord record = UploadOne();
  processor_.error = Error{ErrorCode::kInternal, "out_of_memory", "No memory.", "rss"};
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ProcessingOutcome outcome = processing_.Run("local", record.id);
    ASSERT_FALSE(outcome.record);
    EXPECT_EQ(outcome.record.error().code, ErrorCode::kUnavailable);
    ASSERT_TRUE(outcome.retry_after) << "attempt " << attempt;
    EXPECT_GE(*outcome.retry_after, std::chrono::milliseconds(attempt == 1 ? 1000 : 4000));
    EXPECT_EQ(records_.Get("local", record.id)->status, ImageStatus::kProcessing);
    EXPECT_EQ(blobs_.Get(record.key).value(), test::TinyPng());
    EXPECT_EQ(processor_.last_run_alone, attempt > 1) << "a retry runs alone";
  }
  ProcessingOutcome last = processing_.Run("local", record.id);
  ASSERT_TRUE(last.record);
  EXPECT_FALSE(last.retry_after);
  EXPECT_EQ(last.record->status, ImageStatus::kFailed);
  EXPECT_NE(last.record->failure_reason.find("out_of_memory"), std::string::npos);
  EXPECT_NE(last.record->failure_reason.find("original is kept"), std::string::npos);
  // Kept, in place, and the record still points at it; never quarantined or removed.
  EXPECT_EQ(last.record->key, record.key);
  EXPECT_EQ(blobs_.Get(record.key).value(), test::TinyPng());
  EXPECT_EQ(processor_.calls, 3);
}

TEST_F(ProcessingServiceTest, AnExceptionInsideTheJobIsCaughtAndRetried) {
  const ImageRecord record = UploadOne();
  processor_.throws = true;
  ProcessingOutcome outcome = processing_.Run("local", record.id);
  ASSERT_FALSE(outcome.record);
  EXPECT_EQ(outcome.record.error().slug, "processing_failed");
  EXPECT_TRUE(outcome.retry_after);
  EXPECT_EQ(blobs_.Get(record.key).value(), test::TinyPng());
}

TEST_F(ProcessingServiceTest, ARecordWhoseAttemptsAllTookTheProcessDownFailsAsCrashed) {
  const ImageRecord record = UploadOne();
  // Three attempts were counted, and none came back: each killed the process.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(records_.AdjustAttempts("local", record.id, 1));
  ProcessingOutcome outcome = processing_.Run("local", record.id);
  ASSERT_TRUE(outcome.record);
  EXPECT_EQ(outcome.record->status, ImageStatus::kFailed);
  EXPECT_EQ(outcome.record->failure_reason.rfind("processing_crashed", 0), 0u);
  EXPECT_EQ(processor_.calls, 0) << "not run a fourth time";
  EXPECT_EQ(blobs_.Get(record.key).value(), test::TinyPng());
}

TEST_F(ProcessingServiceTest, AShutdownOrAStarvedJobDoesNotCountAsAnAttempt) {
  const ImageRecord record = UploadOne();
  processor_.error = Error{ErrorCode::kUnavailable, "shutting_down", "Stopping.", ""};
  for (int i = 0; i < 5; ++i) {
    ProcessingOutcome outcome = processing_.Run("local", record.id);
    EXPECT_FALSE(outcome.retry_after) << "the pool is stopping: no retry";
  }
  processor_.error = Error{ErrorCode::kUnavailable, "processing_starved", "Busy.", ""};
  EXPECT_TRUE(processing_.Run("local", record.id).retry_after);
  EXPECT_EQ(records_.AdjustAttempts("local", record.id, 0).value(), 0u);
  processor_.error.reset();
  EXPECT_EQ(processing_.Process("local", record.id)->status, ImageStatus::kReady);
}

TEST_F(ProcessingServiceTest, ReuploadingTheBytesOfAFailedImageStartsANewAttempt) {
  const ImageRecord first = UploadOne();
  processor_.fail = true;
  ASSERT_EQ(processing_.Process("local", first.id)->status, ImageStatus::kFailed);
  auto again =
      uploads_.Upload(UploadRequest{"local", "a.png", "image/png", test::TinyPng(), {}, ""});
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->duplicate);
  EXPECT_EQ(again->record.status, ImageStatus::kProcessing);
  EXPECT_NE(again->record.id, first.id);
  EXPECT_EQ(records_.Get("local", first.id).error().code, ErrorCode::kNotFound);
  processor_.fail = false;
  EXPECT_EQ(processing_.Process("local", again->record.id)->status, ImageStatus::kReady);
  // And a ready one is a duplicate again.
  auto third =
      uploads_.Upload(UploadRequest{"local", "a.png", "image/png", test::TinyPng(), {}, ""});
  ASSERT_TRUE(third);
  EXPECT_TRUE(third->duplicate);
}

// ---- processing by key (the S3 event processor's entry point) ------------------------------

TEST_F(ProcessingServiceTest, AnUploadedImageIsProcessedByItsOriginalsKey) {
  const ImageRecord record = UploadOne();
  ProcessingOutcome outcome = processing_.RunStoredOriginal(record.key);
  ASSERT_TRUE(outcome.record) << outcome.record.error().slug;
  EXPECT_FALSE(outcome.retry_after);
  EXPECT_EQ(outcome.record->status, ImageStatus::kReady);
  ExpectOneCompleteImage(record);
  // Delivered again: the stored record, nothing redone.
  ProcessingOutcome again = processing_.RunStoredOriginal(record.key);
  ASSERT_TRUE(again.record);
  EXPECT_EQ(again.record->status, ImageStatus::kReady);
  EXPECT_EQ(processor_.calls, 1);
}

TEST_F(ProcessingServiceTest, AKeyThatIsNotAnOriginalsIsRefusedForGood) {
  const ImageRecord record = UploadOne();
  for (const std::string& key :
       {VariantKey("local", record.id, "thumb"), QuarantineKey("local", record.id),
        std::string("originals/local"), "originals/local/" + record.id + "/x",
        std::string("uploads/local/") + record.id, std::string("../etc/passwd"), std::string()}) {
    ProcessingOutcome outcome = processing_.RunStoredOriginal(key);
    ASSERT_FALSE(outcome.record) << key;
    EXPECT_EQ(outcome.record.error().code, ErrorCode::kInvalidArgument) << key;
    EXPECT_EQ(outcome.record.error().slug, "not_an_original") << key;
    EXPECT_FALSE(outcome.retry_after) << key;
  }
  EXPECT_EQ(processor_.calls, 0);
  EXPECT_EQ(records_.Get("local", record.id)->status, ImageStatus::kProcessing);
}

TEST_F(ProcessingServiceTest, AnEventBeforeItsRecordIsRetriedUntilTheRecordIsStored) {
  const ImageRecord record = StoreOriginalOnly(1);
  // The caller (the S3 event processor) asks again after retry_after, up to max_record_waits.
  for (int ask = 1; ask <= 2; ++ask) {
    ProcessingOutcome outcome = processing_.RunStoredOriginal(record.key);
    ASSERT_FALSE(outcome.record);
    EXPECT_EQ(outcome.record.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(outcome.record.error().slug, "record_not_yet");
    ASSERT_TRUE(outcome.retry_after);
    EXPECT_EQ(*outcome.retry_after, processing_.policy().retry_base);
  }
  EXPECT_LT(2u, processing_.policy().max_record_waits);
  EXPECT_EQ(processor_.calls, 0);
  EXPECT_EQ(KeysOf(record.id), std::set<std::string>{record.key})
      << "nothing written, nothing lost";
  ASSERT_TRUE(records_.Insert(record));  // the upload's second write lands
  ProcessingOutcome outcome = processing_.RunStoredOriginal(record.key);
  ASSERT_TRUE(outcome.record) << outcome.record.error().slug;
  EXPECT_EQ(outcome.record->status, ImageStatus::kReady);
  ExpectOneCompleteImage(record);
}

TEST_F(ProcessingServiceTest, AnEventWhoseImageIsGoneIsFinal) {
  // Deleted (record first, then original), or an upload undone after a failed record write.
  const ImageRecord record = StoreOriginalOnly(1);
  ASSERT_TRUE(blobs_.Delete(record.key));
  ProcessingOutcome outcome = processing_.RunStoredOriginal(record.key);
  ASSERT_FALSE(outcome.record);
  EXPECT_EQ(outcome.record.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(outcome.retry_after);
  // And an uploaded image deleted before its event arrived.
  const ImageRecord uploaded = UploadOne();
  ASSERT_TRUE(uploads_.Delete("local", uploaded.id));
  outcome = processing_.RunStoredOriginal(uploaded.key);
  ASSERT_FALSE(outcome.record);
  EXPECT_EQ(outcome.record.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(outcome.retry_after);
  EXPECT_EQ(processor_.calls, 0);
}

TEST_F(ProcessingServiceTest, AFailingStoreDoesNotLoseTheEvent) {
  const ImageRecord record = UploadOne();
  records_.FailNext("Get", Error{ErrorCode::kInternal, "storage_error", "The store failed.", ""});
  ProcessingOutcome outcome = processing_.RunStoredOriginal(record.key);
  ASSERT_FALSE(outcome.record);
  EXPECT_EQ(outcome.record.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(outcome.retry_after);
  blobs_.FailNext("Head", Error{ErrorCode::kUnavailable, "storage_unavailable", "Busy.", ""});
  const ImageRecord unrecorded = StoreOriginalOnly(1);
  outcome = processing_.RunStoredOriginal(unrecorded.key);
  ASSERT_FALSE(outcome.record);
  EXPECT_EQ(outcome.record.error().slug, "record_not_yet") << "the original may be there";
  EXPECT_TRUE(outcome.retry_after);
  EXPECT_EQ(processing_.RunStoredOriginal(record.key).record->status, ImageStatus::kReady);
}

// ---- two deliveries of one event, in two processes -------------------------------------------

TEST_F(ProcessingServiceTest, ADeliveryThatLosesKeepsTheWinnersVariants) {
  // Both write the same variant keys; the other delivery completes the record first.
  const ImageRecord record = UploadOne();
  processor_.before_return = [&] {
    ASSERT_EQ(other_.Process("local", record.id)->status, ImageStatus::kReady);
  };
  ProcessingOutcome outcome = processing_.Run("local", record.id);
  ASSERT_TRUE(outcome.record) << outcome.record.error().slug;
  EXPECT_FALSE(outcome.retry_after);
  EXPECT_EQ(outcome.record->status, ImageStatus::kReady);
  ExpectOneCompleteImage(record);
}

TEST_F(ProcessingServiceTest, ALosingFailureNeitherFailsTheRecordNorRemovesItsOriginal) {
  // This delivery finds the image undecodable (say, a truncated read); the other one completed
  // it. Before SaveDerived was conditional, this one failed the ready record and removed its
  // original.
  for (const FailedOriginalPolicy policy :
       {FailedOriginalPolicy::kRemove, FailedOriginalPolicy::kQuarantine}) {
    ProcessingService failing(blobs_, records_, processor_, ProcessingPolicy{{}, policy});
    const ImageRecord record = StoreOriginalOnly(static_cast<std::uint64_t>(policy) + 1);
    ASSERT_TRUE(records_.Insert(record));
    processor_.fail = true;
    processor_.before_return = [&] {
      ASSERT_EQ(other_.Process("local", record.id)->status, ImageStatus::kReady);
    };
    ProcessingOutcome outcome = failing.Run("local", record.id);
    ASSERT_TRUE(outcome.record) << outcome.record.error().slug;
    EXPECT_EQ(outcome.record->status, ImageStatus::kReady);
    ExpectOneCompleteImage(record);  // and no quarantined copy
  }
}

TEST_F(ProcessingServiceTest, ALosingSuccessLeavesNoVariantsBesideAFailedRecord) {
  // The other delivery failed the image (and removed its original by policy) while this one
  // was making variants: they belong to no record and go.
  const ImageRecord record = UploadOne();
  other_processor_.fail = true;
  processor_.before_return = [&] {
    ASSERT_EQ(other_.Process("local", record.id)->status, ImageStatus::kFailed);
  };
  ProcessingOutcome outcome = processing_.Run("local", record.id);
  ASSERT_TRUE(outcome.record) << outcome.record.error().slug;
  EXPECT_EQ(outcome.record->status, ImageStatus::kFailed);
  EXPECT_TRUE(records_.Get("local", record.id)->variants.empty());
  EXPECT_EQ(BlobCount(), 0u) << "no variant of a failed image, no original (removed by policy)";
}

TEST_F(ProcessingServiceTest, ALosingRetryOfARecordFailedElsewhereKeepsItsOriginal) {
  // The other delivery gave up on the image (failed, original kept) while this one retried it.
  const ImageRecord record = UploadOne();
  // One attempt made already; this delivery makes the second, the other one the third and last.
  ASSERT_TRUE(records_.AdjustAttempts("local", record.id, 1));
  other_processor_.error = Error{ErrorCode::kInternal, "out_of_memory", "No memory.", ""};
  processor_.before_return = [&] {
    ASSERT_EQ(other_.Process("local", record.id)->status, ImageStatus::kFailed);
  };
  ProcessingOutcome outcome = processing_.Run("local", record.id);
  ASSERT_TRUE(outcome.record) << outcome.record.error().slug;
  EXPECT_EQ(outcome.record->status, ImageStatus::kFailed);
  EXPECT_NE(outcome.record->failure_reason.find("out_of_memory"), std::string::npos);
  EXPECT_EQ(KeysOf(record.id), std::set<std::string>{record.key});
}

TEST_F(ProcessingServiceTest, ADeliveryThatFindsTheRecordCompletedBeforeItCountsReturnsIt) {
  // Read while "processing", completed by the other delivery before this one counts its
  // attempt: the answer is the stored record, not "not found".
  const ImageRecord record = UploadOne();
  class CompletingOnAdjust final : public ForwardingMetadataStore {
   public:
    CompletingOnAdjust(MetadataStore& inner, std::function<void()> on_adjust)
        : ForwardingMetadataStore(inner), on_adjust_(std::move(on_adjust)) {}
    Result<std::uint32_t> AdjustAttempts(std::string_view o, std::string_view i, int d) override {
      if (on_adjust_) std::exchange(on_adjust_, nullptr)();
      return inner_.AdjustAttempts(o, i, d);
    }

   private:
    std::function<void()> on_adjust_;
  } racing(records_,
           [&] { ASSERT_EQ(other_.Process("local", record.id)->status, ImageStatus::kReady); });
  ProcessingService late(blobs_, racing, processor_, ProcessingPolicy{});
  ProcessingOutcome outcome = late.RunStoredOriginal(record.key);
  ASSERT_TRUE(outcome.record) << outcome.record.error().slug;
  EXPECT_EQ(outcome.record->status, ImageStatus::kReady);
  EXPECT_EQ(processor_.calls, 0);
  ExpectOneCompleteImage(record);
}

/// Two threads meet here before either goes on (each processor waits for the other).
class Rendezvous {
 public:
  void ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const int generation = generation_;
    if (++arrived_ == 2) {
      arrived_ = 0;
      ++generation_;
      met_.notify_all();
      return;
    }
    // Bounded only so that a regression fails instead of hanging the suite.
    if (!met_.wait_for(lock, std::chrono::seconds(30), [&] { return generation_ != generation; })) {
      ADD_FAILURE() << "the other delivery never reached the processor";
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable met_;
  int arrived_ = 0;
  int generation_ = 0;
};

TEST_F(ProcessingServiceTest, TwoProcessesProcessingOneRecordAtOnceLeaveOneCompleteImage) {
  // Both deliveries are inside the processor at the same time, so both write the variants and
  // both try to complete the record; which one wins is up to the scheduler.
  Rendezvous both_processing;
  processor_.before_return = [&] { both_processing.ArriveAndWait(); };
  other_processor_.before_return = [&] { both_processing.ArriveAndWait(); };
  for (std::uint64_t n = 1; n <= 10; ++n) {
    const ImageRecord record = StoreOriginalOnly(n);
    ASSERT_TRUE(records_.Insert(record));
    ProcessingOutcome mine;
    ProcessingOutcome theirs;
    std::thread other_process([&] { theirs = other_.RunStoredOriginal(record.key); });
    mine = processing_.RunStoredOriginal(record.key);
    other_process.join();
    for (const ProcessingOutcome* outcome : {&mine, &theirs}) {
      ASSERT_TRUE(outcome->record) << n << ": " << outcome->record.error().slug;
      EXPECT_FALSE(outcome->retry_after);
      EXPECT_EQ(outcome->record->status, ImageStatus::kReady) << n;
      EXPECT_EQ(outcome->record->variants.size(), 2u) << n;
    }
    ExpectOneCompleteImage(record);
  }
  EXPECT_EQ(processor_.calls, 10);
  EXPECT_EQ(other_processor_.calls, 10);
}
}  // namespace
}  // namespace imgup
