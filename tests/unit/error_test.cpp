// The error plumbing macros: the happy path goes on with the value, a failure returns its error.
#include "base/error.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace imgup {
namespace {

Result<int> Parse(const std::string& text) {
  if (text.empty()) return Fail(ErrorCode::kInvalidArgument, "empty", "nothing to parse");
  return static_cast<int>(text.size());
}

Result<void> Check(bool ok) {
  if (!ok) return Fail(ErrorCode::kUnavailable, "down", "not now");
  return {};
}

Result<int> Twice(const std::string& text, bool ok) {
  IMGUP_RETURN_IF_ERROR(Check(ok));
  IMGUP_ASSIGN_OR_RETURN(const int n, Parse(text));
  int m = 0;
  IMGUP_ASSIGN_OR_RETURN(m, Parse(text + text));  // assigns an existing variable
  return n + m;
}

Result<std::unique_ptr<int>> MakeBox(int value) { return std::make_unique<int>(value); }

Result<int> Unbox() {
  IMGUP_ASSIGN_OR_RETURN(std::unique_ptr<int> box, MakeBox(7));  // move-only values move
  IMGUP_ASSIGN_OR_RETURN(auto other, MakeBox(8));
  return *box + *other;
}

TEST(ErrorMacrosTest, TheHappyPathGoesOn) {
  EXPECT_EQ(Twice("abc", true).value(), 9);
  EXPECT_EQ(Unbox().value(), 15);
}

TEST(ErrorMacrosTest, AFailureReturnsItsErrorUnchanged) {
  auto down = Twice("abc", false);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(down.error().slug, "down");
  auto empty = Twice("", true);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().slug, "empty");
  EXPECT_EQ(empty.error().message, "nothing to parse");
}

}  // namespace
}  // namespace imgup
