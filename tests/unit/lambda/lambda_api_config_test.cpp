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

TEST(LambdaApiConfig, DefaultsToAwsStorageAndTheSubClaim) {
  auto config = ReadConfig(EnvOf({}));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->storage, Storage::kAws);
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

TEST(LambdaApiConfig, ClaimAndBodyLimitAreRead) {
  auto config = ReadConfig(
      EnvOf({{"IMGUP_PRINCIPAL_CLAIM", "cognito:username"}, {"IMGUP_MAX_BODY_BYTES", "1024"}}));
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
    auto config = ReadConfig(EnvOf({{name, value}}));
    ASSERT_FALSE(config) << name << "=" << value;
    EXPECT_NE(config.error().message.find(name), std::string::npos) << config.error().message;
  }
}

}  // namespace
}  // namespace imgup::lambda_api
