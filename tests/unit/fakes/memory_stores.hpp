#pragma once
// In-memory implementations of the storage ports, for tests. They pass the same contract suites
// as the real adapters (tests/unit/*_contract_test.cpp), so a test that passes against them
// says something about production. Thread-safe (one mutex each).
//
// Failure injection: FailNext("Put", error) makes the next call of that method return `error`
// (for testing what callers do when storage fails).
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/ports/api_key_store.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/metadata_store.hpp"
#include "domain/ports/pending_records.hpp"
#include "domain/signed_urls.hpp"
#include "fakes/fixed_clock.hpp"
#include "fakes/sequential_ids.hpp"

namespace imgup {

class MemoryBlobStore final : public BlobStore {
 public:
  /// `clock` (optional, not owned) stamps modified_ms; the system clock when null. `urls`
  /// (optional, not owned) signs presigned URLs, as for the local store.
  explicit MemoryBlobStore(Clock* clock = nullptr, SignedUrls* urls = nullptr)
      : clock_(clock), urls_(urls) {}

  Result<void> Put(std::string_view key, std::string_view data,
                   std::string_view content_type) override;
  Result<std::string> Get(std::string_view key) override;
  Result<BlobEntry> Head(std::string_view key) override;
  Result<void> Delete(std::string_view key) override;
  Result<BlobPage> List(std::string_view prefix, std::string_view token,
                        std::size_t limit) override;
  Result<std::string> PresignGet(std::string_view key, std::int64_t expires_in_s,
                                 const GetUrlOptions& options) override;
  Result<PresignedPost> PresignPost(const UploadPolicy& policy) override;

  /// The number of stored objects.
  std::size_t size() const;
  /// The content type given to the last Put of `key`, if the key exists.
  std::optional<std::string> ContentType(std::string_view key) const;
  /// Every stored key, in order.
  std::vector<std::string> Keys() const;
  /// Sets the modification time of an existing object (e.g. to age an orphan).
  void SetModifiedMs(std::string_view key, std::int64_t modified_ms);
  /// The next call of `method` ("Put", "Get", "Head", "Delete", "List") fails with `error`.
  void FailNext(std::string method, Error error);

 private:
  struct Object {
    std::string data;
    std::string content_type;
    std::int64_t modified_ms = 0;
  };
  std::optional<Error> TakeFailure(std::string_view method);
  std::int64_t NowMs() const;

  Clock* clock_;
  SignedUrls* urls_;
  mutable std::mutex mutex_;
  std::map<std::string, Object, std::less<>> objects_;
  std::map<std::string, Error, std::less<>> failures_;
};

class MemoryMetadataStore final : public MetadataStore, public PendingRecords, public ApiKeyStore {
 public:
  // PendingRecords
  Result<std::vector<RecordRef>> ListProcessing(std::size_t limit) override;

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

  // ApiKeyStore
  Result<void> AddKey(std::string_view name, std::string_view key_sha256_hex,
                      std::int64_t created_ms) override;
  Result<std::string> FindByHash(std::string_view key_sha256_hex) override;
  Result<std::vector<ApiKeyInfo>> ListKeys() override;
  Result<void> RemoveKey(std::string_view name) override;
  Result<bool> HasKeys() override;

  /// The number of records (all owners).
  std::size_t size() const;
  /// The next call of `method` (any MetadataStore or ApiKeyStore method name, e.g. "Insert")
  /// fails with `error`.
  void FailNext(std::string method, Error error);

 private:
  struct Key {
    std::string hash;
    std::int64_t created_ms = 0;
  };
  std::optional<Error> TakeFailure(std::string_view method);

  mutable std::mutex mutex_;
  std::map<std::string, ImageRecord, std::less<>> records_;     // by id: ids are globally unique
  std::map<std::string, std::uint32_t, std::less<>> attempts_;  // processing attempts, by id
  std::map<std::string, Key, std::less<>> keys_;                // by name
  std::map<std::string, Error, std::less<>> failures_;
};

}  // namespace imgup
