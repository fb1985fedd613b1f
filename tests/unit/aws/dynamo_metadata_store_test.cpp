// DynamoMetadataStore against the DynamoDB peer (moto server): the MetadataStore and ApiKeyStore
// contract suites, each test on a table of its own, and what only this store has (sealed
// tokens, the owner directory, its keys).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "api_key_store_contract.hpp"
#include "aws/dynamo_peer.hpp"
#include "fakes/forwarding_metadata_store.hpp"
#include "metadata_store_contract.hpp"
#include "upload_tickets_contract.hpp"

namespace imgup::contract {
namespace {

using testing_aws::DynamoOnScratchTable;
using testing_aws::MakeDynamoStore;

/// The store, owning its scratch table (deleted after the store).
class DynamoRecordsOnTable final : public ForwardingMetadataStore {
 public:
  explicit DynamoRecordsOnTable(DynamoOnScratchTable made)
      : ForwardingMetadataStore(*made.store), made_(std::move(made)) {}

 private:
  DynamoOnScratchTable made_;
};

class DynamoKeysOnTable final : public ApiKeyStore {
 public:
  explicit DynamoKeysOnTable(DynamoOnScratchTable made) : made_(std::move(made)) {}
  Result<void> AddKey(std::string_view name, std::string_view hash, std::int64_t ms) override {
    return made_.store->AddKey(name, hash, ms);
  }
  Result<std::string> FindByHash(std::string_view hash) override {
    return made_.store->FindByHash(hash);
  }
  Result<std::vector<ApiKeyInfo>> ListKeys() override { return made_.store->ListKeys(); }
  Result<void> RemoveKey(std::string_view name) override { return made_.store->RemoveKey(name); }
  Result<bool> HasKeys() override { return made_.store->HasKeys(); }

 private:
  DynamoOnScratchTable made_;
};

struct DynamoRecords {
  static std::unique_ptr<MetadataStore> Make(const fs::path& /*dir*/) {
    auto made = MakeDynamoStore();
    if (!made.store) return nullptr;
    return std::make_unique<DynamoRecordsOnTable>(std::move(made));
  }
};

struct DynamoKeys {
  static std::unique_ptr<ApiKeyStore> Make(const fs::path& /*dir*/) {
    auto made = MakeDynamoStore();
    if (!made.store) return nullptr;
    return std::make_unique<DynamoKeysOnTable>(std::move(made));
  }
};

struct DynamoTickets {
  static std::shared_ptr<UploadTickets> Make(const fs::path& /*dir*/) {
    auto made = std::make_shared<DynamoOnScratchTable>(MakeDynamoStore());
    if (!made->store) return nullptr;
    return std::shared_ptr<UploadTickets>(made, made->store.get());
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Dynamo, MetadataStoreContractTest, DynamoRecords);
INSTANTIATE_TYPED_TEST_SUITE_P(Dynamo, UploadTicketsContractTest, DynamoTickets);
INSTANTIATE_TYPED_TEST_SUITE_P(Dynamo, ApiKeyStoreTest, DynamoKeys);

class DynamoMetadataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    made_ = MakeDynamoStore();
    if (!made_.store) {
      if (HasFailure()) FAIL() << "the DynamoDB peer is required";
      GTEST_SKIP() << "no DynamoDB peer";
    }
  }
  DynamoMetadataStore& store() { return *made_.store; }

