#include "backend.hpp"

#include <sys/random.h>

#include <filesystem>
#include <system_error>

#include "aws_backend/aws_backend.hpp"
#ifndef IMGUP_LAMBDA_AWS_ONLY
#include "adapters/local/fs_blob_store.hpp"
#include "adapters/local/sqlite_metadata_store.hpp"
#endif

namespace imgup::lambda_api {

namespace {

namespace fs = std::filesystem;

#ifndef IMGUP_LAMBDA_AWS_ONLY
class LocalBackend final : public Backend {
 public:
  LocalBackend(std::unique_ptr<SignedUrls> urls, std::unique_ptr<FsBlobStore> blobs,
               std::unique_ptr<SqliteMetadataStore> records)
      : urls_(std::move(urls)), blobs_(std::move(blobs)), records_(std::move(records)) {}
  BlobStore& Blobs() override { return *blobs_; }
  MetadataStore& Records() override { return *records_; }
  ApiKeyStore& Keys() override { return *records_; }
  UploadTickets& Tickets() override { return *records_; }
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
#else
// The API function of the Lambda package (the `package` preset) is built without the local
// stores: SQLite would be 0.7 MB of its 5 MB zip, for storage that exists only to run the
// function on one machine (docs/adr/0012-packaging.md).
Result<std::unique_ptr<Backend>> OpenLocal(const fs::path& data_dir, Clock&) {
  return Fail(ErrorCode::kInvalidArgument, "invalid_config",
              "IMGUP_STORAGE=local is not in this build of the function",
              "built with S3 + DynamoDB only (the Lambda package); data directory " +
                  data_dir.string() + " not opened");
}
#endif

class AwsStorageBackend final : public Backend {
 public:
  explicit AwsStorageBackend(std::unique_ptr<app::AwsBackend> aws) : aws_(std::move(aws)) {}
  BlobStore& Blobs() override { return aws_->Blobs(); }
  MetadataStore& Records() override { return aws_->Records(); }
  ApiKeyStore& Keys() override { return aws_->Records(); }
  UploadTickets& Tickets() override { return aws_->Records(); }
  SignedUrls* Urls() override { return nullptr; }  // S3 signs its own

 private:
  std::unique_ptr<app::AwsBackend> aws_;
};

// No start-up check here (HeadBucket, DescribeTable), unlike `imgup serve`: it would put two
// round trips (and the first TLS handshake with its trust store, ADR 8) into every cold start,
// which is a user's request waiting; the bucket and table come from the same template as the
// function and its role; and an init error makes Lambda init again on each invocation, so a
// wrong setting would answer 502s either way. A store that does not answer shows in each
// request's log line (storage_error with S3's or DynamoDB's code).
Result<std::unique_ptr<Backend>> OpenAws(const Config& config, Clock& clock) {
  IMGUP_ASSIGN_OR_RETURN(auto backend,
                         app::OpenAwsBackend(app::AwsBackendConfigFromProcess(
                                                 config.bucket, config.table, config.cursor_secret),
                                             clock));
  return std::make_unique<AwsStorageBackend>(std::move(backend));
}

}  // namespace

Result<std::unique_ptr<Backend>> OpenBackend(const Config& config, Clock& clock) {
  switch (config.storage) {
    case Storage::kLocal:
      return OpenLocal(config.data_dir, clock);
    case Storage::kAws:
      break;
  }
  return OpenAws(config, clock);
}

}  // namespace imgup::lambda_api
