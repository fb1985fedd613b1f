// S3BlobStore on versitygw (started by scripts/with-aws-peers.sh): the BlobStore contract, each
// test on a bucket of its own, its presigned URLs and forms used over real HTTP; then what the
// S3 adapter does beyond the port (checksums, ranges, batch deletes, errors).
#include "adapters/aws/s3_blob_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <random>

#include "aws/aws_peers.hpp"
#include "blob_store_contract.hpp"
#include "codecs/base64.hpp"
#include "codecs/sha256.hpp"

namespace imgup {

namespace {

aws::HttpClient& SharedHttp() {
  static const std::unique_ptr<aws::HttpClient> client = aws::MakeHttpClient();
  return *client;
}

/// A bucket name no other test (or earlier run) uses: S3's buckets are global to the peer.
std::string NewBucketName() {
  static std::atomic<int> counter{0};
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", random());
  return "imgup-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" +
         suffix;
}

S3BlobStoreConfig ConfigFor(const testing::AwsPeers& peers, std::string bucket) {
  S3BlobStoreConfig config;
  config.endpoint = peers.s3_endpoint;
  config.region = peers.region;
  config.bucket = std::move(bucket);
  config.retry.max_attempts = 2;
  return config;
}

aws::AwsCaller::CredentialsSource FixedCredentials(aws::Credentials credentials) {
  return [credentials]() -> Result<aws::Credentials> { return credentials; };
}

/// Makes a store on a new bucket; ends the test's process on failure (gtest's ASSERTs cannot
/// leave a helper that returns a value).
std::unique_ptr<S3BlobStore> MakeStoreOnNewBucket(const testing::AwsPeers& peers, Clock& clock) {
  auto store = S3BlobStore::Make(ConfigFor(peers, NewBucketName()), SharedHttp(),
                                 FixedCredentials(peers.credentials), clock);
  if (!store) throw std::runtime_error("S3BlobStore::Make: " + store.error().detail);
  if (auto created = (*store)->CreateBucket(); !created) {
    throw std::runtime_error("CreateBucket: " + created.error().detail);
  }
  return std::move(*store);
}

/// Empties and removes the store's bucket.
void RemoveBucket(S3BlobStore& store) {
  std::vector<std::string> keys;
  std::string token;
  do {
    auto page = store.List("", token, 1000);
    if (!page) {
      ADD_FAILURE() << "cleaning up: " << page.error().detail;
      return;
    }
    for (const auto& entry : page->items) keys.push_back(entry.key);
    token = page->next_token;
  } while (!token.empty());
  if (auto deleted = store.DeleteKeys(keys); !deleted) {
    ADD_FAILURE() << "cleaning up: " << deleted.error().detail;
  }
  if (auto removed = store.DeleteBucket(); !removed) {
    ADD_FAILURE() << "cleaning up: " << removed.error().detail;
  }
}

}  // namespace

namespace contract {

/// S3 answers presigned URLs and forms itself, by its own clock, as often as they are used
/// before they expire; its refusals are S3's XML errors, named here in the local server's words.
struct S3Blobs {
  static std::string Missing() {
    return testing::AwsPeersFromEnvironment() ? "" : IMGUP_AWS_PEERS_MISSING_;
  }
  static bool MustHave() { return testing::AwsPeersRequired(); }
  static std::unique_ptr<BlobStore> Make(const fs::path& /*dir*/, SignedUrls* /*urls*/,
                                         Clock& clock) {
    return MakeStoreOnNewBucket(*testing::AwsPeersFromEnvironment(), clock);
  }
  static fs::path Root(const fs::path& dir) { return dir; }  // nothing is kept on this side
  static void Clean(BlobStore& store) { RemoveBucket(static_cast<S3BlobStore&>(store)); }

  static HttpResponse Send(Router& /*local*/, const HttpRequest& request) {
    aws::HttpRequest out;
    out.method = request.method;
    out.url = request.path;  // the presigned URL, absolute
    for (const auto& [name, value] : request.headers) out.headers.push_back({name, value});
    out.body = request.body;
    auto answer = SharedHttp().Send(out);
    HttpResponse response;
    if (!answer) {
      response.status = 599;
      response.body = answer.error().slug + ": " + answer.error().detail;
      return response;
    }
    response.status = answer->status;
    for (const auto& header : answer->headers)
      response.headers.emplace_back(header.name, header.value);
    response.body = std::move(answer->body);
    return response;
  }

