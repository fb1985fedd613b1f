#pragma once
// The stores the API function runs on, chosen by the configuration. The S3 and DynamoDB
// adapters (issue C) plug in here as another Backend; nothing else in the function names a
// concrete store.
#include <memory>

#include "base/error.hpp"
#include "config.hpp"
#include "domain/ports/api_key_store.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/metadata_store.hpp"
#include "domain/signed_urls.hpp"

namespace imgup::lambda_api {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BlobStore& Blobs() = 0;
  virtual MetadataStore& Records() = 0;
  virtual ApiKeyStore& Keys() = 0;
  /// What signs the blob store's presigned URLs when the store has no URLs of its own (the
  /// local folder): the function then answers them itself (api/blob_routes). Null when the
  /// store signs its own (S3).
  virtual SignedUrls* Urls() = 0;
};

/// The backend `config` names, opened (`clock` is not owned and must outlive it). Errors: the
/// stores' own (a data directory that cannot be made, a database that does not open), and
/// kUnavailable "storage_not_built" for storage this binary does not carry yet.
Result<std::unique_ptr<Backend>> OpenBackend(const Config& config, Clock& clock);

}  // namespace imgup::lambda_api
