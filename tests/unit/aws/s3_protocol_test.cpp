// S3's wire formats: addressing, ListObjectsV2 and DeleteObjects bodies, S3's times, list tokens,
// POST policies (the policy's signature checked against the S3 documentation's example).
#include "adapters/aws/s3_protocol.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "codecs/base64.hpp"

namespace imgup::s3 {
namespace {

using namespace std::chrono_literals;

std::string Field(const std::vector<std::pair<std::string, std::string>>& fields,
                  std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (key == name) return value;
  }
  return "<none>";
}

TEST(S3Addressing, PathStyleForIpAddressesAndLocalhostVirtualHostedOtherwise) {
  using aws::S3AddressingStyle;
  auto local = AddressBucket("http://127.0.0.1:7070", "photos", S3AddressingStyle::kAuto);
  ASSERT_TRUE(local) << local.error().detail;
  EXPECT_EQ(local->origin, "http://127.0.0.1:7070");
  EXPECT_EQ(local->ObjectPath("originals/a/1"), "/photos/originals/a/1");
  EXPECT_EQ(local->BucketPath(), "/photos");
  EXPECT_EQ(AddressBucket("http://localhost:9000/", "photos", S3AddressingStyle::kAuto)->origin,
            "http://localhost:9000");
  EXPECT_EQ(AddressBucket("http://[::1]:9000", "photos", S3AddressingStyle::kAuto)->path_prefix,
            "/photos");

  auto aws =
      AddressBucket("https://s3.eu-west-1.amazonaws.com", "photos", S3AddressingStyle::kAuto);
  ASSERT_TRUE(aws);
  EXPECT_EQ(aws->origin, "https://photos.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(aws->ObjectPath("originals/a/1"), "/originals/a/1");
  EXPECT_EQ(aws->BucketPath(), "/");

  auto forced = AddressBucket("https://s3.example.com", "photos", S3AddressingStyle::kPath);
  ASSERT_TRUE(forced);
  EXPECT_EQ(forced->origin, "https://s3.example.com");
  EXPECT_EQ(forced->path_prefix, "/photos");
  // An endpoint behind a path (a gateway) keeps it before the bucket.
  auto based = AddressBucket("http://10.0.0.1:80/s3", "photos", S3AddressingStyle::kAuto);
  ASSERT_TRUE(based);
  EXPECT_EQ(based->origin, "http://10.0.0.1");
  EXPECT_EQ(based->ObjectPath("a"), "/s3/photos/a");
  // A dotted bucket cannot be a TLS virtual host (the wildcard certificate covers one label).
  EXPECT_EQ(
      AddressBucket("https://s3.amazonaws.com", "my.photos", S3AddressingStyle::kAuto)->path_prefix,
      "/my.photos");
  EXPECT_FALSE(AddressBucket("https://s3.amazonaws.com", "my.photos", S3AddressingStyle::kVirtual));
}

TEST(S3Addressing, KeysAreEncodedAsS3SignsThem) {
  const auto address =
      AddressBucket("http://127.0.0.1:1", "b-1", aws::S3AddressingStyle::kPath).value();
  EXPECT_EQ(address.ObjectPath("a b/c+d/\xc3\xa9~_.-"), "/b-1/a%20b/c%2Bd/%C3%A9~_.-");
}

TEST(S3Addressing, RefusesWhatCannotWork) {
  for (std::string_view endpoint :
       {"", "127.0.0.1:7070", "ftp://host", "http://", "http://u@host", "http://host?x"}) {
    auto address = AddressBucket(endpoint, "photos", aws::S3AddressingStyle::kAuto);
    ASSERT_FALSE(address) << endpoint;
    EXPECT_EQ(address.error().slug, "invalid_s3_endpoint") << endpoint;
  }
  const std::vector<std::string> bad_buckets = {
      "", "ab", "Photos", "a_b", "-ab", "ab-", "a..b", "192.168.1.1", std::string(64, 'a')};
  for (const std::string& bucket : bad_buckets) {
    auto address = AddressBucket("http://127.0.0.1:1", bucket, aws::S3AddressingStyle::kAuto);
    ASSERT_FALSE(address) << bucket;
    EXPECT_EQ(address.error().slug, "invalid_bucket") << bucket;
  }
}

TEST(S3ListObjectsV2, ReadsAPage) {
  // The S3 API reference's example, with a continuation token and an entity in a key.
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix/>
  <KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents>
    <Key>my-image.jpg</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>a&amp;b</Key>
    <LastModified>2009-10-12T17:50:31Z</LastModified>
    <Size>0</Size>
  </Contents>
</ListBucketResult>)";
  auto page = ParseListObjectsV2(xml);
  ASSERT_TRUE(page) << page.error().detail;
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].key, "my-image.jpg");
  EXPECT_EQ(page->items[0].size_bytes, 434234u);
  EXPECT_EQ(page->items[0].modified_ms, 1255369830000);
  EXPECT_EQ(page->items[1].key, "a&b");
  EXPECT_EQ(page->items[1].size_bytes, 0u);
  EXPECT_EQ(page->items[1].modified_ms, 1255369831000);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

  auto last = ParseListObjectsV2(
      "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount>"
      "</ListBucketResult>");
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->items.empty());
  EXPECT_FALSE(last->truncated);
}

