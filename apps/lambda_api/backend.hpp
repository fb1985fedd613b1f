#pragma once
// The stores the API function runs on, chosen by the configuration: S3 and DynamoDB
// (apps/aws_backend, the same composition as `imgup serve --storage aws`), or the local folder
// and SQLite for running under the emulator; nothing else in the function names a store.
#include <memory>

#include "base/error.hpp"
#include "config.hpp"
#include "domain/ports/api_key_store.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/metadata_store.hpp"
#include "domain/ports/upload_tickets.hpp"
#include "domain/signed_urls.hpp"

namespace imgup::lambda_api {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BlobStore& Blobs() = 0;
  virtual MetadataStore& Records() = 0;
  virtual ApiKeyStore& Keys() = 0;
  /// The presigned uploads' tickets (POST /uploads; the processor commits their bytes).
  virtual UploadTickets& Tickets() = 0;
  /// What signs the blob store's presigned URLs when the store has no URLs of its own (the
  /// local folder): the function then answers them itself (api/blob_routes). Null when the
  /// store signs its own (S3).
  virtual SignedUrls* Urls() = 0;
};

/// The backend `config` names, opened (`clock` is not owned and must outlive it); for aws, from
/// the AWS variables of the process environment, with no network call (credentials are resolved
/// at the first request). Errors: the stores' own (a data directory that cannot be made, a
/// database that does not open), kInvalidArgument "invalid_config" for an AWS configuration
/// that cannot work (no region, a bad endpoint URL).
Result<std::unique_ptr<Backend>> OpenBackend(const Config& config, Clock& clock);

}  // namespace imgup::lambda_api
