// RunFsck over every pair of stores, and the SQLite store's own behaviour (schema migrations,
// WAL mode) that the port contract cannot express.
#include "services/fsck.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adapters/local/fs_blob_store.hpp"
#include "adapters/local/sqlite.hpp"
#include "adapters/local/sqlite_metadata_store.hpp"
#include "domain/blob_keys.hpp"
#include "fakes/memory_stores.hpp"
#include "fakes/temp_dir.hpp"

namespace imgup {
namespace {

namespace fs = std::filesystem;

ListQuery Limit(std::size_t n) {
  ListQuery query;
  query.limit = n;
  return query;
}

constexpr std::int64_t kHourMs = 3'600'000;

std::int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ImageRecord MakeRecord(const std::string& owner, std::uint64_t n) {
  ImageRecord r;
  r.id = SequentialIds::Format(n);
  r.owner = owner;
  r.filename = "f.png";
  r.content_type = "image/png";
  r.format = "png";
  r.uploaded_at_ms = 1'700'000'000'000;
  r.key = "originals/" + owner + "/" + r.id;
  r.size_bytes = 3;
  const std::string digits = std::to_string(n);
  r.sha256 = std::string(64 - digits.size(), 'a') + digits;
  r.status = ImageStatus::kReady;
  return r;
}

std::string ThumbKey(const ImageRecord& r) {
  return "variants/" + r.owner + "/" + r.id + "/thumb.webp";
}

struct MemoryBackend {
  explicit MemoryBackend(const fs::path& /*dir*/) {}
  BlobStore& blobs() { return blob_store; }
  MetadataStore& records() { return record_store; }
  MemoryBlobStore blob_store;
  MemoryMetadataStore record_store;
};

struct LocalBackend {
  explicit LocalBackend(const fs::path& dir)
      : blob_store(FsBlobStore::Open(dir / "blobs", {}).value()),
        record_store(SqliteMetadataStore::Open(dir / "imgup.db").value()) {}
  BlobStore& blobs() { return *blob_store; }
  MetadataStore& records() { return *record_store; }
  std::unique_ptr<FsBlobStore> blob_store;
  std::unique_ptr<SqliteMetadataStore> record_store;
};

template <class Backend>
class FsckTest : public ::testing::Test {
 protected:
  FsckTest() : backend_(dir_.path()) {}

  BlobStore& blobs() { return backend_.blobs(); }
  MetadataStore& records() { return backend_.records(); }

  /// A complete upload: original, one variant and the record.
  ImageRecord Upload(const std::string& owner, std::uint64_t n) {
    const ImageRecord r = MakeRecord(owner, n);
    EXPECT_TRUE(blobs().Put(r.key, "png", "image/png"));
    EXPECT_TRUE(blobs().Put(ThumbKey(r), "webp", "image/webp"));
    EXPECT_TRUE(records().Insert(r));
    return r;
  }

