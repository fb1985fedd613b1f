#pragma once
// The MetadataStore contract (src/domain/ports/metadata_store.hpp) as a typed test suite, run
// against every implementation: instantiate it with traits whose
//   static std::unique_ptr<MetadataStore> Make(const std::filesystem::path& temp_dir)
// makes a fresh, empty store. Make may return none when the store's peer is not there (the AWS
// stores without their emulator): it says why, and fails the test (ADD_FAILURE) when the run
// requires the peer, else the test is skipped.
// (metadata_store_contract_test.cpp: the fake and SQLite; aws/dynamo_metadata_store_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "domain/ports/metadata_store.hpp"
#include "fakes/sequential_ids.hpp"
#include "fakes/temp_dir.hpp"
#include "services/fsck.hpp"

namespace imgup {
namespace contract {
// Unnamed: each test program includes this once, in the file that instantiates the suite.
namespace {

namespace fs = std::filesystem;

/// ListQuery{.limit = n} with filters chained on: Query(50).Tag("cat").From(ms).
struct Query {
  explicit Query(std::size_t limit) { query.limit = limit; }
  Query& Before(std::optional<std::string> id) {
    query.before_id = std::move(id);
    return *this;
  }
  Query& Type(std::string content_type) {
    query.content_type = std::move(content_type);
    return *this;
  }
  Query& Tag(std::string tag) {
    query.tag = std::move(tag);
    return *this;
  }
  Query& From(std::int64_t ms) {
    query.from_ms = ms;
    return *this;
  }
  Query& To(std::int64_t ms) {
    query.to_ms = ms;
    return *this;
  }
  operator ListQuery() const { return query; }  // NOLINT(google-explicit-constructor)
  ListQuery query;
};

std::string Id(std::uint64_t n) { return SequentialIds::Format(n); }

std::string Sha(std::uint64_t n) {
  std::string hex = std::to_string(n);
  return std::string(64 - hex.size(), 'a') + hex;
}

/// A record with every field set. `n` makes id and sha256 unique; uploaded_at grows with n.
ImageRecord MakeRecord(std::string owner, std::uint64_t n) {
  ImageRecord r;
  r.id = Id(n);
  r.owner = std::move(owner);
  r.filename = "photo-" + std::to_string(n) + ".jpg";
  r.content_type = "image/jpeg";
  r.format = "jpeg";
  r.uploaded_at_ms = 1'700'000'000'000 + static_cast<std::int64_t>(n) * 1000;
  r.key = "originals/" + r.owner + "/" + r.id;
  r.size_bytes = 1000 + n;
  r.width = 640;
  r.height = 480;
  r.sha256 = Sha(n);
  r.status = ImageStatus::kProcessing;
  r.tags = {"holiday", "beach"};
  r.description = "A day at the sea";
  return r;
}

ImageRecord WithDerivedFields(ImageRecord r) {
  r.status = ImageStatus::kReady;
  r.width = 4032;
  r.height = 3024;
  r.format = "heif";
  r.variants["thumb"] = {256, 192, 9000, "image/webp", "variants/x/thumb.webp", Sha(7)};
  r.variants["medium"] = {1024, 768, 80000, "image/webp", "variants/x/medium.webp", Sha(8)};
  r.exif_json = R"({"make":"Canon","iso":100})";
  r.placeholder = "LEHV6nWB2yk8pyo0adR*.7kCMdnj";
  r.dominant_color = "#a1b2c3";
  r.phash = "0123456789abcdef";
  r.info = ImageInfo{16, 4, true, true, 12, "Display P3"};
  return r;
}

void ExpectSameRecord(const ImageRecord& actual, const ImageRecord& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.owner, expected.owner);
  EXPECT_EQ(actual.filename, expected.filename);
  EXPECT_EQ(actual.content_type, expected.content_type);
  EXPECT_EQ(actual.format, expected.format);
  EXPECT_EQ(actual.uploaded_at_ms, expected.uploaded_at_ms);
  EXPECT_EQ(actual.key, expected.key);
  EXPECT_EQ(actual.size_bytes, expected.size_bytes);
  EXPECT_EQ(actual.width, expected.width);
  EXPECT_EQ(actual.height, expected.height);
  EXPECT_EQ(actual.sha256, expected.sha256);
  EXPECT_EQ(actual.status, expected.status);
  EXPECT_EQ(actual.failure_reason, expected.failure_reason);
  ASSERT_EQ(actual.variants.size(), expected.variants.size());
  for (const auto& [name, variant] : expected.variants) {
    ASSERT_TRUE(actual.variants.contains(name)) << name;
    const VariantInfo& got = actual.variants.at(name);
    EXPECT_EQ(got.width, variant.width) << name;
    EXPECT_EQ(got.height, variant.height) << name;
    EXPECT_EQ(got.size_bytes, variant.size_bytes) << name;
    EXPECT_EQ(got.content_type, variant.content_type) << name;
    EXPECT_EQ(got.key, variant.key) << name;
    EXPECT_EQ(got.sha256, variant.sha256) << name;
  }
  EXPECT_EQ(actual.exif_json, expected.exif_json);
  EXPECT_EQ(actual.placeholder, expected.placeholder);
  EXPECT_EQ(actual.dominant_color, expected.dominant_color);
  EXPECT_EQ(actual.phash, expected.phash);
  EXPECT_EQ(actual.info.bit_depth, expected.info.bit_depth);
  EXPECT_EQ(actual.info.bands, expected.info.bands);
  EXPECT_EQ(actual.info.has_alpha, expected.info.has_alpha);
  EXPECT_EQ(actual.info.animated, expected.info.animated);
  EXPECT_EQ(actual.info.frame_count, expected.info.frame_count);
  EXPECT_EQ(actual.info.icc_profile, expected.info.icc_profile);
  EXPECT_EQ(actual.tags, expected.tags);
  EXPECT_EQ(actual.description, expected.description);
}

std::vector<std::string> Ids(const std::vector<ImageRecord>& records) {
  std::vector<std::string> ids;
  for (const auto& r : records) ids.push_back(r.id);
  return ids;
}

template <class Traits>
class MetadataStoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Traits::Make(dir_.path());
    if (!store_) {
      if (HasFailure()) FAIL() << "the store's peer is required";
      GTEST_SKIP() << "the store's peer is not configured";
    }
  }

