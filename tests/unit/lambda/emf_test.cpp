#include "transport/lambda/emf.hpp"

#include <gtest/gtest.h>

#include "transport/lambda/runtime_api.hpp"

namespace imgup {
namespace {

HttpRequest Post(std::string path) {
  HttpRequest request;
  request.method = "POST";
  request.path = std::move(path);
  return request;
}

HttpResponse Status(int status, std::string code = "") {
  HttpResponse response;
  response.status = status;
  response.error_code = std::move(code);
  return response;
}

TEST(Emf, AnUploadIsCountedWithItsBytesAndTime) {
  HttpResponse created = Status(201);
  created.image_bytes = 204800;
  nlohmann::json line = {{"msg", "request"}};
  AddEmbeddedMetrics(line, 1764680000123, ApiRequestMetrics(Post("/upload"), created, 12.5));
  EXPECT_EQ(line["Uploads"], 1);
  EXPECT_EQ(line["UploadBytes"], 204800);
  EXPECT_EQ(line["UploadTime"], 12.5);
  EXPECT_EQ(line["Function"], "api");
  EXPECT_EQ(line["msg"], "request");
  const nlohmann::json expected_aws = nlohmann::json::parse(R"({
    "Timestamp": 1764680000123,
    "CloudWatchMetrics": [{
      "Namespace": "imgup",
      "Dimensions": [["Function"]],
      "Metrics": [{"Name": "Uploads", "Unit": "Count"},
                  {"Name": "UploadBytes", "Unit": "Bytes"},
                  {"Name": "UploadTime", "Unit": "Milliseconds"}]}]})");
  EXPECT_EQ(line["_aws"], expected_aws);
}

TEST(Emf, RejectionsAreCountedByTheProblemsCode) {
  nlohmann::json line = nlohmann::json::object();
  AddEmbeddedMetrics(line, 1,
                     ApiRequestMetrics(Post("/upload"), Status(415, "unsupported_media_type"), 1));
  EXPECT_EQ(line["Rejections"], 1);
  EXPECT_EQ(line["Reason"], "unsupported_media_type");
  EXPECT_EQ(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            nlohmann::json::parse(R"([["Function"], ["Function", "Reason"]])"));
  nlohmann::json presigned = nlohmann::json::object();
  AddEmbeddedMetrics(presigned, 1, ApiRequestMetrics(Post("/uploads"), Status(400, "bad_size"), 1));
  EXPECT_EQ(presigned["Reason"], "bad_size");
}

TEST(Emf, OtherAnswersCountWhatTheyAre) {
  EXPECT_TRUE(ApiRequestMetrics(Post("/upload"), Status(200), 1).groups.at(0).metrics.at(0).name ==
              "DuplicateUploads");
  EXPECT_EQ(ApiRequestMetrics(Post("/uploads"), Status(201), 1).groups.at(0).metrics.at(0).name,
            "PresignedUploads");
  EXPECT_EQ(ApiRequestMetrics(Post("/images"), Status(503, "storage_error"), 1)
                .groups.at(0)
                .metrics.at(0)
                .name,
            "ServerErrors");
  HttpRequest get;
  get.method = "GET";
  get.path = "/images";
  nlohmann::json line = {{"msg", "request"}};
  AddEmbeddedMetrics(line, 1, ApiRequestMetrics(get, Status(404, "not_found"), 1));
  EXPECT_FALSE(line.contains("_aws")) << "a line with no metric stays a plain log line";
}

TEST(Emf, ProcessorRecordsByOutcome) {
  nlohmann::json ready = nlohmann::json::object();
  AddEmbeddedMetrics(ready, 1, ProcessorRecordMetrics("ready", "", 250));
  EXPECT_EQ(ready["ImagesProcessed"], 1);
  EXPECT_EQ(ready["ProcessingTime"], 250);
  EXPECT_EQ(ready["Function"], "processor");
  nlohmann::json failed = nlohmann::json::object();
  AddEmbeddedMetrics(failed, 1, ProcessorRecordMetrics("failed", "decode_failed", 30));
  EXPECT_EQ(failed["ProcessingFailures"], 1);
  EXPECT_EQ(failed["Reason"], "decode_failed");
  EXPECT_EQ(failed["_aws"]["CloudWatchMetrics"].size(), 2u);
  nlohmann::json retry = nlohmann::json::object();
  AddEmbeddedMetrics(retry, 1, ProcessorRecordMetrics("retry", "record_not_yet", 3));
  EXPECT_EQ(retry["ProcessingRetries"], 1);
  EXPECT_FALSE(retry.contains("ProcessingTime"));
  nlohmann::json committed = nlohmann::json::object();
  AddEmbeddedMetrics(committed, 1, ProcessorRecordMetrics("committed", "", 12));
  EXPECT_EQ(committed["UploadsCommitted"], 1);
  EXPECT_FALSE(committed.contains("ProcessingTime"));  // no pixel work in that invocation
  nlohmann::json ignored = nlohmann::json::object();
  AddEmbeddedMetrics(ignored, 1, ProcessorRecordMetrics("ignored", "", 1));
  EXPECT_TRUE(ignored.empty());
}

TEST(XRayTraceId, IsTheRootOfTheTraceHeader) {
  EXPECT_EQ(XRayTraceId("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                        "Sampled=1"),
            "1-5759e988-bd862e3fe1be46a994272793");
  EXPECT_EQ(XRayTraceId("Parent=53995c3f42cd8ad8; Root=1-abc;Sampled=0"), "1-abc");
  EXPECT_EQ(XRayTraceId("no-root-here"), "no-root-here");
}

}  // namespace
}  // namespace imgup
