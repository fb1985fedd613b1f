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
  std::string error;  // transport error text when status == 0
};

/// Called with bytes sent so far and the total while an upload runs.
using UploadProgress = std::function<void(std::uint64_t sent, std::uint64_t total)>;

class Client {
 public:
  Client(std::string base_url, std::string api_key);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// POST /upload with the raw bytes of a file (the server sniffs the type).
  ClientResponse UploadFile(const std::string& path, const UploadProgress& progress);
  ClientResponse Get(const std::string& path_and_query);
  ClientResponse Delete(const std::string& path);

 private:
  ClientResponse Perform(const std::string& method, const std::string& path,
                         const std::string* body, const std::string& content_type,
                         const UploadProgress* progress);
  std::string base_url_;
  std::string api_key_;
  void* curl_;  // CURL*, reused so connections are kept alive
};

/// "1.2 MB", "340.0 KB", "12 B".
std::string HumanBytes(std::uint64_t bytes);

/// The problem+json code and detail of a failed response, or the transport error.
std::string DescribeFailure(const ClientResponse& response);

}  // namespace imgup::cli
