#pragma once
// Image records and API keys in one DynamoDB table (single-table design, docs/dynamodb.md):
// MetadataStore and ApiKeyStore over DynamoClient. Passes the same contract suites as
// SqliteMetadataStore (tests/unit/aws/dynamo_metadata_store_test.cpp, against moto).
//
// Thread-safe: every call is one or a few DynamoDB requests; the only state is the set of owners
// this process has put in the owner directory.
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "aws/dynamo_client.hpp"
#include "domain/ports/api_key_store.hpp"
#include "domain/ports/metadata_store.hpp"
#include "domain/ports/upload_tickets.hpp"

namespace imgup {

class DynamoMetadataStore final : public MetadataStore, public ApiKeyStore, public UploadTickets {
 public:
  struct Options {
    std::string table;
    /// Seals the continuation tokens of ListRefs and ListPhashes (HMAC-SHA256): at least 16
    /// bytes, the same for every process serving the table.
    std::string token_secret;
    /// Tries of a transaction that DynamoDB cancels for a conflict with another one in flight.
    int max_transaction_attempts = 5;
  };

  /// The table this store reads and writes: keys, GSIs and TTL attribute (docs/dynamodb.md).
  static aws::TableSpec TableSpec(std::string table);

  /// Errors: kInvalidArgument for an empty table name or a short secret. Makes no request.
  static Result<std::unique_ptr<DynamoMetadataStore>> Make(aws::DynamoClient& client,
                                                           Options options);

  // MetadataStore
  Result<void> Insert(const ImageRecord& record) override;
  Result<ImageRecord> Get(std::string_view owner, std::string_view id) override;
  Result<ImageRecord> FindBySha256(std::string_view owner, std::string_view sha256) override;
  Result<ImagePage> List(std::string_view owner, const ListQuery& query) override;
  Result<ImageRecord> Update(std::string_view owner, std::string_view id,
                             const ImagePatch& patch) override;
  Result<void> SaveDerived(const ImageRecord& record) override;
  Result<std::uint32_t> AdjustAttempts(std::string_view owner, std::string_view id,
                                       int delta) override;
  Result<void> Remove(std::string_view owner, std::string_view id) override;
  Result<RefPage> ListRefs(std::string_view token, std::size_t limit) override;
  Result<PhashPage> ListPhashes(std::string_view owner, std::string_view token,
                                std::size_t limit) override;

  // UploadTickets (docs/dynamodb.md: the upload ticket item, with the TTL attribute expires_at)
  Result<void> PutTicket(const UploadTicket& ticket) override;
  Result<UploadTicket> GetTicket(std::string_view owner, std::string_view id) override;
  Result<void> FinishTicket(const UploadTicket& finished) override;
  Result<void> ClaimTicket(std::string_view owner, std::string_view id, std::string_view sha256,
                           std::int64_t now_ms, std::int64_t stale_before_ms) override;
  Result<void> RemoveTicket(std::string_view owner, std::string_view id) override;

  // ApiKeyStore
  Result<void> AddKey(std::string_view name, std::string_view key_sha256_hex,
                      std::int64_t created_ms) override;
  Result<std::string> FindByHash(std::string_view key_sha256_hex) override;
  Result<std::vector<ApiKeyInfo>> ListKeys() override;
  Result<void> RemoveKey(std::string_view name) override;
  Result<bool> HasKeys() override;

 private:
  DynamoMetadataStore(aws::DynamoClient& client, Options options);

  /// Why a conditional update of the ticket failed: the client's error, kNotFound, or kConflict
  /// "claimed" (it awaits, other bytes hold its claim) or "not_awaiting".
  Result<void> TicketConflict(const aws::DynamoError& error, std::string_view owner,
                              std::string_view id);
  /// Puts the owner in the owner directory (ListRefs) unless this process has seen it there.
  Result<void> EnsureOwnerListed(std::string_view owner);
  /// Runs a transaction, again with jittered backoff while DynamoDB cancels it only for
  /// conflicts with other transactions in flight.
  aws::DynamoResult<void> Transact(std::vector<aws::TransactWriteItem> items);
  /// The record's item, read consistently; nullopt when there is none.
  Result<std::optional<aws::Item>> GetRecordItem(std::string_view owner, std::string_view id);
  /// Fetches the records of `ids` (one owner) with BatchGetItem, in the order of `ids`; ids
  /// without a record are left out.
  Result<std::vector<ImageRecord>> FetchRecords(std::string_view owner,
                                                const std::vector<std::string>& ids);

  aws::DynamoClient& client_;
  Options options_;

  std::mutex owners_mutex_;
  std::set<std::string, std::less<>> listed_owners_;
};

}  // namespace imgup
