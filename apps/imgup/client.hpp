#pragma once
// A small HTTP client (libcurl) for the CLI commands that talk to a running imgup server.
#include <cstdint>
#include <functional>
#include <string>

namespace imgup::cli {

struct ClientResponse {
  long status = 0;  // 0 when the request could not be made
  std::string body;
  std::string content_type;
  std::string error;         // transport error text when status == 0
  std::string url;           // the URL tried, for messages
  std::string redirect_url;  // a 3xx answer's Location, resolved against `url`
};

/// Called with bytes sent so far and the total while an upload runs.
using UploadProgress = std::function<void(std::uint64_t sent, std::uint64_t total)>;

/// How a 503 (the server is busy or starting) is retried: `attempts` in all, waiting
/// `first_delay_ms` and doubling, or what the answer's Retry-After says (capped at `max_delay_ms`).
struct RetryPolicy {
  int attempts = 5;
  long first_delay_ms = 500;
  long max_delay_ms = 8000;
};

/// Ctrl-C: after InstallInterruptHandler(), SIGINT sets a flag (a second one ends the process);
/// requests in flight are aborted and retries stop. Interrupted() tells whether it came.
void InstallInterruptHandler();
bool Interrupted();

class Client {
 public:
  Client(std::string base_url, std::string api_key, RetryPolicy retry = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// POST /upload with the raw bytes of a file (the server sniffs the type); a file past the
  /// server's inline limit (GET /health limits.max_body_bytes, asked once) goes through
  /// POST /uploads and its presigned form instead, and the answer is then the upload's record
  /// (GET /images/{id}) with status 201, or 200 when it was a duplicate.
  ClientResponse UploadFile(const std::string& path, const UploadProgress& progress);
  /// GET; a redirect (content under --content-redirect, S3's presigned GET on Lambda) is
  /// followed once, without the API key: such a URL is its own credential.
  ClientResponse Get(const std::string& path_and_query);
  ClientResponse Delete(const std::string& path);

 private:
  ClientResponse Perform(const std::string& method, const std::string& path,
                         const std::string* body, const std::string& content_type,
                         const UploadProgress* progress);
  ClientResponse PerformOnce(const std::string& method, const std::string& url,
                             const std::string* body, const std::string& content_type,
                             const UploadProgress* progress, long* retry_after_s,
                             bool with_key = true);
  /// POST /uploads, the form (to S3 or to the server), then the upload's record.
  ClientResponse UploadPresigned(const std::string& name, const std::string& bytes,
                                 const UploadProgress& progress);
  /// GET /health's limits.max_body_bytes, asked once; 0 when unknown (send inline).
  std::uint64_t InlineLimit();
  std::int64_t inline_limit_ = -1;  // -1: not asked yet
  std::string base_url_;
  std::string api_key_;
  RetryPolicy retry_;
  void* curl_;  // CURL*, reused so connections are kept alive
};

/// "1.2 MB", "340.0 KB", "12 B".
std::string HumanBytes(std::uint64_t bytes);

/// A processing failure_reason ("decode_failed") with what it means, in words a person
/// understands: "decode_failed: the image data is corrupt or cut short".
std::string FailureInWords(const std::string& reason);

/// The problem+json code and detail of a failed response, or the transport error with the URL
/// it tried ("cannot reach http://...: Couldn't connect to server").
std::string DescribeFailure(const ClientResponse& response);

}  // namespace imgup::cli
