// Signing and transport against S3 and DynamoDB implementations no one here wrote: versitygw
// (checks every SigV4 header signature and the body hash) and moto, both started by
// scripts/with-aws-peers.sh. Each test works in a bucket or table of its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "aws/aws_peers.hpp"
#include "aws/http_client.hpp"
#include "aws/xml.hpp"

namespace imgup::aws {
namespace {

using json = nlohmann::json;

std::string UniqueName(const std::string& prefix) {
  static std::mt19937_64 random{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string name = prefix;
  for (int i = 0; i < 12; ++i) name.push_back(kDigits[random() % 16]);
  return name;
}

SignableRequest S3Request(std::string method, std::string path, std::vector<QueryParam> query = {},
                          std::string_view body = {}) {
  SignableRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.query = std::move(query);
  request.body = body;
  return request;
}

SignableRequest DynamoRequest(const std::string& operation, const std::string& body) {
  SignableRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                     {"X-Amz-Target", "DynamoDB_20120810." + operation}};
  request.body = body;
  return request;
}

// PutObject, GetObject, ListObjectsV2, HeadObject and deletes on an S3 peer, through AwsCaller.
void S3RoundTrip(AwsCaller& caller, const ServiceEndpoint& s3) {
  const std::string bucket = UniqueName("imgup-smoke-");
  auto created = caller.Call(s3, S3Request("PUT", "/" + bucket));
  ASSERT_TRUE(created) << created.error().detail;
  ASSERT_EQ(created->status, 200) << created->body;

  // A key with a space, UTF-8 and reserved characters: S3's path encoding, signed as sent.
  const std::string key = "originals/local/photo \xc3\xa9t\xc3\xa9 (1)+=.jpg";
  const std::string path = "/" + bucket + "/" + UriEncode(key, /*keep_slash=*/true);
  std::string bytes(1024 * 1024 + 3, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 % 251);
  auto put_request = S3Request("PUT", path, {}, bytes);
  put_request.headers = {{"Content-Type", "image/jpeg"}};
  auto put = caller.Call(s3, put_request);
  ASSERT_TRUE(put) << put.error().detail;
  ASSERT_EQ(put->status, 200) << put->body;
  EXPECT_EQ(AwsCaller::LastAttempts(), 1);

  auto got = caller.Call(s3, S3Request("GET", path));
  ASSERT_TRUE(got) << got.error().detail;
  ASSERT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(got->body, bytes);
  EXPECT_EQ(got->Header("content-type"), "image/jpeg");

  auto listed = caller.Call(
      s3, S3Request("GET", "/" + bucket, {{"list-type", "2"}, {"prefix", "originals/local/"}}));
  ASSERT_TRUE(listed) << listed.error().detail;
  ASSERT_EQ(listed->status, 200) << listed->body;
  auto tree = ParseXml(listed->body);
  ASSERT_TRUE(tree) << tree.error().detail;
  auto contents = tree->Children("Contents");
  ASSERT_EQ(contents.size(), 1u) << listed->body;
  EXPECT_EQ(contents[0]->ChildText("Key"), key);
  EXPECT_EQ(contents[0]->ChildText("Size"), std::to_string(bytes.size()));

  auto missing = caller.Call(s3, S3Request("HEAD", "/" + bucket + "/missing"));
  ASSERT_TRUE(missing) << missing.error().detail;
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(AwsCaller::LastAttempts(), 1);
  auto no_key = caller.Call(s3, S3Request("GET", "/" + bucket + "/missing"));
  ASSERT_TRUE(no_key);
  EXPECT_EQ(ParseAwsError(*no_key).code, "NoSuchKey");

  auto deleted = caller.Call(s3, S3Request("DELETE", path));
  ASSERT_TRUE(deleted) << deleted.error().detail;
  EXPECT_EQ(deleted->status, 204);
  auto bucket_deleted = caller.Call(s3, S3Request("DELETE", "/" + bucket));
  ASSERT_TRUE(bucket_deleted) << bucket_deleted.error().detail;
  EXPECT_EQ(bucket_deleted->status, 204) << bucket_deleted->body;
}

TEST(AwsPeersSmoke, SignedS3CallsOnVersitygw) {
  IMGUP_GET_AWS_PEERS_OR_SKIP(peers);
  auto http = MakeHttpClient();
  AwsCaller caller(*http, [&]() -> Result<Credentials> { return peers.credentials; });
  S3RoundTrip(caller, {peers.s3_endpoint, peers.region, "s3"});
}

TEST(AwsPeersSmoke, VersitygwRefusesAWrongSecretAndItIsNotRetried) {
  IMGUP_GET_AWS_PEERS_OR_SKIP(peers);
  auto http = MakeHttpClient();
  Credentials wrong = peers.credentials;
  wrong.secret_access_key += "x";
  AwsCaller caller(*http, [&]() -> Result<Credentials> { return wrong; });
  auto response = caller.Call({peers.s3_endpoint, peers.region, "s3"}, S3Request("GET", "/"));
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 403);
  auto error = ParseAwsError(*response);
  EXPECT_EQ(error.code, "SignatureDoesNotMatch");
  EXPECT_FALSE(error.request_id.empty());
  EXPECT_EQ(AwsCaller::LastAttempts(), 1);
}

TEST(AwsPeersSmoke, SignedS3CallsOnMoto) {
  IMGUP_GET_AWS_PEERS_OR_SKIP(peers);
  auto http = MakeHttpClient();
  AwsCaller caller(*http, [&]() -> Result<Credentials> { return peers.credentials; });
  S3RoundTrip(caller, {peers.dynamodb_endpoint, peers.region, "s3"});
}

TEST(AwsPeersSmoke, DynamoDbCallsOnMoto) {
  IMGUP_GET_AWS_PEERS_OR_SKIP(peers);
  auto http = MakeHttpClient();
  AwsCaller caller(*http, [&]() -> Result<Credentials> { return peers.credentials; });
  const ServiceEndpoint dynamodb{peers.dynamodb_endpoint, peers.region, "dynamodb"};
  const std::string table = UniqueName("imgup-smoke-");

  const std::string create = json{
      {"TableName", table},
      {"KeySchema", json::array({{{"AttributeName", "pk"}, {"KeyType", "HASH"}}})},
      {"AttributeDefinitions", json::array({{{"AttributeName", "pk"}, {"AttributeType", "S"}}})},
      {"BillingMode",
       "PAY_PER_REQUEST"}}.dump();
  auto created = caller.Call(dynamodb, DynamoRequest("CreateTable", create));
  ASSERT_TRUE(created) << created.error().detail;
  ASSERT_EQ(created->status, 200) << created->body;
  EXPECT_EQ(json::parse(created->body)["TableDescription"]["TableName"], table);

  auto listed = caller.Call(dynamodb, DynamoRequest("ListTables", "{}"));
  ASSERT_TRUE(listed) << listed.error().detail;
  ASSERT_EQ(listed->status, 200) << listed->body;
  auto names = json::parse(listed->body)["TableNames"];
  EXPECT_NE(std::find(names.begin(), names.end(), table), names.end()) << listed->body;

  auto again = caller.Call(dynamodb, DynamoRequest("CreateTable", create));
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_EQ(again->status, 400);
  EXPECT_EQ(ParseAwsError(*again).code, "ResourceInUseException");
  EXPECT_EQ(AwsCaller::LastAttempts(), 1);

  auto missing = caller.Call(
      dynamodb, DynamoRequest("DescribeTable", json{{"TableName", table + "-no"}}.dump()));
  ASSERT_TRUE(missing) << missing.error().detail;
  auto error = ParseAwsError(*missing);
  EXPECT_EQ(error.code, "ResourceNotFoundException");
  EXPECT_FALSE(error.request_id.empty());

  auto deleted =
      caller.Call(dynamodb, DynamoRequest("DeleteTable", json{{"TableName", table}}.dump()));
  ASSERT_TRUE(deleted) << deleted.error().detail;
  EXPECT_EQ(deleted->status, 200) << deleted->body;
}

}  // namespace
}  // namespace imgup::aws
