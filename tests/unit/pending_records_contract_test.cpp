// The PendingRecords contract (src/domain/ports/pending_records.hpp), run against every
// implementation. Records go in through the MetadataStore the same object implements.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "adapters/local/sqlite_metadata_store.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/temp_dir.hpp"

namespace imgup {
namespace {

namespace fs = std::filesystem;

std::string Id(std::uint64_t n) { return SequentialIds::Format(n); }

ImageRecord MakeRecord(std::string owner, std::uint64_t n, ImageStatus status) {
  ImageRecord r;
  r.id = Id(n);
  r.owner = std::move(owner);
  r.filename = "photo-" + std::to_string(n) + ".jpg";
  r.content_type = "image/jpeg";
  r.uploaded_at_ms = 1'700'000'000'000 + static_cast<std::int64_t>(n) * 1000;
  r.key = "originals/" + r.owner + "/" + r.id;
  r.size_bytes = 1000 + n;
  const std::string hex = std::to_string(n);
  r.sha256 = std::string(64 - hex.size(), 'a') + hex;
  r.status = status;
  return r;
}

struct MemoryPending {
  using Store = MemoryMetadataStore;
  static std::unique_ptr<Store> Make(const fs::path& /*dir*/) {
    return std::make_unique<MemoryMetadataStore>();
  }
};

struct SqlitePending {
  using Store = SqliteMetadataStore;
  static std::unique_ptr<Store> Make(const fs::path& dir) {
    auto store = SqliteMetadataStore::Open(dir / "imgup.db");
    if (!store) throw std::runtime_error(store.error().detail);
    return std::move(*store);
  }
};

template <class Traits>
class PendingRecordsContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Traits::Make(dir_.path());
    records_ = store_.get();
    pending_ = store_.get();
  }

  void InsertOrDie(const ImageRecord& record) {
    auto inserted = records_->Insert(record);
    ASSERT_TRUE(inserted) << inserted.error().slug << " " << inserted.error().detail;
  }

  std::vector<std::string> ProcessingIds(std::size_t limit) {
    auto refs = pending_->ListProcessing(limit);
    EXPECT_TRUE(refs) << refs.error().detail;
    std::vector<std::string> ids;
    if (refs) {
      for (const auto& ref : *refs) ids.push_back(ref.id);
    }
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<typename Traits::Store> store_;
  MetadataStore* records_ = nullptr;
  PendingRecords* pending_ = nullptr;
};

TYPED_TEST_SUITE_P(PendingRecordsContractTest);

TYPED_TEST_P(PendingRecordsContractTest, FindsOldestFirstAcrossOwners) {
  for (std::uint64_t i = 1; i <= 5; ++i) {
    this->InsertOrDie(MakeRecord(i % 2 ? "alice" : "bob", i,
                                 i == 3 ? ImageStatus::kReady : ImageStatus::kProcessing));
  }
  auto processing = this->pending_->ListProcessing(3);
  ASSERT_TRUE(processing);
  std::vector<std::string> ids;
  for (const auto& ref : *processing) ids.push_back(ref.id);
  EXPECT_EQ(ids, (std::vector<std::string>{Id(1), Id(2), Id(4)}));
  EXPECT_EQ((*processing)[1].owner, "bob");
  EXPECT_EQ((*processing)[1].key, "originals/bob/" + Id(2));
  // Once processed, a record is no longer listed.
  ImageRecord done = MakeRecord("alice", 1, ImageStatus::kReady);
  done.format = "jpeg";
  ASSERT_TRUE(this->records_->SaveDerived(done));
  EXPECT_EQ(this->ProcessingIds(10), (std::vector<std::string>{Id(2), Id(4), Id(5)}));
}

TYPED_TEST_P(PendingRecordsContractTest, FailedRecordsAreNotPending) {
  ImageRecord failed = MakeRecord("alice", 1, ImageStatus::kProcessing);
  this->InsertOrDie(failed);
  failed.status = ImageStatus::kFailed;
  failed.failure_reason = "decode failed";
  ASSERT_TRUE(this->records_->SaveDerived(failed));
  EXPECT_TRUE(this->ProcessingIds(10).empty());
}

TYPED_TEST_P(PendingRecordsContractTest, RemovedRecordsAreNotPending) {
  this->InsertOrDie(MakeRecord("alice", 1, ImageStatus::kProcessing));
  this->InsertOrDie(MakeRecord("alice", 2, ImageStatus::kProcessing));
  ASSERT_TRUE(this->records_->Remove("alice", Id(1)));
  EXPECT_EQ(this->ProcessingIds(10), std::vector<std::string>{Id(2)});
}

REGISTER_TYPED_TEST_SUITE_P(PendingRecordsContractTest, FindsOldestFirstAcrossOwners,
                            FailedRecordsAreNotPending, RemovedRecordsAreNotPending);

using PendingRecordsImplementations = ::testing::Types<MemoryPending, SqlitePending>;
INSTANTIATE_TYPED_TEST_SUITE_P(All, PendingRecordsContractTest, PendingRecordsImplementations);

}  // namespace
}  // namespace imgup
