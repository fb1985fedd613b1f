// The AWS backend of `imgup serve --storage aws`, init-aws and the Lambda API function
// (apps/aws_backend): what it resolves from the configuration, the configurations it refuses
// without sending anything, and the start-up check's message when nothing answers (a closed
// loopback port). What the check says against real peers is tested in tests/run_aws.
#include "aws_backend/aws_backend.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace imgup::app {
namespace {

class FixedClock final : public Clock {
 public:
  std::int64_t NowMs() override { return 1'764'662'400'000; }
};

AwsBackendConfig Config(aws::Environment env = {}) {
  AwsBackendConfig config;
  config.bucket = "photos";
  config.table = "images";
  env.emplace("AWS_REGION", "eu-west-1");
  env.emplace("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  env.emplace("AWS_SECRET_ACCESS_KEY", "secret");
  config.env = std::move(env);
  return config;
}

/// A loopback port that was free a moment ago (nothing listens there).
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

TEST(AwsBackend, ResolvesRegionEndpointsAndARandomCursorSecretWhenNoneIsSet) {
  FixedClock clock;
  auto backend = OpenAwsBackend(Config({{"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:7070"}}), clock);
  ASSERT_TRUE(backend) << backend.error().message;
  const AwsBackendDescription& d = (*backend)->Description();
  EXPECT_EQ(d.region, "eu-west-1");
  EXPECT_EQ(d.s3_endpoint, "http://127.0.0.1:7070");
  EXPECT_EQ(d.dynamodb_endpoint, "https://dynamodb.eu-west-1.amazonaws.com");
  EXPECT_EQ(d.bucket, "photos");
  EXPECT_EQ(d.table, "images");
  EXPECT_TRUE(d.cursor_secret_random);

  auto config = Config();
  config.cursor_secret = "sixteen-bytes-ok";
  auto configured = OpenAwsBackend(config, clock);
  ASSERT_TRUE(configured);
  EXPECT_FALSE((*configured)->Description().cursor_secret_random);
}

TEST(AwsBackend, RefusesAConfigurationThatCannotWorkNamingIt) {
  FixedClock clock;
  struct Case {
    AwsBackendConfig config;
    std::string names;
  };
  auto no_bucket = Config();
  no_bucket.bucket.clear();
  auto no_table = Config();
  no_table.table.clear();
  auto short_secret = Config();
  short_secret.cursor_secret = "short";
  auto no_region = Config();
  no_region.env.erase("AWS_REGION");
  no_region.env["AWS_CONFIG_FILE"] = "/nonexistent";
  auto bad_endpoint = Config({{"AWS_ENDPOINT_URL_DYNAMODB", "ftp://example.com"}});
  for (const auto& [config, names] :
       {Case{no_bucket, "IMGUP_BUCKET"}, Case{no_table, "IMGUP_TABLE"},
        Case{short_secret, "IMGUP_CURSOR_SECRET"}, Case{no_region, "AWS_REGION"},
        Case{bad_endpoint, "DynamoDB endpoint"}}) {
    auto backend = OpenAwsBackend(config, clock);
    ASSERT_FALSE(backend) << names;
    EXPECT_EQ(backend.error().slug, "invalid_config") << names;
    EXPECT_NE(backend.error().message.find(names), std::string::npos) << backend.error().message;
  }
}

TEST(AwsBackend, TheCheckSaysWhenNothingAnswersAtTheEndpoint) {
  FixedClock clock;
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(ClosedPort());
  auto backend = OpenAwsBackend(Config({{"AWS_ENDPOINT_URL", nowhere}}), clock);
  ASSERT_TRUE(backend);
  auto checked = (*backend)->Check();
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().slug, "aws_no_route");
  EXPECT_NE(checked.error().message.find("S3 bucket 'photos' at " + nowhere), std::string::npos)
      << checked.error().message;
  EXPECT_NE(checked.error().message.find("nothing answers"), std::string::npos);
}

TEST(AwsBackend, TheCheckSaysWhenThereAreNoCredentials) {
  FixedClock clock;
  auto config = Config({{"AWS_CONFIG_FILE", "/nonexistent"},
                        {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"},
                        {"AWS_EC2_METADATA_DISABLED", "true"}});
  config.env.erase("AWS_ACCESS_KEY_ID");
  config.env.erase("AWS_SECRET_ACCESS_KEY");
  auto backend = OpenAwsBackend(config, clock);
  ASSERT_TRUE(backend);
  auto checked = (*backend)->Check();
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().slug, "aws_no_credentials");
  EXPECT_NE(checked.error().message.find("no AWS credentials"), std::string::npos);
}

}  // namespace
}  // namespace imgup::app
