// The BlobStore contract (blob_store_contract.hpp) on the memory fake and FsBlobStore, and
// FsBlobStore beyond it.
#include "blob_store_contract.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "adapters/local/fs_blob_store.hpp"
#include "fakes/memory_stores.hpp"

namespace imgup {

namespace contract {

struct MemoryBlobs : LocalRoutes {
  static std::unique_ptr<BlobStore> Make(const fs::path& /*dir*/, SignedUrls* urls,
                                         Clock& /*clock*/) {
    return std::make_unique<MemoryBlobStore>(nullptr, urls);
  }
  static fs::path Root(const fs::path& dir) { return dir; }
};

struct FsBlobs : LocalRoutes {
  static std::unique_ptr<BlobStore> Make(const fs::path& dir, SignedUrls* urls, Clock& /*clock*/) {
    auto store = FsBlobStore::Open(Root(dir), FsBlobStore::Options{false, urls});
    if (!store) throw std::runtime_error(store.error().detail);
    return std::move(*store);
  }
  static fs::path Root(const fs::path& dir) { return dir / "root"; }
};

using BlobStoreImplementations = ::testing::Types<MemoryBlobs, FsBlobs>;
INSTANTIATE_TYPED_TEST_SUITE_P(All, BlobStoreContractTest, BlobStoreImplementations);

}  // namespace contract

namespace {

namespace fs = std::filesystem;
using contract::SystemNowMs;

// ---- FsBlobStore beyond the contract ------------------------------------------------------

class FsBlobStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<FsBlobStore> Open(FsBlobStore::Options options = {}) {
    auto store = FsBlobStore::Open(root(), options);
    EXPECT_TRUE(store) << store.error().detail;
    return store ? std::move(*store) : nullptr;
  }
  fs::path root() const { return dir_.path() / "blobs"; }
  fs::path tmp() const { return root() / ".tmp"; }

