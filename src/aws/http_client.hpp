#pragma once
// The HTTP side of imgup's AWS client: one exchange with an endpoint (HttpClient), and one call
// to an AWS service — signed, sent, retried on throttling and transient failures, its error body
// parsed (AwsCaller). The S3 and DynamoDB adapters are written against these two.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/sigv4.hpp"
#include "base/error.hpp"

namespace imgup::aws {

struct HttpRequest {
  std::string method;
  /// "http(s)://host[:port]/path?query", the path and query percent-encoded as they are sent.
  std::string url;
  /// Content-Length, Connection and Transfer-Encoding are the client's (any given are dropped);
  /// Host is taken from here when given (AwsCaller passes the one it signed), else from `url`.
  std::vector<HttpHeader> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::vector<HttpHeader> headers;  // names lower-cased
  std::string body;
  /// The first header named `lower_name`, or "" when absent.
  std::string_view Header(std::string_view lower_name) const;
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds request_timeout{30000};  // the whole exchange, once connected
  std::size_t max_idle_per_host = 16;                // kept-alive connections kept for reuse
  std::chrono::milliseconds max_idle_time{50000};    // an idle connection older is not reused
  std::uint64_t max_response_body = 1ull << 30;      // larger: kInternal "response_too_large"
  bool verify_tls = true;                            // certificate and host name (SNI)
  /// "": the system's trust store (OpenSSL's default paths; SSL_CERT_FILE and SSL_CERT_DIR
  /// override them). Loaded at the first TLS connection, not when the client is made (ADR 8).
  std::string ca_file;
};

/// One HTTP/1.1 exchange at a time per connection; thread-safe; reuses kept-alive connections
/// per (scheme, host, port). No retries here, but for one: a request on a kept-alive connection
/// that the server had closed while it sat idle is sent once more on a fresh connection when
/// nothing of it reached the server or its method is idempotent (GET, HEAD, PUT, DELETE, ...).
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  /// Errors: kUnavailable with slug "connection_failed", "timeout" or "tls_error" (transient:
  /// AwsCaller retries them), "tls_certificate" (the certificate is not trusted or names another
  /// host; the trust store does not load) or "host_not_found" (the name does not exist): these
  /// two cannot heal and are not retried; kInvalidArgument "bad_url" (or a bad method),
  /// "bad_header" (a header name that is not a token, a value with CR or LF); kInternal
  /// "response_too_large".
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

std::unique_ptr<HttpClient> MakeHttpClient(HttpClientOptions options = {});

/// An AWS error answer, parsed from S3's XML (<Error><Code>, <Message>, <RequestId>) or
/// DynamoDB's JSON ({"__type": "com.amazonaws...#Code", "message"/"Message"}), with the
/// x-amz-request-id / x-amzn-RequestId header as the request id.
struct AwsError {
  int status = 0;
  std::string code;  // "NoSuchKey", "ConditionalCheckFailedException", ...
  std::string message;
  std::string request_id;
};
AwsError ParseAwsError(const HttpResponse& response);

/// Whether trying again may succeed: 5xx, 429, and the throttling codes (SlowDown, Throttling,
/// ThrottlingException, ProvisionedThroughputExceededException, RequestLimitExceeded, ...).
bool IsRetryable(const AwsError& error);

/// Whether a failed Send may succeed if tried again: kUnavailable, except an untrusted
/// certificate and a host name that does not exist.
bool IsTransientTransportError(const Error& error);

/// An answer's Retry-After in seconds (delta-seconds; an HTTP-date is not read).
std::optional<std::chrono::seconds> RetryAfter(const HttpResponse& response);

/// What an answer refusing the credentials means, in words for whoever configures them (a wrong
/// secret, an unknown key id, an expired token, a call the policy denies); "" for other errors.
std::string CredentialsRefusal(const AwsError& error);

/// Whether the service refused the request because its signing time is too far from the
/// service's clock (S3's RequestTimeTooSkewed, DynamoDB's "Signature expired").
bool IsClockSkew(const AwsError& error);

/// AwsCaller tries a call again on a transient transport failure or a retryable answer
/// (IsRetryable), waiting full jitter over the capped exponential backoff, or the answer's
/// Retry-After when it says longer; it stops at `max_attempts` or when the next attempt would
/// start past `max_total` (a Retry-After beyond that ends the call at once).
struct RetryPolicy {
  int max_attempts = 5;                // the first try included
  std::chrono::milliseconds base{25};  // backoff: full jitter over min(cap, base * 2^n)
  std::chrono::milliseconds cap{2000};
  std::chrono::milliseconds max_total{10000};  // no new attempt would start past this
};

/// Where and as what to sign: e.g. {"http://127.0.0.1:7070", "us-east-1", "s3"}.
struct ServiceEndpoint {
  std::string url;  // scheme://host[:port], no path
  std::string region;
  std::string service;  // "s3" signs with ForS3's rules, anything else with ForService's
};

/// Signs, sends and retries one call. The response is returned whatever its status once no
/// retry is due (the adapters map 4xx with ParseAwsError); transport failures that outlive the
/// retries are errors (kUnavailable).
class AwsCaller {
 public:
  using CredentialsSource = std::function<Result<Credentials>()>;
  using Now = std::function<std::chrono::system_clock::time_point()>;
  using Sleep = std::function<void(std::chrono::milliseconds)>;

  AwsCaller(HttpClient& http, CredentialsSource credentials, RetryPolicy policy = {}, Now now = {},
            Sleep sleep = {});

  /// `request.path` is the wire path (S3: keys UriEncode'd), `request.query` decoded,
  /// `request.headers` without Host (added from the endpoint).
  Result<HttpResponse> Call(const ServiceEndpoint& endpoint, SignableRequest request);

  /// The number of attempts of the last Call on this thread (tests and logs).
  static int LastAttempts();

 private:
  HttpClient& http_;
  CredentialsSource credentials_;
  RetryPolicy policy_;
  Now now_;
  Sleep sleep_;
};

}  // namespace imgup::aws
