// S3 event notifications: AWS's own samples (`sam local generate-event s3 put` / `s3 delete`),
// then keys as S3 encodes them ('+' for a space, %2B for a '+', UTF-8 as %XX), and events that
// are not S3's or are broken.
#include "transport/lambda/s3_event.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lambda/fixtures.hpp"

namespace imgup {
namespace {

using nlohmann::json;
using test::AwsEvent;
using test::ReadAwsFixture;

/// AWS's put sample with `encoded_key` as the object key, as S3 would send it.
json PutWithKey(const std::string& encoded_key) {
  json event = AwsEvent("s3-put.json");
  event["Records"][0]["s3"]["object"]["key"] = encoded_key;
  return event;
}

std::string KeyOf(const json& event) {
  auto records = DecodeS3Event(event.dump());
  EXPECT_TRUE(records) << records.error().detail;
  if (!records || records->size() != 1) return "<no record>";
  return (*records)[0].key;
}

TEST(S3EventTest, DecodesAwsPutSample) {
  const json sample = AwsEvent("s3-put.json");
  auto records = DecodeS3Event(ReadAwsFixture("s3-put.json"));
  ASSERT_TRUE(records) << records.error().detail;
  ASSERT_EQ(records->size(), 1u);
  const S3EventRecord& record = (*records)[0];
  EXPECT_EQ(record.event_name, "ObjectCreated:Put");
  EXPECT_TRUE(record.IsObjectCreated());
  EXPECT_EQ(record.bucket, sample["Records"][0]["s3"]["bucket"]["name"].get<std::string>());
  EXPECT_EQ(record.key, sample["Records"][0]["s3"]["object"]["key"].get<std::string>());
  ASSERT_TRUE(record.size.has_value());
  EXPECT_EQ(*record.size, sample["Records"][0]["s3"]["object"]["size"].get<std::uint64_t>());
  EXPECT_EQ(record.sequencer, sample["Records"][0]["s3"]["object"]["sequencer"].get<std::string>());
}

TEST(S3EventTest, DecodesAwsDeleteSampleAsNotACreation) {
  auto records = DecodeS3Event(ReadAwsFixture("s3-delete.json"));
  ASSERT_TRUE(records) << records.error().detail;
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].event_name, "ObjectRemoved:Delete");
  EXPECT_FALSE((*records)[0].IsObjectCreated());
  EXPECT_FALSE((*records)[0].size.has_value());
}

TEST(S3EventTest, EveryCreationKindIsACreation) {
  for (const char* name : {"ObjectCreated:Put", "ObjectCreated:Post", "ObjectCreated:Copy",
                           "ObjectCreated:CompleteMultipartUpload"}) {
    S3EventRecord record;
    record.event_name = name;
    EXPECT_TRUE(record.IsObjectCreated()) << name;
  }
  for (const char* name : {"ObjectRemoved:Delete", "ObjectRestore:Completed",
                           "s3:ObjectCreated:Put", "ObjectCreated", "", "objectcreated:put"}) {
    S3EventRecord record;
    record.event_name = name;
    EXPECT_FALSE(record.IsObjectCreated()) << name;
  }
}

TEST(S3EventTest, KeysAreDecodedAsS3EncodesThem) {
  EXPECT_EQ(KeyOf(PutWithKey("originals/ann/01J0ABC")), "originals/ann/01J0ABC");
  EXPECT_EQ(KeyOf(PutWithKey("my+summer+photo.jpg")), "my summer photo.jpg");  // '+' is a space
  EXPECT_EQ(KeyOf(PutWithKey("a%2Bb.jpg")), "a+b.jpg");                        // a real '+'
  EXPECT_EQ(KeyOf(PutWithKey("a%2bb%20c")), "a+b c");                          // lower-case hex
  EXPECT_EQ(KeyOf(PutWithKey("caf%C3%A9/%E5%86%99%E7%9C%9F.png")), "café/写真.png");
  EXPECT_EQ(KeyOf(PutWithKey("%F0%9F%93%B7")), "\xF0\x9F\x93\xB7");  // U+1F4F7, four bytes
  EXPECT_EQ(KeyOf(PutWithKey("100%25+sure%3F%26%3D")), "100% sure?&=");
  EXPECT_EQ(KeyOf(PutWithKey("dir%2Fname")), "dir/name");
}

