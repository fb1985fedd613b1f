#pragma once
// The ApiKeyStore contract (src/domain/ports/api_key_store.hpp) as a typed test suite, run
// against every implementation, with traits as in metadata_store_contract.hpp:
//   static std::unique_ptr<ApiKeyStore> Make(const std::filesystem::path& temp_dir)
// (api_key_store_test.cpp: the fake and SQLite; aws/dynamo_metadata_store_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "domain/ports/api_key_store.hpp"
#include "fakes/temp_dir.hpp"

namespace imgup {
namespace contract {
// Unnamed: each test program includes this once, in the file that instantiates the suite.
namespace {

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');
const std::string kHashC(64, 'c');

template <class Traits>
class ApiKeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Traits::Make(dir_.path());
    if (!store_) {
      if (HasFailure()) FAIL() << "the store's peer is required";
      GTEST_SKIP() << "the store's peer is not configured";
    }
  }

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

}  // namespace
}  // namespace contract
}  // namespace imgup
