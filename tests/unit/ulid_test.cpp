#include "domain/ulid.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

namespace imgup {
namespace {

// ulid/javascript README: ulid(1469918176385) == "01ARYZ6S41TSV4RRFFQ69G5FAV".
constexpr std::int64_t kSpecExampleMs = 1469918176385;

TEST(UlidTest, HasTheSpecFormat) {
  UlidGenerator gen;
  for (const std::int64_t ms : {std::int64_t{0}, std::int64_t{1}, kSpecExampleMs,
                                std::int64_t{1735689600000}, (std::int64_t{1} << 48) - 1}) {
    const std::string id = gen.NewId(ms);
    EXPECT_EQ(id.size(), 26u);
    EXPECT_TRUE(IsValidUlid(id)) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ"), std::string::npos);
    EXPECT_EQ(UlidTimeMs(id), ms) << id;
  }
}

TEST(UlidTest, EncodesTimeLikeTheSpecExample) {
  EXPECT_EQ(UlidTimeMs("01ARYZ6S41TSV4RRFFQ69G5FAV"), kSpecExampleMs);
  // The spec's canonical example; its time decoded by hand (Python) from the Crockford digits.
  EXPECT_EQ(UlidTimeMs("01ARZ3NDEKTSV4RRFFQ69G5FAV"), 1469922850259);
  UlidGenerator gen;
  EXPECT_EQ(gen.NewId(kSpecExampleMs).substr(0, 10), "01ARYZ6S41");
  UlidGenerator other;
  EXPECT_EQ(other.NewId(0).substr(0, 10), "0000000000");
  EXPECT_EQ(other.NewId((std::int64_t{1} << 48) - 1).substr(0, 10), "7ZZZZZZZZZ");
}

TEST(UlidTest, ValidatesStrictly) {
  EXPECT_TRUE(IsValidUlid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
  EXPECT_TRUE(IsValidUlid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
  EXPECT_FALSE(IsValidUlid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));   // more than 128 bits
  EXPECT_FALSE(IsValidUlid("01arz3ndektsv4rrffq69g5fav"));   // lowercase
  EXPECT_FALSE(IsValidUlid("01ARZ3NDEKTSV4RRFFQ69G5FA"));    // 25
  EXPECT_FALSE(IsValidUlid("01ARZ3NDEKTSV4RRFFQ69G5FAVX"));  // 27
  for (const char c : {'I', 'L', 'O', 'U', '-', ' ', '\0'}) {
    std::string id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    id[13] = c;
    EXPECT_FALSE(IsValidUlid(id)) << c;
  }
  EXPECT_FALSE(IsValidUlid(""));
  EXPECT_EQ(UlidTimeMs("not a ulid"), -1);
}

TEST(UlidTest, StrictlyIncreasingWithinOneMillisecond) {
  UlidGenerator gen;
  std::string previous = gen.NewId(kSpecExampleMs);
  for (int i = 0; i < 100000; ++i) {
    const std::string id = gen.NewId(kSpecExampleMs);
    ASSERT_LT(previous, id) << i;
    ASSERT_EQ(UlidTimeMs(id), kSpecExampleMs);
    previous = id;
  }
}

TEST(UlidTest, NeverGoesBackWhenTheClockDoes) {
  UlidGenerator gen;
  const std::string a = gen.NewId(2000);
  const std::string b = gen.NewId(1000);  // the clock stepped back
  const std::string c = gen.NewId(1999);
  const std::string d = gen.NewId(2001);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
  EXPECT_EQ(UlidTimeMs(b), 2000);
  EXPECT_EQ(UlidTimeMs(c), 2000);
  EXPECT_EQ(UlidTimeMs(d), 2001);
  EXPECT_TRUE(IsValidUlid(gen.NewId(-5)));
}

TEST(UlidTest, NewMillisecondsStartFromFreshRandomness) {
  UlidGenerator gen;
  std::set<std::string> random_parts;
  for (std::int64_t ms = 1; ms <= 1000; ++ms) random_parts.insert(gen.NewId(ms).substr(10));
  EXPECT_EQ(random_parts.size(), 1000u);
  // Two generators do not share a sequence.
  UlidGenerator a, b;
  EXPECT_NE(a.NewId(5).substr(10), b.NewId(5).substr(10));
}

TEST(UlidTest, StrictlyIncreasingAndUniqueAcrossThreads) {
  UlidGenerator gen;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto& mine = ids[static_cast<std::size_t>(t)];
      mine.reserve(kPerThread);
      // A few distinct milliseconds, so threads race both within and across them.
      for (int i = 0; i < kPerThread; ++i) mine.push_back(gen.NewId(kSpecExampleMs + i / 5000));
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::string> all;
  for (const auto& mine : ids) {
    for (std::size_t i = 1; i < mine.size(); ++i) ASSERT_LT(mine[i - 1], mine[i]);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate id";
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace imgup