TEST(S3ListObjectsV2, RefusesWhatIsNotAListing) {
  for (std::string_view xml :
       {"", "<Error><Code>x</Code></Error>", "<ListBucketResult>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>x</Size>"
        "<LastModified>2009-10-12T17:50:30Z</LastModified></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>"}) {
    EXPECT_FALSE(ParseListObjectsV2(xml)) << xml;
  }
}

TEST(S3DeleteObjects, WritesAQuietRequestAndReadsItsFailures) {
  const std::vector<std::string> keys = {"a/1", "a&<b>"};
  EXPECT_EQ(DeleteObjectsBody(keys),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            "<Object><Key>a/1</Key></Object><Object><Key>a&amp;&lt;b&gt;</Key></Object>"
            "</Delete>");
  auto failures = ParseDeleteResult(
      "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Deleted><Key>a/1</Key></Deleted>"
      "<Error><Key>a/2</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
      "</DeleteResult>");
  ASSERT_TRUE(failures);
  ASSERT_EQ(failures->size(), 1u);
  EXPECT_EQ((*failures)[0].key, "a/2");
  EXPECT_EQ((*failures)[0].code, "AccessDenied");
  EXPECT_EQ((*failures)[0].message, "Access Denied");
  EXPECT_TRUE(ParseDeleteResult("<DeleteResult/>")->empty());
  EXPECT_FALSE(ParseDeleteResult("<ListBucketResult/>"));
}

TEST(S3Times, ReadsIso8601AndHttpDates) {
  EXPECT_EQ(ParseIso8601Ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseIso8601Ms("2009-10-12T17:50:30.5Z"), 1255369830500);
  EXPECT_EQ(ParseIso8601Ms("2009-10-12T17:50:30.123456Z"), 1255369830123);
  EXPECT_EQ(ParseHttpDateMs("Mon, 12 Oct 2009 17:50:30 GMT"), 1255369830000);
  EXPECT_EQ(ParseHttpDateMs("Thu, 29 Feb 2024 23:59:59 GMT"), 1709251199000);
  for (std::string_view bad :
       {"", "2009-10-12 17:50:30Z", "2009-13-12T17:50:30Z", "2009-02-30T17:50:30Z",
        "2009-10-12T17:50:30", "2009-10-12T17:50:30.Z"}) {
    EXPECT_FALSE(ParseIso8601Ms(bad)) << bad;
  }
  for (std::string_view bad : {"", "Mon, 12 Oct 2009 17:50:30 UTC", "Mon, 12 Foo 2009 17:50:30 GMT",
                               "Monday, 12-Oct-09 17:50:30 GMT"}) {
    EXPECT_FALSE(ParseHttpDateMs(bad)) << bad;
  }
}