  /// Options under which every blob written so far is past the grace period.
  static FsckOptions Later(bool repair) {
    return FsckOptions{.repair = repair, .now_ms = SystemNowMs() + kHourMs, .grace_ms = 60'000};
  }

  bool BlobExists(const std::string& key) { return blobs().Head(key).has_value(); }
  bool RecordExists(const ImageRecord& r) { return records().Get(r.owner, r.id).has_value(); }

  TempDir dir_;
  Backend backend_;
};

TYPED_TEST_SUITE_P(FsckTest);

TYPED_TEST_P(FsckTest, ConsistentStoresAreClean) {
  const ImageRecord a = this->Upload("alice", 1);
  const ImageRecord b = this->Upload("bob", 2);
  ASSERT_TRUE(this->blobs().Put("unrelated/file", "x", "text/plain"));  // not fsck's business

  auto report = RunFsck(this->blobs(), this->records(), this->Later(true));
  ASSERT_TRUE(report) << report.error().detail;
  EXPECT_TRUE(report->Clean());
  EXPECT_TRUE(report->orphan_blobs.empty());
  EXPECT_TRUE(report->records_without_blob.empty());
  EXPECT_EQ(report->young_orphans_skipped, 0u);
  EXPECT_FALSE(report->repaired);
  EXPECT_TRUE(this->BlobExists(a.key) && this->BlobExists(ThumbKey(a)));
  EXPECT_TRUE(this->BlobExists(b.key) && this->BlobExists(ThumbKey(b)));
  EXPECT_TRUE(this->BlobExists("unrelated/file"));
}

TYPED_TEST_P(FsckTest, OrphanBlobsAreRemoved) {
  const ImageRecord kept = this->Upload("alice", 1);
  // A crash between the blob write and the record insert leaves these behind.
  const ImageRecord lost = MakeRecord("alice", 2);
  ASSERT_TRUE(this->blobs().Put(lost.key, "png", "image/png"));
  ASSERT_TRUE(this->blobs().Put(ThumbKey(lost), "webp", "image/webp"));
  // Alice's id under Bob's name belongs to no record of Bob's.
  const std::string wrong_owner = "originals/bob/" + kept.id;
  ASSERT_TRUE(this->blobs().Put(wrong_owner, "png", "image/png"));

  auto report = RunFsck(this->blobs(), this->records(), this->Later(true));
  ASSERT_TRUE(report) << report.error().detail;
  std::vector<std::string> orphans = report->orphan_blobs;
  std::ranges::sort(orphans);
  EXPECT_EQ(orphans, (std::vector<std::string>{lost.key, wrong_owner, ThumbKey(lost)}));
  EXPECT_TRUE(report->records_without_blob.empty());
  EXPECT_TRUE(report->repaired);
  EXPECT_FALSE(this->BlobExists(lost.key));
  EXPECT_FALSE(this->BlobExists(ThumbKey(lost)));
  EXPECT_FALSE(this->BlobExists(wrong_owner));
  EXPECT_TRUE(this->BlobExists(kept.key));
  EXPECT_TRUE(this->BlobExists(ThumbKey(kept)));
  EXPECT_TRUE(this->RecordExists(kept));

  auto again = RunFsck(this->blobs(), this->records(), this->Later(true));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->Clean());
}

TYPED_TEST_P(FsckTest, YoungOrphansAreKept) {
  // Possibly an upload in flight: its record is about to be inserted.
  const ImageRecord in_flight = MakeRecord("alice", 1);
  ASSERT_TRUE(this->blobs().Put(in_flight.key, "png", "image/png"));

  const FsckOptions now{.repair = true, .now_ms = SystemNowMs(), .grace_ms = 60'000};
  auto report = RunFsck(this->blobs(), this->records(), now);
  ASSERT_TRUE(report) << report.error().detail;
  EXPECT_EQ(report->young_orphans_skipped, 1u);
  EXPECT_TRUE(report->orphan_blobs.empty());
  EXPECT_FALSE(report->repaired);
  EXPECT_TRUE(this->BlobExists(in_flight.key));

  // The upload finishes: nothing is wrong any more.
  ASSERT_TRUE(this->records().Insert(in_flight));
  auto later = RunFsck(this->blobs(), this->records(), this->Later(true));
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->Clean());
  EXPECT_EQ(later->young_orphans_skipped, 0u);
  EXPECT_TRUE(this->BlobExists(in_flight.key));
}

TYPED_TEST_P(FsckTest, RecordsWithoutTheirOriginalAreReportedAndRemoved) {
  const ImageRecord kept = this->Upload("alice", 1);
  const ImageRecord broken = this->Upload("alice", 2);
  ASSERT_TRUE(this->blobs().Delete(broken.key));  // e.g. the disk was restored from a backup

  auto report = RunFsck(this->blobs(), this->records(), this->Later(true));
  ASSERT_TRUE(report) << report.error().detail;
  ASSERT_EQ(report->records_without_blob.size(), 1u);
  EXPECT_EQ(report->records_without_blob[0].owner, broken.owner);
  EXPECT_EQ(report->records_without_blob[0].id, broken.id);
  EXPECT_EQ(report->records_without_blob[0].key, broken.key);
  // Its variant cannot be served without a record either.
  EXPECT_EQ(report->orphan_blobs, std::vector<std::string>{ThumbKey(broken)});
  EXPECT_TRUE(report->repaired);
  EXPECT_FALSE(this->RecordExists(broken));
  EXPECT_FALSE(this->BlobExists(ThumbKey(broken)));
  EXPECT_TRUE(this->RecordExists(kept));
  EXPECT_TRUE(this->BlobExists(kept.key));

  auto again = RunFsck(this->blobs(), this->records(), this->Later(true));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->Clean());
}

TYPED_TEST_P(FsckTest, WithoutRepairNothingIsRemoved) {
  const ImageRecord broken = this->Upload("alice", 1);
  ASSERT_TRUE(this->blobs().Delete(broken.key));
  const ImageRecord lost = MakeRecord("alice", 2);
  ASSERT_TRUE(this->blobs().Put(lost.key, "png", "image/png"));

  auto report = RunFsck(this->blobs(), this->records(), this->Later(false));
  ASSERT_TRUE(report) << report.error().detail;
  EXPECT_FALSE(report->Clean());
  EXPECT_EQ(report->records_without_blob.size(), 1u);
  EXPECT_EQ(report->orphan_blobs.size(), 2u);  // the lost original and the broken one's thumb
  EXPECT_FALSE(report->repaired);
  EXPECT_TRUE(this->RecordExists(broken));
  EXPECT_TRUE(this->BlobExists(lost.key));
  EXPECT_TRUE(this->BlobExists(ThumbKey(broken)));

  // Reporting is repeatable: the same findings again.
  auto again = RunFsck(this->blobs(), this->records(), this->Later(false));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->records_without_blob.size(), 1u);
  EXPECT_EQ(again->orphan_blobs.size(), 2u);
}

