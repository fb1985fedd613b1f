// The ApiKeyStore contract (api_key_store_contract.hpp) against the in-memory fake and SQLite.
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "adapters/local/sqlite_metadata_store.hpp"
#include "api_key_store_contract.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/temp_dir.hpp"

namespace imgup::contract {
namespace {

namespace fs = std::filesystem;

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
}  // namespace imgup::contract
