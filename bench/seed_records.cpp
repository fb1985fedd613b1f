// imgup_bench_seed DATA_DIR COUNT: fills an `imgup serve --data DATA_DIR` data directory with
// COUNT records of owner "local", written directly through the local adapters (not through the
// HTTP API), in the layout the server opens: DATA_DIR/imgup.db and DATA_DIR/blobs/.
//
// Each record gets a small blob of its own under originals/local/{id}: the server runs fsck at
// start-up and would delete records whose original is missing.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "adapters/local/fs_blob_store.hpp"
#include "adapters/local/sqlite_metadata_store.hpp"
#include "bench_support.hpp"
#include "domain/ulid.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DATA_DIR COUNT\n", argv[0]);
    return 2;
  }
  const std::filesystem::path data_dir = argv[1];
  const auto count = static_cast<std::size_t>(std::strtoull(argv[2], nullptr, 10));

  auto blobs = imgup::FsBlobStore::Open(data_dir / "blobs", imgup::FsBlobStore::Options{});
  if (!blobs) {
    std::fprintf(stderr, "seed: %s %s\n", blobs.error().message.c_str(),
                 blobs.error().detail.c_str());
    return 1;
  }
  auto records = imgup::SqliteMetadataStore::Open(data_dir / "imgup.db");
  if (!records) {
    std::fprintf(stderr, "seed: %s %s\n", records.error().message.c_str(),
                 records.error().detail.c_str());
    return 1;
  }

  imgup::UlidGenerator ids;
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t first_ms = imgup::bench::NowMs() - static_cast<std::int64_t>(count) * 1000;
  for (std::size_t i = 0; i < count; ++i) {
    const std::int64_t ms = first_ms + static_cast<std::int64_t>(i) * 1000;
    const imgup::ImageRecord record = imgup::bench::SeedRecord(i, ids.NewId(ms), ms, "local");
    if (auto put = (*blobs)->Put(record.key, imgup::bench::SeedBlobBytes(i), "image/jpeg"); !put) {
      std::fprintf(stderr, "seed: put %s: %s %s\n", record.key.c_str(), put.error().message.c_str(),
                   put.error().detail.c_str());
      return 1;
    }
    if (auto inserted = (*records)->Insert(record); !inserted) {
      std::fprintf(stderr, "seed: insert %s: %s %s\n", record.id.c_str(),
                   inserted.error().message.c_str(), inserted.error().detail.c_str());
      return 1;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "seed: %zu records (blob + record each) in %.1f s\n", count, seconds);
  return 0;
}
