#include "aws/endpoints.hpp"

#include <algorithm>
#include <charconv>

#include "aws/sigv4.hpp"
#include "codecs/text.hpp"

namespace imgup::aws {
namespace {

std::optional<std::string> EnvValue(const Environment& env, std::string_view name) {
  const auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

bool IsIpv4(std::string_view host) {
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = host.find('.', start);
    const std::string_view part =
        host.substr(start, dot == std::string_view::npos ? dot : dot - start);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || part.size() > 3 || ec != std::errc() || end != part.data() + part.size() ||
        value > 255) {
      return false;
    }
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

tl::unexpected<Error> BadUrl(std::string_view url, std::string_view why) {
  return Fail(ErrorCode::kInvalidArgument, "aws_endpoint_url",
              "not an http(s) endpoint URL (" + std::string(why) + ")", std::string(url));
}

std::string DefaultHost(std::string_view service, std::string_view region) {
  std::string host = std::string(service) + "." + std::string(region) + ".amazonaws.com";
  if (region.starts_with("cn-")) host += ".cn";
  return host;
}

}  // namespace

std::string Endpoint::Authority() const {
  const bool default_port =
      !port || (scheme == "https" && *port == 443) || (scheme == "http" && *port == 80);
  return default_port ? host : host + ":" + std::to_string(*port);
}

std::string Endpoint::Url() const { return scheme + "://" + Authority() + base_path; }

bool IsIpLiteral(std::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    const std::string_view inner = host.substr(1, host.size() - 2);
    return inner.find(':') != std::string_view::npos &&
           std::all_of(inner.begin(), inner.end(), [](char c) {
             return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                    c == ':' || c == '.';
           });
  }
  return IsIpv4(host);
}

Result<Endpoint> ParseEndpointUrl(std::string_view url) {
  Endpoint endpoint;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return BadUrl(url, "no scheme");
  endpoint.scheme = AsciiLower(url.substr(0, scheme_end));
  if (endpoint.scheme != "http" && endpoint.scheme != "https") {
    return BadUrl(url, "the scheme must be http or https");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return BadUrl(url, "a query or fragment");
  }
  const auto path_start = rest.find('/');
  const std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (authority.find('@') != std::string_view::npos) return BadUrl(url, "user info");

  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl(url, "an unclosed IPv6 address");
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return BadUrl(url, "text after the IPv6 address");
      port = after.substr(1);
    }
    if (!IsIpLiteral(host)) return BadUrl(url, "a bad IPv6 address");
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return BadUrl(url, "an empty port");
  }
  endpoint.host = AsciiLower(host);
  if (endpoint.host.empty()) return BadUrl(url, "no host");
  if (endpoint.host.front() != '[' &&
      !std::all_of(endpoint.host.begin(), endpoint.host.end(), IsHostChar)) {
    return BadUrl(url, "a character a host name cannot hold");
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return BadUrl(url, "a bad port");
    }
    endpoint.port = static_cast<std::uint16_t>(value);
  }
  while (path.ends_with('/')) path.remove_suffix(1);
  endpoint.base_path = std::string(path);
  endpoint.custom = true;
  return endpoint;
}

std::optional<std::string> ResolveRegion(const Environment& env, const Profile& profile) {
  if (auto region = EnvValue(env, "AWS_REGION")) return region;
  if (auto region = EnvValue(env, "AWS_DEFAULT_REGION")) return region;
  return profile.settings.Get("region");
}

Result<Endpoint> ResolveEndpoint(AwsService service, const Environment& env, const Profile& profile,
                                 std::string_view region) {
  const bool s3 = service == AwsService::kS3;
  const std::string_view env_name = s3 ? "AWS_ENDPOINT_URL_S3" : "AWS_ENDPOINT_URL_DYNAMODB";
  const std::string_view config_key = s3 ? "s3" : "dynamodb";

  bool ignore_configured = false;
  if (const auto ignore = EnvValue(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
    ignore_configured = ParseBool(*ignore).value_or(false);
  } else if (const auto from_profile = profile.settings.Get("ignore_configured_endpoint_urls")) {
    ignore_configured = ParseBool(*from_profile).value_or(false);
  }
  if (!ignore_configured) {
    std::optional<std::string> configured = EnvValue(env, env_name);
    if (!configured) configured = EnvValue(env, "AWS_ENDPOINT_URL");
    if (!configured && profile.services) {
      configured = profile.services->GetNested(config_key, "endpoint_url");
    }
    if (!configured) configured = profile.settings.Get("endpoint_url");
    if (configured) return ParseEndpointUrl(*configured);
  }

  if (region.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "aws_no_region",
                "no AWS region: set AWS_REGION or the profile's region");
  }
  const bool valid_region = std::all_of(region.begin(), region.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  if (!valid_region) {
    return Fail(ErrorCode::kInvalidArgument, "aws_region",
                "not an AWS region name: " + std::string(region));
  }
  Endpoint endpoint;
  endpoint.scheme = "https";
  endpoint.host = DefaultHost(s3 ? "s3" : "dynamodb", region);
  return endpoint;
}

S3AddressingStyle S3AddressingFromProfile(const Profile& profile) {
  const std::string style =
      AsciiLower(profile.settings.GetNested("s3", "addressing_style").value_or(""));
  if (style == "path") return S3AddressingStyle::kPath;
  if (style == "virtual") return S3AddressingStyle::kVirtual;
  return S3AddressingStyle::kAuto;
}

bool IsVirtualHostableBucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(bucket.front()) && alnum(bucket.back()) &&
         std::all_of(bucket.begin(), bucket.end(), [&](char c) { return alnum(c) || c == '-'; });
}

Result<S3Location> LocateS3Object(const Endpoint& endpoint, std::string_view bucket,
                                  std::string_view key, S3AddressingStyle style) {
  if (bucket.empty() || bucket.find('/') != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument, "aws_bucket", "not a bucket name");
  }
  const bool hostable = IsVirtualHostableBucket(bucket);
  if (style == S3AddressingStyle::kVirtual && !hostable) {
    return Fail(ErrorCode::kInvalidArgument, "aws_bucket",
                "the bucket \"" + std::string(bucket) + "\" cannot be addressed as a host name");
  }
  const bool local = IsIpLiteral(endpoint.host) || endpoint.host == "localhost" ||
                     endpoint.host.ends_with(".localhost");
  S3Location location;
  location.endpoint = endpoint;
  location.path_style = style == S3AddressingStyle::kPath ||
                        (style == S3AddressingStyle::kAuto && (local || !hostable));
  location.path = endpoint.base_path;
  if (location.path_style) {
    location.path += "/" + UriEncode(bucket, false);
  } else {
    location.endpoint.host = std::string(bucket) + "." + endpoint.host;
  }
  location.path += "/" + UriEncode(key, true);
  return location;
}

}  // namespace imgup::aws
