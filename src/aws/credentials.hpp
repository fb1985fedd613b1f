#pragma once
// Where AWS credentials come from, in the AWS CLI's order: the environment (how Lambda hands them
// over), the shared credentials and config files (a profile), container credentials (ECS, EKS
// Pod Identity), and the EC2 instance metadata service (IMDSv2 only). Each source is a plain
// function; the few HTTP calls and file reads go through CredentialsTransport, so that
// resolution is testable without a network, and CachingCredentialsProvider refreshes temporary
// credentials before they expire.
//
// Not here (yet): assume-role profiles, web identity (STS), SSO and credential_process.
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/config_file.hpp"
#include "aws/sigv4.hpp"
#include "base/error.hpp"

namespace imgup::aws {

struct SourcedCredentials {
  Credentials credentials;
  /// When temporary credentials stop working; nullopt for long-term keys.
  std::optional<std::chrono::sys_seconds> expires_at;
  std::string source;  // "environment", "profile dev", "container", "imds role web"
};

/// The network and file access the credential sources need.
class CredentialsTransport {
 public:
  struct Call {
    std::string method;  // "GET" or "PUT"
    std::string url;     // "http://169.254.169.254/latest/api/token"
    std::vector<HttpHeader> headers;
    std::chrono::milliseconds timeout{1000};
  };
  struct Reply {
    int status = 0;
    std::string body;
  };

  virtual ~CredentialsTransport() = default;
  /// Sends one request. kUnavailable when nothing answers (refused, unreachable, timed out);
  /// any HTTP status is a Reply.
  virtual Result<Reply> Send(const Call& call) = 0;
  /// The contents of a file, nullopt when it cannot be read.
  virtual std::optional<std::string> ReadFile(const std::string& path) = 0;
};

/// "2015-08-30T12:36:00Z" (RFC 3339 in UTC, optional fraction, "Z" or "+00:00"): the
/// Expiration of container and IMDS credentials.
std::optional<std::chrono::sys_seconds> ParseAwsTimestamp(std::string_view text);

/// AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN, or the older
/// AWS_SECURITY_TOKEN). nullopt when neither key is set; kInvalidArgument
/// "aws_partial_credentials" when only one is.
Result<std::optional<SourcedCredentials>> CredentialsFromEnvironment(const Environment& env);

/// aws_access_key_id + aws_secret_access_key (+ aws_session_token) of the profile. nullopt when
/// the profile holds no keys; "aws_partial_credentials" when it holds one of the two.
Result<std::optional<SourcedCredentials>> CredentialsFromProfile(const Profile& profile);

/// The container credentials endpoint, from AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (appended to
/// http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI (https anywhere; plain http only
/// to a loopback address or the ECS and EKS link-local hosts), with the authorization token from
/// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read on every fetch: it rotates) or
/// AWS_CONTAINER_AUTHORIZATION_TOKEN.
struct ContainerEndpoint {
  std::string url;
  std::string authorization_token;
  std::string authorization_token_file;
};
/// nullopt when neither variable is set; kInvalidArgument "aws_container_uri" for a full URI
/// imgup must not send credentials requests to.
Result<std::optional<ContainerEndpoint>> ContainerEndpointFromEnvironment(const Environment& env);

/// The JSON document of the container endpoint and of IMDS: AccessKeyId, SecretAccessKey, Token,
/// Expiration (and for IMDS "Code": "Success"). kUnavailable "aws_credentials_document" when it
/// is not such a document.
Result<SourcedCredentials> ParseCredentialsDocument(std::string_view json, std::string source);

/// Fetches container credentials (one GET with the Authorization header).
Result<SourcedCredentials> FetchContainerCredentials(const ContainerEndpoint& endpoint,
                                                     CredentialsTransport& transport);

/// IMDS as the AWS CLI finds it: AWS_EC2_METADATA_DISABLED=true turns it off (nullopt);
/// AWS_EC2_METADATA_SERVICE_ENDPOINT, else AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE (IPv4 or
/// IPv6), else http://169.254.169.254; AWS_METADATA_SERVICE_TIMEOUT (seconds, default 1) and
/// AWS_METADATA_SERVICE_NUM_ATTEMPTS (default 1).
struct ImdsSettings {
  std::string endpoint;  // without a trailing '/'
  std::chrono::milliseconds timeout{1000};
  int attempts = 1;
};
Result<std::optional<ImdsSettings>> ImdsSettingsFromEnvironment(const Environment& env);

/// The IMDSv2 exchange: PUT /latest/api/token (x-aws-ec2-metadata-token-ttl-seconds), then with
/// the token GET /latest/meta-data/iam/security-credentials/ (the role), then that role's
/// document. kUnavailable "aws_imds" naming the step that failed.
Result<SourcedCredentials> FetchImdsCredentials(const ImdsSettings& settings,
                                                CredentialsTransport& transport);

/// The whole chain: environment, profile, container, IMDS. kUnauthenticated
/// "aws_no_credentials" when no source has any; a source that is configured but fails (a bad
/// profile, a container endpoint that does not answer) is that source's error.
Result<SourcedCredentials> ResolveCredentials(const Environment& env, const SharedFiles& files,
                                              CredentialsTransport& transport);

/// Keeps the last credentials and asks `resolve` for new ones when they are within
/// `refresh_before` of their expiry (default 5 minutes, as the AWS SDKs), so that no request is
/// signed with credentials about to lapse. When a refresh fails, credentials still valid for
/// `still_usable` (1 minute) are used; else the refresh's error is returned. Thread-safe.
class CachingCredentialsProvider {
 public:
  using Resolver = std::function<Result<SourcedCredentials>()>;

  explicit CachingCredentialsProvider(Resolver resolve,
                                      std::chrono::seconds refresh_before = std::chrono::minutes{5},
                                      std::chrono::seconds still_usable = std::chrono::minutes{1});

  /// The credentials to sign with at `now`.
  Result<SourcedCredentials> Get(std::chrono::sys_seconds now);

 private:
  Resolver resolve_;
  std::chrono::seconds refresh_before_;
  std::chrono::seconds still_usable_;
  std::mutex mutex_;
  std::optional<SourcedCredentials> cached_;
};

}  // namespace imgup::aws
