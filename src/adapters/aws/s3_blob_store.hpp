#pragma once
// The BlobStore port on an S3 bucket (AWS or any S3-compatible store), over imgup's own SigV4
// client: every call signed with the header form and retried by aws::AwsCaller; presigned GETs
// and POST forms signed here, for the client to take straight to S3.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "adapters/aws/s3_protocol.hpp"
#include "aws/http_client.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/ports/clock.hpp"

namespace imgup {

struct S3BlobStoreConfig {
  std::string endpoint;  // "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:7070"
  /// The region requests are signed for (and a new bucket is created in).
  std::string region = "us-east-1";
  std::string bucket;
  aws::S3AddressingStyle addressing = aws::S3AddressingStyle::kAuto;
  /// Send x-amz-checksum-sha256 with each PutObject: S3 refuses a body that arrives otherwise
  /// and keeps the checksum (HeadObject with x-amz-checksum-mode: ENABLED returns it). Off for
  /// a store that does not know the header.
  bool checksum_sha256 = true;
  /// x-amz-server-side-encryption on each PutObject: "" (the bucket's default), "AES256",
  /// "aws:kms" or "aws:kms:dsse"; with KMS, `sse_kms_key_id` names the key ("" : the AWS one).
  std::string server_side_encryption;
  std::string sse_kms_key_id;
  aws::RetryPolicy retry;
  /// The time calls are signed with; empty: the system clock. (The tests set it to sign with a
  /// clock that is off, as a machine's can be.)
  aws::AwsCaller::Now signing_clock;
};

/// Beyond the BlobStore contract, as S3 does: a presigned URL or form can be used any number of
/// times until it expires (the local store's can be used once), and the object a form stores
/// raises the bucket's event notification, not a callback.
class S3BlobStore final : public BlobStore {
 public:
  /// `http` and `clock` are not owned. `clock` is the time presigned URLs and forms count from;
  /// the calls themselves are signed at the time they are sent. Errors: kInvalidArgument for an
  /// endpoint, bucket or encryption setting that cannot work (nothing is sent).
  static Result<std::unique_ptr<S3BlobStore>> Make(S3BlobStoreConfig config, aws::HttpClient& http,
                                                   aws::AwsCaller::CredentialsSource credentials,
                                                   Clock& clock);

  Result<void> Put(std::string_view key, std::string_view data,
                   std::string_view content_type) override;
  Result<std::string> Get(std::string_view key) override;
  Result<BlobEntry> Head(std::string_view key) override;
  Result<void> Delete(std::string_view key) override;
  Result<BlobPage> List(std::string_view prefix, std::string_view token,
                        std::size_t limit) override;
  Result<std::string> PresignGet(std::string_view key, std::int64_t expires_in_s,
                                 const GetUrlOptions& options) override;
  Result<PresignedPost> PresignPost(const UploadPolicy& policy) override;

  /// `length` bytes from `offset` (fewer at the object's end). Errors: kNotFound;
  /// kInvalidArgument "invalid_range" for an offset at or past the end, or a length of 0.
  Result<std::string> GetRange(std::string_view key, std::uint64_t offset, std::uint64_t length);
  /// Removes these objects, 1 000 per DeleteObjects call; missing keys count as removed.
  /// Errors: the first key S3 could not remove, as a storage failure naming it.
  Result<void> DeleteKeys(std::span<const std::string> keys);
  /// Removes every object whose key starts with `prefix` ("" is refused: kInvalidArgument);
  /// returns how many were listed and removed.
  Result<std::size_t> DeletePrefix(std::string_view prefix);

  /// Creates the bucket (in the configured region); one that this account already owns is
  /// success. For `imgup init-aws` and the tests.
  Result<void> CreateBucket();
  /// Deletes the bucket, which must be empty; a missing bucket is success.
  Result<void> DeleteBucket();
  /// Whether the bucket answers to these credentials (HeadBucket): the error says what failed.
  Result<void> CheckBucket();

  const S3BlobStoreConfig& config() const { return config_; }

 private:
  S3BlobStore(S3BlobStoreConfig config, s3::BucketAddress address, aws::HttpClient& http,
              aws::AwsCaller::CredentialsSource credentials, Clock& clock);

  /// Sends one call to the bucket; a transport failure that outlived the retries is a storage
  /// failure, an answer of any status is returned.
  Result<aws::HttpResponse> Call(aws::SignableRequest request, std::string_view what);
  std::chrono::sys_seconds SigningTime();

  S3BlobStoreConfig config_;
  s3::BucketAddress address_;
  aws::ServiceEndpoint endpoint_;
  aws::AwsCaller::CredentialsSource credentials_;
  aws::AwsCaller caller_;
  Clock& clock_;
};

}  // namespace imgup
