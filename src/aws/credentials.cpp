#include "aws/credentials.hpp"

#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>

#include "aws/endpoints.hpp"
#include "codecs/text.hpp"

namespace imgup::aws {
namespace {

std::optional<std::string> EnvValue(const Environment& env, std::string_view name) {
  const auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

tl::unexpected<Error> Unavailable(std::string slug, std::string message, std::string detail = {}) {
  return Fail(ErrorCode::kUnavailable, std::move(slug), std::move(message), std::move(detail));
}

std::optional<int> ParseInt(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool HasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

// Hosts a credentials request may go to over plain http: the machine itself and the link-local
// container endpoints (ECS 169.254.170.2, EKS Pod Identity 169.254.170.23 and fd00:ec2::23).
bool IsAllowedHttpHost(std::string_view host) {
  if (host == "localhost" || host == "[::1]" || host == "169.254.170.2" ||
      host == "169.254.170.23" || host == "[fd00:ec2::23]") {
    return true;
  }
  return host.starts_with("127.") && IsIpLiteral(host);
}

}  // namespace

std::optional<std::chrono::sys_seconds> ParseAwsTimestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  auto number = [&](std::size_t at, std::size_t length) {
    return ParseInt(text.substr(at, length));
  };
  const auto year = number(0, 4), month = number(5, 2), day = number(8, 2);
  const auto hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  std::string_view rest = text.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    std::size_t digits = 1;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 1) return std::nullopt;
    rest.remove_prefix(digits);
  }
  if (rest != "Z" && rest != "z" && rest != "+00:00") return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{*year},
                                        std::chrono::month{static_cast<unsigned>(*month)},
                                        std::chrono::day{static_cast<unsigned>(*day)}};
  if (!ymd.ok() || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  return std::chrono::sys_days{ymd} + std::chrono::hours{*hour} + std::chrono::minutes{*minute} +
         std::chrono::seconds{*second};
}

