#pragma once
// The AWS backend of both entry points (`imgup serve --storage aws`, `imgup init-aws` and the
// Lambda API function): S3BlobStore and DynamoMetadataStore opened from the configuration the
// AWS CLI would use (region, endpoints, the credentials chain) plus the bucket, the table and the
// cursor secret. A composition root's helper: it names concrete adapters, so it lives in apps/.
//
// Opening makes no network call and loads no TLS trust store (the Lambda function's init must
// stay fast, ADR 8): credentials are resolved at the first signed request, and the checks that
// the bucket and table answer are a separate call (Check) for the entry points that want them.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/aws/dynamo_metadata_store.hpp"
#include "adapters/aws/s3_blob_store.hpp"
#include "aws/config_file.hpp"
#include "aws/credentials.hpp"
#include "aws/dynamo_client.hpp"
#include "aws/http_client.hpp"
#include "base/error.hpp"
#include "domain/ports/clock.hpp"

namespace imgup::app {

/// Continuation-token secrets shorter than this are refused (DynamoMetadataStore's minimum).
inline constexpr std::size_t kMinCursorSecretBytes = 16;

struct AwsBackendConfig {
  std::string bucket;  // --bucket / IMGUP_BUCKET
  std::string table;   // --table / IMGUP_TABLE
  /// Seals DynamoDB continuation tokens (IMGUP_CURSOR_SECRET; docs/dynamodb.md). Empty: a random
  /// secret for this process (`cursor_secret_random` says so) — fine while no token leaves the
  /// process that made it (today: fsck's and the near-duplicate search's walks), wrong as soon
  /// as one is handed to a client that may come back to another instance.
  std::string cursor_secret;
  /// The process environment (AWS_REGION, AWS_ENDPOINT_URL*, AWS_ACCESS_KEY_ID, AWS_PROFILE...).
  aws::Environment env;
  /// ~/.aws/config and ~/.aws/credentials (or where AWS_CONFIG_FILE and
  /// AWS_SHARED_CREDENTIALS_FILE say), as read by ReadSharedFiles.
  aws::SharedFiles files;
};

/// What OpenAwsBackend resolved, for the start-up line and for error messages.
struct AwsBackendDescription {
  std::string region;
  std::string s3_endpoint;
  std::string dynamodb_endpoint;
  std::string bucket;
  std::string table;
  bool cursor_secret_random = false;
};

/// The stores and everything they call through (HTTP client, credentials, DynamoDB client).
class AwsBackend {
 public:
  ~AwsBackend();
  AwsBackend(const AwsBackend&) = delete;
  AwsBackend& operator=(const AwsBackend&) = delete;

  S3BlobStore& Blobs() { return *blobs_; }
  DynamoMetadataStore& Records() { return *records_; }
  aws::DynamoClient& Dynamo() { return *dynamo_; }
  const AwsBackendDescription& Description() const { return description_; }

  /// The start-up check: credentials are found, the bucket answers (HeadBucket) and the table
  /// exists and is ACTIVE (DescribeTable). The error's message names what failed — no
  /// credentials, credentials refused, the bucket missing, the table missing, nothing answering
  /// at an endpoint — with the endpoint, the bucket or the table in it.
  Result<void> Check();

  /// `imgup init-aws`: creates the bucket and the table (keys, GSIs, TTL; docs/dynamodb.md), or
  /// finds them there. Returns one line per resource: "created ..." or "... exists".
  Result<std::vector<std::string>> Init();

 private:
  friend Result<std::unique_ptr<AwsBackend>> OpenAwsBackend(AwsBackendConfig config, Clock& clock);
  AwsBackend() = default;
  Result<void> CheckCredentials();

  AwsBackendDescription description_;
  std::unique_ptr<aws::CredentialsTransport> credentials_transport_;
  std::unique_ptr<aws::CachingCredentialsProvider> credentials_;
  std::unique_ptr<aws::HttpClient> http_;
  std::unique_ptr<aws::AwsCaller> dynamo_caller_;
  std::unique_ptr<aws::DynamoClient> dynamo_;
  std::unique_ptr<S3BlobStore> blobs_;
  std::unique_ptr<DynamoMetadataStore> records_;
};

/// Opens the backend `config` describes (`clock`, not owned, outlives it). Makes no request.
/// Errors: kInvalidArgument "invalid_config" naming what is missing or wrong (no bucket, no
/// table, no region, a bad endpoint URL, a short cursor secret, an unreadable profile).
Result<std::unique_ptr<AwsBackend>> OpenAwsBackend(AwsBackendConfig config, Clock& clock);

/// The configuration of a command or function: the bucket, table and cursor secret it was given,
/// the AWS settings of the process environment and of the shared files that environment names.
AwsBackendConfig AwsBackendConfigFromProcess(std::string bucket, std::string table,
                                             std::string cursor_secret);

/// The process environment as a value (only composition roots read it).
aws::Environment ProcessEnvironment();

/// The shared config and credentials files where `env` says they are; missing files are none.
aws::SharedFiles ReadSharedFiles(const aws::Environment& env);

}  // namespace imgup::app
