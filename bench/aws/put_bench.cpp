// COUNT sequential PutObjects of SIZE bytes through S3BlobStore, over the one kept-alive
// connection imgup's client reuses, against the S3 peer (bench/aws/run.sh runs it beside boto3
// doing the same, bench/aws/put_boto3.py, on the same versitygw; numbers in bench/README.md).
//
//   imgup_s3_put_bench BUCKET COUNT SIZE
//     -> {"puts": COUNT, "seconds": S, "puts_per_s": R, "cpu_ms_per_put": this process's CPU}
//
// The peer from IMGUP_TEST_S3_ENDPOINT, IMGUP_TEST_AWS_REGION, IMGUP_TEST_AWS_ACCESS_KEY_ID and
// IMGUP_TEST_AWS_SECRET_ACCESS_KEY (scripts/with-aws-peers.sh). Each body differs (its first 8
// bytes are the put's number); each put sends x-amz-checksum-sha256 and a signed payload hash,
// as S3BlobStore always does. One warm-up put before the clock starts (the connection is made).
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <random>
#include <string>

#include "adapters/aws/s3_blob_store.hpp"

namespace {

std::string Env(const char* name, const char* fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: imgup_s3_put_bench BUCKET COUNT SIZE\n";
    return 2;
  }
  const int count = std::atoi(argv[2]);
  const std::size_t size = std::strtoul(argv[3], nullptr, 10);
  imgup::S3BlobStoreConfig config;
  config.endpoint = Env("IMGUP_TEST_S3_ENDPOINT");
  config.region = Env("IMGUP_TEST_AWS_REGION", "us-east-1");
  config.bucket = argv[1];
  const imgup::aws::Credentials credentials{Env("IMGUP_TEST_AWS_ACCESS_KEY_ID"),
                                            Env("IMGUP_TEST_AWS_SECRET_ACCESS_KEY"), ""};
  imgup::aws::HttpClientOptions options;
  options.max_idle_per_host = 1;  // one connection, reused
  const auto http = imgup::aws::MakeHttpClient(options);
  imgup::SystemClock clock;
  auto made = imgup::S3BlobStore::Make(
      config, *http, [&] { return imgup::Result<imgup::aws::Credentials>(credentials); }, clock);
  if (!made) {
    std::cerr << made.error().detail << "\n";
    return 1;
  }
  std::string body(size, '\0');
  std::mt19937_64 random(42);
  for (auto& c : body) c = static_cast<char>(random());
  auto put = [&](int n) {
    std::memcpy(body.data(), &n, sizeof n);
    auto done = (*made)->Put("bench/imgup/" + std::to_string(n), body, "image/jpeg");
    if (!done) {
      std::cerr << done.error().slug << ": " << done.error().detail << "\n";
      std::exit(1);
    }
  };
  put(-1);
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t start_cpu = std::clock();
  for (int n = 0; n < count; ++n) put(n);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  const double cpu_ms = 1000.0 * static_cast<double>(std::clock() - start_cpu) / CLOCKS_PER_SEC;
  std::cout << "{\"puts\": " << count << ", \"seconds\": " << took.count()
            << ", \"puts_per_s\": " << count / took.count()
            << ", \"cpu_ms_per_put\": " << cpu_ms / count << "}\n";
  return 0;
}