  void InsertOrDie(const ImageRecord& record) {
    auto inserted = store_->Insert(record);
    ASSERT_TRUE(inserted) << inserted.error().slug << " " << inserted.error().detail;
  }

  /// Walks every page of `query` (following next_before_id) and returns the ids in order.
  /// Fails the test on a page larger than the limit or a cursor loop.
  std::vector<std::string> WalkAllPages(std::string_view owner, ListQuery query) {
    std::vector<std::string> ids;
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = store_->List(owner, query);
      EXPECT_TRUE(page) << page.error().detail;
      if (!page) return ids;
      EXPECT_LE(page->items.size(), query.limit);
      for (const auto& item : page->items) ids.push_back(item.id);
      if (!page->next_before_id) return ids;
      EXPECT_EQ(page->items.size(), query.limit) << "a short page must be the last";
      EXPECT_EQ(*page->next_before_id, page->items.back().id);
      query.before_id = page->next_before_id;
    }
    ADD_FAILURE() << "pagination does not end";
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<MetadataStore> store_;
};

TYPED_TEST_SUITE_P(MetadataStoreContractTest);

TYPED_TEST_P(MetadataStoreContractTest, InsertThenGetReturnsEveryField) {
  ImageRecord record = WithDerivedFields(MakeRecord("alice", 1));
  record.status = ImageStatus::kFailed;
  record.failure_reason = "decode failed";
  record.filename = "résumé \"quoted\" 'x'.jpg";
  record.description = std::string("line\nbreak, unicode ✓, and a NUL-free tail");
  record.tags = {"zeta", "alpha", "with space", "ünïcode"};  // order is kept
  record.size_bytes = 5'000'000'000;                         // beyond 32 bits
  this->InsertOrDie(record);
  auto got = this->store_->Get("alice", record.id);
  ASSERT_TRUE(got) << got.error().detail;
  ExpectSameRecord(*got, record);
}

TYPED_TEST_P(MetadataStoreContractTest, MinimalRecordRoundTrips) {
  ImageRecord record = MakeRecord("alice", 1);
  record.tags.clear();
  record.description.clear();
  this->InsertOrDie(record);
  ExpectSameRecord(this->store_->Get("alice", record.id).value(), record);
}

