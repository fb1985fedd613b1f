// Regions, endpoints (AWS_ENDPOINT_URL and friends) and S3 addressing.
#include "aws/endpoints.hpp"

#include <gtest/gtest.h>

namespace imgup::aws {
namespace {

Profile ProfileFrom(std::string_view config, std::string name = "default") {
  const auto profile = LoadProfile({std::string(config), std::nullopt}, {std::move(name), false});
  EXPECT_TRUE(profile.has_value());
  return profile.value_or(Profile{});
}

TEST(AwsEndpointUrl, TakesHttpUrlsApart) {
  const auto plain = ParseEndpointUrl("HTTP://LocalHost:4566");
  ASSERT_TRUE(plain.has_value()) << plain.error().message;
  EXPECT_EQ(plain->scheme, "http");
  EXPECT_EQ(plain->host, "localhost");
  EXPECT_EQ(plain->port, 4566);
  EXPECT_EQ(plain->Authority(), "localhost:4566");
  EXPECT_EQ(plain->base_path, "");
  EXPECT_TRUE(plain->custom);

  const auto with_path = ParseEndpointUrl("https://gw.example.com:443/s3/");
  ASSERT_TRUE(with_path.has_value());
  EXPECT_EQ(with_path->Authority(), "gw.example.com");  // the default port is left out
  EXPECT_EQ(with_path->base_path, "/s3");
  EXPECT_EQ(with_path->Url(), "https://gw.example.com/s3");

  const auto v6 = ParseEndpointUrl("http://[::1]:9000");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->Authority(), "[::1]:9000");

  for (std::string_view bad :
       {"localhost:4566", "ftp://host", "http://", "http://host:0", "http://host:65536",
        "http://host:x", "http://host:", "http://user@host", "http://host/?a=b", "http://host/#x",
        "http://[::1", "http://ho st"}) {
    const auto parsed = ParseEndpointUrl(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().slug, "aws_endpoint_url");
  }
}

TEST(AwsEndpointUrl, TellsIpLiteralsFromNames) {
  EXPECT_TRUE(IsIpLiteral("127.0.0.1"));
  EXPECT_TRUE(IsIpLiteral("10.1.2.3"));
  EXPECT_TRUE(IsIpLiteral("[fd00:ec2::254]"));
  EXPECT_FALSE(IsIpLiteral("256.0.0.1"));
  EXPECT_FALSE(IsIpLiteral("1.2.3"));
  EXPECT_FALSE(IsIpLiteral("s3.amazonaws.com"));
  EXPECT_FALSE(IsIpLiteral("1.2.3.4.example"));
}

TEST(AwsRegion, EnvironmentFirstThenTheProfile) {
  const Profile profile = ProfileFrom("[default]\nregion = eu-north-1\n");
  EXPECT_EQ(ResolveRegion({{"AWS_REGION", "us-west-2"}, {"AWS_DEFAULT_REGION", "x"}}, profile),
            "us-west-2");
  EXPECT_EQ(ResolveRegion({{"AWS_DEFAULT_REGION", "ap-south-1"}}, profile), "ap-south-1");
  EXPECT_EQ(ResolveRegion({}, profile), "eu-north-1");
  EXPECT_EQ(ResolveRegion({}, Profile{}), std::nullopt);
}

TEST(AwsEndpoints, ServiceVariableThenGlobalThenProfileThenAws) {
  const Profile profile = ProfileFrom(
      "[default]\nservices = emu\nendpoint_url = http://profile:1\n"
      "[services emu]\ns3 =\n  endpoint_url = http://services-s3:2\n");
  auto url = [&](AwsService service, const Environment& env) {
    const auto endpoint = ResolveEndpoint(service, env, profile, "eu-west-1");
    EXPECT_TRUE(endpoint.has_value()) << endpoint.error().message;
    return endpoint ? endpoint->Url() : std::string();
  };
  const Environment all = {{"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:7070"},
                           {"AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"},
                           {"AWS_ENDPOINT_URL", "http://global:3"}};
  EXPECT_EQ(url(AwsService::kS3, all), "http://127.0.0.1:7070");
  EXPECT_EQ(url(AwsService::kDynamoDb, all), "http://127.0.0.1:8000");
  EXPECT_EQ(url(AwsService::kS3, {{"AWS_ENDPOINT_URL", "http://global:3"}}), "http://global:3");
  EXPECT_EQ(url(AwsService::kS3, {}), "http://services-s3:2");
  EXPECT_EQ(url(AwsService::kDynamoDb, {}), "http://profile:1");

  Environment ignore = all;
  ignore["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true";
  EXPECT_EQ(url(AwsService::kS3, ignore), "https://s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(url(AwsService::kDynamoDb, ignore), "https://dynamodb.eu-west-1.amazonaws.com");
  EXPECT_FALSE(ResolveEndpoint(AwsService::kS3, ignore, profile, "eu-west-1")->custom);
}

TEST(AwsEndpoints, AwsDefaultsNeedAValidRegion) {
  const auto china = ResolveEndpoint(AwsService::kS3, {}, Profile{}, "cn-north-1");
  ASSERT_TRUE(china.has_value());
  EXPECT_EQ(china->Url(), "https://s3.cn-north-1.amazonaws.com.cn");
  const auto none = ResolveEndpoint(AwsService::kDynamoDb, {}, Profile{}, "");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().slug, "aws_no_region");
  const auto bad = ResolveEndpoint(AwsService::kS3, {}, Profile{}, "evil.com/x");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().slug, "aws_region");
  const auto bad_url =
      ResolveEndpoint(AwsService::kS3, {{"AWS_ENDPOINT_URL", "localhost:1"}}, Profile{}, "x");
  ASSERT_FALSE(bad_url.has_value());
  EXPECT_EQ(bad_url.error().slug, "aws_endpoint_url");
}

TEST(AwsS3Addressing, VirtualHostsOnAwsPathStyleOnEmulatorsOrWhenAsked) {
  const Endpoint aws = ResolveEndpoint(AwsService::kS3, {}, Profile{}, "us-east-1").value();
  const auto virtual_host =
      LocateS3Object(aws, "my-bucket", "originals/u/01 a+b.jpg", S3AddressingStyle::kAuto);
  ASSERT_TRUE(virtual_host.has_value());
  EXPECT_FALSE(virtual_host->path_style);
  EXPECT_EQ(virtual_host->endpoint.Authority(), "my-bucket.s3.us-east-1.amazonaws.com");
  EXPECT_EQ(virtual_host->path, "/originals/u/01%20a%2Bb.jpg");

  const auto asked = LocateS3Object(aws, "my-bucket", "k", S3AddressingStyle::kPath);
  EXPECT_TRUE(asked->path_style);
  EXPECT_EQ(asked->endpoint.Authority(), "s3.us-east-1.amazonaws.com");
  EXPECT_EQ(asked->path, "/my-bucket/k");

  // A bucket with dots would not match the wildcard certificate.
  EXPECT_TRUE(LocateS3Object(aws, "my.bucket", "k", S3AddressingStyle::kAuto)->path_style);
  const auto refused = LocateS3Object(aws, "my.bucket", "k", S3AddressingStyle::kVirtual);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().slug, "aws_bucket");

