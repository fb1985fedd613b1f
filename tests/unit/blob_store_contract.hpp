#pragma once
// The BlobStore contract (src/domain/ports/blob_store.hpp) as one typed suite, instantiated for
// each implementation: the memory fake and FsBlobStore in blob_store_contract_test.cpp,
// S3BlobStore on versitygw in aws/s3_blob_store_test.cpp.
//
// A Traits type says how to make a store and how to use a presigned URL or form:
//   static std::unique_ptr<BlobStore> Make(const fs::path& dir, SignedUrls* urls, Clock& clock);
//   static fs::path Root(const fs::path& dir);     // where the store keeps its files, if any
//   static std::string Missing();                   // "" or why the store cannot be had here
//   static bool MustHave();                         // Missing() fails the test instead of a skip
//   static void Clean(BlobStore& store);            // after each test
//   static HttpResponse Send(Router& local, const HttpRequest& request);  // path: the URL
//   static std::string Code(const HttpResponse&);   // the refusal, in the local server's words
//   static constexpr bool kLiveClock;   // presigned URLs are checked by a server's real clock
//   static constexpr bool kOneTimeUrls; // a URL or form is good once (else until it expires)
//   static constexpr bool kStoredCallback;  // a stored form calls the local routes' callback
// The local stores' URLs are answered by the local server's routes (LocalRoutes below), an S3
// store's by S3 over HTTP.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/blob_routes.hpp"
#include "api/exchange.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/signed_urls.hpp"
#include "fakes/fixed_clock.hpp"
#include "fakes/temp_dir.hpp"
#include "services/fsck.hpp"

namespace imgup::contract {

namespace fs = std::filesystem;

inline std::int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Every file or directory under `dir` that is not `root` or inside it.
inline std::vector<std::string> PathsOutside(const fs::path& dir, const fs::path& root) {
  std::vector<std::string> outside;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const auto relative = entry.path().lexically_relative(root);
    if (relative.empty() || *relative.begin() == "..") outside.push_back(entry.path().string());
  }
  return outside;
}

/// Public routes never ask it; a presigned URL carries its own credential.
class NobodyAuthenticator final : public Authenticator {
 public:
  Result<std::string> Authenticate(const CallerCredentials&) override {
    return Fail(ErrorCode::kUnauthenticated, "unauthorized", "no");
  }
};

/// The stores without URLs of their own: the local server's routes answer theirs, exactly as
/// over HTTP.
struct LocalRoutes {
  static std::string Missing() { return ""; }
  static bool MustHave() { return true; }
  static void Clean(BlobStore& /*store*/) {}
  static HttpResponse Send(Router& local, HttpRequest request) {
    const std::size_t question = request.path.find('?');
    if (question != std::string::npos) {
      request.query = ParseQueryString(std::string_view(request.path).substr(question + 1));
      request.path.resize(question);
    }
    return Answer(local, request, 1 << 20);
  }
  static std::string Code(const HttpResponse& response) {
    const auto problem = nlohmann::json::parse(response.body, nullptr, false);
    return problem.is_object() ? problem.value("code", "") : "";
  }
  static constexpr bool kLiveClock = false;
  static constexpr bool kOneTimeUrls = true;
  static constexpr bool kStoredCallback = true;
};