TYPED_TEST_P(MetadataStoreContractTest, UnknownIdIsNotFound) {
  this->InsertOrDie(MakeRecord("alice", 1));
  auto got = this->store_->Get("alice", Id(2));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->Update("alice", Id(2), {.tags = {}, .description = "x"}).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->SaveDerived(MakeRecord("alice", 2)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->Remove("alice", Id(2)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->FindBySha256("alice", Sha(2)).error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(MetadataStoreContractTest, AnotherOwnersRecordBehavesLikeAMissingOne) {
  const ImageRecord alices = MakeRecord("alice", 1);
  this->InsertOrDie(alices);

  EXPECT_EQ(this->store_->Get("bob", alices.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->FindBySha256("bob", alices.sha256).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_
                ->Update("bob", alices.id,
                         {.tags = std::vector<std::string>{"pwned"}, .description = "pwned"})
                .error()
                .code,
            ErrorCode::kNotFound);
  ImageRecord bobs_derived = WithDerivedFields(alices);
  bobs_derived.owner = "bob";
  EXPECT_EQ(this->store_->SaveDerived(bobs_derived).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->Remove("bob", alices.id).error().code, ErrorCode::kNotFound);
  auto bobs_list = this->store_->List("bob", Query(50));
  ASSERT_TRUE(bobs_list);
  EXPECT_TRUE(bobs_list->items.empty());
  EXPECT_FALSE(bobs_list->next_before_id);
  auto bobs_tagged = this->store_->List("bob", Query(50).Tag("holiday"));
  ASSERT_TRUE(bobs_tagged);
  EXPECT_TRUE(bobs_tagged->items.empty());

  // Alice's record is untouched by all of the above.
  ExpectSameRecord(this->store_->Get("alice", alices.id).value(), alices);
}

TYPED_TEST_P(MetadataStoreContractTest, DuplicateIdIsAConflict) {
  const ImageRecord first = MakeRecord("alice", 1);
  this->InsertOrDie(first);
  ImageRecord second = MakeRecord("alice", 2);
  second.id = first.id;
  auto inserted = this->store_->Insert(second);
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error().code, ErrorCode::kConflict);
  EXPECT_EQ(inserted.error().slug, "duplicate_id");
  ExpectSameRecord(this->store_->Get("alice", first.id).value(), first);
  EXPECT_EQ(this->store_->FindBySha256("alice", second.sha256).error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(MetadataStoreContractTest, SameContentForTheSameOwnerIsAConflict) {
  const ImageRecord first = MakeRecord("alice", 1);
  this->InsertOrDie(first);
  ImageRecord again = MakeRecord("alice", 2);
  again.sha256 = first.sha256;
  auto inserted = this->store_->Insert(again);
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error().code, ErrorCode::kConflict);
  EXPECT_EQ(inserted.error().slug, "duplicate_content");
  EXPECT_EQ(this->store_->Get("alice", again.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->FindBySha256("alice", first.sha256)->id, first.id);
}

TYPED_TEST_P(MetadataStoreContractTest, SameContentForDifferentOwnersIsFine) {
  const ImageRecord alices = MakeRecord("alice", 1);
  ImageRecord bobs = MakeRecord("bob", 2);
  bobs.sha256 = alices.sha256;
  this->InsertOrDie(alices);
  this->InsertOrDie(bobs);
  EXPECT_EQ(this->store_->FindBySha256("alice", alices.sha256)->id, alices.id);
  EXPECT_EQ(this->store_->FindBySha256("bob", alices.sha256)->id, bobs.id);
}

TYPED_TEST_P(MetadataStoreContractTest, ContentCanBeUploadedAgainAfterRemoval) {
  const ImageRecord first = MakeRecord("alice", 1);
  this->InsertOrDie(first);
  ASSERT_TRUE(this->store_->Remove("alice", first.id));
  // The removal took the record's claim on its bytes with it.
  EXPECT_EQ(this->store_->FindBySha256("alice", first.sha256).error().code, ErrorCode::kNotFound);
  ImageRecord again = MakeRecord("alice", 2);
  again.sha256 = first.sha256;
  this->InsertOrDie(again);
  EXPECT_EQ(this->store_->FindBySha256("alice", first.sha256)->id, again.id);
}

TYPED_TEST_P(MetadataStoreContractTest, PaginationWalksEveryRecordNewestFirstOnce) {
  constexpr std::uint64_t kRecords = 237;
  std::vector<std::uint64_t> order(kRecords);
  for (std::uint64_t i = 0; i < kRecords; ++i) order[i] = i + 1;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(42));  // insertion order is not id order
  for (std::uint64_t n : order) this->InsertOrDie(MakeRecord("alice", n));
  this->InsertOrDie(MakeRecord("bob", 1000));  // another owner's records never appear

  std::vector<std::string> expected;
  for (std::uint64_t n = kRecords; n >= 1; --n) expected.push_back(Id(n));

  auto first = this->store_->List("alice", Query(50));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->items.size(), 50u);
  EXPECT_EQ(first->items.front().id, Id(kRecords));
  ASSERT_TRUE(first->next_before_id);

  EXPECT_EQ(this->WalkAllPages("alice", Query(50)), expected);
  EXPECT_EQ(this->WalkAllPages("alice", Query(1)), expected);
  EXPECT_EQ(this->WalkAllPages("alice", Query(100)), expected);
}

TYPED_TEST_P(MetadataStoreContractTest, NextCursorOnlyWhenMoreRecordsFollow) {
  for (std::uint64_t n = 1; n <= 100; ++n) this->InsertOrDie(MakeRecord("alice", n));
  auto first = this->store_->List("alice", Query(50));
  ASSERT_TRUE(first && first->next_before_id);
  auto second = this->store_->List("alice", Query(50).Before(first->next_before_id));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->items.size(), 50u);
  EXPECT_EQ(second->items.back().id, Id(1));
  EXPECT_FALSE(second->next_before_id);  // exactly two full pages: no empty third page

  auto all = this->store_->List("alice", Query(100));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->items.size(), 100u);
  EXPECT_FALSE(all->next_before_id);

  auto empty = this->store_->List("nobody", Query(10));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->items.empty());
  EXPECT_FALSE(empty->next_before_id);

  // A cursor is exclusive and need not be an existing id.
  auto below = this->store_->List("alice", Query(3).Before(Id(10)));
  ASSERT_TRUE(below);
  EXPECT_EQ(Ids(below->items), (std::vector<std::string>{Id(9), Id(8), Id(7)}));
  auto below_missing = this->store_->List("alice", Query(2).Before(Id(5) + "Z"));
  ASSERT_TRUE(below_missing);
  EXPECT_EQ(Ids(below_missing->items), (std::vector<std::string>{Id(5), Id(4)}));
}

