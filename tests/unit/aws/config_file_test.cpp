// The AWS shared config and credentials files, and the choice of profile.
#include "aws/config_file.hpp"

#include <gtest/gtest.h>

namespace imgup::aws {
namespace {

constexpr std::string_view kConfig = R"(# the AWS CLI's config
[default]
region = us-east-1
output = json

[profile   dev]
region=eu-west-3
; a comment line
aws_access_key_id = AKIDCONFIG
services = local-emulators
s3 =
  addressing_style = path
  Max_Concurrent_Requests = 4

[services local-emulators]
s3 =
  endpoint_url = http://127.0.0.1:7070
dynamodb =
  endpoint_url = http://localhost:8000

[sso-session corp]
sso_region = us-east-1
)";

constexpr std::string_view kCredentials =
    "[default]\r\n"
    "aws_access_key_id = AKIDDEFAULT\r\n"
    "aws_secret_access_key = secret/default+key\r\n"
    "\r\n"
    "[dev]\n"
    "aws_access_key_id=AKIDDEV\n"
    "aws_secret_access_key=devsecret\n"
    "aws_session_token = token==\n";

TEST(AwsConfigFile, ParsesProfilesServicesNestedSettingsAndComments) {
  const auto file = ParseConfigFile(kConfig);
  ASSERT_TRUE(file.has_value()) << file.error().message;
  ASSERT_EQ(file->profiles.size(), 2u);
  EXPECT_EQ(file->profiles.at("default").Get("region"), "us-east-1");
  const ConfigSection& dev = file->profiles.at("dev");
  EXPECT_EQ(dev.Get("region"), "eu-west-3");
  EXPECT_EQ(dev.Get("services"), "local-emulators");
  EXPECT_EQ(dev.GetNested("s3", "addressing_style"), "path");
  EXPECT_EQ(dev.GetNested("s3", "max_concurrent_requests"), "4");  // keys are lower-cased
  EXPECT_EQ(dev.Get("s3"), std::nullopt);                          // empty: a parent
  EXPECT_EQ(file->services.at("local-emulators").GetNested("dynamodb", "endpoint_url"),
            "http://localhost:8000");
  EXPECT_EQ(file->other.at("sso-session corp").Get("sso_region"), "us-east-1");
}

TEST(AwsConfigFile, ParsesTheCredentialsFileWithCrlfLines) {
  const auto file = ParseCredentialsFile(kCredentials);
  ASSERT_TRUE(file.has_value()) << file.error().message;
  EXPECT_EQ(file->at("default").Get("aws_secret_access_key"), "secret/default+key");
  EXPECT_EQ(file->at("dev").Get("aws_session_token"), "token==");
}

TEST(AwsConfigFile, RefusesLinesItCannotRead) {
  for (std::string_view text :
       {"region = us-east-1\n", "[default\nregion = x\n", "[default]\njust words\n",
        "[default]\nregion = a\n  nested = b\n", "[default] trailing\n", "[ ]\n"}) {
    const auto file = ParseConfigFile(text);
    ASSERT_FALSE(file.has_value()) << text;
    EXPECT_EQ(file.error().slug, "aws_config_syntax");
  }
  const auto error = ParseConfigFile("[default]\nok = 1\nbroken\n").error();
  EXPECT_NE(error.message.find("line 3"), std::string::npos) << error.message;
}

TEST(AwsConfigFile, FindsTheFilesAndTheProfile) {
  EXPECT_EQ(ConfigFilePath({{"HOME", "/home/u"}}), "/home/u/.aws/config");
  EXPECT_EQ(CredentialsFilePath({{"HOME", "/home/u"}}), "/home/u/.aws/credentials");
  EXPECT_EQ(ConfigFilePath({{"HOME", "/home/u"}, {"AWS_CONFIG_FILE", "/etc/aws"}}), "/etc/aws");
  EXPECT_EQ(CredentialsFilePath({{"AWS_SHARED_CREDENTIALS_FILE", "/c"}}), "/c");
  EXPECT_EQ(ConfigFilePath({}), "");

  EXPECT_EQ(ChooseProfile({}).name, "default");
  EXPECT_FALSE(ChooseProfile({}).explicit_choice);
  EXPECT_EQ(ChooseProfile({{"AWS_DEFAULT_PROFILE", "old"}}).name, "old");
  const ProfileChoice chosen =
      ChooseProfile({{"AWS_PROFILE", "dev"}, {"AWS_DEFAULT_PROFILE", "old"}});
  EXPECT_EQ(chosen.name, "dev");
  EXPECT_TRUE(chosen.explicit_choice);
}

TEST(AwsConfigFile, AProfileJoinsBothFilesAndTheCredentialsFileWins) {
  const SharedFiles files{std::string(kConfig), std::string(kCredentials)};
  const auto dev = LoadProfile(files, {"dev", true});
  ASSERT_TRUE(dev.has_value()) << dev.error().message;
  EXPECT_TRUE(dev->found);
  EXPECT_EQ(dev->settings.Get("aws_access_key_id"), "AKIDDEV");  // not AKIDCONFIG
  EXPECT_EQ(dev->settings.Get("region"), "eu-west-3");
  ASSERT_TRUE(dev->services.has_value());
  EXPECT_EQ(dev->services->GetNested("s3", "endpoint_url"), "http://127.0.0.1:7070");

  const auto missing = LoadProfile(files, {"nope", true});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().slug, "aws_profile_not_found");
  // The default profile may be absent: there is simply nothing in it.
  const auto absent_default = LoadProfile({}, {"default", false});
  ASSERT_TRUE(absent_default.has_value());
  EXPECT_FALSE(absent_default->found);

  const auto broken = LoadProfile({std::string("oops\n"), std::nullopt}, {"default", false});
  ASSERT_FALSE(broken.has_value());
  EXPECT_EQ(broken.error().slug, "aws_config_syntax");
}

TEST(AwsConfigFile, ReadsBooleansAsTheCliDoes) {
  EXPECT_EQ(ParseBool("true"), true);
  EXPECT_EQ(ParseBool(" TRUE "), true);
  EXPECT_EQ(ParseBool("False"), false);
  EXPECT_EQ(ParseBool("1"), std::nullopt);
}

}  // namespace
}  // namespace imgup::aws