  static std::string Code(const HttpResponse& response) {
    aws::HttpResponse answer;
    answer.status = response.status;
    answer.body = response.body;
    const aws::AwsError error = aws::ParseAwsError(answer);
    if (error.code == "SignatureDoesNotMatch") return "signature_mismatch";
    if (error.code == "EntityTooLarge") return "entity_too_large";
    if (error.code == "EntityTooSmall") return "entity_too_small";
    if (error.code == "AccessDenied") {
      if (error.message.find("expired") != std::string::npos) return "url_expired";
      if (error.message.find("Policy Condition failed") != std::string::npos) {
        return "policy_violation";
      }
    }
    return "S3:" + error.code + ": " + error.message;
  }

  static constexpr bool kLiveClock = true;
  static constexpr bool kOneTimeUrls = false;
  // The object a form stores raises the bucket's event notification, which is the deployment's.
  static constexpr bool kStoredCallback = false;
};

INSTANTIATE_TYPED_TEST_SUITE_P(S3, BlobStoreContractTest, ::testing::Types<S3Blobs>);

}  // namespace contract

namespace {

class S3BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGUP_GET_AWS_PEERS_OR_SKIP(found);
    peers_ = found;
    clock_.Set(contract::SystemNowMs());
    store_ = MakeStoreOnNewBucket(peers_, clock_);
  }
  void TearDown() override {
    if (store_ != nullptr) RemoveBucket(*store_);
  }

  /// One signed call to the peer, as the store makes them.
  aws::HttpResponse Call(aws::SignableRequest request) {
    aws::AwsCaller caller(SharedHttp(), FixedCredentials(peers_.credentials));
    auto response = caller.Call({peers_.s3_endpoint, peers_.region, "s3"}, std::move(request));
    EXPECT_TRUE(response) << response.error().detail;
    return response ? *response : aws::HttpResponse{};
  }

  std::string ObjectPath(std::string_view key) const {
    return "/" + store_->config().bucket + "/" + std::string(key);
  }

  testing::AwsPeers peers_;
  FixedClock clock_;
  std::unique_ptr<S3BlobStore> store_;
};

TEST_F(S3BlobStoreTest, PutStoresTheContentTypeAndAChecksumS3Verified) {
  const std::string data = "\x89PNG bytes";
  ASSERT_TRUE(store_->Put("originals/alice/01J1", data, "image/png"));
  aws::SignableRequest head;
  head.method = "HEAD";
  head.path = ObjectPath("originals/alice/01J1");
  head.headers.push_back({"x-amz-checksum-mode", "ENABLED"});
  const aws::HttpResponse response = Call(head);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("content-type"), "image/png");
  std::string digest;
  const std::string hex = Sha256Hex(data);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    digest.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  EXPECT_EQ(response.Header("x-amz-checksum-sha256"), EncodeBase64(digest));
}

TEST_F(S3BlobStoreTest, APutWhoseBytesDoNotMatchTheirChecksumIsRefused) {
  // What the checksum is for: S3 refuses a body that changed on the way. The store's own Put
  // hashes what it sends, so send one by hand with another object's checksum.
  aws::SignableRequest put;
  put.method = "PUT";
  put.path = ObjectPath("a/1");
  put.body = "these bytes";
  put.headers.push_back({"x-amz-checksum-sha256", EncodeBase64(std::string(32, 'x'))});
  const aws::HttpResponse response = Call(put);
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_EQ(aws::ParseAwsError(response).code, "BadDigest") << response.body;
  EXPECT_EQ(store_->Get("a/1").error().code, ErrorCode::kNotFound);
}

