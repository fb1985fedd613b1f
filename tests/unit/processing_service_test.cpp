// ProcessingService over the in-memory fakes and a scripted ImageProcessor: what is stored when
// processing succeeds, fails, or races a delete.
#include "core/processing_service.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/sha256.hpp"
#include "core/upload_service.hpp"
#include "fakes/fixed_clock.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/sequential_ids.hpp"
#include "support/images.hpp"

namespace imgup {
namespace {

/// An ImageProcessor whose answer the test decides; `before_return` runs just before it answers.
class ScriptedProcessor final : public ImageProcessor {
 public:
  Result<ProcessedImage> Process(std::string_view, const SniffResult&,
                                 const ProcessingLimits&) override {
    if (before_return) before_return();
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
  std::function<void()> before_return;
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
  std::size_t BlobCount() { return blobs_.List("").value().size(); }

  MemoryBlobStore blobs_;
  MemoryMetadataStore records_;
  FixedClock clock_;
  SequentialIds ids_;
  RecordingQueue queue_;
  ScriptedProcessor processor_;
  UploadService uploads_;
  ProcessingService processing_;
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
  EXPECT_EQ(records_.ListRefs().value().size(), 0u);
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
  EXPECT_EQ(blobs_.List("originals/").value().size(), 0u);
}

TEST_F(ProcessingServiceTest, ADeleteDuringProcessingLeavesNoVariantBehind) {
  const ImageRecord record = UploadOne();
  processor_.before_return = [&] { ASSERT_TRUE(uploads_.Delete("local", record.id)); };
  auto result = processing_.Process("local", record.id);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(BlobCount(), 0u);
}

TEST(WorkerPoolTest, RunsEveryJobAndAppliesBackPressure) {
  std::atomic<int> ran{0};
  WorkerPool pool(2, 3, [&](const RecordRef&) { ++ran; });
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.Enqueue(RecordRef{"o", std::to_string(i), ""}));
  pool.WaitIdle();
  EXPECT_EQ(ran.load(), 50);
  EXPECT_EQ(pool.Pending(), 0u);
  pool.Shutdown();
  EXPECT_EQ(pool.Enqueue(RecordRef{"o", "late", ""}).error().code, ErrorCode::kUnavailable);
}

/// The store side of a WorkerPool with a refill: the ids stored "processing", oldest first.
class WaitingRecords {
 public:
  void Add(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.insert(id);
  }
  void Done(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.erase(id);
  }
  std::vector<RecordRef> List(std::size_t limit) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++refills;
    std::vector<RecordRef> refs;
    for (const std::string& id : waiting_) {
      if (refs.size() == limit) break;
      refs.push_back(RecordRef{"o", id, ""});
    }
    return refs;
  }
  std::atomic<int> refills{0};

 private:
  std::mutex mutex_;
  std::set<std::string> waiting_;
};

std::string Id(int i) {
  std::string id = std::to_string(i);
  return std::string(4 - id.size(), '0') + id;
}

TEST(WorkerPoolTest, WithARefillUploadsNeverWaitAndEveryRecordIsProcessedOnce) {
  WaitingRecords store;
  std::mutex mutex;
  std::map<std::string, int> runs;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  WorkerPool pool(
      2, 3,
      [&](const RecordRef& ref) {
        released.wait();  // the workers are busy until every upload is in
        {
          std::lock_guard<std::mutex> lock(mutex);
          ++runs[ref.id];
        }
        store.Done(ref.id);
      },
      [&](std::size_t limit) -> Result<std::vector<RecordRef>> { return store.List(limit); });
  for (int i = 0; i < 200; ++i) {
    store.Add(Id(i));  // stored first, then queued, as UploadService does
    ASSERT_TRUE(pool.Enqueue(RecordRef{"o", Id(i), ""}));  // returns although the window is full
  }
  EXPECT_GE(pool.Pending(), 4u) << "queued + running + at least one left in the store";
  release.set_value();
  pool.WaitIdle();
  EXPECT_EQ(pool.Pending(), 0u);
  ASSERT_EQ(runs.size(), 200u);
  for (const auto& [id, count] : runs) EXPECT_EQ(count, 1) << id;
  EXPECT_GT(store.refills.load(), 0);
  EXPECT_TRUE(store.List(1000).empty());
}

TEST(WorkerPoolTest, ResumeFetchesWhatTheStoreHolds) {
  WaitingRecords store;
  for (int i = 0; i < 25; ++i) store.Add(Id(i));
  std::atomic<int> ran{0};
  WorkerPool pool(
      2, 4,
      [&](const RecordRef& ref) {
        ++ran;
        store.Done(ref.id);
      },
      [&](std::size_t limit) -> Result<std::vector<RecordRef>> { return store.List(limit); });
  pool.WaitIdle();
  EXPECT_EQ(ran.load(), 0) << "nothing runs before Resume()";
  pool.Resume();
  pool.WaitIdle();
  EXPECT_EQ(ran.load(), 25);
  EXPECT_EQ(pool.Pending(), 0u);
}

TEST(WorkerPoolTest, ARecordQueuedTwiceRunsOnce) {
  std::atomic<int> ran{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  WorkerPool pool(1, 10, [&](const RecordRef&) {
    released.wait();
    ++ran;
  });
  ASSERT_TRUE(pool.Enqueue(RecordRef{"o", "a", ""}));
  ASSERT_TRUE(pool.Enqueue(RecordRef{"o", "b", ""}));
  ASSERT_TRUE(pool.Enqueue(RecordRef{"o", "b", ""}));  // e.g. a repeated event: b is queued
  release.set_value();
  pool.WaitIdle();
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace imgup
