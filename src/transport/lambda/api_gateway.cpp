#include "transport/lambda/api_gateway.hpp"

#include <simdjson.h>

#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "codecs/base64.hpp"
#include "codecs/text.hpp"

namespace imgup {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;
// A member lookup that may have failed: absent members propagate as errors, never as throws.
using Node = simdjson::simdjson_result<element>;

Error NotAnEvent(std::string detail) {
  return Error{ErrorCode::kInvalidArgument, "not_an_api_gateway_event",
               "The event is not an API Gateway proxy event (HTTP API payload 2.0 or REST API "
               "payload 1.0)",
               std::move(detail)};
}

/// The member `key` of `parent` when it is an object; absent members and nulls give none.
std::optional<object> ObjectAt(Node parent, std::string_view key) {
  object value;
  if (parent[key].get_object().get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

std::optional<std::string_view> StringAt(Node parent, std::string_view key) {
  std::string_view value;
  if (parent[key].get_string().get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

bool BoolAt(Node parent, std::string_view key) {
  bool value = false;
  return parent[key].get_bool().get(value) == simdjson::SUCCESS && value;
}

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

/// A malformed escape is kept verbatim, as the local server does: such a path matches no route.
std::string DecodePath(std::string_view raw) {
  auto decoded = PercentDecode(raw, /*plus_is_space=*/false);
  return decoded ? std::move(*decoded) : std::string(raw);
}

/// `path` without the stage in front of it: ("/prod/images", "prod") → ("/images", "/prod").
/// A path that does not start with the stage (a custom domain's) is kept, with no base path.
void StripStage(std::string_view& path, std::string_view stage, std::string& base_path) {
  if (stage.empty() || stage == "$default") return;
  const std::string prefix = "/" + std::string(stage);
  if (path.substr(0, prefix.size()) != prefix) return;
  if (path.size() > prefix.size() && path[prefix.size()] != '/') return;  // "/production"
  base_path = prefix;
  path.remove_prefix(prefix.size());
}

/// Adds `name`: `value` (every string of an array value) to `out`, the name lower-cased.
void AddValues(HeaderList& out, std::string name, element value) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    out.emplace_back(std::move(name), std::string(text));
    return;
  }
  array values;
  if (value.get_array().get(values) != simdjson::SUCCESS) return;
  for (element item : values) {
    if (item.get_string().get(text) == simdjson::SUCCESS) out.emplace_back(name, std::string(text));
  }
}

HeaderList Pairs(object members, bool lower_names) {
  HeaderList out;
  for (auto [key, value] : members) {
    AddValues(out, lower_names ? AsciiLower(key) : std::string(key), value);
  }
  return out;
}

/// API Gateway's own name for the API when the headers carry no Host (AWS's HTTP API sample has
/// none): the Authenticator's keyless mode must see what the client addressed, never nothing.
void DefaultHost(Node context, HttpRequest& request) {
  if (!request.Header("host").empty()) return;
  if (auto domain = StringAt(context, "domainName"); domain && !domain->empty()) {
    request.headers.emplace_back("host", std::string(*domain));
  }
}

/// The body, base64-decoded when the event says so, with room past its end for simdjson to
/// parse a JSON body in place.
Result<std::string> Body(Node event) {
  const std::string_view body = StringAt(event, "body").value_or(std::string_view{});
  constexpr std::size_t kJsonPadding = 64;
  std::string out;
  if (BoolAt(event, "isBase64Encoded")) {
    auto decoded = DecodeBase64(body);
    if (!decoded) {
      return Fail(ErrorCode::kInvalidArgument, "invalid_base64",
                  "The request body is not valid base64", decoded.error().detail);
    }
    out = std::move(*decoded);
    out.reserve(out.size() + kJsonPadding);
  } else {
    out.reserve(body.size() + kJsonPadding);
    out.assign(body);
  }
  return out;
}

/// The claim `claim` of `claims`; a refusal when the authorizer's context lacks it.
void TakeClaim(object claims, std::string_view claim, GatewayRequest& out) {
  std::string_view value;
  if (claims[claim].get_string().get(value) == simdjson::SUCCESS && !value.empty()) {
    out.request.principal = std::string(value);
    return;
  }
  out.rejection =
      Error{ErrorCode::kPermissionDenied, "missing_claim",
            "The authorizer did not name the caller (no " + std::string(claim) + " claim)",
            "authorizer claims without " + std::string(claim)};
}

void DecodeHttpV2(Node event, Node context, const GatewayOptions& options, GatewayRequest& out) {
  out.version = PayloadVersion::kHttpV2;
  HttpRequest& request = out.request;
  const Node http = context["http"];
  request.method = Upper(StringAt(http, "method").value_or(""));
  std::string_view path = StringAt(event, "rawPath").value_or("/");
  StripStage(path, StringAt(context, "stage").value_or(""), request.base_path);
  request.path = path.empty() ? "/" : DecodePath(path);
  if (auto raw_query = StringAt(event, "rawQueryString"); raw_query && !raw_query->empty()) {
    request.query = ParseQueryString(*raw_query);
  } else if (auto query = ObjectAt(event, "queryStringParameters")) {
    request.query = Pairs(*query, /*lower_names=*/false);
  }
  if (auto headers = ObjectAt(event, "headers")) request.headers = Pairs(*headers, true);
  array cookies;
  if (event["cookies"].get_array().get(cookies) == simdjson::SUCCESS &&
      request.Header("cookie").empty()) {
    std::string joined;
    for (element cookie : cookies) {
      std::string_view text;
      if (cookie.get_string().get(text) != simdjson::SUCCESS) continue;
      if (!joined.empty()) joined += "; ";
      joined += text;
    }
    if (!joined.empty()) request.headers.emplace_back("cookie", std::move(joined));
  }
  DefaultHost(context, request);
  request.remote_addr = std::string(StringAt(http, "sourceIp").value_or(""));
  if (auto jwt = ObjectAt(context["authorizer"], "jwt")) {
    object claims;
    if (jwt->at_key("claims").get_object().get(claims) == simdjson::SUCCESS) {
      TakeClaim(claims, options.principal_claim, out);
    } else {
      out.rejection = Error{ErrorCode::kPermissionDenied, "missing_claim",
                            "The authorizer did not name the caller", "a JWT without claims"};
    }
  }
}

void DecodeRestV1(Node event, Node context, const GatewayOptions& options, GatewayRequest& out) {
  out.version = PayloadVersion::kRestV1;
  HttpRequest& request = out.request;
  request.method = Upper(StringAt(event, "httpMethod").value_or(""));
  std::string_view path = StringAt(event, "path").value_or("/");
  // A REST API's `path` is the resource path; requestContext.path is what the client asked for,
  // so what it has in front is where the API is mounted (the stage, or a base path mapping).
  const std::string_view full = StringAt(context, "path").value_or("");
  std::string_view base;
  if (full.size() > path.size() && full.substr(full.size() - path.size()) == path) {
    base = full.substr(0, full.size() - path.size());
  } else if (path == "/" && full.size() > 1) {
    base = full;
  }
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  if (!base.empty() && base.front() == '/' && base.find('?') == std::string_view::npos) {
    request.base_path = std::string(base);
  } else {
    // An HTTP API at payload 1.0 keeps its stage in both paths.
    StripStage(path, StringAt(context, "stage").value_or(""), request.base_path);
  }
  request.path = path.empty() ? "/" : DecodePath(path);
  if (auto query = ObjectAt(event, "multiValueQueryStringParameters")) {
    request.query = Pairs(*query, false);
  } else if (auto single = ObjectAt(event, "queryStringParameters")) {
    request.query = Pairs(*single, false);
  }
  if (auto headers = ObjectAt(event, "multiValueHeaders")) {
    request.headers = Pairs(*headers, true);
  } else if (auto single = ObjectAt(event, "headers")) {
    request.headers = Pairs(*single, true);
  }
  DefaultHost(context, request);
  const Node identity = context["identity"];
  request.remote_addr = std::string(StringAt(identity, "sourceIp").value_or(""));
  if (auto claims = ObjectAt(context["authorizer"], "claims")) {
    TakeClaim(*claims, options.principal_claim, out);
    return;
  }
  if (auto key_id = StringAt(identity, "apiKeyId"); key_id && !key_id->empty()) {
    request.principal = std::string(*key_id);
  }
}

}  // namespace

Result<GatewayRequest> DecodeGatewayEvent(const std::string& event, const GatewayOptions& options) {
  // One parser per thread keeps its buffers between small events; large ones (uploads) get
  // their own, so that the process does not hold megabytes between invocations.
  constexpr std::size_t kReusableBytes = 1 << 20;
  thread_local simdjson::dom::parser reusable;
  simdjson::dom::parser one_off;
  simdjson::dom::parser& parser = event.size() <= kReusableBytes ? reusable : one_off;
  element root;
  if (auto error = parser.parse(event).get(root); error != simdjson::SUCCESS) {
    return tl::unexpected(NotAnEvent(std::string("JSON: ") + simdjson::error_message(error)));
  }
  if (!root.is_object()) return tl::unexpected(NotAnEvent("not a JSON object"));
  element context;
  if (root["requestContext"].get(context) != simdjson::SUCCESS || !context.is_object()) {
    return tl::unexpected(NotAnEvent("no requestContext"));
  }

  const Node event_node{element(root)};
  const Node context_node{element(context)};
  GatewayRequest out;
  if (StringAt(event_node, "version") == "2.0" && StringAt(context_node["http"], "method")) {
    DecodeHttpV2(event_node, context_node, options, out);
  } else if (StringAt(event_node, "httpMethod")) {
    DecodeRestV1(event_node, context_node, options, out);
  } else {
    return tl::unexpected(NotAnEvent("neither requestContext.http.method nor httpMethod"));
  }
  if (out.request.method.empty()) return tl::unexpected(NotAnEvent("empty method"));
  if (auto id = StringAt(context_node, "requestId")) out.gateway_request_id = std::string(*id);
  if (auto body = Body(event_node)) {
    out.request.body = std::move(*body);
  } else if (!out.rejection) {
    out.rejection = std::move(body.error());
  }
  return out;
}

bool IsTextualMediaType(std::string_view content_type) {
  const std::string type = AsciiLower(content_type.substr(0, content_type.find(';')));
  std::string_view media = type;
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  if (media.substr(0, 5) == "text/") return true;
  for (std::string_view textual : {"application/json", "application/javascript", "application/xml",
                                   "application/x-www-form-urlencoded", "image/svg+xml"}) {
    if (media == textual) return true;
  }
  for (std::string_view suffix : {"+json", "+xml"}) {
    if (media.size() > suffix.size() && media.substr(media.size() - suffix.size()) == suffix) {
      return true;
    }
  }
  return false;
}

std::string EncodeGatewayResponse(const HttpResponse& response, PayloadVersion version) {
  nlohmann::json out = {{"statusCode", response.status}};
  // Header names are case-insensitive: repeats group under the first spelling.
  std::map<std::string, std::string> spelling;
  nlohmann::json cookies = nlohmann::json::array();
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, value] : response.headers) {
    const std::string lower = AsciiLower(name);
    if (version == PayloadVersion::kHttpV2 && lower == "set-cookie") {
      cookies.push_back(value);
      continue;
    }
    const std::string& key = spelling.try_emplace(lower, name).first->second;
    if (version == PayloadVersion::kHttpV2) {
      auto& joined = headers[key];
      joined = joined.is_null() ? value : joined.get<std::string>() + ", " + value;
    } else {
      headers[key].push_back(value);
    }
  }
  out[version == PayloadVersion::kHttpV2 ? "headers" : "multiValueHeaders"] = std::move(headers);
  if (!cookies.empty()) out["cookies"] = std::move(cookies);
  const bool as_text = response.body.empty() ||
                       (IsTextualMediaType(response.Header("Content-Type")) &&
                        simdjson::validate_utf8(response.body.data(), response.body.size()));
  out["body"] = as_text ? response.body : EncodeBase64(response.body);
  out["isBase64Encoded"] = !as_text;
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace imgup
