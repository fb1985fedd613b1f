// DynamoMetadataStore over a scripted HttpClient: the answers moto never gives (a transaction
// cancelled for a conflict with another in flight, a failed condition without the old item,
// throttling that outlasts the retries, an item the store cannot read), and the requests the
// store makes for them.
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "adapters/aws/dynamo_metadata_store.hpp"
#include "aws/scripted_http.hpp"

namespace imgup {
namespace {

using aws::ScriptedHttp;

constexpr const char* kCancelledConflict = R"js({
  "__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
  "Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
  "CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"},{"Code":"None"}]})js";
constexpr const char* kCancelledSameBytes = R"js({
  "__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
  "Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]",
  "CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}]})js";
constexpr const char* kConditionFailed = R"js({
  "__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
  "message":"The conditional request failed"})js";
constexpr const char* kOwnerListed = R"js({"Item":{"PK":{"S":"OWNERS"},"SK":{"S":"alice"}}})js";

ImageRecord Record(std::string id) {
  ImageRecord r;
  r.id = std::move(id);
  r.owner = "alice";
  r.filename = "a.jpg";
  r.content_type = "image/jpeg";
  r.format = "jpeg";
  r.key = "originals/alice/" + r.id;
  r.sha256 = std::string(64, 'a');
  r.status = ImageStatus::kProcessing;
  r.tags = {"cat"};
  return r;
}

class DynamoStoreScriptedTest : public ::testing::Test {
 protected:
  DynamoStoreScriptedTest()
      : caller_(
            http_,
            [] {
              return Result<aws::Credentials>(aws::Credentials{"AKID", "SECRET", ""});
            },
            aws::RetryPolicy{.max_attempts = 1,
                             .base = std::chrono::milliseconds(1),
                             .cap = std::chrono::milliseconds(1),
                             .max_total = std::chrono::milliseconds(100)},
            {}, [](std::chrono::milliseconds) {}),
        client_(caller_, {"http://127.0.0.1:9", "us-east-1", "dynamodb"}),
        store_(DynamoMetadataStore::Make(client_, {.table = "images",
                                                   .token_secret = "scripted-test-secret",
                                                   .max_transaction_attempts = 3})
                   .value()) {}

  ScriptedHttp http_;
  aws::AwsCaller caller_;
  aws::DynamoClient client_;
  std::unique_ptr<DynamoMetadataStore> store_;
};

TEST_F(DynamoStoreScriptedTest, AConflictingTransactionIsTriedAgainUnderANewToken) {
  http_.Answer(200, kOwnerListed);
  http_.Answer(400, kCancelledConflict);
  http_.Answer(400, kCancelledSameBytes);
  auto inserted = store_->Insert(Record("01J1"));
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error().code, ErrorCode::kConflict);
  EXPECT_EQ(inserted.error().slug, "duplicate_content");
  ASSERT_EQ(http_.requests.size(), 3u);
  EXPECT_EQ(http_.OperationOf(0), "GetItem");
  EXPECT_EQ(http_.OperationOf(1), "TransactWriteItems");
  EXPECT_EQ(http_.OperationOf(2), "TransactWriteItems");
  EXPECT_NE(http_.BodyOf(1)["ClientRequestToken"], http_.BodyOf(2)["ClientRequestToken"]);
  // The record, its marker and its tag entry, the first two on attribute_not_exists.
  const auto actions = http_.BodyOf(1)["TransactItems"];
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[0]["Put"]["Item"]["SK"]["S"], "IMAGE#01J1");
  EXPECT_EQ(actions[0]["Put"]["ConditionExpression"], "attribute_not_exists(#pk)");
  EXPECT_EQ(actions[1]["Put"]["Item"]["SK"]["S"], "SHA256#" + std::string(64, 'a'));
  EXPECT_EQ(actions[1]["Put"]["ConditionExpression"], "attribute_not_exists(#pk)");
  EXPECT_EQ(actions[2]["Put"]["Item"]["PK"]["S"], "TAG#alice#cat");
}

TEST_F(DynamoStoreScriptedTest, AConflictThatOutlastsTheAttemptsIsTransient) {
  http_.Answer(200, kOwnerListed);
  for (int i = 0; i < 3; ++i) http_.Answer(400, kCancelledConflict);
  auto inserted = store_->Insert(Record("01J1"));
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(inserted.error().slug, "storage_unavailable");
  EXPECT_EQ(http_.requests.size(), 4u);
}

