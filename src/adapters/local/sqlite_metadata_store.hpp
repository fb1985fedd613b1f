#pragma once
// Image records and API keys in one SQLite file (WAL mode).
//
// Concurrency: one writer connection behind a mutex (SQLite allows one writer at a time anyway,
// and BEGIN IMMEDIATE + busy_timeout serialise writers across processes), plus a small pool of
// reader connections. In WAL mode a reader works on the last committed snapshot, so reads never
// wait for a slow write, and readers on separate connections run in parallel.
//
// Checkpoints (copying the WAL back into the database file, with an fsync of each) run on a
// thread of their own with its own connection: SQLite's automatic checkpoint ran in whichever
// commit crossed 1000 WAL pages, holding the writer lock through two fsyncs that wait behind
// every other write the disk has queued. Under a steady stream of writes the background pass
// never catches up with the end of the WAL, so the WAL never starts over; past 20 000 pages
// (~80 MB) the committing writer checkpoints too, with no other writer appending meanwhile,
// after waiting for a background pass in progress (finding its lock taken and leaving it to the
// next commit let the WAL reach 130 MB on a loaded machine).
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/local/sqlite.hpp"
#include "domain/ports/api_key_store.hpp"
#include "domain/ports/metadata_store.hpp"
#include "domain/ports/pending_records.hpp"
#include "domain/ports/upload_tickets.hpp"

namespace imgup {

class SqliteMetadataStore final : public MetadataStore,
                                  public PendingRecords,
                                  public ApiKeyStore,
                                  public UploadTickets {
 public:
  // PendingRecords
  Result<std::vector<RecordRef>> ListProcessing(std::size_t limit) override;

  struct Options {
    /// Reader connections opened at most (lazily). 0 = every read goes through the writer
    /// connection and its mutex (one connection in all).
    std::size_t max_readers = 8;
  };

  /// Opens (creating if needed) the database and applies pending schema migrations.
  /// Errors: kUnavailable (locked, disk full, I/O), kInternal (not a database, schema newer
  /// than this program).
  static Result<std::unique_ptr<SqliteMetadataStore>> Open(const std::filesystem::path& db_file);
  static Result<std::unique_ptr<SqliteMetadataStore>> Open(const std::filesystem::path& db_file,
                                                           Options options);

  /// The schema version this program migrates to.
  static int LatestSchemaVersion();

  ~SqliteMetadataStore() override;

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
  Result<PhashPage> ListPhashes(std::string_view owner, std::string_view token,
                                std::size_t limit) override;
  Result<RefPage> ListRefs(std::string_view token, std::size_t limit) override;

  // UploadTickets
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
  class ReaderLease;

  SqliteMetadataStore(std::filesystem::path file, Options options, sqlite::Db writer,
                      sqlite::Db checkpointer);
  static Result<sqlite::Db> OpenConnection(const std::filesystem::path& file, bool reader);
  /// Why a conditional update of the ticket changed no row (under the writer lock): kNotFound,
  /// or kConflict "claimed" (it awaits, other bytes hold its claim) or "not_awaiting".
  Result<void> TicketConflict(std::string_view owner, std::string_view id);

  /// A reader connection (or the writer, under its lock, when max_readers == 0).
  Result<ReaderLease> AcquireReader();
  void ReleaseReader(std::unique_ptr<sqlite::Db> db);

  /// sqlite3_wal_hook on the writer: runs after each commit, under the writer lock.
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void RunCheckpoints();

  std::filesystem::path file_;
  Options options_;

  std::mutex writer_mutex_;
  sqlite::Db writer_;

  std::mutex readers_mutex_;
  std::condition_variable reader_released_;
  std::vector<std::unique_ptr<sqlite::Db>> idle_readers_;
  std::size_t open_readers_ = 0;

  sqlite::Db checkpointer_;  // used by checkpoint_thread_ only
  std::mutex checkpoint_mutex_;
  std::mutex checkpoint_running_;  // held for each checkpoint pass, background or inline
  std::condition_variable checkpoint_wanted_;
  bool checkpoint_due_ = false;
  bool stopping_ = false;
  std::thread checkpoint_thread_;  // last: started once everything above exists
};

}  // namespace imgup
