// DynamoDB's attribute values and their JSON wire form, held against the shapes of AWS's API
// reference (AttributeValue: "S", "N", "SS", "M", "L", "BOOL", "NULL").
#include "aws/dynamo_value.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

namespace imgup::aws {
namespace {

using nlohmann::json;

TEST(DynamoValueTest, EachTypeHasItsWireForm) {
  EXPECT_EQ(ToJson(AttributeValue::S("text")), json::parse(R"({"S":"text"})"));
  EXPECT_EQ(ToJson(AttributeValue::S("")), json::parse(R"({"S":""})"));
  EXPECT_EQ(ToJson(AttributeValue::N(std::int64_t{-42})), json::parse(R"({"N":"-42"})"));
  EXPECT_EQ(ToJson(AttributeValue::N(std::uint64_t{5'000'000'000})),
            json::parse(R"({"N":"5000000000"})"));
  EXPECT_EQ(ToJson(AttributeValue::SS({"a", "b"})), json::parse(R"({"SS":["a","b"]})"));
  EXPECT_EQ(ToJson(AttributeValue::Bool(true)), json::parse(R"({"BOOL":true})"));
  EXPECT_EQ(ToJson(AttributeValue::Null()), json::parse(R"({"NULL":true})"));
  EXPECT_EQ(ToJson(AttributeValue::L({AttributeValue::S("x"), AttributeValue::N(std::int64_t{1})})),
            json::parse(R"({"L":[{"S":"x"},{"N":"1"}]})"));
  EXPECT_EQ(ToJson(AttributeValue::M({{"w", AttributeValue::N(std::uint32_t{640})},
                                      {"t", AttributeValue::S("image/webp")}})),
            json::parse(R"({"M":{"t":{"S":"image/webp"},"w":{"N":"640"}}})"));
}

TEST(DynamoValueTest, NestedItemsRoundTrip) {
  const Item item = {
      {"PK", AttributeValue::S("OWNER#alice")},
      {"tags", AttributeValue::L({AttributeValue::S("zeta"), AttributeValue::S("ünïcode ✓")})},
      {"variants",
       AttributeValue::M(
           {{"thumb", AttributeValue::M({{"width", AttributeValue::N(std::uint32_t{256})},
                                         {"key", AttributeValue::S("v/x")}})}})},
      {"set", AttributeValue::SS({"one", "two"})},
      {"flag", AttributeValue::Bool(false)},
      {"nothing", AttributeValue::Null()},
      {"big", AttributeValue::N(std::numeric_limits<std::uint64_t>::max())},
  };
  const std::string wire = ToJson(item).dump();
  auto parsed = ItemFromJson(json::parse(wire));
  ASSERT_TRUE(parsed) << parsed.error().detail;
  EXPECT_EQ(*parsed, item);
  EXPECT_EQ(parsed->at("big").AsUint64(), std::numeric_limits<std::uint64_t>::max());
}

TEST(DynamoValueTest, NumbersAreReadOnlyWhenWholeAndInRange) {
  EXPECT_EQ(AttributeValue::NumberText("17").AsInt64(), 17);
  EXPECT_EQ(AttributeValue::NumberText("-17").AsInt64(), -17);
  EXPECT_EQ(AttributeValue::NumberText("-17").AsUint64(), std::nullopt);
  EXPECT_EQ(AttributeValue::NumberText("1.5").AsInt64(), std::nullopt);
  EXPECT_EQ(AttributeValue::NumberText("1E3").AsInt64(), std::nullopt);
  EXPECT_EQ(AttributeValue::NumberText("99999999999999999999").AsUint64(), std::nullopt);
  EXPECT_EQ(AttributeValue::S("17").AsInt64(), std::nullopt);
}

TEST(DynamoValueTest, MalformedWireValuesAreErrors) {
  for (const char* bad :
       {R"({})", R"({"S":1})", R"({"N":5})", R"({"S":"a","N":"1"})", R"({"B":"AAAA"})",
        R"({"NULL":false})", R"({"SS":[1]})", R"({"L":[{"X":"y"}]})", R"({"M":[]})", R"("text")"}) {
    auto parsed = ValueFromJson(json::parse(bad));
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInternal) << bad;
  }
  EXPECT_FALSE(ItemFromJson(json::parse("[]")));
}

TEST(DynamoValueTest, ReadersCheckPresenceAndType) {
  const Item item = {{"s", AttributeValue::S("x")},
                     {"n", AttributeValue::N(std::int64_t{-3})},
                     {"u", AttributeValue::N(std::uint64_t{3})}};
  EXPECT_EQ(RequiredString(item, "s").value(), "x");
  EXPECT_FALSE(RequiredString(item, "n"));
  EXPECT_FALSE(RequiredString(item, "missing"));
  EXPECT_EQ(OptionalString(item, "missing").value(), std::nullopt);
  EXPECT_EQ(RequiredInt64(item, "n").value(), -3);
  EXPECT_FALSE(RequiredUint64(item, "n"));
  EXPECT_EQ(RequiredUint64(item, "u").value(), 3u);
  EXPECT_EQ(OptionalUint64(item, "missing").value(), std::nullopt);
  EXPECT_FALSE(OptionalUint64(item, "s"));
}

}  // namespace
}  // namespace imgup::aws
