// What S3BlobStore sends and how it reads S3's answers, over a scripted HttpClient: the headers
// no S3 peer here reports back (server-side encryption), virtual-hosted addressing, and the
// errors a peer cannot be made to give on demand (throttling, 5xx, odd answers).
#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "adapters/aws/s3_blob_store.hpp"
#include "fakes/fixed_clock.hpp"

namespace imgup {
namespace {

class ScriptedHttp final : public aws::HttpClient {
 public:
  Result<aws::HttpResponse> Send(const aws::HttpRequest& request) override {
    std::lock_guard lock(mutex_);
    sent.push_back(request);
    if (answers.empty()) return aws::HttpResponse{200, {}, ""};
    aws::HttpResponse answer = answers.front();
    if (answers.size() > 1) answers.pop_front();  // the last one answers every further request
    return answer;
  }

  std::string_view SentHeader(std::size_t index, std::string_view name) const {
    for (const auto& header : sent.at(index).headers) {
      if (header.name.size() == name.size() &&
          std::equal(name.begin(), name.end(), header.name.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        return header.value;
      }
    }
    return "<none>";
  }

  std::deque<aws::HttpResponse> answers;
  std::vector<aws::HttpRequest> sent;

 private:
  std::mutex mutex_;
};

aws::HttpResponse Answer(int status, std::string body = "",
                         std::vector<aws::HttpHeader> headers = {}) {
  return aws::HttpResponse{status, std::move(headers), std::move(body)};
}

std::string S3Error(std::string_view code, std::string_view message = "m") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + std::string(code) +
         "</Code><Message>" + std::string(message) + "</Message><RequestId>R1</RequestId></Error>";
}

S3BlobStoreConfig Config(std::string endpoint, std::string region, std::string bucket) {
  S3BlobStoreConfig config;
  config.endpoint = std::move(endpoint);
  config.region = std::move(region);
  config.bucket = std::move(bucket);
  return config;
}

class S3BlobStoreRequestsTest : public ::testing::Test {
 protected:
  std::unique_ptr<S3BlobStore> Make(S3BlobStoreConfig config) {
    config.retry = {3, std::chrono::milliseconds(0), std::chrono::milliseconds(0),
                    std::chrono::milliseconds(1000)};
    auto store = S3BlobStore::Make(
        std::move(config), http_,
        [] {
          return Result<aws::Credentials>(aws::Credentials{"AKID", "secret", "session"});
        },
        clock_);
    EXPECT_TRUE(store) << store.error().detail;
    return store ? std::move(*store) : nullptr;
  }
  std::unique_ptr<S3BlobStore> MakeDefault() {
    return Make(Config("https://s3.eu-west-1.amazonaws.com", "eu-west-1", "photos"));
  }

