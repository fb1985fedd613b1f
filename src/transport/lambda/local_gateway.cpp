#include "transport/lambda/local_gateway.hpp"

#include <simdjson.h>

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "codecs/base64.hpp"
#include "codecs/text.hpp"

namespace imgup {

namespace {

using nlohmann::json;

Error BadProxyResponse(std::string detail) {
  return Error{ErrorCode::kInternal, "bad_proxy_response",
               "The function's response is not a valid proxy response", std::move(detail)};
}

/// The path as a client could have sent it: every segment percent-encoded.
std::string EncodePath(std::string_view path) {
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    out += PercentEncode(path.substr(start, slash - start));
    if (slash < path.size()) out += '/';
    start = slash + 1;
  }
  return out.empty() ? "/" : out;
}

std::string EncodeQuery(const HeaderList& query) {
  std::string out;
  for (const auto& [name, value] : query) {
    if (!out.empty()) out += '&';
    out += PercentEncode(name) + "=" + PercentEncode(value);
  }
  return out;
}

/// "12/Mar/2020:19:03:58 +0000", API Gateway's requestContext.time.
std::string ClfTime(std::int64_t now_ms) {
  const std::time_t seconds = static_cast<std::time_t>(now_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%d/%b/%Y:%H:%M:%S +0000", &utc);
  return std::string(text, n);
}

/// One name's values as API Gateway groups them: names lower-cased (HTTP API) or as sent.
std::map<std::string, std::vector<std::string>> Grouped(const HeaderList& pairs) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, value] : pairs) out[name].push_back(value);
  return out;
}

std::string Joined(const std::vector<std::string>& values, std::string_view separator) {
  std::string out;
  for (const std::string& value : values) {
    if (!out.empty()) out += separator;
    out += value;
  }
  return out;
}