Result<std::optional<SourcedCredentials>> CredentialsFromEnvironment(const Environment& env) {
  const auto key = EnvValue(env, "AWS_ACCESS_KEY_ID");
  const auto secret = EnvValue(env, "AWS_SECRET_ACCESS_KEY");
  if (!key && !secret) return std::optional<SourcedCredentials>{};
  if (!key || !secret) {
    return Fail(ErrorCode::kInvalidArgument, "aws_partial_credentials",
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
  }
  SourcedCredentials out;
  out.credentials = {*key, *secret,
                     EnvValue(env, "AWS_SESSION_TOKEN")
                         .value_or(EnvValue(env, "AWS_SECURITY_TOKEN").value_or(""))};
  out.source = "environment";
  return std::optional<SourcedCredentials>{std::move(out)};
}

Result<std::optional<SourcedCredentials>> CredentialsFromProfile(const Profile& profile) {
  const auto key = profile.settings.Get("aws_access_key_id");
  const auto secret = profile.settings.Get("aws_secret_access_key");
  if (!key && !secret) return std::optional<SourcedCredentials>{};
  if (!key || !secret) {
    return Fail(ErrorCode::kInvalidArgument, "aws_partial_credentials",
                "the AWS profile \"" + profile.name +
                    "\" must set aws_access_key_id and aws_secret_access_key together");
  }
  SourcedCredentials out;
  out.credentials = {*key, *secret, profile.settings.Get("aws_session_token").value_or("")};
  out.source = "profile " + profile.name;
  return std::optional<SourcedCredentials>{std::move(out)};
}

Result<std::optional<ContainerEndpoint>> ContainerEndpointFromEnvironment(const Environment& env) {
  ContainerEndpoint endpoint;
  if (const auto relative = EnvValue(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    if (relative->front() != '/' || HasLineBreak(*relative)) {
      return Fail(ErrorCode::kInvalidArgument, "aws_container_uri",
                  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path");
    }
    endpoint.url = "http://169.254.170.2" + *relative;
  } else if (const auto full = EnvValue(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    const auto parsed = ParseEndpointUrl(*full);
    if (!parsed || (parsed->scheme == "http" && !IsAllowedHttpHost(parsed->host))) {
      return Fail(ErrorCode::kInvalidArgument, "aws_container_uri",
                  "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback "
                  "address or the ECS or EKS container credentials host",
                  *full);
    }
    endpoint.url = *full;
  } else {
    return std::optional<ContainerEndpoint>{};
  }
  endpoint.authorization_token_file =
      EnvValue(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").value_or("");
  endpoint.authorization_token = EnvValue(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN").value_or("");
  return std::optional<ContainerEndpoint>{std::move(endpoint)};
}

Result<SourcedCredentials> ParseCredentialsDocument(std::string_view json, std::string source) {
  const auto doc = nlohmann::json::parse(json, nullptr, false);
  auto text = [&](const char* key) -> std::string {
    if (!doc.is_object()) return {};
    const auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  auto bad = [&](std::string why) {
    return Unavailable("aws_credentials_document",
                       "the " + source + " answered without usable credentials", std::move(why));
  };
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  if (doc.contains("Code") && text("Code") != "Success") return bad("Code " + text("Code"));
  SourcedCredentials out;
  out.credentials = {text("AccessKeyId"), text("SecretAccessKey"), text("Token")};
  if (out.credentials.access_key_id.empty() || out.credentials.secret_access_key.empty()) {
    return bad("no AccessKeyId or SecretAccessKey");
  }
  if (const std::string expiration = text("Expiration"); !expiration.empty()) {
    out.expires_at = ParseAwsTimestamp(expiration);
    if (!out.expires_at) return bad("Expiration " + expiration);
  }
  out.source = std::move(source);
  return out;
}

Result<SourcedCredentials> FetchContainerCredentials(const ContainerEndpoint& endpoint,
                                                     CredentialsTransport& transport) {
  CredentialsTransport::Call call{"GET", endpoint.url, {}, std::chrono::seconds{2}};
  std::string token = endpoint.authorization_token;
  if (!endpoint.authorization_token_file.empty()) {
    const auto from_file = transport.ReadFile(endpoint.authorization_token_file);
    if (!from_file) {
      return Unavailable("aws_container_token",
                         "the container authorization token file is "
                         "unreadable",
                         endpoint.authorization_token_file);
    }
    token = *from_file;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  }
  if (HasLineBreak(token)) {
    return Fail(ErrorCode::kInvalidArgument, "aws_container_token",
                "the container authorization token holds a line break");
  }
  if (!token.empty()) call.headers.push_back({"Authorization", token});
  IMGUP_ASSIGN_OR_RETURN(const auto reply, transport.Send(call));
  if (reply.status != 200) {
    return Unavailable("aws_container", "the container credentials endpoint answered " +
                                            std::to_string(reply.status));
  }
  return ParseCredentialsDocument(reply.body, "container");
}

Result<std::optional<ImdsSettings>> ImdsSettingsFromEnvironment(const Environment& env) {
  if (const auto disabled = EnvValue(env, "AWS_EC2_METADATA_DISABLED");
      disabled && ParseBool(*disabled).value_or(false)) {
    return std::optional<ImdsSettings>{};
  }
  ImdsSettings settings;
  if (const auto endpoint = EnvValue(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
    if (!ParseEndpointUrl(*endpoint)) {
      return Fail(ErrorCode::kInvalidArgument, "aws_imds_endpoint",
                  "AWS_EC2_METADATA_SERVICE_ENDPOINT is not an http(s) URL", *endpoint);
    }
    settings.endpoint = *endpoint;
  } else {
    const std::string mode =
        AsciiLower(EnvValue(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").value_or("ipv4"));
    if (mode != "ipv4" && mode != "ipv6") {
      return Fail(ErrorCode::kInvalidArgument, "aws_imds_endpoint",
                  "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6");
    }
    settings.endpoint = mode == "ipv6" ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
  }
  while (settings.endpoint.ends_with('/')) settings.endpoint.pop_back();
  if (const auto timeout = EnvValue(env, "AWS_METADATA_SERVICE_TIMEOUT")) {
    const auto seconds = ParseInt(*timeout);
    if (!seconds || *seconds < 1) {
      return Fail(ErrorCode::kInvalidArgument, "aws_imds_timeout",
                  "AWS_METADATA_SERVICE_TIMEOUT must be a whole number of seconds");
    }
    settings.timeout = std::chrono::seconds{*seconds};
  }
  if (const auto attempts = EnvValue(env, "AWS_METADATA_SERVICE_NUM_ATTEMPTS")) {
    const auto count = ParseInt(*attempts);
    if (!count || *count < 1) {
      return Fail(ErrorCode::kInvalidArgument, "aws_imds_attempts",
                  "AWS_METADATA_SERVICE_NUM_ATTEMPTS must be a positive number");
    }
    settings.attempts = *count;
  }
  return std::optional<ImdsSettings>{std::move(settings)};
}

Result<SourcedCredentials> FetchImdsCredentials(const ImdsSettings& settings,
                                                CredentialsTransport& transport) {
  // Each step is tried `attempts` times; only a missing answer or a 5xx is worth another try.
  auto send = [&](const CredentialsTransport::Call& call) -> Result<CredentialsTransport::Reply> {
    Result<CredentialsTransport::Reply> reply = transport.Send(call);
    for (int attempt = 1; attempt < settings.attempts && (!reply || reply->status >= 500);
         ++attempt) {
      reply = transport.Send(call);
    }
    return reply;
  };
  auto failed = [](std::string_view step, const Result<CredentialsTransport::Reply>& reply) {
    return Unavailable("aws_imds", "the instance metadata service failed at " + std::string(step),
                       reply ? "HTTP " + std::to_string(reply->status) : reply.error().detail);
  };

  const std::string base = settings.endpoint + "/latest/";
  const auto token = send({"PUT",
                           base + "api/token",
                           {{"x-aws-ec2-metadata-token-ttl-seconds", "21600"}},
                           settings.timeout});
  if (!token || token->status != 200 || token->body.empty() || HasLineBreak(token->body)) {
    return failed("the session token (IMDSv2)", token);
  }
  const std::vector<HttpHeader> with_token = {{"x-aws-ec2-metadata-token", token->body}};
  const std::string roles_url = base + "meta-data/iam/security-credentials/";
  const auto roles = send({"GET", roles_url, with_token, settings.timeout});
  if (!roles || roles->status != 200) return failed("the instance's role", roles);
  std::string role = roles->body.substr(0, roles->body.find('\n'));
  while (!role.empty() && (role.back() == '\r' || role.back() == ' ')) role.pop_back();
  if (role.empty() || role.find('/') != std::string::npos)
    return failed("the instance's role", roles);
  const auto document = send({"GET", roles_url + role, with_token, settings.timeout});
  if (!document || document->status != 200) return failed("the role's credentials", document);
  return ParseCredentialsDocument(document->body, "imds role " + role);
}

Result<SourcedCredentials> ResolveCredentials(const Environment& env, const SharedFiles& files,
                                              CredentialsTransport& transport) {
  IMGUP_ASSIGN_OR_RETURN(const auto from_env, CredentialsFromEnvironment(env));
  if (from_env) return *from_env;

  IMGUP_ASSIGN_OR_RETURN(const Profile profile, LoadProfile(files, ChooseProfile(env)));
  IMGUP_ASSIGN_OR_RETURN(const auto from_profile, CredentialsFromProfile(profile));
  if (from_profile) return *from_profile;

  IMGUP_ASSIGN_OR_RETURN(const auto container, ContainerEndpointFromEnvironment(env));
  if (container) return FetchContainerCredentials(*container, transport);

  IMGUP_ASSIGN_OR_RETURN(const auto imds, ImdsSettingsFromEnvironment(env));
  if (imds) {
    auto from_imds = FetchImdsCredentials(*imds, transport);
    if (from_imds || from_imds.error().code != ErrorCode::kUnavailable) return from_imds;
    // Off EC2 nothing answers at the link-local address: that is "no credentials", not an outage.
    return Fail(ErrorCode::kUnauthenticated, "aws_no_credentials",
                "no AWS credentials: none in the environment, the profile \"" + profile.name +
                    "\" or a container endpoint, and the instance metadata service gave none",
                from_imds.error().message + " (" + from_imds.error().detail + ")");
  }
  return Fail(ErrorCode::kUnauthenticated, "aws_no_credentials",
              "no AWS credentials: none in the environment, the profile \"" + profile.name +
                  "\" or a container endpoint, and the instance metadata service is disabled");
}

CachingCredentialsProvider::CachingCredentialsProvider(Resolver resolve,
                                                       std::chrono::seconds refresh_before,
                                                       std::chrono::seconds still_usable)
    : resolve_(std::move(resolve)), refresh_before_(refresh_before), still_usable_(still_usable) {}

Result<SourcedCredentials> CachingCredentialsProvider::Get(std::chrono::sys_seconds now) {
  std::lock_guard lock(mutex_);
  if (cached_ && (!cached_->expires_at || *cached_->expires_at - now > refresh_before_)) {
    return *cached_;
  }
  auto fresh = resolve_();
  if (fresh) {
    cached_ = *fresh;
    return fresh;
  }
  if (cached_ && cached_->expires_at && *cached_->expires_at - now > still_usable_) {
    return *cached_;  // the source is down for now; these still work for a while
  }
  return fresh;
}

}  // namespace imgup::aws
