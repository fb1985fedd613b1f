#pragma once
// What the commands that work on a data directory share: the local stores under it, the system
// clock, fsck with its JSON report, and ending the process with a message.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "adapters/local/fs_blob_store.hpp"
#include "adapters/local/sqlite_metadata_store.hpp"
#include "domain/ports/clock.hpp"
#include "services/fsck.hpp"

namespace imgup::app {

/// The local stores under one data directory: DIR/imgup.db and DIR/blobs/.
struct LocalStores {
  std::unique_ptr<FsBlobStore> blobs;
  std::unique_ptr<SqliteMetadataStore> records;
};

/// Prints "imgup: MESSAGE" on stderr and exits with `code`.
[[noreturn]] void Die(const std::string& message, int code = 1);

/// DIR/imgup.db and DIR/blobs/, made when missing; dies when they cannot be opened. `urls`
/// (not owned) signs the blob store's presigned URLs; none when null.
LocalStores OpenStores(const std::filesystem::path& data_dir, bool fsync,
                       SignedUrls* urls = nullptr);

struct FsckSummary {
  FsckReport report;
  std::size_t temp_files_removed = 0;
};

/// Removes temp files older than `grace_ms` (when repairing) and runs fsck on the stores.
FsckSummary RunLocalFsck(LocalStores& stores, bool repair, std::int64_t grace_ms);
nlohmann::json FsckJson(const FsckSummary& summary);

}  // namespace imgup::app
