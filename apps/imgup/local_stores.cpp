#include "local_stores.hpp"

#include <cstdlib>
#include <iostream>
#include <system_error>

namespace imgup::app {

namespace fs = std::filesystem;

void Die(const std::string& message, int code) {
  std::cerr << "imgup: " << message << "\n";
  std::exit(code);
}

LocalStores OpenStores(const fs::path& data_dir, bool fsync, SignedUrls* urls) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) Die("cannot create data directory " + data_dir.string() + ": " + ec.message());
  auto blobs = FsBlobStore::Open(data_dir / "blobs", FsBlobStore::Options{fsync, urls});
  if (!blobs) Die(blobs.error().message + " " + blobs.error().detail);
  auto records = SqliteMetadataStore::Open(data_dir / "imgup.db");
  if (!records) Die(records.error().message + " " + records.error().detail);
  return LocalStores{std::move(*blobs), std::move(*records)};
}

FsckSummary RunLocalFsck(LocalStores& stores, bool repair, std::int64_t grace_ms) {
  SystemClock clock;
  const std::int64_t now = clock.NowMs();
  FsckSummary summary;
  if (repair) {
    auto removed = stores.blobs->RemoveTempFiles(now - grace_ms);
    if (!removed) Die("fsck: " + removed.error().message + " " + removed.error().detail);
    summary.temp_files_removed = *removed;
  }
  auto report = RunFsck(*stores.blobs, *stores.records, FsckOptions{repair, now, grace_ms});
  if (!report) Die("fsck: " + report.error().message + " " + report.error().detail);
  summary.report = std::move(*report);
  return summary;
}

nlohmann::json FsckJson(const FsckSummary& summary) {
  nlohmann::json missing = nlohmann::json::array();
  for (const RecordRef& ref : summary.report.records_without_blob) {
    missing.push_back({{"owner", ref.owner}, {"id", ref.id}, {"key", ref.key}});
  }
  return {{"clean", summary.report.Clean()},
          {"repaired", summary.report.repaired},
          {"orphan_blobs", summary.report.orphan_blobs},
          {"records_without_blob", missing},
          {"young_orphans_skipped", summary.report.young_orphans_skipped},
          {"temp_files_removed", summary.temp_files_removed}};
}

}  // namespace imgup::app
