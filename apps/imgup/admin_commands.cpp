#include "admin_commands.hpp"

#include <openssl/rand.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "api/auth.hpp"
#include "api/record_json.hpp"
#include "aws_backend/aws_backend.hpp"
#include "codecs/sha256.hpp"
#include "local_stores.hpp"

namespace imgup::app {

namespace {

/// The key store `where` names, with what keeps it open.
struct KeyStore {
  LocalStores local;
  std::unique_ptr<AwsBackend> aws;
  ApiKeyStore* keys = nullptr;
  MetadataStore* records = nullptr;
};

KeyStore OpenKeyStore(const KeyStoreOptions& where, Clock& clock) {
  KeyStore store;
  if (where.storage == "aws") {
    auto backend = OpenAwsBackend(
        AwsBackendConfigFromProcess(where.aws.bucket, where.aws.table, where.aws.cursor_secret),
        clock);
    if (!backend) Die(backend.error().message + " " + backend.error().detail, 2);
    store.aws = std::move(*backend);
    store.keys = &store.aws->Records();
    store.records = &store.aws->Records();
    return store;
  }
  store.local = OpenStores(where.data_dir, false);
  store.keys = store.local.records.get();
  store.records = store.local.records.get();
  return store;
}

/// Creates a key named `name` in the store and returns it; dies when that fails.
std::string CreateKey(ApiKeyStore& keys, Clock& clock, const std::string& name) {
  std::string random(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(random.data()), 32) != 1) {
    Die("no randomness for a key");
  }
  const std::string key = FormatApiKey(random);
  auto added = keys.AddKey(name, Sha256Hex(key), clock.NowMs());
  if (!added) Die(added.error().message, added.error().code == ErrorCode::kConflict ? 2 : 1);
  return key;
}

/// How many images `owner` has (0 when the store cannot say).
std::size_t CountImages(MetadataStore& records, const std::string& owner) {
  std::size_t count = 0;
  ListQuery query;
  query.limit = 100;
  for (;;) {
    auto page = records.List(owner, query);
    if (!page) return count;
    count += page->items.size();
    if (!page->next_before_id) return count;
    query.before_id = page->next_before_id;
  }
}

/// Asks a yes/no question on the terminal; `fallback` when the answer is empty.
bool Confirm(const std::string& question, bool fallback) {
  std::cerr << question << (fallback ? " [Y/n] " : " [y/N] ") << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return fallback;
  if (answer.empty()) return fallback;
  return answer[0] == 'y' || answer[0] == 'Y';
}

}  // namespace

int KeysAdd(const KeyStoreOptions& where, const std::string& name, bool keep_local) {
  if (!IsValidOwnerName(name)) {
    Die("key name must be 1-64 of a-z 0-9 - _, starting with a letter or digit: " + name, 2);
  }
  SystemClock clock;
  KeyStore store = OpenKeyStore(where, clock);
  auto had_keys = store.keys->HasKeys();
  if (!had_keys) Die(had_keys.error().message);
  // The first key ends keyless mode: the images uploaded without a key belong to "local", and
  // from now on only a key named "local" reaches them (docs/adr/0003-keyless-mode.md).
  const std::size_t local_images =
      (*had_keys || name == kLocalOwner) ? 0 : CountImages(*store.records, kLocalOwner);

  std::cout << CreateKey(*store.keys, clock, name) << "\n";
  std::cerr << "imgup: key '" << name
            << "' added; it is shown only now (only its hash is stored). Uploads with it "
               "belong to owner '"
            << name << "'.\n";
  if (local_images == 0) return 0;

  const std::string images = std::to_string(local_images) + " image(s)";
  std::cerr << "imgup: "
            << (where.storage == "aws" ? "this table holds " : "this data directory holds ")
            << images
            << " uploaded without a key (owner 'local'). With a key configured, every request "
               "needs one and each key sees only its own owner's images: only a key named "
               "'local' reaches those.\n";
  const bool interactive = isatty(STDIN_FILENO) != 0 && isatty(STDERR_FILENO) != 0;
  if (!keep_local && interactive) {
    keep_local = Confirm("Add a key named 'local' now, to keep them?", true);
  }
  if (!keep_local) {
    std::cerr << "imgup: to keep them, add that key: imgup keys add local "
              << (where.storage == "aws"
                      ? "--storage aws --bucket " + where.aws.bucket + " --table " + where.aws.table
                      : "--data " + where.data_dir)
              << "\n";
    return 0;
  }
  std::cout << CreateKey(*store.keys, clock, kLocalOwner) << "\n";
  std::cerr << "imgup: key 'local' added (the second key above): requests with it see the "
            << images << " uploaded without a key.\n";
  return 0;
}

int KeysList(const KeyStoreOptions& where, bool json) {
  SystemClock clock;
  KeyStore store = OpenKeyStore(where, clock);
  auto keys = store.keys->ListKeys();
  if (!keys) Die(keys.error().message);
  nlohmann::json out = nlohmann::json::array();
  for (const ApiKeyInfo& key : *keys) {
    if (json) {
      out.push_back({{"name", key.name}, {"created_at", FormatRfc3339(key.created_ms)}});
    } else {
      std::cout << key.name << "  " << FormatRfc3339(key.created_ms) << "\n";
    }
  }
  if (json) std::cout << out.dump(2) << "\n";
  return 0;
}

int KeysRemove(const KeyStoreOptions& where, const std::string& name) {
  SystemClock clock;
  KeyStore store = OpenKeyStore(where, clock);
  auto removed = store.keys->RemoveKey(name);
  if (!removed) Die(removed.error().message);
  std::cout << "removed key " << name << "\n";
  return 0;
}

int Fsck(const std::string& data_dir, bool check_only, bool json) {
  LocalStores stores = OpenStores(data_dir, false);
  // A running server may have an upload between its blob and its record: spare young orphans.
  const FsckSummary summary = RunLocalFsck(stores, !check_only, /*grace_ms=*/60'000);
  if (json) {
    std::cout << FsckJson(summary).dump(2) << "\n";
  } else {
    const FsckReport& report = summary.report;
    std::cout << (report.Clean() ? "clean" : "NOT clean") << ": " << report.orphan_blobs.size()
              << " orphan blob(s), " << report.records_without_blob.size()
              << " record(s) without bytes, " << summary.temp_files_removed
              << " temp file(s) removed, " << report.young_orphans_skipped
              << " young orphan(s) left for a running upload"
              << (report.repaired ? " — repaired" : "") << "\n";
    for (const auto& key : report.orphan_blobs) std::cout << "  orphan blob: " << key << "\n";
    for (const auto& ref : report.records_without_blob) {
      std::cout << "  record without bytes: " << ref.id << " (" << ref.key << ")\n";
    }
  }
  // After a repair the store is clean; a check that found problems says so in its exit code.
  return (check_only && !summary.report.Clean()) ? 1 : 0;
}

}  // namespace imgup::app