TYPED_TEST_P(MetadataStoreContractTest, FiltersCombineWithPagination) {
  constexpr std::uint64_t kRecords = 150;
  for (std::uint64_t n = 1; n <= kRecords; ++n) {
    ImageRecord r = MakeRecord("alice", n);
    r.content_type = n % 2 == 0 ? "image/png" : "image/jpeg";
    r.tags = n % 3 == 0 ? std::vector<std::string>{"cat", "pet"} : std::vector<std::string>{"dog"};
    this->InsertOrDie(r);
  }
  ImageRecord other = MakeRecord("bob", 1000);
  other.content_type = "image/png";
  other.tags = {"cat"};
  this->InsertOrDie(other);

  const auto at = [](std::uint64_t n) {
    return MakeRecord("alice", n).uploaded_at_ms;  // uploaded_at of record n
  };
  const auto expect = [&](auto predicate) {
    std::vector<std::string> ids;
    for (std::uint64_t n = kRecords; n >= 1; --n) {
      if (predicate(n)) ids.push_back(Id(n));
    }
    return ids;
  };

  EXPECT_EQ(this->WalkAllPages("alice", Query(7).Type("image/png")),
            expect([](std::uint64_t n) { return n % 2 == 0; }));
  EXPECT_EQ(this->WalkAllPages("alice", Query(7).Tag("cat")),
            expect([](std::uint64_t n) { return n % 3 == 0; }));
  EXPECT_EQ(this->WalkAllPages("alice", Query(7).Tag("nobody-uses-this")),
            std::vector<std::string>{});
  EXPECT_EQ(this->WalkAllPages("alice", Query(7).From(at(20)).To(at(40))),
            expect([](std::uint64_t n) { return n >= 20 && n < 40; }));
  EXPECT_EQ(this->WalkAllPages("alice", Query(7).From(at(140))),
            expect([](std::uint64_t n) { return n >= 140; }));
  EXPECT_EQ(this->WalkAllPages("alice", Query(7).To(at(11))),
            expect([](std::uint64_t n) { return n < 11; }));
  EXPECT_EQ(
      this->WalkAllPages("alice", Query(4).Type("image/png").Tag("cat").From(at(30)).To(at(120))),
      expect([](std::uint64_t n) { return n % 6 == 0 && n >= 30 && n < 120; }));
}