  DynamoOnScratchTable made_;
};

TEST_F(DynamoMetadataStoreTest, TokensAreSealedToTheirWalkAndOwner) {
  for (std::uint64_t n = 1; n <= 3; ++n) {
    ASSERT_TRUE(store().Insert(WithDerivedFields(MakeRecord("alice", n))));
  }
  auto refs = store().ListRefs("", 1);
  ASSERT_TRUE(refs);
  ASSERT_FALSE(refs->next_token.empty());
  auto phashes = store().ListPhashes("alice", "", 1);
  ASSERT_TRUE(phashes);
  ASSERT_FALSE(phashes->next_token.empty());
  // Both tokens work where they were made.
  EXPECT_TRUE(store().ListRefs(refs->next_token, 1));
  EXPECT_TRUE(store().ListPhashes("alice", phashes->next_token, 1));

  const auto invalid = [](const auto& result) {
    return !result && result.error().code == ErrorCode::kInvalidArgument &&
           result.error().slug == "invalid_token";
  };
  // Another owner, another walk, a changed byte: refused.
  EXPECT_TRUE(invalid(store().ListPhashes("bob", phashes->next_token, 1)));
  EXPECT_TRUE(invalid(store().ListRefs(phashes->next_token, 1)));
  EXPECT_TRUE(invalid(store().ListPhashes("alice", refs->next_token, 1)));
  std::string tampered = refs->next_token;
  tampered[1] = tampered[1] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(invalid(store().ListRefs(tampered, 1)));
  // The id a token holds is readable, but a forged one is not accepted.
  EXPECT_TRUE(invalid(store().ListPhashes("alice", Id(3), 1)));
  // A store with another secret does not take this store's tokens.
  auto other = DynamoMetadataStore::Make(*testing_aws::DynamoPeer(),
                                         {.table = made_.table->name(),
                                          .token_secret = "another secret, 16+ bytes",
                                          .max_transaction_attempts = 5});
  ASSERT_TRUE(other);
  EXPECT_TRUE(invalid((*other)->ListRefs(refs->next_token, 1)));
}

TEST_F(DynamoMetadataStoreTest, AnOwnerWithAHashIsRefused) {
  auto inserted = store().Insert(MakeRecord("al#ice", 1));
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(inserted.error().slug, "invalid_owner");
}

TEST_F(DynamoMetadataStoreTest, RepeatedTagsAreOneTagEntry) {
  ImageRecord record = MakeRecord("alice", 1);
  record.tags = {"cat", "cat", "dog"};  // a transaction may write an item once
  ASSERT_TRUE(store().Insert(record));
  EXPECT_EQ(store().Get("alice", record.id)->tags, record.tags);
  EXPECT_EQ(store().List("alice", Query(10).Tag("cat"))->items.size(), 1u);
  ASSERT_TRUE(store().Update("alice", record.id,
                             {.tags = std::vector<std::string>{"dog", "dog"}, .description = {}}));
  EXPECT_TRUE(store().List("alice", Query(10).Tag("cat"))->items.empty());
  EXPECT_EQ(store().List("alice", Query(10).Tag("dog"))->items.size(), 1u);
  ASSERT_TRUE(store().Remove("alice", record.id));
  EXPECT_TRUE(store().List("alice", Query(10).Tag("dog"))->items.empty());
}

TEST_F(DynamoMetadataStoreTest, MoreTagsThanATransactionHoldsAreRefusedUpFront) {
  ImageRecord record = MakeRecord("alice", 1);
  record.tags.clear();
  for (int i = 0; i < 50; ++i) record.tags.push_back("tag" + std::to_string(i));
  auto inserted = store().Insert(record);
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error().slug, "too_many_tags");
  record.tags.resize(49);
  ASSERT_TRUE(store().Insert(record));
  record.tags.push_back("one-too-many");
  auto updated = store().Update("alice", record.id, {.tags = record.tags, .description = {}});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().slug, "too_many_tags");
  // 49 old and 49 new tags in one transaction: 1 + 49 + 49 items.
  std::vector<std::string> others;
  for (int i = 0; i < 49; ++i) others.push_back("other" + std::to_string(i));
  ASSERT_TRUE(store().Update("alice", record.id, {.tags = others, .description = {}}));
  EXPECT_EQ(store().List("alice", Query(10).Tag("other48"))->items.size(), 1u);
  EXPECT_TRUE(store().List("alice", Query(10).Tag("tag0"))->items.empty());
  ASSERT_TRUE(store().Remove("alice", record.id));
}

TEST_F(DynamoMetadataStoreTest, TheStoreRefusesAShortSecretOrNoTable) {
  auto* client = testing_aws::DynamoPeer();
  auto short_secret = DynamoMetadataStore::Make(
      *client, {.table = "t", .token_secret = "short", .max_transaction_attempts = 5});
  ASSERT_FALSE(short_secret);
  EXPECT_EQ(short_secret.error().slug, "invalid_token_secret");
  auto no_table = DynamoMetadataStore::Make(
      *client,
      {.table = "", .token_secret = testing_aws::kTestTokenSecret, .max_transaction_attempts = 5});
  ASSERT_FALSE(no_table);
  EXPECT_EQ(no_table.error().slug, "invalid_table");
}

TEST_F(DynamoMetadataStoreTest, AMissingTableIsAStorageErrorNotAnEmptyStore) {
  auto missing = DynamoMetadataStore::Make(*testing_aws::DynamoPeer(),
                                           {.table = made_.table->name() + "-missing",
                                            .token_secret = testing_aws::kTestTokenSecret,
                                            .max_transaction_attempts = 5});
  ASSERT_TRUE(missing);
  auto got = (*missing)->Get("alice", Id(1));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kInternal);
  EXPECT_EQ(got.error().slug, "storage_error");
  EXPECT_NE(got.error().detail.find("ResourceNotFoundException"), std::string::npos)
      << got.error().detail;
  auto listed = (*missing)->List("alice", Query(10));
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().slug, "storage_error");
}

}  // namespace
}  // namespace imgup::contract