template <class Traits>
class BlobStoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string missing = Traits::Missing(); !missing.empty()) {
      if (Traits::MustHave()) FAIL() << missing;
      GTEST_SKIP() << missing;
    }
    // A server checks the URLs by its own clock: sign them at its time (in whole seconds, as
    // SigV4 signs).
    if (Traits::kLiveClock) clock_.Set(SystemNowMs() / 1000 * 1000);
    store_ = Traits::Make(dir_.path(), &urls_, clock_);
    RegisterBlobRoutes(router_, urls_, *store_, [this](const std::string& key) -> Result<void> {
      stored_events_.push_back(key);
      if (commit_error_) return tl::unexpected(*std::exchange(commit_error_, std::nullopt));
      return {};
    });
  }
  void TearDown() override {
    if (store_ != nullptr) Traits::Clean(*store_);
  }

  /// GETs a presigned URL.
  HttpResponse Fetch(std::string_view url) {
    HttpRequest request;
    request.method = "GET";
    request.request_id = "req";
    request.path = std::string(url);
    return Traits::Send(router_, std::move(request));
  }

  /// Posts a presigned form with `file` as its file part, `fields` replacing the form's own.
  HttpResponse Submit(const PresignedPost& post, std::string_view file,
                      std::optional<FormFields> fields = std::nullopt) {
    const std::string boundary = "----imgup-contract";
    HttpRequest request;
    request.method = "POST";
    request.path = post.url;
    request.request_id = "req";
    request.headers.emplace_back("content-type", "multipart/form-data; boundary=" + boundary);
    for (const auto& [name, value] : fields.value_or(post.fields)) {
      request.body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name +
                      "\"\r\n\r\n" + value + "\r\n";
    }
    request.body += "--" + boundary +
                    "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n" +
                    std::string(file) + "\r\n--" + boundary + "--\r\n";
    return Traits::Send(router_, std::move(request));
  }

  static std::string Code(const HttpResponse& response) { return Traits::Code(response); }

  std::vector<std::string> ListKeys(std::string_view prefix) {
    auto entries = ListAllBlobs(*store_, prefix);
    EXPECT_TRUE(entries) << entries.error().detail;
    std::vector<std::string> keys;
    if (entries) {
      for (const auto& entry : *entries) keys.push_back(entry.key);
    }
    return keys;
  }

  TempDir dir_;
  FixedClock clock_;
  SignedUrls urls_{std::string(32, 'k'), clock_};
  NobodyAuthenticator nobody_;
  Router router_{nobody_};
  std::vector<std::string> stored_events_;
  /// What the next commit of a stored form fails with.
  std::optional<Error> commit_error_;
  std::unique_ptr<BlobStore> store_;
};

TYPED_TEST_SUITE_P(BlobStoreContractTest);

TYPED_TEST_P(BlobStoreContractTest, PutThenGetReturnsTheSameBytes) {
  const std::string binary("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff", 17);
  ASSERT_TRUE(this->store_->Put("originals/alice/01J1", binary, "image/png"));
  auto got = this->store_->Get("originals/alice/01J1");
  ASSERT_TRUE(got) << got.error().detail;
  EXPECT_EQ(*got, binary);
}

TYPED_TEST_P(BlobStoreContractTest, StoresEmptyAndLargeObjects) {
  const std::string large(3 * 1024 * 1024 + 7, 'x');
  ASSERT_TRUE(this->store_->Put("a/empty", "", "application/octet-stream"));
  ASSERT_TRUE(this->store_->Put("a/large", large, "application/octet-stream"));
  EXPECT_EQ(this->store_->Get("a/empty").value(), "");
  EXPECT_EQ(this->store_->Get("a/large").value(), large);
  EXPECT_EQ(this->store_->Head("a/large")->size_bytes, large.size());
}

TYPED_TEST_P(BlobStoreContractTest, PutReplacesThePreviousObject) {
  ASSERT_TRUE(this->store_->Put("k/v", "first version, longer", "text/plain"));
  ASSERT_TRUE(this->store_->Put("k/v", "second", "text/plain"));
  EXPECT_EQ(this->store_->Get("k/v").value(), "second");
  EXPECT_EQ(this->store_->Head("k/v")->size_bytes, 6u);
  EXPECT_EQ(this->ListKeys("k/"), std::vector<std::string>{"k/v"});
}

TYPED_TEST_P(BlobStoreContractTest, MissingKeysAreNotFound) {
  ASSERT_TRUE(this->store_->Put("originals/alice/01J1", "x", "image/png"));
  for (std::string_view key : {"originals/alice/01J2", "originals/alice", "originals",
                               "originals/alice/01J1/more", "nothing"}) {
    auto got = this->store_->Get(key);
    ASSERT_FALSE(got) << key;
    EXPECT_EQ(got.error().code, ErrorCode::kNotFound) << key;
    auto head = this->store_->Head(key);
    ASSERT_FALSE(head) << key;
    EXPECT_EQ(head.error().code, ErrorCode::kNotFound) << key;
  }
}