TYPED_TEST_P(FsckTest, StagedUploadsAreRemovedAfterADay) {
  // A presigned upload's bytes that were never committed (a crash mid-request, a form posted
  // and abandoned); and a committed upload's record with the same id, whose staged bytes the
  // commit would have deleted.
  const ImageRecord committed = this->Upload("alice", 1);
  const std::string staged = StagingKey("alice", SequentialIds::Format(2));
  const std::string leftover = StagingKey("alice", committed.id);
  ASSERT_TRUE(this->blobs().Put(staged, "png", "image/png"));
  ASSERT_TRUE(this->blobs().Put(leftover, "png", "image/png"));

  // Within the day its ticket may still commit it (and S3's lifecycle rule waits as long).
  auto early = RunFsck(this->blobs(), this->records(), this->Later(true));
  ASSERT_TRUE(early) << early.error().detail;
  EXPECT_TRUE(early->Clean());
  EXPECT_TRUE(this->BlobExists(staged));

  FsckOptions next_day = this->Later(true);
  next_day.now_ms += 24 * kHourMs;
  auto late = RunFsck(this->blobs(), this->records(), next_day);
  ASSERT_TRUE(late) << late.error().detail;
  std::vector<std::string> orphans = late->orphan_blobs;
  std::ranges::sort(orphans);
  EXPECT_EQ(orphans, (std::vector<std::string>{leftover, staged}));
  EXPECT_TRUE(late->repaired);
  EXPECT_FALSE(this->BlobExists(staged));
  EXPECT_FALSE(this->BlobExists(leftover));
  EXPECT_TRUE(this->BlobExists(committed.key));
  EXPECT_TRUE(this->RecordExists(committed));
}

REGISTER_TYPED_TEST_SUITE_P(FsckTest, ConsistentStoresAreClean, OrphanBlobsAreRemoved,
                            YoungOrphansAreKept, RecordsWithoutTheirOriginalAreReportedAndRemoved,
                            WithoutRepairNothingIsRemoved, StagedUploadsAreRemovedAfterADay);

