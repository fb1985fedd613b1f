// Writes a few records and an API key through DynamoMetadataStore into a new table, for the
// read-back test with boto3 (tests/aws/test_dynamo_items.py), and prints what it wrote as JSON.
//
//   dynamo_tool ENDPOINT TABLE
//
// And single steps, for the fault tests (tests/aws/test_faults.py):
//   dynamo_tool ENDPOINT TABLE create                    the table, with its indexes
//   dynamo_tool ENDPOINT TABLE insert OWNER ID SHA256    one record (status processing)
//   dynamo_tool ENDPOINT TABLE get OWNER ID              the record as JSON
// each printing "attempts: N" (the attempts of its last call) as its last line on stderr.
//
// Credentials and region from IMGUP_TEST_AWS_ACCESS_KEY_ID, IMGUP_TEST_AWS_SECRET_ACCESS_KEY and
// IMGUP_TEST_AWS_REGION (as scripts/with-aws-peers.sh sets them), the retry policy from
// tests/aws/tool_env.hpp's variables. Exit 1 with a message on stderr when a call fails: the
// error's slug, public message and detail.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/aws/dynamo_metadata_store.hpp"
#include "tool_env.hpp"

namespace {

using imgup::ImageRecord;
using imgup::ImageStatus;
using nlohmann::json;

std::string Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

void ReportAttempts() {
  std::cerr << "attempts: " << imgup::aws::AwsCaller::LastAttempts() << "\n";
}

template <class R>
void Check(const R& result, const char* what) {
  if (!result) {
    std::cerr << "dynamo_tool: " << what << ": " << result.error().slug << ": "
              << result.error().message << " (" << result.error().detail << ")\n";
    ReportAttempts();
    std::exit(1);
  }
}

json RecordJson(const ImageRecord& r) {
  json variants = json::object();
  for (const auto& [name, v] : r.variants) {
    variants[name] = {{"width", v.width},
                      {"height", v.height},
                      {"size_bytes", v.size_bytes},
                      {"content_type", v.content_type},
                      {"key", v.key},
                      {"sha256", v.sha256}};
  }
  json info = nullptr;
  if (r.info.Known()) {
    info = {{"bit_depth", r.info.bit_depth},     {"bands", r.info.bands},
            {"has_alpha", r.info.has_alpha},     {"animated", r.info.animated},
            {"frame_count", r.info.frame_count}, {"icc_profile", r.info.icc_profile}};
  }
  return {{"id", r.id},
          {"owner", r.owner},
          {"filename", r.filename},
          {"content_type", r.content_type},
          {"format", r.format},
          {"uploaded_at_ms", r.uploaded_at_ms},
          {"key", r.key},
          {"size_bytes", r.size_bytes},
          {"width", r.width},
          {"height", r.height},
          {"sha256", r.sha256},
          {"status", imgup::ToString(r.status)},
          {"failure_reason", r.failure_reason},
          {"variants", variants},
          {"exif_json", r.exif_json},
          {"placeholder", r.placeholder},
          {"dominant_color", r.dominant_color},
          {"phash", r.phash},
          {"info", info},
          {"tags", r.tags},
          {"description", r.description}};
}

ImageRecord Record(std::string owner, std::string id, std::string sha256) {
  ImageRecord r;
  r.id = std::move(id);
  r.owner = std::move(owner);
  r.filename = "photo.jpg";
  r.content_type = "image/jpeg";
  r.format = "jpeg";
  r.uploaded_at_ms = 1'764'662'400'000;
  r.key = "originals/" + r.owner + "/" + r.id;
  r.size_bytes = 5'000'000'000;
  r.width = 640;
  r.height = 480;
  r.sha256 = std::move(sha256);
  r.status = ImageStatus::kProcessing;
  return r;
}

int CreateTable(imgup::aws::DynamoClient& client, const std::string& table) {
  if (auto created = client.CreateTable(imgup::DynamoMetadataStore::TableSpec(table)); !created) {
    std::cerr << "dynamo_tool: CreateTable: " << created.error().error.slug << ": "
              << created.error().error.message << " (" << created.error().error.detail << ")\n";
    ReportAttempts();
    return 1;
  }
  if (auto active = client.WaitForActive(table, std::chrono::seconds(60)); !active) {
    std::cerr << "dynamo_tool: table not active: " << active.error().error.detail << "\n";
    return 1;
  }
  return 0;
}

int Step(imgup::DynamoMetadataStore& store, const std::vector<std::string>& args) {
  if (args[0] == "insert" && args.size() == 4) {
    Check(store.Insert(Record(args[1], args[2], args[3])), "Insert");
    ReportAttempts();
    return 0;
  }
  if (args[0] == "get" && args.size() == 3) {
    auto got = store.Get(args[1], args[2]);
    Check(got, "Get");
    std::cout << RecordJson(*got).dump() << "\n";
    ReportAttempts();
    return 0;
  }
  std::cerr
      << "usage: dynamo_tool ENDPOINT TABLE [create | insert OWNER ID SHA256 | get OWNER ID]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: dynamo_tool ENDPOINT TABLE [create | insert OWNER ID SHA256 | get OWNER "
                 "ID]\n";
    return 2;
  }
  auto http = imgup::aws::MakeHttpClient();
  const imgup::aws::Credentials credentials{Env("IMGUP_TEST_AWS_ACCESS_KEY_ID", "testing"),
                                            Env("IMGUP_TEST_AWS_SECRET_ACCESS_KEY", "testing"), ""};
  imgup::aws::AwsCaller caller(
      *http, [credentials]() -> imgup::Result<imgup::aws::Credentials> { return credentials; },
      imgup::testing::RetryPolicyFromEnvironment());
  imgup::aws::DynamoClient client(caller,
                                  {argv[1], Env("IMGUP_TEST_AWS_REGION", "us-east-1"), "dynamodb"});
  const std::string table = argv[2];
  const std::vector<std::string> step(argv + 3, argv + argc);
  if (step.size() == 1 && step[0] == "create") {
    const int status = CreateTable(client, table);
    if (status == 0) ReportAttempts();
    return status;
  }
  if (step.empty()) {
    if (int status = CreateTable(client, table); status != 0) return status;
  }
  auto made = imgup::DynamoMetadataStore::Make(
      client,
      {.table = table, .token_secret = "read-back-token-secret", .max_transaction_attempts = 5});
  Check(made, "Make");
  imgup::DynamoMetadataStore& store = **made;
  if (!step.empty()) return Step(store, step);

