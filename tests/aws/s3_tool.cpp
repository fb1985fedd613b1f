// S3BlobStore as a command, for the differential test against boto3
// (tests/aws/test_s3_differential.py). The peer comes from IMGUP_TEST_S3_ENDPOINT,
// IMGUP_TEST_AWS_REGION, IMGUP_TEST_AWS_ACCESS_KEY_ID and IMGUP_TEST_AWS_SECRET_ACCESS_KEY.
//
//   s3_tool BUCKET put KEY CONTENT_TYPE      < bytes
//   s3_tool BUCKET get KEY                   > bytes
//   s3_tool BUCKET head KEY                  {"key", "size_bytes", "modified_ms"}
//   s3_tool BUCKET list PREFIX LIMIT         every page: [{"items": [...], "next_token"}, ...]
//   s3_tool BUCKET delete-prefix PREFIX      {"removed"}
//   s3_tool BUCKET presign-get KEY EXPIRES [CONTENT_TYPE [DISPOSITION]]     the URL
//   s3_tool BUCKET presign-post KEY CONTENT_TYPE MAX_BYTES EXPIRES  {"url", "fields", ...}
//
// Exit status 0 on success; 1 with the error's slug and detail on stderr. Either way the last
// line on stderr is "attempts: N", the attempts of the command's last call (the fault tests).
// The retry policy comes from tests/aws/tool_env.hpp's variables; IMGUP_TEST_CLOCK_SKEW_S signs
// the calls with a clock that many seconds off; IMGUP_TEST_S3_SSE is the server-side encryption
// PutObject asks for ("AES256", ...).
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/aws/s3_blob_store.hpp"
#include "tool_env.hpp"

namespace {

std::string Env(const char* name, const char* fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

int Usage() {
  std::cerr << "usage: s3_tool BUCKET put|get|head|list|delete-prefix|presign-get|presign-post "
               "ARGS (see tests/aws/s3_tool.cpp)\n";
  return 2;
}

int Failed(const imgup::Error& error) {
  std::cerr << error.slug << ": " << error.message << " (" << error.detail << ")\n";
  return 1;
}

// Runs one command and reports its attempts, whatever its outcome.
int Reported(int status) {
  std::cerr << "attempts: " << imgup::aws::AwsCaller::LastAttempts() << "\n";
  return status;
}

int Run(imgup::S3BlobStore& store, const std::vector<std::string>& args);

nlohmann::json EntryJson(const imgup::BlobEntry& entry) {
  return {{"key", entry.key}, {"size_bytes", entry.size_bytes}, {"modified_ms", entry.modified_ms}};
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 3) return Usage();
  imgup::S3BlobStoreConfig config;
  config.endpoint = Env("IMGUP_TEST_S3_ENDPOINT");
  config.region = Env("IMGUP_TEST_AWS_REGION", "us-east-1");
  config.bucket = args[0];
  config.retry = imgup::testing::RetryPolicyFromEnvironment();
  config.server_side_encryption = Env("IMGUP_TEST_S3_SSE");
  if (const std::string skew = Env("IMGUP_TEST_CLOCK_SKEW_S"); !skew.empty()) {
    const auto offset = std::chrono::seconds(std::stoll(skew));
    config.signing_clock = [offset] { return std::chrono::system_clock::now() + offset; };
  }
  const imgup::aws::Credentials credentials{Env("IMGUP_TEST_AWS_ACCESS_KEY_ID"),
                                            Env("IMGUP_TEST_AWS_SECRET_ACCESS_KEY"), ""};
  const auto http = imgup::aws::MakeHttpClient();
  imgup::SystemClock clock;
  auto made = imgup::S3BlobStore::Make(
      config, *http, [&] { return imgup::Result<imgup::aws::Credentials>(credentials); }, clock);
  if (!made) return Failed(made.error());
  return Reported(Run(**made, args));
}

namespace {

int Run(imgup::S3BlobStore& store, const std::vector<std::string>& args) {
  const std::string& command = args[1];

  if (command == "put" && args.size() == 4) {
    const std::string data((std::istreambuf_iterator<char>(std::cin)), {});
    auto put = store.Put(args[2], data, args[3]);
    return put ? 0 : Failed(put.error());
  }
  if (command == "get" && args.size() == 3) {
    auto got = store.Get(args[2]);
    if (!got) return Failed(got.error());
    std::cout << *got;
    return 0;
  }
  if (command == "head" && args.size() == 3) {
    auto head = store.Head(args[2]);
    if (!head) return Failed(head.error());
    std::cout << EntryJson(*head).dump() << "\n";
    return 0;
  }
  if (command == "list" && args.size() == 4) {
    nlohmann::json pages = nlohmann::json::array();
    std::string token;
    do {
      auto page = store.List(args[2], token, std::stoul(args[3]));
      if (!page) return Failed(page.error());
      nlohmann::json items = nlohmann::json::array();
      for (const auto& entry : page->items) items.push_back(EntryJson(entry));
      pages.push_back({{"items", items}, {"next_token", page->next_token}});
      token = page->next_token;
    } while (!token.empty());
    std::cout << pages.dump() << "\n";
    return 0;
  }
  if (command == "delete-prefix" && args.size() == 3) {
    auto removed = store.DeletePrefix(args[2]);
    if (!removed) return Failed(removed.error());
    std::cout << nlohmann::json{{"removed", *removed}}.dump() << "\n";
    return 0;
  }
  if (command == "presign-get" && args.size() >= 4 && args.size() <= 6) {
    imgup::GetUrlOptions options;
    if (args.size() >= 5) options.content_type = args[4];
    if (args.size() == 6) options.content_disposition = args[5];
    auto url = store.PresignGet(args[2], std::stoll(args[3]), options);
    if (!url) return Failed(url.error());
    std::cout << *url << "\n";
    return 0;
  }
  if (command == "presign-post" && args.size() == 6) {
    auto post = store.PresignPost(
        imgup::UploadPolicy{args[2], args[3], std::stoull(args[4]), std::stoll(args[5])});
    if (!post) return Failed(post.error());
    std::cout << nlohmann::json{{"url", post->url},
                                {"fields", post->fields},
                                {"expires_at_ms", post->expires_at_ms}}
                     .dump()
              << "\n";
    return 0;
  }
  return Usage();
}

}  // namespace
