// The sealed continuation tokens of DynamoMetadataStore.
#include "adapters/aws/dynamo_tokens.hpp"

#include <gtest/gtest.h>

#include "codecs/base64.hpp"

namespace imgup {
namespace {

constexpr const char* kSecret = "0123456789abcdef-secret";

TEST(DynamoTokensTest, ATokenOpensWithItsSecretKindAndScope) {
  const std::string token = SealToken(kSecret, "phash", "alice", "01JDX3S9Q7M6V2B8R4T0YH5KCE");
  EXPECT_EQ(OpenToken(kSecret, "phash", "alice", token), "01JDX3S9Q7M6V2B8R4T0YH5KCE");
  EXPECT_EQ(OpenToken(kSecret, "phash", "bob", token), std::nullopt);
  EXPECT_EQ(OpenToken(kSecret, "refs", "alice", token), std::nullopt);
  EXPECT_EQ(OpenToken("another secret of 16+ bytes", "phash", "alice", token), std::nullopt);
}

TEST(DynamoTokensTest, AChangedTokenDoesNotOpen) {
  const std::string token = SealToken(kSecret, "refs", "", "5:aliceID");
  ASSERT_TRUE(OpenToken(kSecret, "refs", "", token));
  // Every single-character change, anywhere.
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string changed = token;
    changed[i] = changed[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(OpenToken(kSecret, "refs", "", changed), std::nullopt) << i;
  }
  // Another payload with the old seal.
  const std::string forged = EncodeBase64Url("5:aliceZZ") + token.substr(token.find('.'));
  EXPECT_EQ(OpenToken(kSecret, "refs", "", forged), std::nullopt);
  for (const char* junk : {"", ".", "abc", "abc.", ".abc", "a.b.c", "!!.!!"}) {
    EXPECT_EQ(OpenToken(kSecret, "refs", "", junk), std::nullopt) << junk;
  }
}

TEST(DynamoTokensTest, KindScopeAndPayloadCannotBeShiftedIntoEachOther) {
  // "a\nb" + "c" and "a" + "b\nc" must not seal alike.
  const std::string token = SealToken(kSecret, "refs", "a\nb", "c");
  EXPECT_EQ(OpenToken(kSecret, "refs", "a", token), std::nullopt);
  const std::string other = SealToken(kSecret, "refs", "a", "b\nc");
  EXPECT_NE(token.substr(token.find('.')), other.substr(other.find('.')));
}

}  // namespace
}  // namespace imgup
