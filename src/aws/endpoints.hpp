#pragma once
// Regions, service endpoints and S3 addressing, as the AWS CLI resolves them: AWS_REGION,
// AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL, the profile's settings, then AWS's own
// endpoints; S3 path-style addressing when asked, or when the endpoint is an IP address or
// localhost (an emulator), or when the bucket cannot be a host name.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aws/config_file.hpp"
#include "base/error.hpp"

namespace imgup::aws {

/// An http(s) endpoint URL taken apart.
struct Endpoint {
  std::string scheme;  // "https" or "http"
  std::string host;    // lower-cased; an IPv6 literal keeps its brackets
  std::optional<std::uint16_t> port;
  std::string base_path;  // "" or "/prefix", never ending in '/'
  bool custom = false;    // from a variable or a profile rather than AWS's default

  /// The Host header: the host, and the port when it is not the scheme's default.
  std::string Authority() const;
  /// scheme://authority + base_path
  std::string Url() const;
};

/// Parses "http(s)://host[:port][/path]". kInvalidArgument "aws_endpoint_url" otherwise (another
/// scheme, no host, a bad port, a query or fragment, user info).
Result<Endpoint> ParseEndpointUrl(std::string_view url);

/// True for an IPv4 dotted quad or a bracketed IPv6 literal.
bool IsIpLiteral(std::string_view host);

/// AWS_REGION, else AWS_DEFAULT_REGION, else the profile's `region`; nullopt when none is set
/// (the caller may then ask the instance metadata service, or fail).
std::optional<std::string> ResolveRegion(const Environment& env, const Profile& profile);

enum class AwsService { kS3, kDynamoDb };

/// The endpoint of `service`: unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (or the profile's
/// ignore_configured_endpoint_urls) is true, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB,
/// then AWS_ENDPOINT_URL, then the profile's services section ("s3 =\n  endpoint_url = ..."),
/// then the profile's endpoint_url; else https://s3.REGION.amazonaws.com or
/// https://dynamodb.REGION.amazonaws.com (amazonaws.com.cn in the China regions).
Result<Endpoint> ResolveEndpoint(AwsService service, const Environment& env, const Profile& profile,
                                 std::string_view region);

enum class S3AddressingStyle { kAuto, kPath, kVirtual };

/// The profile's s3.addressing_style (auto, path, virtual); kAuto when unset or unknown.
S3AddressingStyle S3AddressingFromProfile(const Profile& profile);

/// True for a bucket name that can be a DNS label under TLS: 3 to 63 of a-z 0-9 '-', starting
/// and ending with a letter or digit (no dots: they break the wildcard certificate).
bool IsVirtualHostableBucket(std::string_view bucket);

/// Where a request for an S3 object (or, with an empty key, the bucket) goes.
struct S3Location {
  Endpoint endpoint;  // host is bucket.endpoint-host in virtual-host style
  std::string path;   // the wire path, percent-encoded: "/bucket/key" or "/key"
  bool path_style = false;
};

/// Addresses `key` in `bucket` at `endpoint`. Path style when `style` is kPath, or, with kAuto,
/// when the endpoint is an IP address or localhost or the bucket is not virtual-hostable.
/// kInvalidArgument "aws_bucket" for an empty bucket name, or kVirtual with a bucket that cannot
/// be a host name.
Result<S3Location> LocateS3Object(const Endpoint& endpoint, std::string_view bucket,
                                  std::string_view key, S3AddressingStyle style);

}  // namespace imgup::aws