using FsckBackends = ::testing::Types<MemoryBackend, LocalBackend>;
INSTANTIATE_TYPED_TEST_SUITE_P(All, FsckTest, FsckBackends);

TEST(FsckFailureTest, StorageErrorsAreReturned) {
  MemoryBlobStore blobs;
  MemoryMetadataStore records;
  records.FailNext("ListRefs", Error{ErrorCode::kUnavailable, "storage_unavailable", "down", ""});
  auto report = RunFsck(blobs, records, FsckOptions{});
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, ErrorCode::kUnavailable);
}

// ---- SqliteMetadataStore beyond the contract -------------------------------------------------

class SqliteMetadataStoreTest : public ::testing::Test {
 protected:
  fs::path db_file() const { return dir_.path() / "data" / "imgup.db"; }

  /// A separate raw connection, as another process (or the sqlite3 shell) would have.
  sqlite::Db Raw() const { return sqlite::Db::Open(db_file()).value(); }

  TempDir dir_;
};

TEST_F(SqliteMetadataStoreTest, ReopeningKeepsDataAndDoesNotRerunMigrations) {
  const ImageRecord record = MakeRecord("alice", 1);
  {
    auto store = SqliteMetadataStore::Open(db_file());
    ASSERT_TRUE(store) << store.error().detail;
    ASSERT_TRUE((*store)->Insert(record));
  }
  auto applied_before = Raw().QueryInt64("SELECT SUM(applied_ms) FROM schema_migrations");
  ASSERT_TRUE(applied_before);

  for (int i = 0; i < 2; ++i) {
    auto store = SqliteMetadataStore::Open(db_file());
    ASSERT_TRUE(store) << store.error().detail;
    EXPECT_EQ((*store)->Get("alice", record.id).value().sha256, record.sha256);
  }
  sqlite::Db raw = Raw();
  const auto latest = SqliteMetadataStore::LatestSchemaVersion();
  EXPECT_EQ(raw.QueryInt64("SELECT COUNT(*) FROM schema_migrations").value(), latest);
  EXPECT_EQ(raw.QueryInt64("SELECT MAX(version) FROM schema_migrations").value(), latest);
  EXPECT_EQ(raw.QueryInt64("PRAGMA user_version").value(), latest);
  EXPECT_EQ(raw.QueryInt64("SELECT SUM(applied_ms) FROM schema_migrations").value(),
            *applied_before);
}

TEST_F(SqliteMetadataStoreTest, TheDatabaseIsInWalMode) {
  auto store = SqliteMetadataStore::Open(db_file());
  ASSERT_TRUE(store) << store.error().detail;
  ASSERT_TRUE((*store)->Insert(MakeRecord("alice", 1)));
  sqlite::Db raw = Raw();
  auto mode = raw.Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode);
  ASSERT_TRUE(mode->Step().value());
  EXPECT_EQ(mode->ColumnText(0), "wal");
  EXPECT_TRUE(fs::exists(db_file().string() + "-wal"));
}

TEST_F(SqliteMetadataStoreTest, TheWalIsCheckpointedIntoTheDatabaseFileInTheBackground) {
  auto store = SqliteMetadataStore::Open(db_file());
  ASSERT_TRUE(store) << store.error().detail;
  const auto db_bytes = [&] { return fs::file_size(db_file()); };
  const auto before = db_bytes();
  // Past 1000 WAL pages (a commit writes several: the row and its index entries), far from 20 000.
  for (std::uint64_t n = 1; n <= 400; ++n) {
    ImageRecord record = MakeRecord("alice", n);
    record.description = std::string(1000, 'd');
    auto inserted = (*store)->Insert(record);
    ASSERT_TRUE(inserted) << inserted.error().detail;
  }
  // The records reach the database file while the store is open, with no further commit.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (db_bytes() < before + 400 * 1000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(db_bytes(), before + 400 * 1000);
  EXPECT_EQ((*store)->Get("alice", MakeRecord("alice", 400).id).value().description,
            std::string(1000, 'd'));
}

