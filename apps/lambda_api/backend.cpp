#include "backend.hpp"

#include <sys/random.h>

#include <filesystem>
#include <system_error>

#include "adapters/local/fs_blob_store.hpp"
#include "adapters/local/sqlite_metadata_store.hpp"

namespace imgup::lambda_api {

namespace {

namespace fs = std::filesystem;

class LocalBackend final : public Backend {
 public:
  LocalBackend(std::unique_ptr<SignedUrls> urls, std::unique_ptr<FsBlobStore> blobs,
               std::unique_ptr<SqliteMetadataStore> records)
      : urls_(std::move(urls)), blobs_(std::move(blobs)), records_(std::move(records)) {}
  BlobStore& Blobs() override { return *blobs_; }
  MetadataStore& Records() override { return *records_; }
  ApiKeyStore& Keys() override { return *records_; }
  SignedUrls* Urls() override { return urls_.get(); }

 private:
  std::unique_ptr<SignedUrls> urls_;
  std::unique_ptr<FsBlobStore> blobs_;
  std::unique_ptr<SqliteMetadataStore> records_;
};

Result<std::unique_ptr<Backend>> OpenLocal(const fs::path& data_dir, Clock& clock) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) {
    return Fail(ErrorCode::kUnavailable, "storage_unavailable",
                "cannot create the data directory " + data_dir.string(), ec.message());
  }
  // The presigned URLs are good for this process only, as with `imgup serve`. The kernel's
  // randomness rather than OpenSSL's: initialising OpenSSL (reading its configuration) would
  // add to every cold start, and nothing else needs it before the first request.
  std::string secret(32, '\0');
  if (getrandom(secret.data(), secret.size(), 0) != static_cast<ssize_t>(secret.size())) {
    return Fail(ErrorCode::kInternal, "no_randomness", "no randomness for signing URLs");
  }
  auto urls = std::make_unique<SignedUrls>(std::move(secret), clock);
  // No fsync: this storage is for running the function on one machine (under the emulator);
  // on Lambda itself a folder lives as long as one instance.
  IMGUP_ASSIGN_OR_RETURN(
      auto blobs, FsBlobStore::Open(data_dir / "blobs", FsBlobStore::Options{false, urls.get()}));
  IMGUP_ASSIGN_OR_RETURN(auto records, SqliteMetadataStore::Open(data_dir / "imgup.db"));
  return std::make_unique<LocalBackend>(std::move(urls), std::move(blobs), std::move(records));
}

}  // namespace

Result<std::unique_ptr<Backend>> OpenBackend(const Config& config, Clock& clock) {
  switch (config.storage) {
    case Storage::kLocal:
      return OpenLocal(config.data_dir, clock);
    case Storage::kAws:
      break;
  }
  return Fail(ErrorCode::kUnavailable, "storage_not_built",
              "IMGUP_STORAGE=aws: this build does not carry the S3 and DynamoDB stores yet; set "
              "IMGUP_STORAGE=local and IMGUP_DATA_DIR to run on a folder and SQLite");
}

}  // namespace imgup::lambda_api
