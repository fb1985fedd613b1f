#pragma once
// The DynamoDB peer of the tests (moto server, started by scripts/with-aws-peers.sh), and scratch
// tables on it: each test gets a table of its own, deleted when the test is done.
//
// IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT names the peer (moto in its auth mode, http://127.0.0.1:PORT)
// and IMGUP_TEST_DYNAMODB_AUTH_ACCESS_KEY_ID / _SECRET_ACCESS_KEY the IAM user's keys it knows;
// without them, IMGUP_TEST_DYNAMODB_ENDPOINT (moto in its default mode, any key will do), the
// region from IMGUP_TEST_AWS_REGION. Without an endpoint, the
// tests that need the peer are skipped with a message, or fail when IMGUP_REQUIRE_AWS_PEERS=1 (as
// under `make test`) or CI=true.
#include <memory>
#include <string>

#include "adapters/aws/dynamo_metadata_store.hpp"
#include "aws/dynamo_client.hpp"

namespace imgup::testing_aws {

/// The client of the peer, or null when none is configured.
aws::DynamoClient* DynamoPeer();

/// Says that the peer is missing: a failure of the current test (ADD_FAILURE) when the run
/// requires the peers, else a message; the caller then stops the test (the contract fixtures
/// fail or skip it).
void ReportMissingPeer();

/// A table with the store's schema under a fresh name, deleted on destruction.
class ScratchTable {
 public:
  /// Null (and the current test failed) when the table cannot be created.
  static std::unique_ptr<ScratchTable> Create(aws::DynamoClient& client);
  ~ScratchTable();
  ScratchTable(const ScratchTable&) = delete;
  ScratchTable& operator=(const ScratchTable&) = delete;

  const std::string& name() const { return name_; }

 private:
  ScratchTable(aws::DynamoClient& client, std::string name)
      : client_(client), name_(std::move(name)) {}
  aws::DynamoClient& client_;
  std::string name_;
};

/// The secret the tests' stores seal their tokens with.
inline constexpr const char* kTestTokenSecret = "contract-suite-token-secret";

/// A DynamoMetadataStore on a fresh scratch table, which goes with it; null when there is no
/// peer (the test is skipped or failed as above).
struct DynamoOnScratchTable {
  std::unique_ptr<ScratchTable> table;
  std::unique_ptr<DynamoMetadataStore> store;
};
DynamoOnScratchTable MakeDynamoStore(std::string token_secret = kTestTokenSecret);

}  // namespace imgup::testing_aws