TEST_F(S3BlobStoreTest, GetRangeReadsPartOfAnObject) {
  ASSERT_TRUE(store_->Put("k/v", "0123456789", "text/plain"));
  EXPECT_EQ(store_->GetRange("k/v", 0, 4).value(), "0123");
  EXPECT_EQ(store_->GetRange("k/v", 7, 100).value(), "789");
  EXPECT_EQ(store_->GetRange("k/v", 9, 1).value(), "9");
  EXPECT_EQ(store_->GetRange("k/v", 10, 1).error().slug, "invalid_range");
  EXPECT_EQ(store_->GetRange("k/v", 0, 0).error().slug, "invalid_range");
  EXPECT_EQ(store_->GetRange("k/none", 0, 1).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->GetRange("../k", 0, 1).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(S3BlobStoreTest, DeletePrefixRemovesMoreThanOneBatch) {
  // 1 003 objects: two ListObjectsV2 pages and two DeleteObjects calls.
  constexpr int kObjects = 1003;
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = t; i < kObjects; i += 4) {
        if (!store_->Put("variants/alice/" + std::to_string(i), "v", "image/webp")) ++failures;
      }
    });
  }
  for (auto& writer : writers) writer.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE(store_->Put("variants/bob/1", "kept", "image/webp"));
  ASSERT_TRUE(store_->Put("variants/alicex", "kept", "image/webp"));

  auto removed = store_->DeletePrefix("variants/alice/");
  ASSERT_TRUE(removed) << removed.error().detail;
  EXPECT_EQ(*removed, static_cast<std::size_t>(kObjects));
  auto left = ListAllBlobs(*store_, "");
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].key, "variants/alicex");
  EXPECT_EQ((*left)[1].key, "variants/bob/1");
  EXPECT_EQ(store_->DeletePrefix("").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(S3BlobStoreTest, DeleteKeysTakesMissingKeysAndRefusesBadOnes) {
  ASSERT_TRUE(store_->Put("a/1", "x", "text/plain"));
  const std::vector<std::string> keys = {"a/1", "a/never"};
  ASSERT_TRUE(store_->DeleteKeys(keys));
  EXPECT_EQ(store_->Get("a/1").error().code, ErrorCode::kNotFound);
  const std::vector<std::string> bad = {"a/2", "../a"};
  EXPECT_EQ(store_->DeleteKeys(bad).error().slug, "invalid_key");
  EXPECT_TRUE(store_->DeleteKeys({}));
}

TEST_F(S3BlobStoreTest, AWrongSecretIsAStorageErrorThatSaysSo) {
  aws::Credentials wrong = peers_.credentials;
  wrong.secret_access_key += "x";
  auto store = S3BlobStore::Make(ConfigFor(peers_, store_->config().bucket), SharedHttp(),
                                 FixedCredentials(wrong), clock_)
                   .value();
  auto put = store->Put("a/1", "x", "text/plain");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kInternal);
  EXPECT_EQ(put.error().slug, "storage_error");
  EXPECT_NE(put.error().detail.find("SignatureDoesNotMatch"), std::string::npos)
      << put.error().detail;
  EXPECT_EQ(aws::AwsCaller::LastAttempts(), 1);                         // not retried
  EXPECT_EQ(put.error().message.find("Signature"), std::string::npos);  // the detail is not public
  auto check = store->CheckBucket();
  ASSERT_FALSE(check);
  EXPECT_NE(check.error().detail.find("403"), std::string::npos) << check.error().detail;

  // Presigned URLs signed with it are refused by S3 the same way.
  ASSERT_TRUE(store_->Put("a/1", "x", "text/plain"));
  const std::string url = store->PresignGet("a/1", 60, {}).value();
  auto fetched = SharedHttp().Send({"GET", url, {}, ""});
  ASSERT_TRUE(fetched);
  EXPECT_EQ(fetched->status, 403);
  EXPECT_EQ(aws::ParseAwsError(*fetched).code, "SignatureDoesNotMatch");
}

TEST_F(S3BlobStoreTest, AMissingBucketIsAStorageErrorThatNamesIt) {
  auto store = S3BlobStore::Make(ConfigFor(peers_, NewBucketName()), SharedHttp(),
                                 FixedCredentials(peers_.credentials), clock_)
                   .value();
  auto get = store->Get("a/1");
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().slug, "storage_error");
  EXPECT_NE(get.error().detail.find("NoSuchBucket"), std::string::npos) << get.error().detail;
  auto list = store->List("", "", 10);
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().slug, "storage_error");
  auto check = store->CheckBucket();
  ASSERT_FALSE(check);
  EXPECT_NE(check.error().detail.find("no such bucket"), std::string::npos) << check.error().detail;
  EXPECT_TRUE(store_->CheckBucket());
  EXPECT_TRUE(store_->CreateBucket());  // again: it is ours already
  EXPECT_TRUE(store->DeleteBucket());   // a missing bucket is gone already
}