TEST(S3EventTest, DecodeS3KeyRefusesBadEscapesAndNonUtf8) {
  EXPECT_EQ(DecodeS3Key("plain"), "plain");
  EXPECT_EQ(DecodeS3Key(""), "");
  EXPECT_FALSE(DecodeS3Key("bad%zzescape"));
  EXPECT_FALSE(DecodeS3Key("cut%4"));
  EXPECT_FALSE(DecodeS3Key("cut%"));
  EXPECT_FALSE(DecodeS3Key("latin1-%E9"));       // a lone byte that is not UTF-8
  EXPECT_FALSE(DecodeS3Key("overlong-%C0%AF"));  // an overlong '/'
  EXPECT_FALSE(DecodeS3Key("surrogate-%ED%A0%80"));
}

TEST(S3EventTest, RecordsKeepTheirOrder) {
  json event = AwsEvent("s3-put.json");
  json second = event["Records"][0];
  second["s3"]["object"]["key"] = "second";
  second["eventName"] = "ObjectCreated:Copy";
  event["Records"][0]["s3"]["object"]["key"] = "first";
  event["Records"].push_back(second);
  auto records = DecodeS3Event(event.dump());
  ASSERT_TRUE(records) << records.error().detail;
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].key, "first");
  EXPECT_EQ((*records)[1].key, "second");
  EXPECT_EQ((*records)[1].event_name, "ObjectCreated:Copy");
}

TEST(S3EventTest, AnEventWithoutRecordsIsNotAnS3Event) {
  for (const std::string& event :
       {std::string("not json"), std::string("[]"), std::string("{}"),
        std::string(R"({"Records": {}})"), ReadAwsFixture("http-api-proxy.json")}) {
    auto records = DecodeS3Event(event);
    ASSERT_FALSE(records) << event;
    EXPECT_EQ(records.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(records.error().slug, "not_an_s3_event");
  }
}

TEST(S3EventTest, AnEmptyRecordListHasNoRecords) {
  auto records = DecodeS3Event(R"({"Records": []})");
  ASSERT_TRUE(records);
  EXPECT_TRUE(records->empty());
}

TEST(S3EventTest, ABrokenRecordIsAMalformedEventNamingIt) {
  const json sample = AwsEvent("s3-put.json");
  std::vector<json> broken;
  broken.push_back(sample);
  broken.back()["Records"][0].erase("eventName");
  broken.push_back(sample);
  broken.back()["Records"][0]["s3"]["object"].erase("key");
  broken.push_back(sample);
  broken.back()["Records"][0]["s3"]["object"]["key"] = 42;
  broken.push_back(sample);
  broken.back()["Records"][0]["s3"]["bucket"].erase("name");
  broken.push_back(sample);
  broken.back()["Records"][0].erase("s3");
  broken.push_back(sample);
  broken.back()["Records"][0]["s3"]["object"]["key"] = "bad%zz";
  broken.push_back(sample);
  broken.back()["Records"][0]["s3"]["object"]["key"] = "latin1-%E9";
  broken.push_back(sample);
  broken.back()["Records"][0]["s3"]["object"]["size"] = "big";
  broken.push_back(sample);
  broken.back()["Records"][0] = "a string";
  for (const json& event : broken) {
    auto records = DecodeS3Event(event.dump());
    ASSERT_FALSE(records) << event.dump();
    EXPECT_EQ(records.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(records.error().slug, "malformed_s3_event") << event.dump();
    EXPECT_NE(records.error().detail.find("record 0"), std::string::npos) << records.error().detail;
  }
}

}  // namespace
}  // namespace imgup
