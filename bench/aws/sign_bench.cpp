// Google Benchmark: SigV4-signing a typical PutObject (bench/aws/run.sh runs it beside botocore's
// signer timed the same way, bench/aws/sign_botocore.py; numbers in bench/README.md).
//
// The request is the one S3BlobStore sends for an original: PUT of a 200 KB JPEG to
// /BUCKET/originals/OWNER/ID with Host, Content-Type, x-amz-checksum-sha256 and the payload's
// SHA-256 already known (as S3BlobStore passes it: the body is hashed once, for the checksum, not
// per signature). What is timed: the canonical request, the string to sign, the signing key
// derivation and the signature (SignHeaders), i.e. what botocore's S3SigV4Auth.add_auth does.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "aws/sigv4.hpp"

namespace {

using imgup::aws::Credentials;
using imgup::aws::SignableRequest;

constexpr const char* kPayloadHash =
    "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

SignableRequest PutObject() {
  SignableRequest request;
  request.method = "PUT";
  request.path = "/imgup-images/originals/alice/01JDX3S9Q7M6V2B8R4T0YH5KCE";
  request.headers = {{"Host", "s3.eu-west-1.amazonaws.com"},
                     {"Content-Type", "image/jpeg"},
                     {"x-amz-checksum-sha256", "X3C/GKCGAHAW6UiwSu07ghA6Nr6kF1W2zd+vEKzjxu8="}};
  request.payload_hash = kPayloadHash;
  return request;
}

void BM_SignPutObject(benchmark::State& state) {
  const SignableRequest request = PutObject();
  const Credentials credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                ""};
  const auto time = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  for (auto _ : state) {
    // The config is made per call, as AwsCaller does for every attempt.
    auto signed_request =
        imgup::aws::SignHeaders(request, imgup::aws::ForS3(credentials, "eu-west-1", time));
    benchmark::DoNotOptimize(signed_request);
  }
}
BENCHMARK(BM_SignPutObject);

}  // namespace