std::optional<int> StatusOf(const json& document) {
  const auto it = document.find("statusCode");
  if (it == document.end()) return std::nullopt;
  int status = 0;
  if (it->is_number_integer()) {
    status = it->get<int>();
  } else if (it->is_string()) {
    try {
      status = std::stoi(it->get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return status;
}

/// `value` as a header value: strings as they are, numbers and booleans as JSON writes them.
std::optional<std::string> HeaderText(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number() || value.is_boolean()) return value.dump();
  return std::nullopt;
}

}  // namespace

bool InStage(std::string_view path, std::string_view stage) {
  if (stage.empty()) return true;
  const std::string prefix = "/" + std::string(stage);
  return path.substr(0, prefix.size()) == prefix &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

std::string EncodeGatewayEvent(const HttpRequest& request, const GatewayEventOptions& options) {
  const std::string raw_path = EncodePath(request.path);
  const std::string raw_query = EncodeQuery(request.query);
  const std::string stage = options.stage.empty() ? "$default" : options.stage;
  const std::string host(request.Header("host"));
  const bool as_text =
      request.body.empty() || (IsTextualMediaType(request.Header("content-type")) &&
                               simdjson::validate_utf8(request.body.data(), request.body.size()));
  json body = request.body.empty() ? json(nullptr)
                                   : json(as_text ? request.body : EncodeBase64(request.body));
  const auto headers = Grouped(request.headers);
  const auto query = Grouped(request.query);

  json event;
  if (options.version == PayloadVersion::kHttpV2) {
    json header_object = json::object();
    json cookies = json::array();
    for (const auto& [name, values] : headers) {
      if (name == "cookie") {
        // HTTP API hands the cookies over as a list of their own, not as a header.
        for (const std::string& line : values) {
          std::size_t start = 0;
          while (start < line.size()) {
            std::size_t end = std::min(line.find(';', start), line.size());
            std::string_view cookie = std::string_view(line).substr(start, end - start);
            while (!cookie.empty() && cookie.front() == ' ') cookie.remove_prefix(1);
            if (!cookie.empty()) cookies.push_back(std::string(cookie));
            start = end + 1;
          }
        }
        continue;
      }
      header_object[name] = Joined(values, ",");
    }
    json query_object = json::object();
    for (const auto& [name, values] : query) query_object[name] = Joined(values, ",");
    event = {
        {"version", "2.0"},
        {"routeKey", "$default"},
        {"rawPath", raw_path},
        {"rawQueryString", raw_query},
        {"headers", std::move(header_object)},
        {"requestContext",
         {{"accountId", options.account_id},
          {"apiId", options.api_id},
          {"domainName", host},
          {"domainPrefix", host.substr(0, host.find('.'))},
          {"http",
           {{"method", request.method},
            {"path", raw_path},
            {"protocol", "HTTP/1.1"},
            {"sourceIp", request.remote_addr},
            {"userAgent", std::string(request.Header("user-agent"))}}},
          {"requestId", options.request_id},
          {"routeKey", "$default"},
          {"stage", stage},
          {"time", ClfTime(options.now_ms)},
          {"timeEpoch", options.now_ms}}},
        {"isBase64Encoded", !as_text},
    };
    if (!cookies.empty()) event["cookies"] = std::move(cookies);
    if (!query_object.empty()) event["queryStringParameters"] = std::move(query_object);
    if (!body.is_null()) event["body"] = std::move(body);
    return event.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  // REST API: `path` is the resource path; the stage is in requestContext.path only.
  std::string resource_path = raw_path;
  if (!options.stage.empty()) {
    resource_path = raw_path.substr(options.stage.size() + 1);
    if (resource_path.empty()) resource_path = "/";
  }
  json single_headers = json::object();
  json multi_headers = json::object();
  for (const auto& [name, values] : headers) {
    single_headers[name] = values.back();
    multi_headers[name] = values;
  }
  json single_query = nullptr;
  json multi_query = nullptr;
  for (const auto& [name, values] : query) {
    single_query[name] = values.back();
    multi_query[name] = values;
  }
  const std::string proxy = resource_path.size() > 1 ? resource_path.substr(1) : "";
  event = {
      {"resource", "/{proxy+}"},
      {"path", resource_path},
      {"httpMethod", request.method},
      {"headers", std::move(single_headers)},
      {"multiValueHeaders", std::move(multi_headers)},
      {"queryStringParameters", std::move(single_query)},
      {"multiValueQueryStringParameters", std::move(multi_query)},
      {"pathParameters", proxy.empty() ? json(nullptr) : json{{"proxy", proxy}}},
      {"stageVariables", nullptr},
      {"requestContext",
       {{"accountId", options.account_id},
        {"apiId", options.api_id},
        {"domainName", host},
        {"resourceId", "local"},
        {"resourcePath", "/{proxy+}"},
        {"httpMethod", request.method},
        {"path", raw_path},
        {"protocol", "HTTP/1.1"},
        {"requestId", options.request_id},
        {"requestTime", ClfTime(options.now_ms)},
        {"requestTimeEpoch", options.now_ms},
        {"stage", stage},
        {"identity",
         {{"sourceIp", request.remote_addr},
          {"userAgent", std::string(request.Header("user-agent"))}}}}},
      {"body", std::move(body)},
      {"isBase64Encoded", !as_text},
  };
  return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<HttpResponse> DecodeGatewayResponse(const std::string& payload, PayloadVersion version) {
  json document = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return tl::unexpected(BadProxyResponse("not JSON"));
  HttpResponse out;
  const std::optional<int> status = document.is_object() ? StatusOf(document) : std::nullopt;
  if (!status) {
    if (version == PayloadVersion::kRestV1) {
      return tl::unexpected(BadProxyResponse("no statusCode"));
    }
    // HTTP API's 2.0 format infers the response from any JSON without a statusCode.
    out.status = 200;
    out.headers.emplace_back("content-type", "application/json");
    out.body = payload;
    return out;
  }
  if (*status < 100 || *status > 599) {
    return tl::unexpected(BadProxyResponse("statusCode " + std::to_string(*status)));
  }
  out.status = *status;

  std::map<std::string, std::vector<std::string>> headers;  // by lower-case name
  std::map<std::string, std::string> spelling;
  if (auto it = document.find("headers"); it != document.end() && it->is_object()) {
    for (const auto& [name, value] : it->items()) {
      if (auto text = HeaderText(value)) {
        const std::string lower = AsciiLower(name);
        spelling.try_emplace(lower, name);
        headers[lower] = {*text};
      }
    }
  }
  if (auto it = document.find("multiValueHeaders");
      version == PayloadVersion::kRestV1 && it != document.end() && it->is_object()) {
    for (const auto& [name, values] : it->items()) {
      if (!values.is_array()) continue;
      const std::string lower = AsciiLower(name);
      spelling.try_emplace(lower, name);
      std::vector<std::string>& list = headers[lower];
      list.clear();
      for (const json& value : values) {
        if (auto text = HeaderText(value)) list.push_back(*text);
      }
    }
  }
  for (const auto& [lower, values] : headers) {
    for (const std::string& value : values) out.headers.emplace_back(spelling[lower], value);
  }
  if (auto it = document.find("cookies");
      version == PayloadVersion::kHttpV2 && it != document.end() && it->is_array()) {
    for (const json& cookie : *it) {
      if (cookie.is_string()) out.headers.emplace_back("set-cookie", cookie.get<std::string>());
    }
  }
  std::string body;
  if (auto it = document.find("body"); it != document.end() && !it->is_null()) {
    if (!it->is_string()) return tl::unexpected(BadProxyResponse("body is not a string"));
    body = it->get<std::string>();
  }
  const auto base64 = document.find("isBase64Encoded");
  if (base64 != document.end() && base64->is_boolean() && base64->get<bool>()) {
    auto decoded = DecodeBase64(body);
    if (!decoded) return tl::unexpected(BadProxyResponse("body is not valid base64"));
    body = std::move(*decoded);
  }
  out.body = std::move(body);
  return out;
}

bool IsFunctionError(int invoke_status, bool function_error_header, const std::string& payload) {
  if (function_error_header || invoke_status != 200) return true;
  json document = json::parse(payload, nullptr, false);
  return document.is_object() && !document.contains("statusCode") &&
         document.contains("errorType") && document.contains("errorMessage");
}

HttpResponse GatewayMessage(int status, std::string_view message) {
  HttpResponse out;
  out.status = status;
  out.headers.emplace_back("content-type", "application/json");
  out.body = json{{"message", message}}.dump();
  return out;
}

}  // namespace imgup
