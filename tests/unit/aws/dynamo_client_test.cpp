// The DynamoDB client's requests and its reading of answers, over a scripted HttpClient: the
// JSON protocol's headers and bodies as AWS's API reference shows them, and the errors
// (CancellationReasons, the old item of a failed condition) mapped for the adapters.
#include "aws/dynamo_client.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "aws/scripted_http.hpp"

namespace imgup::aws {
namespace {

using nlohmann::json;

class DynamoClientTest : public ::testing::Test {
 protected:
  DynamoClientTest()
      : caller_(
            http_,
            [] {
              return Result<Credentials>(Credentials{"AKID", "SECRET", ""});
            },
            RetryPolicy{.max_attempts = 1,
                        .base = std::chrono::milliseconds(1),
                        .cap = std::chrono::milliseconds(1),
                        .max_total = std::chrono::milliseconds(100)},
            [] {
              return std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
            },
            [](std::chrono::milliseconds) {}),
        client_(caller_, {"http://127.0.0.1:9", "eu-west-1", "dynamodb"}) {}

  ScriptedHttp http_;
  AwsCaller caller_;
  DynamoClient client_;
};

TEST_F(DynamoClientTest, AnOperationIsAPostOfJsonWithItsTarget) {
  http_.Answer(200, R"js({"Item":{"PK":{"S":"a"},"n":{"N":"7"}}})js");
  GetItemRequest request;
  request.table = "images";
  request.key = {{"PK", AttributeValue::S("a")}, {"SK", AttributeValue::S("b")}};
  auto item = client_.GetItem(request);
  ASSERT_TRUE(item) << item.error().error.detail;
  ASSERT_TRUE(*item);
  EXPECT_EQ((**item).at("n").AsInt64(), 7);

  ASSERT_EQ(http_.requests.size(), 1u);
  EXPECT_EQ(http_.requests[0].method, "POST");
  EXPECT_EQ(http_.requests[0].url, "http://127.0.0.1:9/");
  EXPECT_EQ(http_.HeaderOf(0, "x-amz-target"), "DynamoDB_20120810.GetItem");
  EXPECT_EQ(http_.HeaderOf(0, "content-type"), "application/x-amz-json-1.0");
  // Signed for dynamodb in the endpoint's region.
  EXPECT_NE(http_.HeaderOf(0, "authorization").find("/eu-west-1/dynamodb/aws4_request"),
            std::string::npos)
      << http_.HeaderOf(0, "authorization");
  EXPECT_EQ(http_.BodyOf(0), json::parse(R"js({"TableName":"images","ConsistentRead":true,
      "Key":{"PK":{"S":"a"},"SK":{"S":"b"}}})js"));
}

TEST_F(DynamoClientTest, NoItemIsNotAnError) {
  http_.Answer(200, "{}");
  GetItemRequest request;
  request.table = "images";
  request.key = {{"PK", AttributeValue::S("a")}};
  auto item = client_.GetItem(request);
  ASSERT_TRUE(item);
  EXPECT_FALSE(*item);
}

TEST_F(DynamoClientTest, QueryCarriesEveryPartAndReadsThePage) {
  http_.Answer(200, R"js({"Items":[{"id":{"S":"2"}},{"id":{"S":"1"}}],"Count":2,"ScannedCount":5,
      "LastEvaluatedKey":{"PK":{"S":"p"},"SK":{"S":"IMAGE#1"}}})js");
  QueryRequest request;
  request.table = "images";
  request.index = "by_type";
  request.key_condition = "#tp = :tp AND #id < :before";
  request.filter = "#up >= :from";
  request.projection = "#id";
  request.names = {{"#tp", "type_pk"}, {"#id", "id"}, {"#up", "uploaded_at_ms"}};
  request.values = {{":tp", AttributeValue::S("alice#image/png")},
                    {":before", AttributeValue::S("9")},
                    {":from", AttributeValue::N(std::int64_t{5})}};
  request.scan_forward = false;
  request.limit = 10;
  request.exclusive_start_key = Item{{"PK", AttributeValue::S("x")}};
  auto page = client_.Query(request);
  ASSERT_TRUE(page) << page.error().error.detail;
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->scanned_count, 5);
  ASSERT_TRUE(page->last_evaluated_key);
  EXPECT_EQ(*page->last_evaluated_key->at("SK").AsString(), "IMAGE#1");
  EXPECT_EQ(http_.HeaderOf(0, "x-amz-target"), "DynamoDB_20120810.Query");
  EXPECT_EQ(http_.BodyOf(0), json::parse(R"js({"TableName":"images","IndexName":"by_type",
      "KeyConditionExpression":"#tp = :tp AND #id < :before","FilterExpression":"#up >= :from",
      "ProjectionExpression":"#id","ScanIndexForward":false,"Limit":10,
      "ExclusiveStartKey":{"PK":{"S":"x"}},
      "ExpressionAttributeNames":{"#tp":"type_pk","#id":"id","#up":"uploaded_at_ms"},
      "ExpressionAttributeValues":{":tp":{"S":"alice#image/png"},":before":{"S":"9"},
                                   ":from":{"N":"5"}}})js"));
}