  TempDir dir_;
};

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

TEST_F(FsBlobStoreTest, ObjectsSurviveReopening) {
  ASSERT_TRUE(Open()->Put("originals/alice/01J1", "bytes", "image/png"));
  EXPECT_EQ(Open()->Get("originals/alice/01J1").value(), "bytes");
}

TEST_F(FsBlobStoreTest, PutsSucceedWhileDeletesEmptyTheirDirectories) {
  // A Delete removes the directories it leaves empty; a Put into the same directories at that
  // moment must still succeed (it recreates them).
  auto store = Open();
  std::atomic<int> failures{0};
  auto churn = [&](const std::string& name) {
    for (int i = 0; i < 300; ++i) {
      const std::string key = "originals/owner/" + name + std::to_string(i);
      if (auto put = store->Put(key, "x", "image/png"); !put) {
        ADD_FAILURE() << "Put: " << put.error().slug << " " << put.error().detail;
        ++failures;
      }
      if (auto deleted = store->Delete(key); !deleted) {
        ADD_FAILURE() << "Delete: " << deleted.error().slug << " " << deleted.error().detail;
        ++failures;
      }
    }
  };
  std::thread a(churn, "a"), b(churn, "b"), c(churn, "c");
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(FsBlobStoreTest, WithFsyncStoresAndReplacesObjects) {
  auto store = Open({.fsync = true});
  ASSERT_TRUE(store->Put("variants/alice/01J1/thumb.webp", "one", "image/webp"));
  ASSERT_TRUE(store->Put("variants/alice/01J1/thumb.webp", "two", "image/webp"));
  ASSERT_TRUE(store->Put("top", "level", "text/plain"));
  EXPECT_EQ(store->Get("variants/alice/01J1/thumb.webp").value(), "two");
  EXPECT_EQ(store->Get("top").value(), "level");
}

TEST_F(FsBlobStoreTest, PathForNamesTheFileHoldingTheObject) {
  auto store = Open();
  ASSERT_TRUE(store->Put("originals/alice/01J1", "served bytes", "image/png"));
  const fs::path path = store->PathFor("originals/alice/01J1");
  std::ifstream in(path, std::ios::binary);
  const std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "served bytes");
  EXPECT_TRUE(store->PathFor("../etc/passwd").empty());
  EXPECT_TRUE(store->PathFor("/etc/passwd").empty());
  EXPECT_TRUE(store->PathFor(".tmp/x").empty());
}

TEST_F(FsBlobStoreTest, LeftoversOfInterruptedWritesAreInvisibleAndCanBeRemoved) {
  auto store = Open();
  ASSERT_TRUE(store->Put("originals/alice/01J1", "whole", "image/png"));
  // What a process killed mid-Put leaves behind: partial temp files.
  WriteFile(tmp() / "123-1.part", "par");
  WriteFile(tmp() / "123-2.part", "partial");
  const auto old_time = fs::file_time_type::clock::now() - std::chrono::hours(2);
  fs::last_write_time(tmp() / "123-1.part", old_time);

  EXPECT_EQ(ListAllBlobs(*store, "").value().size(), 1u);
  EXPECT_EQ(store->Get("originals/alice/01J1").value(), "whole");

  // Only the temp files older than the cut-off go (the other may be a write in flight).
  auto removed = store->RemoveTempFiles(SystemNowMs() - 60'000);
  ASSERT_TRUE(removed) << removed.error().detail;
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(fs::exists(tmp() / "123-1.part"));
  EXPECT_TRUE(fs::exists(tmp() / "123-2.part"));
  EXPECT_EQ(store->RemoveTempFiles(SystemNowMs() + 60'000).value(), 1u);
  EXPECT_TRUE(fs::is_empty(tmp()));
  EXPECT_EQ(store->Get("originals/alice/01J1").value(), "whole");
}

TEST_F(FsBlobStoreTest, SuccessfulPutsLeaveNoTempFiles) {
  auto store = Open();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(store->Put("k/" + std::to_string(i), "v", "text/plain"));
  }
  EXPECT_TRUE(fs::is_empty(tmp()));
}

TEST_F(FsBlobStoreTest, ListSkipsFilesThatAreNotValidKeys) {
  auto store = Open();
  ASSERT_TRUE(store->Put("originals/alice/01J1", "x", "image/png"));
  WriteFile(root() / "originals" / "alice" / "bad name", "x");
  fs::create_symlink("/etc/passwd", root() / "originals" / "alice" / "link");
  EXPECT_EQ(ListAllBlobs(*store, "originals/").value().size(), 1u);
  auto linked = store->Get("originals/alice/link");
  ASSERT_FALSE(linked);
  EXPECT_EQ(linked.error().code, ErrorCode::kNotFound);
}

TEST_F(FsBlobStoreTest, AKeyCannotBeBothAnObjectAndAPrefix) {
  auto store = Open();
  ASSERT_TRUE(store->Put("a/b", "object", "text/plain"));
  auto below = store->Put("a/b/c", "x", "text/plain");
  ASSERT_FALSE(below);
  EXPECT_EQ(below.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(below.error().slug, "key_conflict");
  ASSERT_TRUE(store->Put("d/e/f", "object", "text/plain"));
  auto above = store->Put("d/e", "x", "text/plain");
  ASSERT_FALSE(above);
  EXPECT_EQ(above.error().slug, "key_conflict");
  EXPECT_EQ(store->Get("a/b").value(), "object");
  EXPECT_EQ(store->Get("d/e/f").value(), "object");
  EXPECT_EQ(store->Get("a/b/c").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(fs::is_empty(tmp()));  // the failed writes left nothing behind
}

TEST_F(FsBlobStoreTest, OpenFailsWhenTheRootIsAFile) {
  WriteFile(root(), "not a directory");
  auto store = FsBlobStore::Open(root(), {});
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().detail, "");
}

TEST_F(FsBlobStoreTest, StorageErrorsCarryTheErrnoText) {
  auto store = Open();
  // Something replaced the temp directory with a file: no write can start.
  fs::remove(tmp());
  WriteFile(tmp(), "in the way");
  auto put = store->Put("originals/alice/01J1", "x", "image/png");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kInternal);
  EXPECT_NE(put.error().detail.find("Not a directory"), std::string::npos) << put.error().detail;
  EXPECT_EQ(store->Head("originals/alice/01J1").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace imgup