TEST_F(DynamoStoreScriptedTest, TheOwnerDirectoryIsWrittenOncePerOwnerAndProcess) {
  http_.Answer(200, "{}");  // alice is not listed yet
  http_.Answer(200, "{}");  // PutItem
  http_.Answer(200, "{}");  // TransactWriteItems
  http_.Answer(200, "{}");  // the second insert: TransactWriteItems only
  ASSERT_TRUE(store_->Insert(Record("01J1")));
  ImageRecord second = Record("01J2");
  second.sha256 = std::string(64, 'b');
  ASSERT_TRUE(store_->Insert(second));
  ASSERT_EQ(http_.requests.size(), 4u);
  EXPECT_EQ(http_.OperationOf(0), "GetItem");
  EXPECT_EQ(http_.BodyOf(0)["Key"]["PK"]["S"], "OWNERS");
  EXPECT_EQ(http_.BodyOf(0)["ConsistentRead"], false);
  EXPECT_EQ(http_.OperationOf(1), "PutItem");
  EXPECT_EQ(http_.BodyOf(1)["Item"]["kind"]["S"], "owner");
  EXPECT_EQ(http_.OperationOf(2), "TransactWriteItems");
  EXPECT_EQ(http_.OperationOf(3), "TransactWriteItems");
}

TEST_F(DynamoStoreScriptedTest, AFailedCompletionWithoutTheOldItemReadsTheRecordToNameTheReason) {
  http_.Answer(400, kConditionFailed);
  http_.Answer(200, "{}");  // no record
  http_.Answer(400, kConditionFailed);
  http_.Answer(200, R"js({"Item":{"PK":{"S":"OWNER#alice"}}})js");
  ImageRecord done = Record("01J1");
  done.status = ImageStatus::kReady;
  auto missing = store_->SaveDerived(done);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto completed = store_->SaveDerived(done);
  ASSERT_FALSE(completed);
  EXPECT_EQ(completed.error().slug, "not_processing");
  // The update asked for the old item, and was conditional on the status.
  const auto update = http_.BodyOf(0);
  EXPECT_EQ(update["ReturnValuesOnConditionCheckFailure"], "ALL_OLD");
  EXPECT_EQ(update["ConditionExpression"], "attribute_exists(#pk) AND #status = :processing");
  EXPECT_EQ(update["ExpressionAttributeValues"][":processing"]["S"], "processing");
  EXPECT_EQ(http_.BodyOf(1)["ConsistentRead"], true);
}

TEST_F(DynamoStoreScriptedTest, ThrottlingThatOutlastsTheRetriesIsTransient) {
  http_.Answer(400, R"js({"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException"})js");
  auto got = store_->Get("alice", "01J1");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(got.error().slug, "storage_unavailable");
}

TEST_F(DynamoStoreScriptedTest, AnItemTheStoreCannotReadIsAStorageError) {
  http_.Answer(200, R"js({"Item":{"id":{"S":"01J1"},"owner":{"S":"alice"}}})js");
  auto got = store_->Get("alice", "01J1");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kInternal);
  EXPECT_EQ(got.error().slug, "dynamodb_bad_value");
}

TEST_F(DynamoStoreScriptedTest, ListAsksForOneMoreThanAPageAndSkipsTheBound) {
  http_.Answer(200, R"js({"Items":[]})js");
  ListQuery query;
  query.limit = 20;
  query.before_id = "01J9";
  ASSERT_TRUE(store_->List("alice", query));
  const auto body = http_.BodyOf(0);
  EXPECT_EQ(body["KeyConditionExpression"], "#pk = :pk AND #sk BETWEEN :lo AND :hi");
  EXPECT_EQ(body["ExpressionAttributeValues"][":hi"]["S"], "IMAGE#01J9");
  EXPECT_EQ(body["ExpressionAttributeValues"][":lo"]["S"], "IMAGE#");
  EXPECT_EQ(body["ScanIndexForward"], false);
  EXPECT_EQ(body["ConsistentRead"], true);
  EXPECT_EQ(body["Limit"], 22);  // the page, one to know whether more follow, and the bound
  EXPECT_FALSE(body.contains("FilterExpression"));
}

}  // namespace
}  // namespace imgup
