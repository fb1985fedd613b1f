#pragma once
// Transport-agnostic HTTP request and response: the local server and the Lambda runtime both
// translate to and from these, so the router and handlers never know where they run.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codecs/text.hpp"

namespace imgup {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // upper case: "GET", "POST", ...
  std::string path;    // decoded path without the query string, e.g. "/images/01J..."
  HeaderList query;    // decoded query parameters, in order
  HeaderList headers;  // names in lower case
  std::string body;
  std::string remote_addr;
  std::string request_id;
  /// Where the API is mounted, without a trailing slash: "" locally, "/prod" behind an API
  /// Gateway stage. `path` is relative to it; links in responses and the page start with it.
  std::string base_path;
  /// The owner an upstream authorizer vouched for (API Gateway's authorizer context). Only a
  /// transport sets it, from what its platform guarantees; never from a request header. When
  /// set, the router takes it as the caller and skips the Authenticator.
  std::optional<std::string> principal;

  /// The first header named `name` (lower case), or "" when absent.
  std::string_view Header(std::string_view name) const;
  /// The first query parameter named `name`.
  std::optional<std::string_view> Query(std::string_view name) const;
  /// "scheme://host" as the client addressed this server, for an absolute URL of it (links are
  /// otherwise relative: base_path + path). The host is the Host header; the scheme https when a
  /// proxy in front says the client used it (RFC 7239's `Forwarded: proto=https`, else
  /// `X-Forwarded-Proto: https`, as TLS proxies and API Gateway send), else http. "" without a
  /// Host. A client that sends these headers itself misleads only itself.
  std::string PublicOrigin() const;
};

struct HttpResponse {
  int status = 200;
  HeaderList headers;
  std::string body;
  // For the request log: which route answered and for whom.
  std::string route;
  std::string owner;
  std::string error_code;    // the problem's stable `code` (its slug), for the log and metrics
  std::string error_detail;  // internal cause of an error response, for the log only
  /// The size of the image an upload stored or found again (0 for other answers), for the log
  /// and the UploadBytes metric.
  std::uint64_t image_bytes = 0;

  void SetHeader(std::string name, std::string value);
  std::string_view Header(std::string_view name) const;
};

/// What a `Range` request header asks of a representation (RFC 9110 section 14.2).
struct RangeAsk {
  enum class Kind {
    kWhole,          // no Range, or one the server may ignore (not bytes, malformed, several)
    kPart,           // the bytes first..last (inclusive), within the representation
    kUnsatisfiable,  // one range that lies wholly past the end: 416
  };
  Kind kind = Kind::kWhole;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

/// The one byte range `header` asks of `size` bytes: "bytes=F-L", "bytes=F-" or "bytes=-N" (the
/// last N). A last position past the end is cut to the end. Several ranges are answered whole
/// (RFC 9110 allows ignoring Range), as is anything malformed.
RangeAsk ParseRange(std::string_view header, std::uint64_t size);

/// Splits "a=1&b=2" into decoded pairs; malformed escapes are kept verbatim.
HeaderList ParseQueryString(std::string_view query);

}  // namespace imgup
