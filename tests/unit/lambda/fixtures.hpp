#pragma once
// AWS's own sample events (tests/lambda/fixtures/aws, made by `sam local generate-event`; see
// the README there), read as committed, and edits of them for the cases the samples lack.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

#include "support/test_paths.hpp"

namespace imgup::test {

inline std::string ReadAwsFixture(const std::string& name) {
  const std::string path = LambdaFixturesDir() + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline nlohmann::json AwsEvent(const std::string& name) {
  return nlohmann::json::parse(ReadAwsFixture(name));
}

/// AWS's HTTP API (2.0) sample with another method and raw path, no authorizer and no body.
inline nlohmann::json HttpApiEvent(const std::string& method, const std::string& raw_path,
                                   const std::string& stage = "$default") {
  nlohmann::json event = AwsEvent("http-api-proxy.json");
  event["requestContext"]["http"]["method"] = method;
  event["requestContext"]["http"]["path"] = raw_path;
  event["requestContext"]["stage"] = stage;
  event["rawPath"] = raw_path;
  event["rawQueryString"] = "";
  event.erase("queryStringParameters");
  event.erase("cookies");
  event["requestContext"].erase("authorizer");
  event["body"] = nullptr;
  event["isBase64Encoded"] = false;
  return event;
}

/// AWS's REST API (1.0) sample at stage "prod" with another method and resource path, no
/// query, no authorizer and no body.
inline nlohmann::json RestApiEvent(const std::string& method, const std::string& path) {
  nlohmann::json event = AwsEvent("aws-proxy.json");
  event["httpMethod"] = method;
  event["requestContext"]["httpMethod"] = method;
  event["path"] = path;
  event["requestContext"]["path"] = "/prod" + path;
  event["queryStringParameters"] = nullptr;
  event["multiValueQueryStringParameters"] = nullptr;
  event["body"] = nullptr;
  event["isBase64Encoded"] = false;
  return event;
}

}  // namespace imgup::test
