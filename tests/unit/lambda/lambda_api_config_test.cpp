// The API function's configuration from its environment (apps/lambda_api/config).
#include <gtest/gtest.h>

#include <map>

#include "config.hpp"

namespace imgup::lambda_api {
namespace {

Env EnvOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto found = vars.find(std::string(name));
    if (found == vars.end()) return std::nullopt;
    return found->second;
  };
}

/// The least an aws configuration needs.
std::map<std::string, std::string> AwsEnv(std::map<std::string, std::string> more = {}) {
  more.emplace("IMGUP_BUCKET", "b");
  more.emplace("IMGUP_TABLE", "t");
  return more;
}

TEST(LambdaApiConfig, DefaultsToAwsStorageAndTheSubClaim) {
  auto config = ReadConfig(EnvOf(AwsEnv()));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->storage, Storage::kAws);
  EXPECT_EQ(config->bucket, "b");
  EXPECT_EQ(config->table, "t");
  EXPECT_EQ(config->cursor_secret, "");
  EXPECT_EQ(config->principal_claim, "sub");
  EXPECT_EQ(config->max_body_bytes, kLambdaMaxBodyBytes);
  // What API Gateway base64-encodes still fits in Lambda's 6 MB event.
  EXPECT_LE((kLambdaMaxBodyBytes + 2) / 3 * 4 + 64 * 1024, std::size_t{6 * 1024 * 1024});
}

TEST(LambdaApiConfig, LocalStorageNeedsADataDirectory) {
  auto config = ReadConfig(EnvOf({{"IMGUP_STORAGE", "local"}, {"IMGUP_DATA_DIR", "/tmp/d"}}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->storage, Storage::kLocal);
  EXPECT_EQ(config->data_dir, "/tmp/d");
  auto missing = ReadConfig(EnvOf({{"IMGUP_STORAGE", "local"}}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().slug, "invalid_config");
  EXPECT_NE(missing.error().message.find("IMGUP_DATA_DIR"), std::string::npos);
}

TEST(LambdaApiConfig, AwsStorageNeedsABucketATableAndALongEnoughSecret) {
  for (const char* name : {"IMGUP_BUCKET", "IMGUP_TABLE"}) {
    auto env = AwsEnv();
    env.erase(name);
    auto config = ReadConfig(EnvOf(env));
    ASSERT_FALSE(config) << name;
    EXPECT_EQ(config.error().slug, "invalid_config");
    EXPECT_NE(config.error().message.find(name), std::string::npos) << config.error().message;
  }
  auto short_secret = ReadConfig(EnvOf(AwsEnv({{"IMGUP_CURSOR_SECRET", "too-short"}})));
  ASSERT_FALSE(short_secret);
  EXPECT_NE(short_secret.error().message.find("IMGUP_CURSOR_SECRET"), std::string::npos);
  auto config = ReadConfig(EnvOf(AwsEnv({{"IMGUP_CURSOR_SECRET", "0123456789abcdef"}})));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->cursor_secret, "0123456789abcdef");
}

TEST(LambdaApiConfig, ClaimAndBodyLimitAreRead) {
  auto config = ReadConfig(EnvOf(
      AwsEnv({{"IMGUP_PRINCIPAL_CLAIM", "cognito:username"}, {"IMGUP_MAX_BODY_BYTES", "1024"}})));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->principal_claim, "cognito:username");
  EXPECT_EQ(config->max_body_bytes, 1024u);
}

TEST(LambdaApiConfig, BadValuesAreRefusedNamingTheVariable) {
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"IMGUP_STORAGE", "s3"},
                                                        {"IMGUP_PRINCIPAL_CLAIM", ""},
                                                        {"IMGUP_MAX_BODY_BYTES", "0"},
                                                        {"IMGUP_MAX_BODY_BYTES", "12k"},
                                                        {"IMGUP_MAX_BODY_BYTES", "-1"}}) {
    auto config = ReadConfig(EnvOf(AwsEnv({{name, value}})));
    ASSERT_FALSE(config) << name << "=" << value;
    EXPECT_NE(config.error().message.find(name), std::string::npos) << config.error().message;
  }
}

}  // namespace
}  // namespace imgup::lambda_api