TYPED_TEST_P(BlobStoreContractTest, HeadReportsSizeAndModificationTime) {
  const std::int64_t before = SystemNowMs();
  ASSERT_TRUE(this->store_->Put("originals/alice/01J1", "12345", "image/png"));
  const std::int64_t after = SystemNowMs();
  auto head = this->store_->Head("originals/alice/01J1");
  ASSERT_TRUE(head) << head.error().detail;
  EXPECT_EQ(head->key, "originals/alice/01J1");
  EXPECT_EQ(head->size_bytes, 5u);
  // File systems may store times more coarsely than the clock reads them.
  EXPECT_GE(head->modified_ms, before - 1000);
  EXPECT_LE(head->modified_ms, after + 1000);
}

TYPED_TEST_P(BlobStoreContractTest, DeleteRemovesAndIsIdempotent) {
  ASSERT_TRUE(this->store_->Put("variants/alice/01J1/thumb.webp", "t", "image/webp"));
  ASSERT_TRUE(this->store_->Put("variants/alice/01J1/medium.webp", "m", "image/webp"));
  ASSERT_TRUE(this->store_->Delete("variants/alice/01J1/thumb.webp"));
  EXPECT_EQ(this->store_->Get("variants/alice/01J1/thumb.webp").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->Get("variants/alice/01J1/medium.webp").value(), "m");
  EXPECT_TRUE(this->store_->Delete("variants/alice/01J1/thumb.webp"));  // again
  EXPECT_TRUE(this->store_->Delete("never/existed"));
  ASSERT_TRUE(this->store_->Delete("variants/alice/01J1/medium.webp"));
  EXPECT_TRUE(this->ListKeys("").empty());
  // The same place can be written again after everything under it went away.
  ASSERT_TRUE(this->store_->Put("variants/alice/01J1/thumb.webp", "t2", "image/webp"));
  EXPECT_EQ(this->store_->Get("variants/alice/01J1/thumb.webp").value(), "t2");
}

TYPED_TEST_P(BlobStoreContractTest, ListReturnsKeysUnderThePrefixInKeyOrder) {
  for (std::string_view key :
       {"variants/alice/01J2/thumb.webp", "originals/bob/01J3", "originals/alice/01J2",
        "originals/alice/01J1", "originalsX/1", "variants/alice/01J2/medium.webp", "zz"}) {
    ASSERT_TRUE(this->store_->Put(key, std::string(key.size(), 'b'), "image/png")) << key;
  }
  EXPECT_EQ(this->ListKeys("originals/"),
            (std::vector<std::string>{"originals/alice/01J1", "originals/alice/01J2",
                                      "originals/bob/01J3"}));
  EXPECT_EQ(this->ListKeys("originals/al"),
            (std::vector<std::string>{"originals/alice/01J1", "originals/alice/01J2"}));
  EXPECT_EQ(this->ListKeys("originals"),
            (std::vector<std::string>{"originals/alice/01J1", "originals/alice/01J2",
                                      "originals/bob/01J3", "originalsX/1"}));
  EXPECT_EQ(this->ListKeys("variants/alice/01J2/"),
            (std::vector<std::string>{"variants/alice/01J2/medium.webp",
                                      "variants/alice/01J2/thumb.webp"}));
  EXPECT_EQ(this->ListKeys("originals/alice/01J1"),
            std::vector<std::string>{"originals/alice/01J1"});
  EXPECT_TRUE(this->ListKeys("originals/carol/").empty());
  EXPECT_TRUE(this->ListKeys("nothing").empty());
  EXPECT_EQ(this->ListKeys("").size(), 7u);

  auto entries = ListAllBlobs(*this->store_, "originals/bob/");
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].size_bytes, std::string_view("originals/bob/01J3").size());
  EXPECT_GT((*entries)[0].modified_ms, 0);
}

