// GET /images?limit=50 over 100 000 records (target: <= 5 ms): SqliteMetadataStore::List alone,
// and the whole route through the Router (auth, query parsing, the service, the store, the JSON
// response). The database is built once per run in a temp dir (IMGUP_BENCH_RECORDS overrides
// the record count, for quick runs).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "adapters/local/fs_blob_store.hpp"
#include "adapters/local/sqlite_metadata_store.hpp"
#include "api/auth.hpp"
#include "api/handlers.hpp"
#include "api/record_json.hpp"
#include "api/router.hpp"
#include "bench_support.hpp"
#include "domain/ulid.hpp"
#include "services/image_service.hpp"

namespace {

using imgup::bench::TempDir;

class SystemClock final : public imgup::Clock {
 public:
  std::int64_t NowMs() override { return imgup::bench::NowMs(); }
};

std::size_t RecordCount() {
  const char* text = std::getenv("IMGUP_BENCH_RECORDS");
  if (text == nullptr || *text == '\0') return 100'000;
  return static_cast<std::size_t>(std::strtoull(text, nullptr, 10));
}

/// One store with RecordCount() records of owner "local", the service, the authenticator (no
/// API key configured: every caller is "local", as in the default local mode) and the router.
struct ListFixture {
  TempDir dir{"imgup-bench-list"};
  std::unique_ptr<imgup::SqliteMetadataStore> records;
  std::unique_ptr<imgup::FsBlobStore> blobs;
  SystemClock clock;
  imgup::UlidGenerator ids;
  std::unique_ptr<imgup::ImageService> service;
  std::unique_ptr<imgup::ApiKeyAuthenticator> auth;
  std::unique_ptr<imgup::Router> router;
  std::size_t count = 0;
  std::string middle_id;  // a cursor half-way down the list
  std::string error;

  ListFixture() {
    auto r = imgup::SqliteMetadataStore::Open(dir.path() / "imgup.db");
    auto b = imgup::FsBlobStore::Open(dir.path() / "blobs", imgup::FsBlobStore::Options{});
    if (!r || !b) {
      error = "cannot open the local stores";
      return;
    }
    records = std::move(*r);
    blobs = std::move(*b);
    service =
        std::make_unique<imgup::ImageService>(*blobs, *records, clock, ids, imgup::UploadLimits{});
    auth = std::make_unique<imgup::ApiKeyAuthenticator>(*records);
    router = std::make_unique<imgup::Router>(*auth);
    imgup::RegisterApiRoutes(*router, *service, imgup::ApiConfig{});

    // Setup, not measured. The store has no batch API: one transaction per Insert (WAL,
    // synchronous=NORMAL), as uploads do.
    count = RecordCount();
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t first_ms = imgup::bench::NowMs() - static_cast<std::int64_t>(count) * 1000;
    for (std::size_t i = 0; i < count; ++i) {
      const std::int64_t ms = first_ms + static_cast<std::int64_t>(i) * 1000;
      const std::string id = ids.NewId(ms);
      if (i == count / 2) middle_id = id;
      auto inserted = records->Insert(imgup::bench::SeedRecord(i, id, ms, "local"));
      if (!inserted) {
        error = "insert failed: " + inserted.error().message + " " + inserted.error().detail;
        return;
      }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "list_bench: inserted %zu records in %.1f s (%.1f us each)\n", count,
                 seconds, count ? seconds * 1e6 / static_cast<double>(count) : 0.0);
  }
};

ListFixture& Fixture() {
  static ListFixture fixture;  // built on first use, removed (temp dir) at exit
  return fixture;
}

void BM_SqliteList(benchmark::State& state, bool with_cursor) {
  ListFixture& f = Fixture();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  imgup::ListQuery query;
  query.limit = static_cast<std::size_t>(state.range(0));
  if (with_cursor) query.before_id = f.middle_id;
  for (auto _ : state) {
    auto page = f.records->List("local", query);
    if (!page || page->items.size() != query.limit) {
      state.SkipWithError("List did not return a full page");
      return;
    }
    benchmark::DoNotOptimize(page);
  }
  state.counters["records_in_db"] = static_cast<double>(f.count);
}
BENCHMARK_CAPTURE(BM_SqliteList, first_page, false)->Arg(50)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_SqliteList, cursor_middle, true)->Arg(50)->Unit(benchmark::kMicrosecond);

void BM_RouterGetImages(benchmark::State& state, bool with_cursor) {
  ListFixture& f = Fixture();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  imgup::HttpRequest request;
  request.method = "GET";
  request.path = "/images";
  request.query = {{"limit", std::to_string(state.range(0))}};
  if (with_cursor) request.query.emplace_back("cursor", imgup::EncodeCursor(f.middle_id));
  request.headers = {{"host", "127.0.0.1"}, {"accept", "application/json"}};
  request.remote_addr = "127.0.0.1";
  request.request_id = "bench";
  std::size_t body_bytes = 0;
  for (auto _ : state) {
    const imgup::HttpResponse response = f.router->Dispatch(request);
    if (response.status != 200) {
      state.SkipWithError(
          ("GET /images answered " + std::to_string(response.status) + ": " + response.body)
              .c_str());
      return;
    }
    body_bytes = response.body.size();
    benchmark::DoNotOptimize(response);
  }
  state.counters["body_bytes"] = static_cast<double>(body_bytes);
  state.counters["records_in_db"] = static_cast<double>(f.count);
}
BENCHMARK_CAPTURE(BM_RouterGetImages, first_page, false)->Arg(50)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RouterGetImages, cursor_middle, true)->Arg(50)->Unit(benchmark::kMicrosecond);

// The response half alone: the JSON of one page of 50 records, as HandleList builds it.
void BM_ListPageToJson(benchmark::State& state) {
  ListFixture& f = Fixture();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  imgup::ListQuery query;
  query.limit = static_cast<std::size_t>(state.range(0));
  auto page = f.records->List("local", query);
  if (!page) {
    state.SkipWithError("List failed");
    return;
  }
  for (auto _ : state) {
    nlohmann::json items = nlohmann::json::array();
    for (const imgup::ImageRecord& record : page->items)
      items.push_back(imgup::RecordToJson(record));
    nlohmann::json body = {{"items", std::move(items)}, {"next_cursor", nullptr}};
    benchmark::DoNotOptimize(body.dump());
  }
}
BENCHMARK(BM_ListPageToJson)->Arg(50)->Unit(benchmark::kMicrosecond);

}  // namespace