TEST(S3ListTokens, AreBoundToTheirPrefix) {
  const std::string token = WrapListToken("originals/", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36H=");
  EXPECT_EQ(UnwrapListToken("originals/", token), "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36H=");
  EXPECT_FALSE(UnwrapListToken("originals/a", token));
  EXPECT_FALSE(UnwrapListToken("", token));
  // Altered anywhere, or not a token at all.
  std::string altered = token;
  altered.back() = altered.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(UnwrapListToken("originals/", altered));
  altered = token;
  altered[0] = altered[0] == '0' ? '1' : '0';
  EXPECT_FALSE(UnwrapListToken("originals/", altered));
  EXPECT_FALSE(UnwrapListToken("originals/", "originals/a/1"));
  EXPECT_FALSE(UnwrapListToken("originals/", ""));
}

TEST(S3PostPolicy, HasBoto3sFieldsAndSignsThePolicyUnderTheDaysKey) {
  // The S3 documentation's example credentials and day. That S3 takes these forms is shown on
  // versitygw (the contract suite) and against botocore (tests/aws/test_s3_differential.py).
  const aws::Credentials credentials{"AKIAIOSFODNN7EXAMPLE",
                                     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  const auto now = std::chrono::sys_days(std::chrono::year{2015} / 12 / 29);
  const UploadPolicy policy{"user/user1/photo.jpg", "image/jpeg", 1048576, 3600};
  const PostForm form = BuildPostForm("sigv4examplebucket", policy, credentials, "us-east-1",
                                      std::chrono::sys_seconds(now));
  std::vector<std::string> names;
  for (const auto& [name, value] : form.fields) names.push_back(name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"key", "Content-Type", "x-amz-algorithm", "x-amz-credential",
                                      "x-amz-date", "policy", "x-amz-signature"}));
  EXPECT_EQ(Field(form.fields, "key"), "user/user1/photo.jpg");
  EXPECT_EQ(Field(form.fields, "Content-Type"), "image/jpeg");
  EXPECT_EQ(Field(form.fields, "x-amz-algorithm"), "AWS4-HMAC-SHA256");
  EXPECT_EQ(Field(form.fields, "x-amz-credential"),
            "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request");
  EXPECT_EQ(Field(form.fields, "x-amz-date"), "20151229T000000Z");
  EXPECT_EQ(Field(form.fields, "policy"), EncodeBase64(form.policy_json));

  const auto document = nlohmann::json::parse(form.policy_json);
  EXPECT_EQ(document["expiration"], "2015-12-29T01:00:00Z");
  const auto expected = nlohmann::json::parse(R"([
    {"bucket": "sigv4examplebucket"},
    ["content-length-range", 1, 1048576],
    {"key": "user/user1/photo.jpg"},
    {"Content-Type": "image/jpeg"},
    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
    {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},
    {"x-amz-date": "20151229T000000Z"}])");
  EXPECT_EQ(document["conditions"], expected);

  const auto key =
      aws::DeriveSigningKey(credentials.secret_access_key, "20151229", "us-east-1", "s3");
  EXPECT_EQ(Field(form.fields, "x-amz-signature"),
            aws::SignatureHex(key, Field(form.fields, "policy")));
}

TEST(S3PostPolicy, CarriesASessionToken) {
  const aws::Credentials credentials{"ASIAEXAMPLE", "secret", "token/with+chars="};
  const UploadPolicy policy{"uploads/a/1", "image/png", 10, 60};
  const PostForm form = BuildPostForm("bucket", policy, credentials, "eu-west-1",
                                      std::chrono::sys_seconds(1'700'000'000s));
  EXPECT_EQ(Field(form.fields, "x-amz-security-token"), "token/with+chars=");
  const auto conditions = nlohmann::json::parse(form.policy_json)["conditions"];
  EXPECT_NE(std::find(conditions.begin(), conditions.end(),
                      nlohmann::json{{"x-amz-security-token", "token/with+chars="}}),
            conditions.end());
  EXPECT_EQ(Field(form.fields, "x-amz-credential"),
            "ASIAEXAMPLE/20231114/eu-west-1/s3/aws4_request");
}

TEST(S3Xml, EscapesText) { EXPECT_EQ(XmlEscape("a&<>\"'"), "a&amp;&lt;&gt;&quot;&apos;"); }

}  // namespace
}  // namespace imgup::s3