TYPED_TEST_P(BlobStoreContractTest, PagesWalkEveryKeyOnceInKeyOrder) {
  // Keys in folders and beside them, so that a page can end inside a folder or at its end.
  std::vector<std::string> keys;
  for (const char* owner : {"alice", "bob"}) {
    for (int i = 1; i <= 3; ++i) {
      const std::string id = "01J" + std::to_string(i);
      keys.push_back(std::string("originals/") + owner + "/" + id);
      keys.push_back(std::string("variants/") + owner + "/" + id + "/medium.webp");
      keys.push_back(std::string("variants/") + owner + "/" + id + "/thumb.webp");
    }
  }
  keys.push_back("originalsX/1");
  for (const auto& key : keys) ASSERT_TRUE(this->store_->Put(key, key, "image/png"));
  std::ranges::sort(keys);
  for (std::string_view prefix : {"", "originals/", "variants/", "variants/bob/"}) {
    std::vector<std::string> expected;
    for (const auto& key : keys) {
      if (key.starts_with(prefix)) expected.push_back(key);
    }
    for (std::size_t limit : {1u, 2u, 1000u}) {
      std::vector<std::string> walked;
      std::string token;
      int pages = 0;
      do {
        auto page = this->store_->List(prefix, token, limit);
        ASSERT_TRUE(page) << page.error().detail;
        EXPECT_LE(page->items.size(), limit);
        for (const auto& entry : page->items) walked.push_back(entry.key);
        token = page->next_token;
        ASSERT_LT(++pages, 1000) << "pagination does not end";
      } while (!token.empty());
      EXPECT_EQ(walked, expected) << "prefix '" << prefix << "', limit " << limit;
    }
  }
}

TYPED_TEST_P(BlobStoreContractTest, ALastPageHasNoToken) {
  ASSERT_TRUE(this->store_->Put("a/1", "x", "text/plain"));
  ASSERT_TRUE(this->store_->Put("a/2", "x", "text/plain"));
  auto exact = this->store_->List("a/", "", 2);
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->items.size(), 2u);
  EXPECT_TRUE(exact->next_token.empty());
  auto empty = this->store_->List("b/", "", 10);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->items.empty());
  EXPECT_TRUE(empty->next_token.empty());
}

TYPED_TEST_P(BlobStoreContractTest, ATokenOfAnotherPrefixOrAZeroLimitIsInvalid) {
  ASSERT_TRUE(this->store_->Put("a/1", "x", "text/plain"));
  ASSERT_TRUE(this->store_->Put("a/2", "x", "text/plain"));
  ASSERT_TRUE(this->store_->Put("b/1", "x", "text/plain"));
  auto first = this->store_->List("a/", "", 1);
  ASSERT_TRUE(first);
  ASSERT_FALSE(first->next_token.empty());
  auto elsewhere = this->store_->List("b/", first->next_token, 1);
  ASSERT_FALSE(elsewhere);
  EXPECT_EQ(elsewhere.error().code, ErrorCode::kInvalidArgument);
  auto zero = this->store_->List("a/", "", 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(BlobStoreContractTest, AKeyDeletedMidWalkIsNotListedAndNoneIsSkipped) {
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(this->store_->Put("k/" + std::to_string(i), "x", "text/plain"));
  }
  auto first = this->store_->List("k/", "", 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->items.size(), 2u);
  // The token's own key goes before the next page: the walk goes on after it all the same.
  ASSERT_TRUE(this->store_->Delete("k/2"));
  ASSERT_TRUE(this->store_->Delete("k/3"));
  auto second = this->store_->List("k/", first->next_token, 2);
  ASSERT_TRUE(second) << second.error().detail;
  ASSERT_EQ(second->items.size(), 1u);
  EXPECT_EQ(second->items[0].key, "k/4");
  EXPECT_TRUE(second->next_token.empty());
}

TYPED_TEST_P(BlobStoreContractTest, AcceptsEveryWellFormedKey) {
  for (std::string_view key : {"a", "A-Z_a-z.0-9", "originals/local/01J00000000000000000000001",
                               "x/.well-known/y", "b/..c/d", "b/c.../d", "tmp/x", ".tmpx/y"}) {
    ASSERT_TRUE(this->store_->Put(key, key, "text/plain")) << key;
    EXPECT_EQ(this->store_->Get(key).value(), key);
  }
  EXPECT_EQ(this->ListKeys("").size(), 8u);
}

TYPED_TEST_P(BlobStoreContractTest, RejectsEveryKeyThatCouldEscapeTheRoot) {
  const std::string outside = (this->dir_.path() / "outside").string();  // an absolute path
  const std::vector<std::string> bad_keys = {
      "",
      "../x",
      "..",
      ".",
      "/etc/passwd",
      outside,
      "a/../../b",
      "a/..",
      "a//b",
      "a/",
      "/a",
      "a\\b",
      "..\\x",
      ".tmp/x",
      ".tmp",
      "a/./b",
      "./a",
      std::string("a\0b", 3),
      "a b",
      "a/b?c",
      "caf\xc3\xa9",
      "a:b",
      std::string(1025, 'a'),
  };
  for (const std::string& key : bad_keys) {
    SCOPED_TRACE(::testing::PrintToString(key));
    auto put = this->store_->Put(key, "escaped", "text/plain");
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(put.error().slug, "invalid_key");
    auto get = this->store_->Get(key);
    ASSERT_FALSE(get);
    EXPECT_EQ(get.error().code, ErrorCode::kInvalidArgument);
    auto head = this->store_->Head(key);
    ASSERT_FALSE(head);
    EXPECT_EQ(head.error().code, ErrorCode::kInvalidArgument);
    auto del = this->store_->Delete(key);
    ASSERT_FALSE(del);
    EXPECT_EQ(del.error().code, ErrorCode::kInvalidArgument);
  }
  for (std::string_view prefix : {"../", "/etc/", "a//", ".tmp/", "a/../", "a\\"}) {
    auto listed = this->store_->List(prefix, "", 10);
    ASSERT_FALSE(listed) << prefix;
    EXPECT_EQ(listed.error().code, ErrorCode::kInvalidArgument) << prefix;
  }
  EXPECT_TRUE(this->ListKeys("").empty());
  // Nothing was written next to the store's root (for the file system: the temp dir holds only
  // the root), and nothing inside it either.
  EXPECT_TRUE(PathsOutside(this->dir_.path(), TypeParam::Root(this->dir_.path())).empty());
  EXPECT_FALSE(fs::exists(outside));
}

TYPED_TEST_P(BlobStoreContractTest, ConcurrentPutsOfDifferentKeysAllLand) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "originals/owner" + std::to_string(t) + "/id" + std::to_string(i);
        if (!this->store_->Put(key, key + std::string(static_cast<std::size_t>(i) * 100, '.'),
                               "image/png")) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(this->ListKeys("originals/").size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string key = "originals/owner" + std::to_string(t) + "/id" + std::to_string(i);
      EXPECT_EQ(this->store_->Get(key).value(),
                key + std::string(static_cast<std::size_t>(i) * 100, '.'));
    }
  }
}