TEST_F(DynamoClientTest, TransactWriteItemsSendsEachActionInOrder) {
  TransactWriteRequest request;
  request.items.push_back(
      TransactWriteItem::Put("t", {{"PK", AttributeValue::S("a")}}, "attribute_not_exists(#pk)"));
  request.items.back().names = {{"#pk", "PK"}};
  request.items.push_back(
      TransactWriteItem::Update("t", {{"PK", AttributeValue::S("b")}}, "SET #v = :v", "#v = :o"));
  request.items.back().names = {{"#v", "version"}};
  request.items.back().values = {{":v", AttributeValue::N(std::int64_t{2})},
                                 {":o", AttributeValue::N(std::int64_t{1})}};
  request.items.back().return_old_on_condition_failure = true;
  request.items.push_back(TransactWriteItem::Delete("t", {{"PK", AttributeValue::S("c")}}));
  request.items.push_back(TransactWriteItem::ConditionCheck("t", {{"PK", AttributeValue::S("d")}},
                                                            "attribute_exists(PK)"));
  request.client_request_token = "token-1";
  ASSERT_TRUE(client_.TransactWriteItems(request));
  EXPECT_EQ(http_.HeaderOf(0, "x-amz-target"), "DynamoDB_20120810.TransactWriteItems");
  EXPECT_EQ(http_.BodyOf(0), json::parse(R"js({"ClientRequestToken":"token-1","TransactItems":[
      {"Put":{"TableName":"t","Item":{"PK":{"S":"a"}},
              "ConditionExpression":"attribute_not_exists(#pk)",
              "ExpressionAttributeNames":{"#pk":"PK"}}},
      {"Update":{"TableName":"t","Key":{"PK":{"S":"b"}},"UpdateExpression":"SET #v = :v",
                 "ConditionExpression":"#v = :o","ReturnValuesOnConditionCheckFailure":"ALL_OLD",
                 "ExpressionAttributeNames":{"#v":"version"},
                 "ExpressionAttributeValues":{":v":{"N":"2"},":o":{"N":"1"}}}},
      {"Delete":{"TableName":"t","Key":{"PK":{"S":"c"}}}},
      {"ConditionCheck":{"TableName":"t","Key":{"PK":{"S":"d"}},
                         "ConditionExpression":"attribute_exists(PK)"}}]})js"));
}

// The answer of AWS's API reference for a cancelled transaction.
TEST_F(DynamoClientTest, ACancelledTransactionSaysWhichActionFailedAndWhy) {
  http_.Answer(400, R"js({"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
      "Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]",
      "CancellationReasons":[{"Code":"None"},
        {"Code":"ConditionalCheckFailed","Message":"The conditional request failed",
         "Item":{"PK":{"S":"b"},"version":{"N":"3"}}}]})js");
  TransactWriteRequest request;
  request.items.push_back(TransactWriteItem::Delete("t", {{"PK", AttributeValue::S("a")}}));
  request.items.push_back(TransactWriteItem::Delete("t", {{"PK", AttributeValue::S("b")}}));
  auto done = client_.TransactWriteItems(request);
  ASSERT_FALSE(done);
  const DynamoError& error = done.error();
  EXPECT_TRUE(error.TransactionCanceled());
  EXPECT_FALSE(error.ConditionFailed());
  ASSERT_EQ(error.cancellation_reasons.size(), 2u);
  EXPECT_EQ(error.cancellation_reasons[0].code, "None");
  EXPECT_EQ(error.cancellation_reasons[1].code, "ConditionalCheckFailed");
  ASSERT_TRUE(error.cancellation_reasons[1].item);
  EXPECT_EQ(error.cancellation_reasons[1].item->at("version").AsInt64(), 3);
  // Nothing more specific known: not a transient failure.
  EXPECT_EQ(error.error.code, ErrorCode::kInternal);
  EXPECT_EQ(error.error.slug, "storage_error");
  EXPECT_NE(error.error.detail.find("TransactionCanceledException"), std::string::npos);
}

TEST_F(DynamoClientTest, AFailedConditionReturnsTheOldItemWhenAskedFor) {
  http_.Answer(400,
               R"js({"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
      "message":"The conditional request failed","Item":{"status":{"S":"ready"}}})js");
  UpdateItemRequest request;
  request.table = "t";
  request.key = {{"PK", AttributeValue::S("a")}};
  request.update = "SET #s = :s";
  request.condition = "#s = :p";
  request.names = {{"#s", "status"}};
  request.values = {{":s", AttributeValue::S("ready")}, {":p", AttributeValue::S("processing")}};
  request.return_values = ReturnValues::kUpdatedNew;
  request.return_old_on_condition_failure = true;
  auto updated = client_.UpdateItem(request);
  ASSERT_FALSE(updated);
  EXPECT_TRUE(updated.error().ConditionFailed());
  ASSERT_TRUE(updated.error().item);
  EXPECT_EQ(*updated.error().item->at("status").AsString(), "ready");
  const json body = http_.BodyOf(0);
  EXPECT_EQ(body["ReturnValues"], "UPDATED_NEW");
  EXPECT_EQ(body["ReturnValuesOnConditionCheckFailure"], "ALL_OLD");
}