  for (const char* emulator : {"http://127.0.0.1:7070", "http://localhost:4566",
                               "http://[::1]:9000", "http://s3.localhost:9000"}) {
    const auto located = LocateS3Object(ParseEndpointUrl(emulator).value(), "b1-x", "a//./b",
                                        S3AddressingStyle::kAuto);
    ASSERT_TRUE(located.has_value()) << emulator;
    EXPECT_TRUE(located->path_style) << emulator;
    EXPECT_EQ(located->path, "/b1-x/a//./b") << emulator;  // S3 keys are not normalised
  }
  const auto prefixed = LocateS3Object(ParseEndpointUrl("https://gw.example.com/storage").value(),
                                       "bucket", "", S3AddressingStyle::kAuto);
  EXPECT_EQ(prefixed->path, "/storage/");
  EXPECT_EQ(prefixed->endpoint.Authority(), "bucket.gw.example.com");

  EXPECT_FALSE(LocateS3Object(aws, "", "k", S3AddressingStyle::kAuto).has_value());
}

TEST(AwsS3Addressing, BucketNamesAndTheProfilesStyle) {
  EXPECT_TRUE(IsVirtualHostableBucket("abc"));
  EXPECT_TRUE(IsVirtualHostableBucket("imgup-2026-images"));
  EXPECT_FALSE(IsVirtualHostableBucket("ab"));
  EXPECT_FALSE(IsVirtualHostableBucket(std::string(64, 'a')));
  EXPECT_FALSE(IsVirtualHostableBucket("Upper"));
  EXPECT_FALSE(IsVirtualHostableBucket("under_score"));
  EXPECT_FALSE(IsVirtualHostableBucket("-dash"));
  EXPECT_FALSE(IsVirtualHostableBucket("a.b.c"));

  EXPECT_EQ(S3AddressingFromProfile(ProfileFrom("[default]\ns3 =\n  addressing_style = path\n")),
            S3AddressingStyle::kPath);
  EXPECT_EQ(S3AddressingFromProfile(ProfileFrom("[default]\ns3 =\n  addressing_style = Virtual\n")),
            S3AddressingStyle::kVirtual);
  EXPECT_EQ(S3AddressingFromProfile(Profile{}), S3AddressingStyle::kAuto);
}

}  // namespace
}  // namespace imgup::aws
