// ParseAwsError and IsRetryable on error answers as S3 and DynamoDB send them: the examples of
// AWS's documentation, and answers captured from versitygw (S3) and moto (DynamoDB), the peers
// the adapters are tested against.
#include <gtest/gtest.h>

#include <string>

#include "aws/http_client.hpp"
#include "aws/xml.hpp"

namespace imgup::aws {
namespace {

HttpResponse Answer(int status, std::vector<HttpHeader> headers, std::string body) {
  return HttpResponse{status, std::move(headers), std::move(body)};
}

// The S3 API Reference, "Error responses", REST error response example.
TEST(ParseAwsError, S3DocumentationExample) {
  auto error = ParseAwsError(
      Answer(404, {{"content-type", "application/xml"}}, R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>)"));
  EXPECT_EQ(error.status, 404);
  EXPECT_EQ(error.code, "NoSuchKey");
  EXPECT_EQ(error.message, "The resource you requested does not exist");
  EXPECT_EQ(error.request_id, "4442587FB7D0A2F9");
  EXPECT_FALSE(IsRetryable(error));
}

TEST(ParseAwsError, VersitygwNoSuchBucketWithTheHeaderRequestId) {
  auto error = ParseAwsError(Answer(
      404,
      {{"server", "VERSITYGW"},
       {"content-type", "application/xml"},
       {"x-amz-request-id", "0HHO3KVE5TG4KHXU"}},
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The "
      "specified bucket does not exist.</Message><BucketName>nobucket</BucketName><RequestId>"
      "0HHO3KVE5TG4KHXU</RequestId><HostId>vqWVDt6S5EYBILLBvUWJj+Fy46G+/gCRnPStgPaqQbumSrrPSf9/"
      "u9gItdgGCY1wVxipbh5hv5AmgE9CJe2q9wQ=</HostId></Error>"));
  EXPECT_EQ(error.code, "NoSuchBucket");
  EXPECT_EQ(error.message, "The specified bucket does not exist.");
  EXPECT_EQ(error.request_id, "0HHO3KVE5TG4KHXU");
}

TEST(ParseAwsError, VersitygwSignatureDoesNotMatchDecodesCharacterReferences) {
  auto error = ParseAwsError(Answer(
      403, {{"x-amz-request-id", "2DTEP1DA72VK4V1N"}},
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
      "<Message>The request signature we calculated does not match the signature you provided. "
      "Check your key and signing method.</Message><AWSAccessKeyId>IMGUPTESTDA2D224AD251"
      "</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256&#xA;20261202T084038Z&#xA;20261202/"
      "us-east-1/s3/aws4_request&#xA;91d0d5452eb70963509f0ec03e188241df4a82c2b216f6224b4694bd4b"
      "20234f</StringToSign><RequestId>2DTEP1DA72VK4V1N</RequestId></Error>"));
  EXPECT_EQ(error.status, 403);
  EXPECT_EQ(error.code, "SignatureDoesNotMatch");
  EXPECT_EQ(error.request_id, "2DTEP1DA72VK4V1N");
  EXPECT_FALSE(IsRetryable(error));

  auto tree =
      ParseXml("<Error><StringToSign>AWS4-HMAC-SHA256&#xA;20261202T084038Z</StringToSign></Error>");
  ASSERT_TRUE(tree);
  EXPECT_EQ(tree->ChildText("StringToSign"), "AWS4-HMAC-SHA256\n20261202T084038Z");
}

TEST(ParseAwsError, VersitygwContentShaMismatch) {
  auto error = ParseAwsError(Answer(
      400, {{"x-amz-request-id", "5NRSD8BZJ65HZQZW"}},
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>XAmzContentSHA256Mismatch</Code>"
      "<Message>The provided &#39;x-amz-content-sha256&#39; header does not match what was "
      "computed.</Message><RequestId>5NRSD8BZJ65HZQZW</RequestId></Error>"));
  EXPECT_EQ(error.code, "XAmzContentSHA256Mismatch");
  EXPECT_EQ(error.message,
            "The provided 'x-amz-content-sha256' header does not match what was computed.");
  EXPECT_FALSE(IsRetryable(error));
}

TEST(ParseAwsError, AHeadAnswerHasNoBodySoTheStatusIsTheCode) {
  // versitygw's HeadObject of a missing key: 404, Content-Length 272, no body (botocore's
  // convention: the status as the code).
  auto error = ParseAwsError(
      Answer(404, {{"content-length", "272"}, {"x-amz-request-id", "CKBEQ0UO1KCIBIM8"}}, ""));
  EXPECT_EQ(error.code, "404");
  EXPECT_EQ(error.message, "Not Found");
  EXPECT_EQ(error.request_id, "CKBEQ0UO1KCIBIM8");
  EXPECT_FALSE(IsRetryable(error));
}

TEST(ParseAwsError, S3SlowDownIsRetryable) {
  auto error = ParseAwsError(Answer(503, {}, R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>A1</RequestId></Error>)"));
  EXPECT_EQ(error.code, "SlowDown");
  EXPECT_TRUE(IsRetryable(error));
}

TEST(ParseAwsError, S3RequestTimeoutIsRetryableThoughA400) {
  auto error = ParseAwsError(Answer(
      400, {},
      R"(<Error><Code>RequestTimeout</Code><Message>Your socket connection to the server was not read from or written to within the timeout period.</Message></Error>)"));
  EXPECT_EQ(error.code, "RequestTimeout");
  EXPECT_TRUE(IsRetryable(error));
}

// The DynamoDB Developer Guide, "Error handling with DynamoDB", the example error response.
TEST(ParseAwsError, DynamoDbDocumentationExample) {
  auto error = ParseAwsError(
      Answer(400,
             {{"x-amzn-requestid", "LDM6CJP8RMQ1FHKSC1RBVJFPNVV4KQNSO5AEMF66Q9ASUAAJG"},
              {"content-type", "application/x-amz-json-1.0"}},
             R"({"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
"message":"Requested resource not found: Table: tablename not found"})"));
  EXPECT_EQ(error.code, "ResourceNotFoundException");
  EXPECT_EQ(error.message, "Requested resource not found: Table: tablename not found");
  EXPECT_EQ(error.request_id, "LDM6CJP8RMQ1FHKSC1RBVJFPNVV4KQNSO5AEMF66Q9ASUAAJG");
  EXPECT_FALSE(IsRetryable(error));
}

TEST(ParseAwsError, MotoConditionalCheckFailed) {
  auto error = ParseAwsError(Answer(
      400,
      {{"x-amzn-errortype", "ConditionalCheckFailedException"},
       {"content-type", "application/json"},
       {"x-amzn-requestid", "KKJDOa6wefNL57fOj51Cj9Mc3sRf8yeh3BPu0LLm9EFBCZ2DJZoA"}},
      R"({"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "The conditional request failed"})"));
  EXPECT_EQ(error.code, "ConditionalCheckFailedException");
  EXPECT_EQ(error.message, "The conditional request failed");
  EXPECT_EQ(error.request_id, "KKJDOa6wefNL57fOj51Cj9Mc3sRf8yeh3BPu0LLm9EFBCZ2DJZoA");
  EXPECT_FALSE(IsRetryable(error));
}

TEST(ParseAwsError, MotoTransactionCanceledWithACapitalMessage) {
  auto error = ParseAwsError(Answer(
      400, {{"x-amzn-errortype", "TransactionCanceledException"}},
      R"({"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException", "CancellationReasons": [{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}], "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed]"})"));
  EXPECT_EQ(error.code, "TransactionCanceledException");
  EXPECT_EQ(error.message,
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            "[ConditionalCheckFailed]");
  EXPECT_FALSE(IsRetryable(error));
}

TEST(ParseAwsError, DynamoDbThrottlingIsRetryable) {
  for (const char* code :
       {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}) {
    auto error =
        ParseAwsError(Answer(400, {},
                             std::string(R"({"__type":"com.amazonaws.dynamodb.v20120810#)") + code +
                                 R"(","message":"slow down"})"));
    EXPECT_EQ(error.code, code);
    EXPECT_TRUE(IsRetryable(error)) << code;
  }
}

// moto's answers in its auth mode: the query protocol's XML, even for DynamoDB.
TEST(ParseAwsError, QueryProtocolXmlAsMotoAnswersAuthErrors) {
  auto error = ParseAwsError(Answer(403, {}, R"(<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse>
  <Error>
    <Type>Sender</Type>
    <Code>InvalidClientTokenId</Code>
    <Message>The security token included in the request is invalid.</Message>
  </Error>
  <RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>
</ErrorResponse>)"));
  EXPECT_EQ(error.code, "InvalidClientTokenId");
  EXPECT_EQ(error.message, "The security token included in the request is invalid.");
  EXPECT_EQ(error.request_id, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE");
  EXPECT_FALSE(IsRetryable(error));
}

// moto 5.2's own answer to a DynamoDB call signed with a wrong secret (captured from it).
TEST(ParseAwsError, MotoAuthModeSignatureDoesNotMatchSaysTheSecretIsWrong) {
  auto error = ParseAwsError(Answer(403, {}, R"(<?xml version="1.0" encoding="utf-8"?>
<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.</Message><Type>Sender</Type></Error></Errors></ErrorResponse>)"));
  EXPECT_EQ(error.code, "SignatureDoesNotMatch");
  EXPECT_FALSE(IsRetryable(error));
  EXPECT_FALSE(IsClockSkew(error));
  EXPECT_NE(CredentialsRefusal(error).find("secret access key is wrong"), std::string::npos);
}

TEST(CredentialsRefusal, NamesWhatIsWrongWithTheCredentials) {
  EXPECT_NE(CredentialsRefusal({403, "InvalidAccessKeyId", "", ""}).find("access key id"),
            std::string::npos);
  EXPECT_NE(CredentialsRefusal({400, "UnrecognizedClientException", "", ""}).find("not known"),
            std::string::npos);
  EXPECT_NE(CredentialsRefusal({403, "InvalidClientTokenId", "", ""}).find("not known"),
            std::string::npos);
  EXPECT_NE(CredentialsRefusal({400, "ExpiredTokenException", "", ""}).find("expired"),
            std::string::npos);
  EXPECT_NE(CredentialsRefusal({403, "AccessDenied", "", ""}).find("not allowed"),
            std::string::npos);
  EXPECT_EQ(CredentialsRefusal({404, "NoSuchKey", "", ""}), "");
  EXPECT_EQ(CredentialsRefusal({500, "InternalError", "", ""}), "");
}

TEST(IsClockSkew, S3AndDynamoDbWays) {
  // S3's documented error, and DynamoDB's InvalidSignatureException for a time off either way.
  EXPECT_TRUE(IsClockSkew(ParseAwsError(Answer(
      403, {},
      "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time "
      "and the current time is too large.</Message><RequestTime>20261202T101010Z</RequestTime>"
      "<ServerTime>2026-12-02T12:10:10Z</ServerTime><MaxAllowedSkewMilliseconds>900000"
      "</MaxAllowedSkewMilliseconds></Error>"))));
  const AwsError expired{400, "InvalidSignatureException",
                         "Signature expired: 20261202T101010Z is now earlier than 20261202T120510Z "
                         "(20261202T121010Z - 5 min.)",
                         ""};
  EXPECT_TRUE(IsClockSkew(expired));
  EXPECT_EQ(CredentialsRefusal(expired), "");  // the clock, not the secret
  EXPECT_TRUE(IsClockSkew({400, "InvalidSignatureException", "Signature not yet current: x", ""}));
  EXPECT_FALSE(IsClockSkew({400, "InvalidSignatureException", "The request signature ...", ""}));
  EXPECT_FALSE(IsRetryable(expired));
}

TEST(ParseAwsError, AnHtmlPageFromAProxyOrACrashIsTheStatus) {
  // moto's answer to a CreateTable it cannot handle.
  auto error = ParseAwsError(Answer(500, {{"content-type", "text/html; charset=utf-8"}},
                                    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server "
                                    "Error</title>\n<h1>Internal Server Error</h1>\n"));
  EXPECT_EQ(error.code, "500");
  EXPECT_EQ(error.message, "Internal Server Error");
  EXPECT_TRUE(IsRetryable(error));
}

TEST(ParseAwsError, TheErrorTypeHeaderServesWhenTheBodyIsNotJson) {
  auto error = ParseAwsError(
      Answer(400, {{"x-amzn-errortype", "ValidationException:http://internal.amazon.com/coral/x/"}},
             "not json"));
  EXPECT_EQ(error.code, "ValidationException");
}

TEST(IsRetryable, StatusesAndCodes) {
  EXPECT_TRUE(IsRetryable({500, "InternalError", "", ""}));
  EXPECT_TRUE(IsRetryable({502, "502", "", ""}));
  EXPECT_TRUE(IsRetryable({503, "ServiceUnavailable", "", ""}));
  EXPECT_TRUE(IsRetryable({504, "504", "", ""}));
  EXPECT_TRUE(IsRetryable({429, "TooManyRequestsException", "", ""}));
  EXPECT_TRUE(IsRetryable({400, "Throttling", "", ""}));
  EXPECT_FALSE(IsRetryable({501, "NotImplemented", "", ""}));
  EXPECT_FALSE(IsRetryable({400, "ValidationException", "", ""}));
  EXPECT_FALSE(IsRetryable({403, "AccessDenied", "", ""}));
  EXPECT_FALSE(IsRetryable({404, "NoSuchKey", "", ""}));
  EXPECT_FALSE(IsRetryable({409, "BucketAlreadyOwnedByYou", "", ""}));
  EXPECT_FALSE(IsRetryable({412, "PreconditionFailed", "", ""}));
}

// ---------------------------------------------------------------------------------------------
// The XML tree the S3 adapter reads listings with.

TEST(ParseXml, ListObjectsV2AnswerWithANamespaceAndKeysWithSpaces) {
  auto tree = ParseXml(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>
  <Contents><Key> a &amp; b </Key><Size>3</Size></Contents>
  <Contents><Key>c&lt;d</Key><Size>4</Size></Contents>
  <NextContinuationToken>tok</NextContinuationToken>
</ListBucketResult>)");
  ASSERT_TRUE(tree) << tree.error().detail;
  EXPECT_EQ(tree->name, "ListBucketResult");
  ASSERT_EQ(tree->attributes.size(), 1u);
  EXPECT_EQ(tree->attributes[0].first, "xmlns");
  auto contents = tree->Children("Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(contents[0]->ChildText("Key"), " a & b ");
  EXPECT_EQ(contents[1]->ChildText("Key"), "c<d");
  EXPECT_EQ(tree->ChildText("NextContinuationToken"), "tok");
  EXPECT_EQ(tree->ChildText("Missing"), "");
  EXPECT_EQ(tree->Child("Missing"), nullptr);
  ASSERT_NE(tree->Find("Size"), nullptr);
  EXPECT_EQ(tree->Find("Size")->text, "3");
}

TEST(ParseXml, PrefixedNamesKeepTheirLocalName) {
  auto tree = ParseXml(R"(<s3:Error xmlns:s3="urn:x"><s3:Code>C</s3:Code></s3:Error>)");
  ASSERT_TRUE(tree);
  EXPECT_EQ(tree->name, "Error");
  EXPECT_EQ(tree->ChildText("Code"), "C");
}

TEST(ParseXml, RefusesMalformedDocumentsDoctypesAndDeepNesting) {
  for (std::string bad : {"", "<a>", "<a></b>", "not xml", "<a/><b/>", "<a>&undefined;</a>"}) {
    auto tree = ParseXml(bad);
    ASSERT_FALSE(tree) << bad;
    EXPECT_EQ(tree.error().slug, "bad_xml");
  }
  auto entities = ParseXml(R"(<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<Error><Code>&lol2;</Code></Error>)");
  ASSERT_FALSE(entities);
  EXPECT_NE(entities.error().detail.find("DOCTYPE"), std::string::npos);
  std::string deep;
  for (int i = 0; i < 65; ++i) deep += "<a>";
  for (int i = 0; i < 65; ++i) deep += "</a>";
  EXPECT_FALSE(ParseXml(deep));
  std::string ok;
  for (int i = 0; i < 64; ++i) ok += "<a>";
  for (int i = 0; i < 64; ++i) ok += "</a>";
  EXPECT_TRUE(ParseXml(ok));
}

}  // namespace
}  // namespace imgup::aws
