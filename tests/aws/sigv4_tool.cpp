// Signs request descriptions with imgup's SigV4 functions for the differential test
// (tests/aws/test_sigv4_differential.py): one JSON object per input line on stdin, one JSON
// object per output line on stdout, in the same order.
//
// In:  {"id", "form": "header"|"query", "s3": bool, "service", "region", "access_key",
//       "secret_key", "token" (optional), "sign_token" (default true), "time" (Unix seconds),
//       "expires", "content_sha256_header" (optional override), "method", "path",
//       "query": [[name, value]...] (decoded), "headers": [[name, value]...], "body",
//       "payload_hash" (optional)}
// Out: {"id", "canonical_request", "string_to_sign", "signature", "signed_headers",
//       "headers_to_add": [[name, value]...], "query_to_add": [[name, value]...],
//       "url_query": the request's query and the added parameters, encoded}
//      or {"id", "error": {"slug", "message"}}.
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aws/sigv4.hpp"

namespace {

using imgup::aws::HttpHeader;
using imgup::aws::QueryParam;
using nlohmann::json;

json Pairs(const std::vector<HttpHeader>& headers) {
  json out = json::array();
  for (const auto& h : headers) out.push_back({h.name, h.value});
  return out;
}

json Pairs(const std::vector<QueryParam>& params) {
  json out = json::array();
  for (const auto& p : params) out.push_back({p.name, p.value});
  return out;
}

json SignOne(const json& in) {
  namespace aws = imgup::aws;
  const std::chrono::sys_seconds time{std::chrono::seconds{in.at("time").get<long long>()}};
  aws::Credentials credentials{
      in.at("access_key").get<std::string>(), in.at("secret_key").get<std::string>(),
      in.value("token", json()).is_string() ? in.at("token").get<std::string>() : std::string{}};
  aws::SigningConfig config =
      in.at("s3").get<bool>()
          ? aws::ForS3(std::move(credentials), in.at("region").get<std::string>(), time)
          : aws::ForService(std::move(credentials), in.at("region").get<std::string>(),
                            in.at("service").get<std::string>(), time);
  config.sign_session_token = in.value("sign_token", true);
  config.expires = std::chrono::seconds{in.value("expires", 3600LL)};
  if (in.contains("content_sha256_header")) {
    config.content_sha256_header = in.at("content_sha256_header").get<bool>();
  }

  aws::SignableRequest request;
  request.method = in.at("method").get<std::string>();
  request.path = in.at("path").get<std::string>();
  for (const auto& pair : in.value("query", json::array())) {
    request.query.push_back({pair.at(0).get<std::string>(), pair.at(1).get<std::string>()});
  }
  for (const auto& pair : in.value("headers", json::array())) {
    request.headers.push_back({pair.at(0).get<std::string>(), pair.at(1).get<std::string>()});
  }
  const std::string body = in.value("body", std::string{});
  request.body = body;
  if (in.contains("payload_hash") && in.at("payload_hash").is_string()) {
    request.payload_hash = in.at("payload_hash").get<std::string>();
  }

  const bool query_form = in.at("form").get<std::string>() == "query";
  const auto result =
      query_form ? aws::Presign(request, config) : aws::SignHeaders(request, config);
  json out = {{"id", in.value("id", json())}};
  if (!result) {
    out["error"] = {{"slug", result.error().slug}, {"message", result.error().message}};
    return out;
  }
  std::vector<QueryParam> url_query = request.query;
  url_query.insert(url_query.end(), result->query_to_add.begin(), result->query_to_add.end());
  out["canonical_request"] = result->canonical_request;
  out["string_to_sign"] = result->string_to_sign;
  out["signature"] = result->signature;
  out["signed_headers"] = result->signed_headers;
  out["headers_to_add"] = Pairs(result->headers_to_add);
  out["query_to_add"] = Pairs(result->query_to_add);
  out["url_query"] = aws::EncodeQuery(url_query);
  return out;
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  int status = 0;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    try {
      std::cout << SignOne(json::parse(line)).dump() << '\n';
    } catch (const std::exception& e) {
      // A malformed description is the test's bug: say so and fail, but keep the line count.
      std::cout << json{{"tool_error", e.what()}}.dump() << '\n';
      status = 2;
    }
  }
  std::cout.flush();
  return status;
}
