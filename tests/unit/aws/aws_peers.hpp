#pragma once
// Where the S3 and DynamoDB peers of a test run are: scripts/with-aws-peers.sh starts versitygw
// and moto and says so in the environment. A test that needs them fails without them under
// `make test` (which sets IMGUP_REQUIRE_AWS_PEERS=1) and in CI, and skips, saying why, when run by
// hand.
//
//   TEST(S3Something, Works) {
//     IMGUP_GET_AWS_PEERS_OR_SKIP(peers);
//     ... peers.s3_endpoint ...
//   }
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "aws/sigv4.hpp"

namespace imgup::testing {

struct AwsPeers {
  std::string s3_endpoint;        // versitygw: "http://127.0.0.1:PORT"
  std::string dynamodb_endpoint;  // moto: "http://127.0.0.1:PORT" (also an S3)
  std::string region;
  aws::Credentials credentials;  // versitygw's root user; moto takes any in its default mode
};

inline std::optional<AwsPeers> AwsPeersFromEnvironment() {
  auto get = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
  };
  AwsPeers peers{
      get("IMGUP_TEST_S3_ENDPOINT"),
      get("IMGUP_TEST_DYNAMODB_ENDPOINT"),
      get("IMGUP_TEST_AWS_REGION"),
      {get("IMGUP_TEST_AWS_ACCESS_KEY_ID"), get("IMGUP_TEST_AWS_SECRET_ACCESS_KEY"), ""}};
  if (peers.s3_endpoint.empty() || peers.dynamodb_endpoint.empty() ||
      peers.credentials.access_key_id.empty() || peers.credentials.secret_access_key.empty()) {
    return std::nullopt;
  }
  if (peers.region.empty()) peers.region = "us-east-1";
  return peers;
}

/// `make test` and CI require the peers: a missing peer there is a failure, never a skip.
inline bool AwsPeersRequired() {
  const char* required = std::getenv("IMGUP_REQUIRE_AWS_PEERS");
  const char* ci = std::getenv("CI");
  return (required != nullptr && std::string(required) == "1") ||
         (ci != nullptr && std::string(ci) == "true");
}

}  // namespace imgup::testing

#define IMGUP_AWS_PEERS_MISSING_                                                            \
  "no AWS peers: IMGUP_TEST_S3_ENDPOINT, IMGUP_TEST_DYNAMODB_ENDPOINT, "                    \
  "IMGUP_TEST_AWS_ACCESS_KEY_ID and IMGUP_TEST_AWS_SECRET_ACCESS_KEY are not all set; run " \
  "the test under scripts/with-aws-peers.sh (make test does)"

/// Declares `const AwsPeers name`, or fails (IMGUP_REQUIRE_AWS_PEERS=1) or skips the test.
#define IMGUP_GET_AWS_PEERS_OR_SKIP(name)                                         \
  const auto name##_found_ = ::imgup::testing::AwsPeersFromEnvironment();         \
  if (!name##_found_) {                                                           \
    if (::imgup::testing::AwsPeersRequired()) FAIL() << IMGUP_AWS_PEERS_MISSING_; \
    GTEST_SKIP() << IMGUP_AWS_PEERS_MISSING_;                                     \
  }                                                                               \
  const ::imgup::testing::AwsPeers& name = *name##_found_
