#include "aws/dynamo_peer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>

namespace imgup::testing_aws {
namespace {

std::string Env(const char* name, const char* fallback = "") {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

struct Peer {
  std::unique_ptr<aws::HttpClient> http;
  std::unique_ptr<aws::AwsCaller> caller;
  std::unique_ptr<aws::DynamoClient> client;
};

Peer* LoadPeer() {
  static Peer* const peer = []() -> Peer* {
    // moto in its auth mode when the run has one (scripts/with-aws-peers.sh does): every call
    // of the suites then passes moto's SigV4 check with the keys of an IAM user.
    std::string endpoint = Env("IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT");
    aws::Credentials credentials{Env("IMGUP_TEST_DYNAMODB_AUTH_ACCESS_KEY_ID"),
                                 Env("IMGUP_TEST_DYNAMODB_AUTH_SECRET_ACCESS_KEY"), ""};
    if (endpoint.empty()) {
      endpoint = Env("IMGUP_TEST_DYNAMODB_ENDPOINT");
      credentials = {Env("AWS_ACCESS_KEY_ID", "testing"), Env("AWS_SECRET_ACCESS_KEY", "testing"),
                     Env("AWS_SESSION_TOKEN")};
    }
    if (endpoint.empty()) return nullptr;
    auto* loaded = new Peer;  // lives as long as the test program
    loaded->http = aws::MakeHttpClient();
    loaded->caller = std::make_unique<aws::AwsCaller>(
        *loaded->http, [credentials]() -> Result<aws::Credentials> { return credentials; });
    loaded->client = std::make_unique<aws::DynamoClient>(
        *loaded->caller,
        aws::ServiceEndpoint{endpoint, Env("IMGUP_TEST_AWS_REGION", "us-east-1"), "dynamodb"});
    return loaded;
  }();
  return peer;
}

}  // namespace

aws::DynamoClient* DynamoPeer() {
  Peer* peer = LoadPeer();
  return peer ? peer->client.get() : nullptr;
}

void ReportMissingPeer() {
  const std::string message =
      "IMGUP_TEST_DYNAMODB_ENDPOINT is not set: no DynamoDB peer for this test. Run the tests "
      "under scripts/with-aws-peers.sh (make test does), which starts moto server.";
  if (Env("IMGUP_REQUIRE_AWS_PEERS") == "1" || Env("CI") == "true") {
    ADD_FAILURE() << message << " This run requires the peers (IMGUP_REQUIRE_AWS_PEERS=1 or CI).";
  } else {
    std::cerr << "[  SKIP    ] " << message << "\n";
  }
}

std::unique_ptr<ScratchTable> ScratchTable::Create(aws::DynamoClient& client) {
  static std::atomic<int> counter{0};
  // A name DynamoDB accepts too ([a-zA-Z0-9_.-]{3,255}), unique across test processes.
  std::string name = "imgup-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
                     "-" +
                     std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  auto created = client.CreateTable(DynamoMetadataStore::TableSpec(name));
  if (!created) {
    ADD_FAILURE() << "CreateTable " << name << ": " << created.error().error.detail;
    return nullptr;
  }
  auto table = std::unique_ptr<ScratchTable>(new ScratchTable(client, name));
  auto active = client.WaitForActive(name, std::chrono::seconds(60));
  if (!active) {
    ADD_FAILURE() << "table " << name << " not active: " << active.error().error.detail;
    return nullptr;
  }
  return table;
}

ScratchTable::~ScratchTable() {
  auto deleted = client_.DeleteTable(name_);
  if (!deleted) ADD_FAILURE() << "DeleteTable " << name_ << ": " << deleted.error().error.detail;
}

DynamoOnScratchTable MakeDynamoStore(std::string token_secret) {
  aws::DynamoClient* client = DynamoPeer();
  if (!client) {
    ReportMissingPeer();
    return {};
  }
  DynamoOnScratchTable made;
  made.table = ScratchTable::Create(*client);
  if (!made.table) return {};
  auto store = DynamoMetadataStore::Make(*client, {.table = made.table->name(),
                                                   .token_secret = std::move(token_secret),
                                                   .max_transaction_attempts = 5});
  if (!store) {
    ADD_FAILURE() << store.error().message;
    return {};
  }
  made.store = std::move(*store);
  return made;
}

}  // namespace imgup::testing_aws