TYPED_TEST_P(MetadataStoreContractTest, UpdateChangesTagsAndDescription) {
  const ImageRecord original = MakeRecord("alice", 1);
  this->InsertOrDie(original);

  auto updated = this->store_->Update(
      "alice", original.id, {.tags = std::vector<std::string>{"new", "tags"}, .description = {}});
  ASSERT_TRUE(updated) << updated.error().detail;
  ImageRecord expected = original;
  expected.tags = {"new", "tags"};
  ExpectSameRecord(*updated, expected);
  ExpectSameRecord(this->store_->Get("alice", original.id).value(), expected);

  updated = this->store_->Update("alice", original.id, {.tags = {}, .description = "changed"});
  ASSERT_TRUE(updated);
  expected.description = "changed";
  ExpectSameRecord(*updated, expected);
  ExpectSameRecord(this->store_->Get("alice", original.id).value(), expected);

  // The tag filter follows the new tags.
  EXPECT_TRUE(this->store_->List("alice", Query(10).Tag("holiday"))->items.empty());
  EXPECT_EQ(this->store_->List("alice", Query(10).Tag("new"))->items.size(), 1u);

  updated = this->store_->Update("alice", original.id,
                                 {.tags = std::vector<std::string>{}, .description = ""});
  ASSERT_TRUE(updated);
  EXPECT_TRUE(updated->tags.empty());
  EXPECT_TRUE(this->store_->Get("alice", original.id)->tags.empty());
  EXPECT_TRUE(this->store_->List("alice", Query(10).Tag("new"))->items.empty());
}

TYPED_TEST_P(MetadataStoreContractTest, SaveDerivedReplacesOnlyDerivedFields) {
  const ImageRecord original = MakeRecord("alice", 1);
  this->InsertOrDie(original);
  ImageRecord derived = WithDerivedFields(original);
  // Fields SaveDerived does not own: changes to them must not be stored.
  derived.filename = "ignored.jpg";
  derived.tags = {"ignored"};
  derived.description = "ignored";
  derived.sha256 = Sha(99);
  ASSERT_TRUE(this->store_->SaveDerived(derived));

  ImageRecord expected = WithDerivedFields(original);
  ExpectSameRecord(this->store_->Get("alice", original.id).value(), expected);

  // A failure replaces stored variants with none. (A record is completed once, and no port
  // operation puts it back to "processing": this is another record, stored with variants.)
  ImageRecord with_variants = WithDerivedFields(MakeRecord("alice", 2));
  with_variants.status = ImageStatus::kProcessing;
  this->InsertOrDie(with_variants);
  ImageRecord failed = with_variants;
  failed.status = ImageStatus::kFailed;
  failed.failure_reason = "variant encoding failed";
  failed.variants.clear();
  ASSERT_TRUE(this->store_->SaveDerived(failed));
  ExpectSameRecord(this->store_->Get("alice", failed.id).value(), failed);
}

