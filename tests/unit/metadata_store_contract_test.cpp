// The MetadataStore contract (metadata_store_contract.hpp) against the in-memory fake and
// SQLite, and what only SQLite can show (two stores on one file).
#include "metadata_store_contract.hpp"

#include <filesystem>
#include <memory>
#include <stdexcept>

#include "adapters/local/sqlite_metadata_store.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/temp_dir.hpp"

namespace imgup::contract {
namespace {

struct MemoryRecords {
  static std::unique_ptr<MetadataStore> Make(const fs::path& /*dir*/) {
    return std::make_unique<MemoryMetadataStore>();
  }
};

struct SqliteRecords {
  static std::unique_ptr<MetadataStore> Make(const fs::path& dir) {
    auto store = SqliteMetadataStore::Open(dir / "imgup.db");
    if (!store) throw std::runtime_error(store.error().detail);
    return std::move(*store);
  }
};

using MetadataStoreImplementations = ::testing::Types<MemoryRecords, SqliteRecords>;
INSTANTIATE_TYPED_TEST_SUITE_P(All, MetadataStoreContractTest, MetadataStoreImplementations);

// Two processes (here: two stores, each with its own connections, on one file) completing the
// same record: the condition holds across connections, not only within one store's lock.
TEST(SqliteSaveDerivedTest, TwoStoresOnOneFileLetExactlyOneCompletionWin) {
  TempDir dir;
  auto first = SqliteRecords::Make(dir.path());
  auto second = SqliteRecords::Make(dir.path());
  for (std::uint64_t n = 1; n <= 20; ++n) {
    const ImageRecord record = MakeRecord("alice", n);
    ASSERT_TRUE(first->Insert(record));
    ExpectOneCompletionWins(*second, record, 4,
                            [&](int t) -> MetadataStore& { return t % 2 == 0 ? *first : *second; });
  }
}

}  // namespace
}  // namespace imgup::contract