TEST_F(S3BlobStoreTest, ADownPeerIsUnavailableAfterTheRetries) {
  // A port nothing listens on (bound and closed at once: nobody else takes it that fast).
  S3BlobStoreConfig config = ConfigFor(peers_, store_->config().bucket);
  config.endpoint = "http://127.0.0.1:1";
  config.retry = {3, std::chrono::milliseconds(1), std::chrono::milliseconds(2),
                  std::chrono::milliseconds(2000)};
  auto store =
      S3BlobStore::Make(config, SharedHttp(), FixedCredentials(peers_.credentials), clock_).value();
  auto get = store->Get("a/1");
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(get.error().slug, "storage_unavailable");
  EXPECT_EQ(aws::AwsCaller::LastAttempts(), 3);
}

TEST_F(S3BlobStoreTest, APresignedGetCarriesTheOverridesAndExpires) {
  ASSERT_TRUE(store_->Put("originals/alice/01J1", "bytes", "image/png"));
  // Signed "now" (the fixture's clock) for 5 minutes: served, with the overrides.
  clock_.Set(contract::SystemNowMs());
  const std::string url =
      store_
          ->PresignGet("originals/alice/01J1", 300,
                       GetUrlOptions{"image/webp", "attachment; filename=\"a b.png\""})
          .value();
  EXPECT_TRUE(url.starts_with(peers_.s3_endpoint + "/" + store_->config().bucket +
                              "/originals/alice/01J1?"))
      << url;
  EXPECT_NE(url.find("X-Amz-Expires=300&"), std::string::npos) << url;
  auto fetched = SharedHttp().Send({"GET", url, {}, ""});
  ASSERT_TRUE(fetched);
  EXPECT_EQ(fetched->status, 200) << fetched->body;
  EXPECT_EQ(fetched->Header("content-type"), "image/webp");
  EXPECT_EQ(fetched->Header("content-disposition"), "attachment; filename=\"a b.png\"");
  // Signed ten minutes ago for five: expired, whatever the machine's speed.
  clock_.Set(contract::SystemNowMs() - 600'000);
  const std::string old_url = store_->PresignGet("originals/alice/01J1", 300, {}).value();
  auto expired = SharedHttp().Send({"GET", old_url, {}, ""});
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->status, 403) << expired->body;
  EXPECT_NE(expired->body.find("expired"), std::string::npos) << expired->body;
  // A URL for a key with no object is made all the same; S3 says 404 when it is used.
  EXPECT_TRUE(store_->PresignGet("originals/alice/none", 60, {}));
  EXPECT_EQ(store_->PresignGet("originals/alice/01J1", 604801, {}).error().slug, "invalid_expiry");
}

TEST_F(S3BlobStoreTest, InvalidSettingsAreRefusedBeforeAnythingIsSent) {
  S3BlobStoreConfig config = ConfigFor(peers_, "Not_A_Bucket");
  EXPECT_EQ(S3BlobStore::Make(config, SharedHttp(), FixedCredentials(peers_.credentials), clock_)
                .error()
                .slug,
            "invalid_bucket");
  config = ConfigFor(peers_, "bucket");
  config.server_side_encryption = "rot13";
  EXPECT_EQ(S3BlobStore::Make(config, SharedHttp(), FixedCredentials(peers_.credentials), clock_)
                .error()
                .slug,
            "invalid_sse");
  config.server_side_encryption = "AES256";
  config.sse_kms_key_id = "key";
  EXPECT_EQ(S3BlobStore::Make(config, SharedHttp(), FixedCredentials(peers_.credentials), clock_)
                .error()
                .slug,
            "invalid_sse");
  config = ConfigFor(peers_, "bucket");
  config.endpoint = "127.0.0.1:7070";
  EXPECT_EQ(S3BlobStore::Make(config, SharedHttp(), FixedCredentials(peers_.credentials), clock_)
                .error()
                .slug,
            "invalid_s3_endpoint");
}

}  // namespace
}  // namespace imgup
