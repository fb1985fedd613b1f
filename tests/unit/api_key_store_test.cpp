// The ApiKeyStore contract (src/domain/ports/), run against every implementation.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "adapters/local/sqlite_metadata_store.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/temp_dir.hpp"

namespace imgup {
namespace {

namespace fs = std::filesystem;

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');
const std::string kHashC(64, 'c');

struct MemoryKeys {
  static std::unique_ptr<ApiKeyStore> Make(const fs::path& /*dir*/) {
    return std::make_unique<MemoryMetadataStore>();
  }
};

struct SqliteKeys {
  static std::unique_ptr<ApiKeyStore> Make(const fs::path& dir) {
    auto store = SqliteMetadataStore::Open(dir / "imgup.db");
    if (!store) throw std::runtime_error(store.error().detail);
    return std::move(*store);
  }
};

template <class Traits>
class ApiKeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Traits::Make(dir_.path()); }

  std::vector<std::pair<std::string, std::int64_t>> Listed() {
    auto keys = store_->ListKeys();
    EXPECT_TRUE(keys) << keys.error().detail;
    std::vector<std::pair<std::string, std::int64_t>> listed;
    if (keys) {
      for (const auto& key : *keys) listed.emplace_back(key.name, key.created_ms);
    }
    std::ranges::sort(listed);
    return listed;
  }

  TempDir dir_;
  std::unique_ptr<ApiKeyStore> store_;
};

TYPED_TEST_SUITE_P(ApiKeyStoreTest);

TYPED_TEST_P(ApiKeyStoreTest, StartsWithoutKeys) {
  EXPECT_EQ(this->store_->HasKeys().value(), false);
  EXPECT_TRUE(this->Listed().empty());
  auto found = this->store_->FindByHash(kHashA);
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(ApiKeyStoreTest, FindsTheNameByTheKeysHash) {
  ASSERT_TRUE(this->store_->AddKey("alice", kHashA, 1000));
  ASSERT_TRUE(this->store_->AddKey("bob", kHashB, 2000));
  EXPECT_EQ(this->store_->HasKeys().value(), true);
  EXPECT_EQ(this->store_->FindByHash(kHashA).value(), "alice");
  EXPECT_EQ(this->store_->FindByHash(kHashB).value(), "bob");
  EXPECT_EQ(this->store_->FindByHash(kHashC).error().code, ErrorCode::kNotFound);
  // Only the exact hash matches.
  EXPECT_EQ(this->store_->FindByHash(kHashA.substr(1)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->FindByHash("").error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(ApiKeyStoreTest, ListsNamesAndCreationTimes) {
  ASSERT_TRUE(this->store_->AddKey("bob", kHashB, 2000));
  ASSERT_TRUE(this->store_->AddKey("alice", kHashA, 1000));
  EXPECT_EQ(this->Listed(),
            (std::vector<std::pair<std::string, std::int64_t>>{{"alice", 1000}, {"bob", 2000}}));
}

TYPED_TEST_P(ApiKeyStoreTest, DuplicateNameIsAConflict) {
  ASSERT_TRUE(this->store_->AddKey("alice", kHashA, 1000));
  auto added = this->store_->AddKey("alice", kHashB, 2000);
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code, ErrorCode::kConflict);
  // The first key still works and the second was not stored.
  EXPECT_EQ(this->store_->FindByHash(kHashA).value(), "alice");
  EXPECT_EQ(this->store_->FindByHash(kHashB).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->Listed().size(), 1u);
}

TYPED_TEST_P(ApiKeyStoreTest, TheSameKeyCannotBelongToTwoNames) {
  ASSERT_TRUE(this->store_->AddKey("alice", kHashA, 1000));
  auto added = this->store_->AddKey("mallory", kHashA, 2000);
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code, ErrorCode::kConflict);
  EXPECT_EQ(this->store_->FindByHash(kHashA).value(), "alice");
}

TYPED_TEST_P(ApiKeyStoreTest, RemovedKeysNoLongerAuthenticate) {
  ASSERT_TRUE(this->store_->AddKey("alice", kHashA, 1000));
  ASSERT_TRUE(this->store_->AddKey("bob", kHashB, 2000));
  ASSERT_TRUE(this->store_->RemoveKey("alice"));
  EXPECT_EQ(this->store_->FindByHash(kHashA).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->FindByHash(kHashB).value(), "bob");
  EXPECT_EQ(this->store_->HasKeys().value(), true);
  EXPECT_EQ(this->store_->RemoveKey("alice").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(this->store_->RemoveKey("bob"));
  EXPECT_EQ(this->store_->HasKeys().value(), false);
  // A removed name can be given a new key.
  ASSERT_TRUE(this->store_->AddKey("alice", kHashC, 3000));
  EXPECT_EQ(this->store_->FindByHash(kHashC).value(), "alice");
}

TYPED_TEST_P(ApiKeyStoreTest, RemovingAnUnknownNameIsNotFound) {
  auto removed = this->store_->RemoveKey("nobody");
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code, ErrorCode::kNotFound);
}

REGISTER_TYPED_TEST_SUITE_P(ApiKeyStoreTest, StartsWithoutKeys, FindsTheNameByTheKeysHash,
                            ListsNamesAndCreationTimes, DuplicateNameIsAConflict,
                            TheSameKeyCannotBelongToTwoNames, RemovedKeysNoLongerAuthenticate,
                            RemovingAnUnknownNameIsNotFound);

using ApiKeyStoreImplementations = ::testing::Types<MemoryKeys, SqliteKeys>;
INSTANTIATE_TYPED_TEST_SUITE_P(All, ApiKeyStoreTest, ApiKeyStoreImplementations);

TEST(SqliteApiKeyStoreTest, KeysSurviveReopening) {
  TempDir dir;
  {
    auto store = SqliteMetadataStore::Open(dir.path() / "imgup.db");
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->AddKey("alice", kHashA, 1000));
  }
  auto store = SqliteMetadataStore::Open(dir.path() / "imgup.db");
  ASSERT_TRUE(store);
  EXPECT_EQ((*store)->FindByHash(kHashA).value(), "alice");
}

}  // namespace
}  // namespace imgup