TYPED_TEST_P(BlobStoreContractTest, ReadersNeverSeeAPartialObject) {
  constexpr std::size_t kSize = 512 * 1024;
  ASSERT_TRUE(this->store_->Put("hot/key", std::string(kSize, 'a'), "image/png"));
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto got = this->store_->Get("hot/key");
        if (!got || got->size() != kSize ||
            got->find_first_not_of((*got)[0]) != std::string::npos) {
          ++torn;
        }
        auto listed = ListAllBlobs(*this->store_, "hot/");
        if (!listed || listed->size() != 1) ++torn;
        ++reads;
      }
    });
  }
  // Keep replacing the object until the readers have raced with the writes for a while.
  for (int i = 0; i < 60 || (reads.load() < 100 && i < 100'000); ++i) {
    const char fill = static_cast<char>('a' + i % 26);
    ASSERT_TRUE(this->store_->Put("hot/key", std::string(kSize, fill), "image/png"));
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0);
}

// ---- Presigned URLs (issue R, item 10) ------------------------------------------------------

TYPED_TEST_P(BlobStoreContractTest, APresignedGetServesTheBytesWithItsHeaders) {
  ASSERT_TRUE(this->store_->Put("originals/alice/01J1", "png bytes", "image/png"));
  auto url = this->store_->PresignGet("originals/alice/01J1", 60,
                                      GetUrlOptions{"image/png", "inline; filename=a.png"});
  ASSERT_TRUE(url) << url.error().message;
  const HttpResponse response = this->Fetch(*url);
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, "png bytes");
  EXPECT_EQ(response.Header("Content-Type"), "image/png");
  EXPECT_EQ(response.Header("Content-Disposition"), "inline; filename=a.png");
}