TEST_F(DynamoClientTest, ThrottlingAndServerErrorsAreTransientOthersAreNot) {
  http_.Answer(
      400,
      R"js({"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"})js");
  http_.Answer(500, R"js({"__type":"com.amazon.coral.service#InternalFailure"})js");
  http_.Answer(
      400,
      R"js({"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"})js");
  http_.Answer(400,
               R"js({"__type":"com.amazon.coral.validate#ValidationException","message":"bad"})js");
  GetItemRequest request;
  request.table = "t";
  request.key = {{"PK", AttributeValue::S("a")}};
  for (const auto& [code, slug] : std::vector<std::pair<ErrorCode, std::string>>{
           {ErrorCode::kUnavailable, "storage_unavailable"},
           {ErrorCode::kUnavailable, "storage_unavailable"},
           {ErrorCode::kInternal, "storage_error"},
           {ErrorCode::kInternal, "storage_error"}}) {
    auto item = client_.GetItem(request);
    ASSERT_FALSE(item);
    EXPECT_EQ(item.error().error.code, code) << item.error().error.detail;
    EXPECT_EQ(item.error().error.slug, slug);
    EXPECT_NE(item.error().error.detail.find("GetItem"), std::string::npos);
  }
}

TEST_F(DynamoClientTest, BatchGetItemAsksAgainForUnprocessedKeysAndSplitsLargeBatches) {
  BatchGetRequest request;
  request.table = "t";
  for (int i = 0; i < 150; ++i)
    request.keys.push_back({{"PK", AttributeValue::S(std::to_string(i))}});
  // First 100: two of them left unprocessed once; then the last 50.
  http_.Answer(200, R"js({"Responses":{"t":[{"PK":{"S":"0"}}]},
      "UnprocessedKeys":{"t":{"Keys":[{"PK":{"S":"1"}},{"PK":{"S":"2"}}],"ConsistentRead":true}}})js");
  http_.Answer(
      200, R"js({"Responses":{"t":[{"PK":{"S":"1"}},{"PK":{"S":"2"}}]},"UnprocessedKeys":{}})js");
  http_.Answer(200, R"js({"Responses":{"t":[{"PK":{"S":"149"}}]}})js");
  auto items = client_.BatchGetItem(request);
  ASSERT_TRUE(items) << items.error().error.detail;
  EXPECT_EQ(items->size(), 4u);
  ASSERT_EQ(http_.requests.size(), 3u);
  EXPECT_EQ(http_.BodyOf(0)["RequestItems"]["t"]["Keys"].size(), 100u);
  EXPECT_EQ(http_.BodyOf(0)["RequestItems"]["t"]["ConsistentRead"], true);
  EXPECT_EQ(http_.BodyOf(1)["RequestItems"]["t"]["Keys"],
            json::parse(R"js([{"PK":{"S":"1"}},{"PK":{"S":"2"}}])js"));
  EXPECT_EQ(http_.BodyOf(2)["RequestItems"]["t"]["Keys"].size(), 50u);
}

TEST_F(DynamoClientTest, CreateTableDescribesKeysIndexesAndOnDemandBilling) {
  TableSpec spec;
  spec.name = "images";
  spec.keys = {"PK", "SK"};
  spec.indexes = {{"by_type", {"type_pk", "id"}, {"uploaded_at_ms"}},
                  {"keys_only", {"PK", ""}, {}}};
  ASSERT_TRUE(client_.CreateTable(spec));
  EXPECT_EQ(http_.BodyOf(0), json::parse(R"js({"TableName":"images","BillingMode":"PAY_PER_REQUEST",
      "KeySchema":[{"AttributeName":"PK","KeyType":"HASH"},{"AttributeName":"SK","KeyType":"RANGE"}],
      "AttributeDefinitions":[{"AttributeName":"PK","AttributeType":"S"},
                              {"AttributeName":"SK","AttributeType":"S"},
                              {"AttributeName":"type_pk","AttributeType":"S"},
                              {"AttributeName":"id","AttributeType":"S"}],
      "GlobalSecondaryIndexes":[
        {"IndexName":"by_type","KeySchema":[{"AttributeName":"type_pk","KeyType":"HASH"},
                                            {"AttributeName":"id","KeyType":"RANGE"}],
         "Projection":{"ProjectionType":"INCLUDE","NonKeyAttributes":["uploaded_at_ms"]}},
        {"IndexName":"keys_only","KeySchema":[{"AttributeName":"PK","KeyType":"HASH"}],
         "Projection":{"ProjectionType":"KEYS_ONLY"}}]})js"));
}

TEST(DynamoClientTokenTest, RequestTokensAreFreshAndShapedLikeUuids) {
  const std::string a = NewClientRequestToken();
  const std::string b = NewClientRequestToken();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[8], '-');
  EXPECT_EQ(a[23], '-');
}

}  // namespace
}  // namespace imgup::aws
