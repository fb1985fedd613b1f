// The UploadTickets contract on SQLite (DynamoDB: aws/dynamo_metadata_store_test.cpp).
#include "upload_tickets_contract.hpp"

#include <stdexcept>

#include "adapters/local/sqlite_metadata_store.hpp"

namespace imgup::contract {
namespace {

struct SqliteTickets {
  static std::shared_ptr<UploadTickets> Make(const std::filesystem::path& dir) {
    auto store = SqliteMetadataStore::Open(dir / "imgup.db");
    if (!store) throw std::runtime_error(store.error().detail);
    return std::shared_ptr<SqliteMetadataStore>(std::move(*store));
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, UploadTicketsContractTest, SqliteTickets);

}  // namespace
}  // namespace imgup::contract