TYPED_TEST_P(BlobStoreContractTest, APresignedGetIsRefusedWhenExpiredAlteredOrUsed) {
  ASSERT_TRUE(this->store_->Put("originals/alice/01J1", "a", "image/png"));
  ASSERT_TRUE(this->store_->Put("originals/alice/01J2", "b", "image/png"));
  const std::string url = this->store_->PresignGet("originals/alice/01J1", 60, {}).value();
  // Another key under the same signature.
  std::string altered = url;
  altered.replace(altered.find("01J1"), 4, "01J2");
  EXPECT_EQ(this->Code(this->Fetch(altered)), "signature_mismatch");
  EXPECT_EQ(this->Fetch(url).status, 200);
  if (TypeParam::kOneTimeUrls) {
    EXPECT_EQ(this->Code(this->Fetch(url)), "url_used");
  } else {
    // S3's URLs are good until they expire.
    const HttpResponse again = this->Fetch(url);
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body, "a");
  }

  // Signed 61 s ago for 60 s (a server's clock cannot be moved, the signer's can).
  this->clock_.Advance(-61'000);
  const std::string later = this->store_->PresignGet("originals/alice/01J1", 60, {}).value();
  this->clock_.Advance(61'000);
  const HttpResponse expired = this->Fetch(later);
  EXPECT_EQ(expired.status, 403);
  EXPECT_EQ(this->Code(expired), "url_expired");
  // A URL for a key with no object is refused when used, not when made.
  const std::string missing = this->store_->PresignGet("originals/alice/01J9", 60, {}).value();
  EXPECT_EQ(this->Fetch(missing).status, 404);
}

TYPED_TEST_P(BlobStoreContractTest, PresigningRefusesBadKeysAndExpiries) {
  EXPECT_EQ(this->store_->PresignGet("../etc/passwd", 60, {}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(this->store_->PresignGet("originals/alice/01J1", 0, {}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(this->store_->PresignPost(UploadPolicy{"../x", "image/png", 10, 60}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(this->store_->PresignPost(UploadPolicy{"uploads/a/1", "image/png", 0, 60}).error().code,
            ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(BlobStoreContractTest, APresignedPostStoresOneObjectAsItsPolicySays) {
  auto post = this->store_->PresignPost(UploadPolicy{"originals/alice/01J1", "image/png", 10, 60});
  ASSERT_TRUE(post) << post.error().message;
  EXPECT_EQ(post->expires_at_ms, this->clock_.NowMs() + 60'000);
  // The fields say which key and type the form stores, as boto3's generate_presigned_post does.
  const FormFields& fields = post->fields;
  EXPECT_NE(std::find(fields.begin(), fields.end(),
                      std::pair<std::string, std::string>("key", "originals/alice/01J1")),
            fields.end());
  EXPECT_NE(std::find(fields.begin(), fields.end(),
                      std::pair<std::string, std::string>("Content-Type", "image/png")),
            fields.end());

  const HttpResponse stored = this->Submit(*post, "0123456789");
  EXPECT_EQ(stored.status, 204) << stored.body;
  EXPECT_EQ(this->store_->Get("originals/alice/01J1").value(), "0123456789");
  if (TypeParam::kStoredCallback) {
    EXPECT_EQ(this->stored_events_, std::vector<std::string>{"originals/alice/01J1"});
  }
  if (TypeParam::kOneTimeUrls) {
    EXPECT_EQ(this->Code(this->Submit(*post, "0123456789")), "url_used");
  } else {
    // S3's forms are good until they expire: the same form replaces the object.
    EXPECT_EQ(this->Submit(*post, "9876543210").status, 204);
    EXPECT_EQ(this->store_->Get("originals/alice/01J1").value(), "9876543210");
  }
}

TYPED_TEST_P(BlobStoreContractTest, AFormWhoseCommitFailsAnswers503AndStaysUsable) {
  if (!TypeParam::kOneTimeUrls || !TypeParam::kStoredCallback) {
    GTEST_SKIP() << "S3 answers its own forms: no commit runs in the request";
  }
  auto post = this->store_->PresignPost(UploadPolicy{"uploads/alice/01J1", "image/png", 10, 60});
  ASSERT_TRUE(post) << post.error().message;
  this->commit_error_ = StorageFailure(false, "metadata store", "disk I/O error");
  const HttpResponse failed = this->Submit(*post, "0123456789");
  EXPECT_EQ(failed.status, 503) << failed.body;
  EXPECT_EQ(this->Code(failed), "storage_unavailable");
  // The same form again: its first use did not count.
  const HttpResponse stored = this->Submit(*post, "0123456789");
  EXPECT_EQ(stored.status, 204) << stored.body;
  EXPECT_EQ(this->stored_events_,
            (std::vector<std::string>{"uploads/alice/01J1", "uploads/alice/01J1"}));
  EXPECT_EQ(this->Code(this->Submit(*post, "0123456789")), "url_used");
  // A refusal that is not the stores' is answered as it is, and uses the form up.
  auto refused = this->store_->PresignPost(UploadPolicy{"uploads/alice/01J2", "image/png", 10, 60});
  this->commit_error_ = Error{ErrorCode::kInvalidArgument, "bad", "bad", ""};
  EXPECT_EQ(this->Submit(*refused, "0123456789").status, 400);
  EXPECT_EQ(this->Code(this->Submit(*refused, "0123456789")), "url_used");
}

TYPED_TEST_P(BlobStoreContractTest, AFormThatBreaksItsPolicyStoresNothing) {
  const UploadPolicy policy{"originals/alice/01J1", "image/png", 10, 60};
  const auto code_of = [this](const HttpResponse& r) { return this->Code(r); };

  EXPECT_EQ(code_of(this->Submit(this->store_->PresignPost(policy).value(), "01234567890")),
            "entity_too_large");
  EXPECT_EQ(code_of(this->Submit(this->store_->PresignPost(policy).value(), "")),
            "entity_too_small");

  PresignedPost other_key = this->store_->PresignPost(policy).value();
  FormFields fields = other_key.fields;
  for (auto& [name, value] : fields) {
    if (name == "key") value = "originals/alice/01J2";
  }
  EXPECT_EQ(code_of(this->Submit(other_key, "png", fields)), "policy_violation");
  for (auto& [name, value] : fields) {
    if (name == "key") value = "originals/alice/01J1";
    if (name == "Content-Type") value = "text/html";
  }
  EXPECT_EQ(code_of(this->Submit(other_key, "png", fields)), "policy_violation");
  for (auto& [name, value] : fields) {
    if (name == "Content-Type") value = "image/png";
    if (name == "policy") value[value.size() / 2] = value[value.size() / 2] == 'A' ? 'B' : 'A';
  }
  EXPECT_EQ(code_of(this->Submit(other_key, "png", fields)), "signature_mismatch");

  this->clock_.Advance(-61'000);
  const PresignedPost late = this->store_->PresignPost(policy).value();
  this->clock_.Advance(61'000);
  EXPECT_EQ(code_of(this->Submit(late, "png")), "url_expired");

  EXPECT_EQ(this->store_->Get("originals/alice/01J1").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->Get("originals/alice/01J2").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(this->stored_events_.empty());
}

REGISTER_TYPED_TEST_SUITE_P(
    BlobStoreContractTest, PutThenGetReturnsTheSameBytes, APresignedGetServesTheBytesWithItsHeaders,
    APresignedGetIsRefusedWhenExpiredAlteredOrUsed, PresigningRefusesBadKeysAndExpiries,
    APresignedPostStoresOneObjectAsItsPolicySays, AFormThatBreaksItsPolicyStoresNothing,
    AFormWhoseCommitFailsAnswers503AndStaysUsable, StoresEmptyAndLargeObjects,
    PutReplacesThePreviousObject, MissingKeysAreNotFound, HeadReportsSizeAndModificationTime,
    DeleteRemovesAndIsIdempotent, ListReturnsKeysUnderThePrefixInKeyOrder,
    PagesWalkEveryKeyOnceInKeyOrder, ALastPageHasNoToken,
    ATokenOfAnotherPrefixOrAZeroLimitIsInvalid, AKeyDeletedMidWalkIsNotListedAndNoneIsSkipped,
    AcceptsEveryWellFormedKey, RejectsEveryKeyThatCouldEscapeTheRoot,
    ConcurrentPutsOfDifferentKeysAllLand, ReadersNeverSeeAPartialObject);

}  // namespace imgup::contract
