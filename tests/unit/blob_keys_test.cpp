// The blob key layout and its parser: every key imgup writes parses back to its owner and id,
// and nothing else does.
#include "domain/blob_keys.hpp"

#include <gtest/gtest.h>

namespace imgup {
namespace {

constexpr const char* kId = "01J9ZQ7Y3M8W6K5T4R3E2D1C0B";

TEST(BlobKeysTest, EveryKeyImgupWritesParsesBackToItsOwnerAndId) {
  auto original = ParseImageKey(OriginalKey("alice", kId));
  ASSERT_TRUE(original);
  EXPECT_EQ(original->kind, ImageKey::Kind::kOriginal);
  EXPECT_EQ(original->owner, "alice");
  EXPECT_EQ(original->id, kId);

  auto variant = ParseImageKey(VariantKey("bob", kId, "thumb"));
  ASSERT_TRUE(variant);
  EXPECT_EQ(variant->kind, ImageKey::Kind::kVariant);
  EXPECT_EQ(variant->owner, "bob");
  EXPECT_EQ(variant->id, kId);
  EXPECT_EQ(variant->variant, "thumb");
  EXPECT_EQ(VariantKey("bob", kId, "thumb").rfind(VariantPrefix("bob", kId), 0), 0u);

  auto quarantined = ParseImageKey(QuarantineKey("local", kId));
  ASSERT_TRUE(quarantined);
  EXPECT_EQ(quarantined->kind, ImageKey::Kind::kQuarantine);
  EXPECT_EQ(quarantined->owner, "local");

  EXPECT_EQ(StagingKey("carol", kId), std::string("uploads/carol/") + kId);
  auto staged = ParseImageKey(StagingKey("carol", kId));
  ASSERT_TRUE(staged);
  EXPECT_EQ(staged->kind, ImageKey::Kind::kStaging);
  EXPECT_EQ(staged->owner, "carol");
  EXPECT_EQ(staged->id, kId);
}

TEST(BlobKeysTest, OtherKeysAreNotImageKeys) {
  for (const char* key :
       {"", "originals", "originals/alice", "originals/alice/", "originals//id", "originals/a/b/c",
        "variants/alice/id", "variants/alice/id/thumb.png", "variants/alice/id/.webp",
        "thumbs/alice/id", "originals/../id", "originals/alice/id with space", ".tmp/x/y",
        "/originals/alice/id", "uploads/alice", "uploads/alice/id/x"}) {
    EXPECT_FALSE(ParseImageKey(key)) << key;
  }
}

}  // namespace
}  // namespace imgup