TYPED_TEST_P(MetadataStoreContractTest, SaveDerivedCompletesOnlyARecordStillProcessing) {
  const ImageRecord original = MakeRecord("alice", 1);
  this->InsertOrDie(original);
  const ImageRecord ready = WithDerivedFields(original);
  ASSERT_TRUE(this->store_->SaveDerived(ready));

  // A second delivery completing the same record (here as failed) changes nothing.
  ImageRecord late = original;
  late.status = ImageStatus::kFailed;
  late.failure_reason = "out_of_memory";
  late.key = "quarantine/alice/" + original.id;
  late.placeholder = "late";
  auto again = this->store_->SaveDerived(late);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(again.error().slug, "not_processing");
  ExpectSameRecord(this->store_->Get("alice", original.id).value(), ready);
  // Nor does saving the winner's own fields once more.
  EXPECT_EQ(this->store_->SaveDerived(ready).error().code, ErrorCode::kConflict);

  // A record stored complete (never "processing") cannot be completed either.
  ImageRecord stored_ready = WithDerivedFields(MakeRecord("alice", 2));
  this->InsertOrDie(stored_ready);
  ImageRecord failed = stored_ready;
  failed.status = ImageStatus::kFailed;
  EXPECT_EQ(this->store_->SaveDerived(failed).error().slug, "not_processing");
  ExpectSameRecord(this->store_->Get("alice", stored_ready.id).value(), stored_ready);
  // Gone, or another owner's: kNotFound, not a conflict.
  ASSERT_TRUE(this->store_->Remove("alice", original.id));
  EXPECT_EQ(this->store_->SaveDerived(ready).error().code, ErrorCode::kNotFound);
  ImageRecord bobs = failed;
  bobs.owner = "bob";
  EXPECT_EQ(this->store_->SaveDerived(bobs).error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(MetadataStoreContractTest, AttemptsAreCountedWhileProcessingOnly) {
  ImageRecord record = MakeRecord("alice", 1);
  record.status = ImageStatus::kProcessing;
  this->InsertOrDie(record);
  EXPECT_EQ(this->store_->AdjustAttempts("alice", record.id, 1).value(), 1u);
  EXPECT_EQ(this->store_->AdjustAttempts("alice", record.id, 1).value(), 2u);
  EXPECT_EQ(this->store_->AdjustAttempts("alice", record.id, -1).value(), 1u);
  EXPECT_EQ(this->store_->AdjustAttempts("alice", record.id, -5).value(), 0u) << "never below 0";
  EXPECT_EQ(this->store_->AdjustAttempts("bob", record.id, 1).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->AdjustAttempts("alice", Id(7), 1).error().code, ErrorCode::kNotFound);
  // Another record's count is its own.
  ImageRecord other = MakeRecord("alice", 2);
  other.status = ImageStatus::kProcessing;
  this->InsertOrDie(other);
  EXPECT_EQ(this->store_->AdjustAttempts("alice", other.id, 1).value(), 1u);
  // Once processed, there is nothing left to count.
  ImageRecord done = WithDerivedFields(record);
  ASSERT_TRUE(this->store_->SaveDerived(done));
  EXPECT_EQ(this->store_->AdjustAttempts("alice", record.id, 1).error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(MetadataStoreContractTest, RemoveDeletesTheRecord) {
  const ImageRecord kept = MakeRecord("alice", 1);
  const ImageRecord removed = MakeRecord("alice", 2);
  this->InsertOrDie(kept);
  this->InsertOrDie(removed);
  ASSERT_TRUE(this->store_->Remove("alice", removed.id));
  EXPECT_EQ(this->store_->Get("alice", removed.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->Remove("alice", removed.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Ids(this->store_->List("alice", Query(10))->items), std::vector<std::string>{kept.id});
  EXPECT_EQ(Ids(this->store_->List("alice", Query(10).Tag("holiday"))->items),
            std::vector<std::string>{kept.id});
  // The id can be used again.
  this->InsertOrDie(removed);
}

TYPED_TEST_P(MetadataStoreContractTest, ListRefsCoversEveryOwner) {
  this->InsertOrDie(MakeRecord("alice", 1));
  this->InsertOrDie(MakeRecord("bob", 2));
  this->InsertOrDie(MakeRecord("alice", 3));
  auto refs = ListAllRefs(*this->store_);
  ASSERT_TRUE(refs);
  std::set<std::tuple<std::string, std::string, std::string>> got;
  for (const auto& ref : *refs) got.emplace(ref.owner, ref.id, ref.key);
  const std::set<std::tuple<std::string, std::string, std::string>> expected = {
      {"alice", Id(1), "originals/alice/" + Id(1)},
      {"bob", Id(2), "originals/bob/" + Id(2)},
      {"alice", Id(3), "originals/alice/" + Id(3)},
  };
  EXPECT_EQ(got, expected);
  EXPECT_EQ(refs->size(), 3u);
}

TYPED_TEST_P(MetadataStoreContractTest, ListRefsPagesWalkEveryRecordOnceInOwnerIdOrder) {
  std::vector<std::pair<std::string, std::string>> expected;
  for (std::uint64_t n = 1; n <= 7; ++n) {
    const std::string owner = n % 3 == 0 ? "carol" : (n % 2 ? "alice" : "bob");
    this->InsertOrDie(MakeRecord(owner, n));
    expected.emplace_back(owner, Id(n));
  }
  std::ranges::sort(expected);
  for (std::size_t limit : {1u, 2u, 1000u}) {
    std::vector<std::pair<std::string, std::string>> walked;
    std::string token;
    int pages = 0;
    do {
      auto page = this->store_->ListRefs(token, limit);
      ASSERT_TRUE(page) << page.error().detail;
      EXPECT_LE(page->items.size(), limit);
      for (const auto& ref : page->items) {
        walked.emplace_back(ref.owner, ref.id);
        EXPECT_EQ(ref.key, "originals/" + ref.owner + "/" + ref.id);
      }
      token = page->next_token;
      ASSERT_LT(++pages, 1000) << "pagination does not end";
    } while (!token.empty());
    EXPECT_EQ(walked, expected) << "limit " << limit;
  }
  auto exact = this->store_->ListRefs("", 7);
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->items.size(), 7u);
  EXPECT_TRUE(exact->next_token.empty());
}

TYPED_TEST_P(MetadataStoreContractTest, ListRefsWalkSurvivesRemovalOfTheLastRefSeen) {
  for (std::uint64_t n = 1; n <= 4; ++n) this->InsertOrDie(MakeRecord("alice", n));
  auto first = this->store_->ListRefs("", 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->items.size(), 2u);
  ASSERT_TRUE(this->store_->Remove("alice", Id(2)));
  auto second = this->store_->ListRefs(first->next_token, 2);
  ASSERT_TRUE(second) << second.error().detail;
  std::vector<std::string> ids;
  for (const auto& ref : second->items) ids.push_back(ref.id);
  EXPECT_EQ(ids, (std::vector<std::string>{Id(3), Id(4)}));
  EXPECT_TRUE(second->next_token.empty());
}

TYPED_TEST_P(MetadataStoreContractTest, ListRefsRejectsAForeignTokenAndAZeroLimit) {
  this->InsertOrDie(MakeRecord("alice", 1));
  auto foreign = this->store_->ListRefs("not a token", 10);
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code, ErrorCode::kInvalidArgument);
  auto zero = this->store_->ListRefs("", 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(MetadataStoreContractTest, ListPhashesIsScopedToTheOwner) {
  this->InsertOrDie(WithDerivedFields(MakeRecord("alice", 1)));
  this->InsertOrDie(MakeRecord("alice", 2));  // not processed: no hash yet
  ImageRecord bobs = WithDerivedFields(MakeRecord("bob", 3));
  bobs.phash = "fedcba9876543210";
  this->InsertOrDie(bobs);
  auto alice = this->store_->ListPhashes("alice", "", 10);
  ASSERT_TRUE(alice);
  ASSERT_EQ(alice->items.size(), 1u);
  EXPECT_EQ(alice->items[0].id, Id(1));
  EXPECT_EQ(alice->items[0].phash, "0123456789abcdef");
  EXPECT_TRUE(alice->next_token.empty());
  auto carol = this->store_->ListPhashes("carol", "", 10);
  ASSERT_TRUE(carol);
  EXPECT_TRUE(carol->items.empty());
  EXPECT_TRUE(carol->next_token.empty());
}

TYPED_TEST_P(MetadataStoreContractTest, ListPhashesPagesWalkTheOwnersHashesNewestFirstOnce) {
  std::vector<std::string> expected;  // alice's hashed records, newest first
  std::map<std::string, std::string> phash_of;
  for (std::uint64_t n = 1; n <= 9; ++n) {
    ImageRecord record = MakeRecord(n % 3 == 0 ? "bob" : "alice", n);
    if (n != 4) {  // 4 is not processed yet: no hash
      record = WithDerivedFields(record);
      record.phash = "00000000000000" + std::to_string(10 + n);
    }
    this->InsertOrDie(record);
    if (record.owner == "alice" && n != 4) expected.insert(expected.begin(), record.id);
    phash_of[record.id] = record.phash;
  }
  for (std::size_t limit : {1u, 2u, 1000u}) {
    std::vector<std::string> walked;
    std::string token;
    int pages = 0;
    do {
      auto page = this->store_->ListPhashes("alice", token, limit);
      ASSERT_TRUE(page) << page.error().detail;
      EXPECT_LE(page->items.size(), limit);
      for (const auto& entry : page->items) {
        walked.push_back(entry.id);
        EXPECT_EQ(entry.phash, phash_of[entry.id]);
      }
      token = page->next_token;
      ASSERT_LT(++pages, 1000) << "pagination does not end";
    } while (!token.empty());
    EXPECT_EQ(walked, expected) << "limit " << limit;
  }
  auto exact = this->store_->ListPhashes("alice", "", expected.size());
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->items.size(), expected.size());
  EXPECT_TRUE(exact->next_token.empty());
  auto zero = this->store_->ListPhashes("alice", "", 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(MetadataStoreContractTest, ConcurrentInsertsAndReadsAllSucceed) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 30;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  std::thread reader([&] {
    while (!done.load()) {
      auto page = this->store_->List("owner0", Query(20).Tag("holiday"));
      if (!page || page->items.size() > 20) ++failures;
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const auto n = static_cast<std::uint64_t>(t * kPerThread + i + 1);
        const ImageRecord record = MakeRecord("owner" + std::to_string(t % 2), n);
        if (!this->store_->Insert(record)) ++failures;
        auto got = this->store_->Get(record.owner, record.id);  // read-your-writes
        if (!got || got->sha256 != record.sha256) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  const std::size_t per_owner = kThreads / 2 * kPerThread;
  EXPECT_EQ(this->WalkAllPages("owner0", Query(100)).size(), per_owner);
  EXPECT_EQ(this->WalkAllPages("owner1", Query(100)).size(), per_owner);
  EXPECT_EQ(ListAllRefs(*this->store_)->size(), per_owner * 2);
}

TYPED_TEST_P(MetadataStoreContractTest, ConcurrentDuplicateInsertsLetExactlyOneWin) {
  constexpr int kThreads = 8;
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ImageRecord record = MakeRecord("alice", static_cast<std::uint64_t>(t + 1));
      record.sha256 = Sha(777);  // the same bytes uploaded 8 times at once
      auto inserted = this->store_->Insert(record);
      if (inserted) {
        ++wins;
      } else if (inserted.error().slug == "duplicate_content") {
        ++conflicts;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  // The bytes name the winner, and no loser left a record (or, in a key-value store, a marker
  // pointing at a record that is not there).
  auto winner = this->store_->FindBySha256("alice", Sha(777));
  ASSERT_TRUE(winner);
  int present = 0;
  for (int t = 0; t < kThreads; ++t) {
    auto record = this->store_->Get("alice", Id(static_cast<std::uint64_t>(t + 1)));
    if (record) {
      ++present;
      EXPECT_EQ(record->id, winner->id);
    }
  }
  EXPECT_EQ(present, 1);
}

/// `threads` savers complete the same processing record at once, each with its own derived
/// fields (placeholder "saver-N", alternately ready and failed), through `store_of(N)`. Expects
/// exactly one to win, every other to get kConflict "not_processing", and the winner's fields
/// stored.
template <class StoreOf>
void ExpectOneCompletionWins(MetadataStore& reader, const ImageRecord& record, int threads,
                             StoreOf store_of) {
  std::atomic<int> ready_to_go{0};
  std::atomic<int> winner{-1};
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> savers;
  for (int t = 0; t < threads; ++t) {
    savers.emplace_back([&, t] {
      ImageRecord mine = WithDerivedFields(record);
      mine.placeholder = "saver-" + std::to_string(t);
      if (t % 2 == 1) {
        mine.status = ImageStatus::kFailed;
        mine.failure_reason = "saver " + std::to_string(t) + " failed it";
        mine.variants.clear();
      }
      // Start together, so that the saves overlap as much as the scheduler lets them.
      ++ready_to_go;
      while (ready_to_go.load() < threads) std::this_thread::yield();
      auto saved = store_of(t).SaveDerived(mine);
      if (saved) {
        ++wins;
        winner = t;
      } else if (saved.error().code == ErrorCode::kConflict &&
                 saved.error().slug == "not_processing") {
        ++conflicts;
      }
    });
  }
  for (auto& saver : savers) saver.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), threads - 1);
  ASSERT_GE(winner.load(), 0);
  const ImageRecord stored = reader.Get(record.owner, record.id).value();
  EXPECT_EQ(stored.placeholder, "saver-" + std::to_string(winner.load()));
  EXPECT_EQ(stored.status, winner.load() % 2 == 1 ? ImageStatus::kFailed : ImageStatus::kReady);
  EXPECT_EQ(stored.variants.size(), winner.load() % 2 == 1 ? 0u : 2u);
}

TYPED_TEST_P(MetadataStoreContractTest, ConcurrentCompletionsLetExactlyOneWin) {
  for (std::uint64_t n = 1; n <= 20; ++n) {
    const ImageRecord record = MakeRecord("alice", n);
    this->InsertOrDie(record);
    ExpectOneCompletionWins(*this->store_, record, 8,
                            [&](int) -> MetadataStore& { return *this->store_; });
  }
}

REGISTER_TYPED_TEST_SUITE_P(
    MetadataStoreContractTest, InsertThenGetReturnsEveryField, MinimalRecordRoundTrips,
    UnknownIdIsNotFound, AnotherOwnersRecordBehavesLikeAMissingOne, DuplicateIdIsAConflict,
    SameContentForTheSameOwnerIsAConflict, SameContentForDifferentOwnersIsFine,
    ContentCanBeUploadedAgainAfterRemoval, PaginationWalksEveryRecordNewestFirstOnce,
    NextCursorOnlyWhenMoreRecordsFollow, FiltersCombineWithPagination,
    UpdateChangesTagsAndDescription, SaveDerivedReplacesOnlyDerivedFields,
    SaveDerivedCompletesOnlyARecordStillProcessing, ConcurrentCompletionsLetExactlyOneWin,
    AttemptsAreCountedWhileProcessingOnly, RemoveDeletesTheRecord, ListRefsCoversEveryOwner,
    ListRefsPagesWalkEveryRecordOnceInOwnerIdOrder, ListRefsWalkSurvivesRemovalOfTheLastRefSeen,
    ListRefsRejectsAForeignTokenAndAZeroLimit, ListPhashesIsScopedToTheOwner,
    ListPhashesPagesWalkTheOwnersHashesNewestFirstOnce, ConcurrentInsertsAndReadsAllSucceed,
    ConcurrentDuplicateInsertsLetExactlyOneWin);

}  // namespace
}  // namespace contract
}  // namespace imgup
