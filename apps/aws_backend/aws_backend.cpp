#include "aws_backend.hpp"

#include <sys/random.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

extern char** environ;

namespace imgup::app {

namespace {

tl::unexpected<Error> Invalid(std::string message, std::string detail = {}) {
  return Fail(ErrorCode::kInvalidArgument, "invalid_config", std::move(message), std::move(detail));
}

std::chrono::sys_seconds NowSeconds() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

/// The container and IMDS credential sources' calls, over a client of their own with short
/// timeouts (IMDS off EC2 must not hold up a start by the data calls' 30 s). Made at the first
/// call: most runs (environment keys, a profile) never make one.
class HttpCredentialsTransport final : public aws::CredentialsTransport {
 public:
  Result<Reply> Send(const Call& call) override {
    std::call_once(made_, [this, &call] {
      aws::HttpClientOptions options;
      options.connect_timeout = call.timeout;
      options.request_timeout = call.timeout;
      options.max_idle_per_host = 1;
      http_ = aws::MakeHttpClient(options);
    });
    IMGUP_ASSIGN_OR_RETURN(const aws::HttpResponse response,
                           http_->Send(aws::HttpRequest{call.method, call.url, call.headers, {}}));
    return Reply{response.status, response.body};
  }

  std::optional<std::string> ReadFile(const std::string& path) override {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::once_flag made_;
  std::unique_ptr<aws::HttpClient> http_;
};

std::optional<std::string> ReadText(const std::string& path) {
  if (path.empty()) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Join(const Error& error) {
  if (error.detail.empty()) return error.message;
  return error.message + " (" + error.detail + ")";
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

/// Whether an error's detail is the HTTP client's for a request that got no answer at all.
bool IsTransportFailure(std::string_view detail) {
  std::string lower(detail);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view sign : {"connect", "refused", "unreachable", "timed out", "timeout",
                                "resolve", "tls", "handshake", "end of stream", "reset"}) {
    if (Contains(lower, sign)) return true;
  }
  return false;
}

/// DynamoDB's codes for a request whose credentials it does not accept.
bool IsCredentialsCode(std::string_view code) {
  return code == "UnrecognizedClientException" || code == "InvalidSignatureException" ||
         code == "MissingAuthenticationTokenException" || code == "ExpiredTokenException" ||
         code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" ||
         code == "IncompleteSignature";
}

tl::unexpected<Error> CheckFailed(std::string slug, std::string message, std::string detail) {
  return Fail(ErrorCode::kUnavailable, std::move(slug), std::move(message), std::move(detail));
}

}  // namespace

AwsBackend::~AwsBackend() = default;

aws::Environment ProcessEnvironment() {
  aws::Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

AwsBackendConfig AwsBackendConfigFromProcess(std::string bucket, std::string table,
                                             std::string cursor_secret) {
  AwsBackendConfig config;
  config.bucket = std::move(bucket);
  config.table = std::move(table);
  config.cursor_secret = std::move(cursor_secret);
  config.env = ProcessEnvironment();
  config.files = ReadSharedFiles(config.env);
  return config;
}

aws::SharedFiles ReadSharedFiles(const aws::Environment& env) {
  return aws::SharedFiles{ReadText(aws::ConfigFilePath(env)),
                          ReadText(aws::CredentialsFilePath(env))};
}

Result<std::unique_ptr<AwsBackend>> OpenAwsBackend(AwsBackendConfig config, Clock& clock) {
  if (config.bucket.empty()) return Invalid("no S3 bucket: pass --bucket or set IMGUP_BUCKET");
  if (config.table.empty()) {
    return Invalid("no DynamoDB table: pass --table or set IMGUP_TABLE");
  }
  std::unique_ptr<AwsBackend> backend(new AwsBackend());
  AwsBackendDescription& description = backend->description_;
  description.bucket = config.bucket;
  description.table = config.table;
  if (config.cursor_secret.empty()) {
    // The kernel's randomness rather than OpenSSL's: nothing else needs OpenSSL's generator
    // before the first request (the Lambda function's init).
    config.cursor_secret.assign(32, '\0');
    if (getrandom(config.cursor_secret.data(), config.cursor_secret.size(), 0) !=
        static_cast<ssize_t>(config.cursor_secret.size())) {
      return Fail(ErrorCode::kInternal, "no_randomness", "no randomness for the cursor secret");
    }
    description.cursor_secret_random = true;
  } else if (config.cursor_secret.size() < kMinCursorSecretBytes) {
    return Invalid("IMGUP_CURSOR_SECRET must be at least 16 bytes long");
  }

  auto profile = aws::LoadProfile(config.files, aws::ChooseProfile(config.env));
  if (!profile) return Invalid("the AWS config files: " + profile.error().message);
  const auto region = aws::ResolveRegion(config.env, *profile);
  if (!region || region->empty()) {
    return Invalid("no AWS region: set AWS_REGION (or a region in the AWS profile)");
  }
  description.region = *region;
  auto s3_endpoint = aws::ResolveEndpoint(aws::AwsService::kS3, config.env, *profile, *region);
  if (!s3_endpoint) return Invalid("the S3 endpoint: " + Join(s3_endpoint.error()));
  auto dynamo_endpoint =
      aws::ResolveEndpoint(aws::AwsService::kDynamoDb, config.env, *profile, *region);
  if (!dynamo_endpoint) return Invalid("the DynamoDB endpoint: " + Join(dynamo_endpoint.error()));
  description.s3_endpoint = s3_endpoint->Url();
  description.dynamodb_endpoint = dynamo_endpoint->Url();

  // Credentials are looked up at the first signed request and refreshed before they expire.
  backend->credentials_transport_ = std::make_unique<HttpCredentialsTransport>();
  backend->credentials_ = std::make_unique<aws::CachingCredentialsProvider>(
      [env = config.env, files = config.files, transport = backend->credentials_transport_.get()] {
        return aws::ResolveCredentials(env, files, *transport);
      });
  aws::AwsCaller::CredentialsSource credentials =
      [provider = backend->credentials_.get()]() -> Result<aws::Credentials> {
    IMGUP_ASSIGN_OR_RETURN(aws::SourcedCredentials sourced, provider->Get(NowSeconds()));
    return std::move(sourced.credentials);
  };

  backend->http_ = aws::MakeHttpClient();
  backend->dynamo_caller_ = std::make_unique<aws::AwsCaller>(*backend->http_, credentials);
  backend->dynamo_ = std::make_unique<aws::DynamoClient>(
      *backend->dynamo_caller_,
      aws::ServiceEndpoint{description.dynamodb_endpoint, *region, "dynamodb"});

  S3BlobStoreConfig s3;
  s3.endpoint = description.s3_endpoint;
  s3.region = *region;
  s3.bucket = config.bucket;
  s3.addressing = aws::S3AddressingFromProfile(*profile);
  auto blobs = S3BlobStore::Make(std::move(s3), *backend->http_, credentials, clock);
  if (!blobs) return Invalid("the S3 bucket: " + Join(blobs.error()));
  backend->blobs_ = std::move(*blobs);

  auto records = DynamoMetadataStore::Make(
      *backend->dynamo_,
      {.table = config.table, .token_secret = config.cursor_secret, .max_transaction_attempts = 5});
  if (!records) return Invalid("the DynamoDB table: " + Join(records.error()));
  backend->records_ = std::move(*records);
  return backend;
}

Result<void> AwsBackend::CheckCredentials() {
  auto found = credentials_->Get(NowSeconds());
  if (!found) {
    return Fail(ErrorCode::kUnauthenticated, "aws_no_credentials",
                "no AWS credentials: " + Join(found.error()) +
                    ". Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE");
  }
  return {};
}

Result<void> AwsBackend::Check() {
  IMGUP_RETURN_IF_ERROR(CheckCredentials());
  const AwsBackendDescription& d = description_;

  if (auto bucket = blobs_->CheckBucket(); !bucket) {
    const std::string& detail = bucket.error().detail;
    const std::string where = "S3 bucket '" + d.bucket + "' at " + d.s3_endpoint;
    if (Contains(detail, ": 404")) {
      return CheckFailed("aws_bucket_missing",
                         where + ": no such bucket (create it with `imgup init-aws`)", detail);
    }
    if (Contains(detail, ": 403")) {
      return CheckFailed("aws_credentials_refused",
                         where +
                             ": access denied — wrong credentials (AWS_ACCESS_KEY_ID / "
                             "AWS_SECRET_ACCESS_KEY) or a policy that refuses s3:ListBucket",
                         detail);
    }
    if (Contains(detail, ": 301") || Contains(detail, ": 400")) {
      return CheckFailed("aws_wrong_region",
                         where + ": the bucket is in another region than " + d.region, detail);
    }
    if (IsTransportFailure(detail)) {
      return CheckFailed("aws_no_route",
                         where +
                             ": nothing answers at the S3 endpoint (no route, refused or "
                             "timed out)",
                         detail);
    }
    return CheckFailed("aws_bucket_unusable", where + ": " + Join(bucket.error()), detail);
  }

  auto table = dynamo_->DescribeTable(d.table);
  const std::string where = "DynamoDB table '" + d.table + "' at " + d.dynamodb_endpoint;
  if (!table) {
    const aws::DynamoError& error = table.error();
    const std::string detail = Join(error.error);
    if (error.aws.status == 0) {
      return CheckFailed("aws_no_route",
                         where +
                             ": nothing answers at the DynamoDB endpoint (no route, refused "
                             "or timed out)",
                         detail);
    }
    if (error.aws.code == "ResourceNotFoundException") {
      return CheckFailed("aws_table_missing",
                         where + ": no such table (create it with `imgup init-aws`)", detail);
    }
    if (IsCredentialsCode(error.aws.code) || error.aws.code == "AccessDeniedException" ||
        error.aws.status == 403) {
      return CheckFailed("aws_credentials_refused",
                         where +
                             ": access denied — wrong credentials or a policy that refuses "
                             "dynamodb:DescribeTable (" +
                             error.aws.code + ")",
                         detail);
    }
    return CheckFailed("aws_table_unusable", where + ": " + error.aws.code, detail);
  }
  if (table->status != "ACTIVE" || !table->indexes_active) {
    return CheckFailed(
        "aws_table_not_active",
        where + ": the table or one of its indexes is not ACTIVE yet (" + table->status + ")", {});
  }
  return {};
}

Result<std::vector<std::string>> AwsBackend::Init() {
  IMGUP_RETURN_IF_ERROR(CheckCredentials());
  const AwsBackendDescription& d = description_;
  std::vector<std::string> done;

  if (blobs_->CheckBucket()) {
    done.push_back("bucket " + d.bucket + " exists");
  } else {
    if (auto created = blobs_->CreateBucket(); !created) {
      return Fail(created.error().code, "aws_create_bucket",
                  "creating S3 bucket '" + d.bucket + "' at " + d.s3_endpoint + " failed",
                  created.error().detail);
    }
    done.push_back("created bucket " + d.bucket);
  }

  const aws::TableSpec spec = DynamoMetadataStore::TableSpec(d.table);
  auto described = dynamo_->DescribeTable(d.table);
  if (described) {
    done.push_back("table " + d.table + " exists");
  } else if (described.error().aws.code == "ResourceNotFoundException") {
    if (auto created = dynamo_->CreateTable(spec); !created) {
      // Another init-aws may have made it in between.
      if (created.error().aws.code != "ResourceInUseException") {
        return Fail(
            created.error().error.code, "aws_create_table",
            "creating DynamoDB table '" + d.table + "' at " + d.dynamodb_endpoint + " failed",
            created.error().error.detail);
      }
    }
    std::string indexes;
    for (const aws::GlobalSecondaryIndex& index : spec.indexes) {
      indexes += (indexes.empty() ? "" : ", ") + index.name;
    }
    done.push_back("created table " + d.table + " (GSIs " + indexes + ")");
  } else {
    return Fail(described.error().error.code, "aws_describe_table",
                "DynamoDB table '" + d.table + "' at " + d.dynamodb_endpoint + ": " +
                    described.error().aws.code,
                described.error().error.detail);
  }
  if (auto active = dynamo_->WaitForActive(d.table, std::chrono::seconds(60)); !active) {
    return Fail(active.error().error.code, "aws_table_not_active",
                "DynamoDB table '" + d.table + "' did not become ACTIVE",
                active.error().error.detail);
  }
  if (!spec.ttl_attribute.empty()) {
    auto ttl = dynamo_->EnableTimeToLive(d.table, spec.ttl_attribute);
    // DynamoDB refuses to enable TTL twice ("TimeToLive is already enabled").
    if (!ttl && !(ttl.error().aws.code == "ValidationException" &&
                  Contains(ttl.error().aws.message, "already enabled"))) {
      return Fail(ttl.error().error.code, "aws_enable_ttl",
                  "enabling TTL on '" + spec.ttl_attribute + "' of table '" + d.table + "' failed",
                  ttl.error().error.detail);
    }
    done.push_back("TTL on " + spec.ttl_attribute);
  }
  return done;
}

}  // namespace imgup::app