  ScriptedHttp http_;
  FixedClock clock_;
};

TEST_F(S3BlobStoreRequestsTest, PutSendsTypeChecksumAndEncryptionToTheVirtualHost) {
  S3BlobStoreConfig config = Config("https://s3.eu-west-1.amazonaws.com", "eu-west-1", "photos");
  config.server_side_encryption = "aws:kms";
  config.sse_kms_key_id = "arn:aws:kms:eu-west-1:111122223333:key/k";
  auto store = Make(config);
  ASSERT_TRUE(store->Put("originals/alice/01J1", "hello", "image/png"));
  ASSERT_EQ(http_.sent.size(), 1u);
  const aws::HttpRequest& put = http_.sent[0];
  EXPECT_EQ(put.method, "PUT");
  EXPECT_EQ(put.url, "https://photos.s3.eu-west-1.amazonaws.com/originals/alice/01J1");
  EXPECT_EQ(put.body, "hello");
  EXPECT_EQ(http_.SentHeader(0, "Content-Type"), "image/png");
  // SHA-256("hello"), base64.
  EXPECT_EQ(http_.SentHeader(0, "x-amz-checksum-sha256"),
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
  EXPECT_EQ(http_.SentHeader(0, "x-amz-content-sha256"),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(http_.SentHeader(0, "x-amz-server-side-encryption"), "aws:kms");
  EXPECT_EQ(http_.SentHeader(0, "x-amz-server-side-encryption-aws-kms-key-id"),
            "arn:aws:kms:eu-west-1:111122223333:key/k");
  EXPECT_EQ(http_.SentHeader(0, "X-Amz-Security-Token"), "session");
  const std::string_view authorization = http_.SentHeader(0, "Authorization");
  EXPECT_NE(authorization.find("/eu-west-1/s3/aws4_request"), std::string_view::npos);
  EXPECT_NE(authorization.find("x-amz-checksum-sha256;x-amz-content-sha256"),
            std::string_view::npos)
      << authorization;
}

TEST_F(S3BlobStoreRequestsTest, WithoutChecksumsOrEncryptionNeitherHeaderIsSent) {
  S3BlobStoreConfig config = Config("http://127.0.0.1:7070", "us-east-1", "photos");
  config.checksum_sha256 = false;
  auto store = Make(config);
  ASSERT_TRUE(store->Put("a/1", "x", ""));
  EXPECT_EQ(http_.sent[0].url, "http://127.0.0.1:7070/photos/a/1");
  EXPECT_EQ(http_.SentHeader(0, "x-amz-checksum-sha256"), "<none>");
  EXPECT_EQ(http_.SentHeader(0, "x-amz-server-side-encryption"), "<none>");
  EXPECT_EQ(http_.SentHeader(0, "Content-Type"), "application/octet-stream");
}

TEST_F(S3BlobStoreRequestsTest, ThrottlingIsRetriedThenUnavailable) {
  auto store = MakeDefault();
  http_.answers = {Answer(503, S3Error("SlowDown")), Answer(200, "bytes")};
  EXPECT_EQ(store->Get("a/1").value(), "bytes");
  EXPECT_EQ(http_.sent.size(), 2u);

  http_.sent.clear();
  http_.answers = {Answer(503, S3Error("SlowDown", "Please reduce your request rate."))};
  auto get = store->Get("a/1");
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(get.error().slug, "storage_unavailable");
  EXPECT_NE(get.error().detail.find("SlowDown: Please reduce your request rate. (request R1)"),
            std::string::npos)
      << get.error().detail;
  EXPECT_EQ(http_.sent.size(), 3u);

  http_.answers = {Answer(500, S3Error("InternalError"))};
  EXPECT_EQ(store->Put("a/1", "x", "text/plain").error().slug, "storage_unavailable");
}

TEST_F(S3BlobStoreRequestsTest, S3ErrorsMapToTheDomainsCodes) {
  auto store = MakeDefault();
  http_.answers = {Answer(404, S3Error("NoSuchKey"))};
  EXPECT_EQ(store->Get("a/1").error().code, ErrorCode::kNotFound);
  http_.answers = {Answer(404)};  // HEAD answers have no body
  EXPECT_EQ(store->Head("a/1").error().code, ErrorCode::kNotFound);
  http_.answers = {Answer(404, S3Error("NoSuchKey"))};
  EXPECT_TRUE(store->Delete("a/1"));  // gone already

  http_.answers = {Answer(403, S3Error("AccessDenied", "Access Denied"))};
  auto denied = store->Get("a/1");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, ErrorCode::kInternal);
  EXPECT_EQ(denied.error().slug, "storage_error");
  EXPECT_EQ(denied.error().detail,
            "GetObject a/1: 403 AccessDenied: Access Denied (request R1): these credentials are "
            "not allowed this call (AccessDenied)");
  EXPECT_EQ(denied.error().message, "The blob store refused imgup's credentials.");

  // versitygw's answer to a key id it does not know: not the object's 404.
  http_.answers = {Answer(404, S3Error("XAdminUserNotFound", "No user exists"))};
  auto unknown = store->Get("a/1");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().slug, "storage_error");
  EXPECT_NE(unknown.error().detail.find("the access key id is not known"), std::string::npos);

  http_.sent.clear();
  http_.answers = {Answer(403, S3Error("RequestTimeTooSkewed", "too large"),
                          {{"date", "Wed, 02 Dec 2026 12:00:00 GMT"}})};
  auto skewed = store->Put("a/1", "x", "text/plain");
  ASSERT_FALSE(skewed);
  EXPECT_EQ(skewed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(skewed.error().slug, "clock_skewed");
  EXPECT_NE(skewed.error().detail.find("the service's clock says Wed, 02 Dec 2026 12:00:00 GMT"),
            std::string::npos)
      << skewed.error().detail;
  EXPECT_EQ(http_.sent.size(), 1u);  // not retried

  http_.answers = {Answer(409, S3Error("ObjectParentIsFile"))};
  EXPECT_EQ(store->Put("a/1/2", "x", "text/plain").error().slug, "key_conflict");
  http_.answers = {Answer(416, S3Error("InvalidRange"))};
  EXPECT_EQ(store->GetRange("a/1", 5, 1).error().slug, "invalid_range");
}

TEST_F(S3BlobStoreRequestsTest, HeadReadsSizeAndTime) {
  auto store = MakeDefault();
  http_.answers = {Answer(
      200, "", {{"content-length", "434234"}, {"last-modified", "Mon, 12 Oct 2009 17:50:30 GMT"}})};
  auto head = store->Head("a/1");
  ASSERT_TRUE(head) << head.error().detail;
  EXPECT_EQ(head->size_bytes, 434234u);
  EXPECT_EQ(head->modified_ms, 1255369830000);
  EXPECT_EQ(http_.sent[0].method, "HEAD");

  http_.answers = {Answer(200, "", {{"content-length", "1"}})};
  EXPECT_EQ(store->Head("a/1").error().slug, "storage_error");
}

TEST_F(S3BlobStoreRequestsTest, ListAsksForAPageAndWrapsTheToken) {
  auto store = MakeDefault();
  http_.answers = {Answer(200,
                          "<ListBucketResult><IsTruncated>true</IsTruncated>"
                          "<NextContinuationToken>s3-token</NextContinuationToken>"
                          "<Contents><Key>a/1</Key><Size>3</Size>"
                          "<LastModified>2009-10-12T17:50:30.000Z</LastModified></Contents>"
                          "<Contents><Key>a/not valid</Key><Size>3</Size>"
                          "<LastModified>2009-10-12T17:50:30.000Z</LastModified></Contents>"
                          "</ListBucketResult>")};
  auto page = store->List("a/", "", 5000);
  ASSERT_TRUE(page) << page.error().detail;
  EXPECT_EQ(http_.sent[0].url,
            "https://photos.s3.eu-west-1.amazonaws.com/?list-type=2&max-keys=1000&prefix=a%2F");
  ASSERT_EQ(page->items.size(), 1u);  // a key that is not a BlobStore key is not listed
  EXPECT_EQ(page->items[0].key, "a/1");
  ASSERT_FALSE(page->next_token.empty());
  EXPECT_EQ(page->next_token.find("s3-token"), std::string::npos);  // opaque

  http_.answers = {Answer(200,
                          "<ListBucketResult><IsTruncated>false</IsTruncated>"
                          "</ListBucketResult>")};
  auto next = store->List("a/", page->next_token, 2);
  ASSERT_TRUE(next);
  EXPECT_EQ(http_.sent[1].url,
            "https://photos.s3.eu-west-1.amazonaws.com/"
            "?list-type=2&continuation-token=s3-token&max-keys=2&prefix=a%2F");
  EXPECT_TRUE(next->next_token.empty());
  EXPECT_EQ(store->List("b/", page->next_token, 2).error().slug, "invalid_token");
  EXPECT_EQ(http_.sent.size(), 2u);

  http_.answers = {Answer(200, "<html>not S3</html>")};
  EXPECT_EQ(store->List("a/", "", 2).error().slug, "s3_bad_answer");
}

TEST_F(S3BlobStoreRequestsTest, DeleteKeysBatchesAThousandAndReportsFailures) {
  auto store = MakeDefault();
  std::vector<std::string> keys;
  for (int i = 0; i < 2001; ++i) keys.push_back("k/" + std::to_string(i));
  http_.answers = {Answer(200, "<DeleteResult/>")};
  ASSERT_TRUE(store->DeleteKeys(keys));
  ASSERT_EQ(http_.sent.size(), 3u);
  EXPECT_EQ(http_.sent[0].method, "POST");
  EXPECT_EQ(http_.sent[0].url, "https://photos.s3.eu-west-1.amazonaws.com/?delete=");
  EXPECT_NE(http_.sent[0].body.find("<Key>k/999</Key>"), std::string::npos);
  EXPECT_EQ(http_.sent[0].body.find("<Key>k/1000</Key>"), std::string::npos);
  EXPECT_NE(http_.sent[2].body.find("<Key>k/2000</Key>"), std::string::npos);
  EXPECT_NE(http_.SentHeader(0, "x-amz-checksum-sha256"), "<none>");

  http_.answers = {Answer(200,
                          "<DeleteResult><Error><Key>k/1</Key><Code>AccessDenied</Code>"
                          "<Message>Access Denied</Message></Error></DeleteResult>")};
  auto failed = store->DeleteKeys(std::vector<std::string>{"k/1"});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().slug, "storage_error");
  EXPECT_NE(failed.error().detail.find("k/1: AccessDenied"), std::string::npos);
}

TEST_F(S3BlobStoreRequestsTest, PresignedUrlsAndFormsAreSignedAtTheClocksTime) {
  auto store = MakeDefault();
  clock_.Set(1'700'000'000'500);  // 2023-11-14T22:13:20.5Z: signed at the whole second
  const std::string url = store->PresignGet("a/1", 60, {"image/png", ""}).value();
  EXPECT_TRUE(
      url.starts_with("https://photos.s3.eu-west-1.amazonaws.com/a/1?"
                      "response-content-type=image%2Fpng&X-Amz-Algorithm="))
      << url;
  EXPECT_NE(url.find("X-Amz-Date=20231114T221320Z"), std::string::npos);
  EXPECT_NE(url.find("X-Amz-Security-Token=session"), std::string::npos);
  EXPECT_TRUE(http_.sent.empty());  // signed here, nothing sent

  const PresignedPost post =
      store->PresignPost(UploadPolicy{"uploads/a/1", "image/png", 100, 60}).value();
  EXPECT_EQ(post.url, "https://photos.s3.eu-west-1.amazonaws.com/");
  EXPECT_EQ(post.expires_at_ms, 1'700'000'060'000);
  EXPECT_EQ(post.fields.front(), (std::pair<std::string, std::string>("key", "uploads/a/1")));
  EXPECT_EQ(post.fields.back().first, "x-amz-signature");

  auto path_style = Make(Config("http://127.0.0.1:7070", "us-east-1", "photos"));
  EXPECT_EQ(path_style->PresignPost(UploadPolicy{"uploads/a/1", "image/png", 100, 60})->url,
            "http://127.0.0.1:7070/photos");
}

}  // namespace
}  // namespace imgup