TEST_F(SqliteMetadataStoreTest, TheWalStaysBoundedUnderAnEndlessStreamOfCommits) {
  auto store = SqliteMetadataStore::Open(db_file());
  ASSERT_TRUE(store) << store.error().detail;
  const fs::path wal = db_file().string() + "-wal";
  // The WAL does not start over while the background checkpoints trail the writes: with no
  // checkpoint in a commit, these 6000 commits made a 232 MB WAL. Past 20 000 pages (~80 MB) a
  // commit checkpoints the rest itself.
  std::uintmax_t largest = 0;
  for (std::uint64_t n = 1; n <= 6000; ++n) {
    ImageRecord record = MakeRecord("alice", n);
    record.description = std::string(1000, 'd');
    auto inserted = (*store)->Insert(record);
    ASSERT_TRUE(inserted) << inserted.error().detail;
    if (n % 100 == 0) largest = std::max(largest, fs::file_size(wal));
  }
  EXPECT_LE(largest, std::uintmax_t{100} << 20);
  EXPECT_EQ((*store)->Get("alice", MakeRecord("alice", 6000).id).value().description,
            std::string(1000, 'd'));
}

TEST_F(SqliteMetadataStoreTest, RefusesADatabaseFromANewerVersion) {
  { ASSERT_TRUE(SqliteMetadataStore::Open(db_file())); }
  ASSERT_TRUE(Raw().Exec("INSERT INTO schema_migrations (version, applied_ms) VALUES (999, 0)"));
  auto store = SqliteMetadataStore::Open(db_file());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().slug, "schema_too_new");
}

TEST_F(SqliteMetadataStoreTest, RefusesAFileThatIsNotADatabase) {
  fs::create_directories(db_file().parent_path());
  {
    std::FILE* file = std::fopen(db_file().c_str(), "wb");
    ASSERT_NE(file, nullptr);
    std::fputs("this is not an SQLite database, just text that is long enough to matter.........",
               file);
    std::fclose(file);
  }
  auto store = SqliteMetadataStore::Open(db_file());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kInternal);
  EXPECT_NE(store.error().detail, "");
}

TEST_F(SqliteMetadataStoreTest, ReadsDoNotWaitForAnotherConnectionsWrite) {
  auto store = SqliteMetadataStore::Open(db_file());
  ASSERT_TRUE(store) << store.error().detail;
  const ImageRecord record = MakeRecord("alice", 1);
  ASSERT_TRUE((*store)->Insert(record));

  // Another process holds the write lock in the middle of a slow transaction.
  sqlite::Db other = Raw();
  ASSERT_TRUE(other.Exec("PRAGMA busy_timeout = 0"));
  auto tx = sqlite::Transaction::Begin(other);
  ASSERT_TRUE(tx);
  ASSERT_TRUE(other.Exec("DELETE FROM images"));

  // Readers still see the last committed state, at once (not after busy_timeout).
  auto read = std::async(std::launch::async, [&] {
    return std::make_pair((*store)->Get("alice", record.id).has_value(),
                          (*store)->List("alice", Limit(10)).value().items.size());
  });
  ASSERT_EQ(read.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(read.get(), std::make_pair(true, std::size_t{1}));
  ASSERT_TRUE(tx->Commit());
  EXPECT_FALSE((*store)->Get("alice", record.id).has_value());
}

TEST_F(SqliteMetadataStoreTest, WorksWithASingleConnection) {
  auto store = SqliteMetadataStore::Open(db_file(), {.max_readers = 0});
  ASSERT_TRUE(store) << store.error().detail;
  ASSERT_TRUE((*store)->Insert(MakeRecord("alice", 1)));
  ASSERT_TRUE((*store)->Insert(MakeRecord("alice", 2)));
  auto page = (*store)->List("alice", Limit(1));
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, SequentialIds::Format(2));
  EXPECT_TRUE(page->next_before_id);
}

}  // namespace
}  // namespace imgup