  // A record processed with every derived field, its tags changed once.
  ImageRecord full = Record("alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE", std::string(64, 'a'));
  full.tags = {"holiday", "beach"};
  full.description = "A day at the sea";
  Check(store.Insert(full), "Insert full");
  Check(store.AdjustAttempts(full.owner, full.id, 1), "AdjustAttempts");
  full.status = ImageStatus::kReady;
  full.width = 4032;
  full.height = 3024;
  full.format = "heif";
  full.variants["thumb"] = {256,
                            192,
                            9000,
                            "image/webp",
                            "variants/alice/" + full.id + "/thumb.webp",
                            std::string(64, 'b')};
  full.variants["medium"] = {1024,
                             768,
                             80000,
                             "image/webp",
                             "variants/alice/" + full.id + "/medium.webp",
                             std::string(64, 'c')};
  full.exif_json = R"({"make":"Canon","iso":100})";
  full.placeholder = "LEHV6nWB2yk8pyo0adR*.7kCMdnj";
  full.dominant_color = "#a1b2c3";
  full.phash = "0123456789abcdef";
  full.info = {16, 4, true, false, 1, "Display P3"};
  Check(store.SaveDerived(full), "SaveDerived full");
  auto updated = store.Update(
      full.owner, full.id,
      {.tags = std::vector<std::string>{"holiday", "sunset"}, .description = std::nullopt});
  Check(updated, "Update");
  full = *updated;

  // A record just uploaded: nothing derived, no tags, no description.
  const ImageRecord minimal = Record("alice", "01JDX3T0000000000000000001", std::string(64, 'd'));
  Check(store.Insert(minimal), "Insert minimal");

  // Another owner's record whose processing failed.
  ImageRecord failed = Record("bob", "01JDX3T0000000000000000002", std::string(64, 'a'));
  failed.content_type = "image/png";
  failed.format = "png";
  failed.tags = {"scan"};
  Check(store.Insert(failed), "Insert failed");
  failed.status = ImageStatus::kFailed;
  failed.failure_reason = "decode_failed";
  Check(store.SaveDerived(failed), "SaveDerived failed");

  Check(store.AddKey("ci", std::string(64, 'e'), 1'764'662'400'123), "AddKey");

  const json out = {{"records", {RecordJson(full), RecordJson(minimal), RecordJson(failed)}},
                    {"attempts", {{full.id, 1}}},
                    {"keys",
                     {{{"name", "ci"},
                       {"key_sha256", std::string(64, 'e')},
                       {"created_ms", 1'764'662'400'123}}}}};
  std::cout << out.dump() << "\n";
  return 0;
}
