#include "aws/dynamo_value.hpp"

#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>

namespace imgup::aws {
namespace {

tl::unexpected<Error> BadValue(std::string detail) {
  return Fail(ErrorCode::kInternal, "dynamodb_bad_value", "The metadata store failed.",
              "DynamoDB attribute value: " + std::move(detail));
}

template <class Int>
std::optional<Int> ParseWhole(const std::string& text) {
  Int value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

AttributeValue AttributeValue::S(std::string text) {
  AttributeValue v;
  v.type_ = Type::kString;
  v.text_ = std::move(text);
  return v;
}

AttributeValue AttributeValue::N(std::int64_t number) { return NumberText(std::to_string(number)); }

AttributeValue AttributeValue::N(std::uint64_t number) {
  return NumberText(std::to_string(number));
}

AttributeValue AttributeValue::NumberText(std::string text) {
  AttributeValue v;
  v.type_ = Type::kNumber;
  v.text_ = std::move(text);
  return v;
}

AttributeValue AttributeValue::SS(std::vector<std::string> values) {
  AttributeValue v;
  v.type_ = Type::kStringSet;
  v.set_ = std::move(values);
  return v;
}

AttributeValue AttributeValue::M(Map map) {
  AttributeValue v;
  v.type_ = Type::kMap;
  v.map_ = std::move(map);
  return v;
}

AttributeValue AttributeValue::L(List list) {
  AttributeValue v;
  v.type_ = Type::kList;
  v.list_ = std::move(list);
  return v;
}

AttributeValue AttributeValue::Bool(bool value) {
  AttributeValue v;
  v.type_ = Type::kBool;
  v.bool_ = value;
  return v;
}

std::optional<std::int64_t> AttributeValue::AsInt64() const {
  if (type_ != Type::kNumber) return std::nullopt;
  return ParseWhole<std::int64_t>(text_);
}

std::optional<std::uint64_t> AttributeValue::AsUint64() const {
  if (type_ != Type::kNumber || text_.starts_with('-')) return std::nullopt;
  return ParseWhole<std::uint64_t>(text_);
}

bool operator==(const AttributeValue& a, const AttributeValue& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case AttributeValue::Type::kString:
    case AttributeValue::Type::kNumber:
      return a.text_ == b.text_;
    case AttributeValue::Type::kStringSet:
      return a.set_ == b.set_;
    case AttributeValue::Type::kMap:
      return a.map_ == b.map_;
    case AttributeValue::Type::kList:
      return a.list_ == b.list_;
    case AttributeValue::Type::kBool:
      return a.bool_ == b.bool_;
    case AttributeValue::Type::kNull:
      return true;
  }
  return false;
}

nlohmann::json ToJson(const AttributeValue& value) {
  switch (value.type()) {
    case AttributeValue::Type::kString:
      return {{"S", *value.AsString()}};
    case AttributeValue::Type::kNumber:
      return {{"N", *value.AsNumberText()}};
    case AttributeValue::Type::kStringSet:
      return {{"SS", *value.AsStringSet()}};
    case AttributeValue::Type::kMap:
      return {{"M", ToJson(*value.AsMap())}};
    case AttributeValue::Type::kList: {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& element : *value.AsList()) list.push_back(ToJson(element));
      return {{"L", std::move(list)}};
    }
    case AttributeValue::Type::kBool:
      return {{"BOOL", *value.AsBool()}};
    case AttributeValue::Type::kNull:
      break;
  }
  return {{"NULL", true}};
}

nlohmann::json ToJson(const Item& item) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [name, value] : item) json[name] = ToJson(value);
  return json;
}

Result<AttributeValue> ValueFromJson(const nlohmann::json& json) {
  if (!json.is_object() || json.size() != 1) {
    return BadValue("not an object with one type: " + json.dump());
  }
  const auto only = json.begin();
  const std::string& type = only.key();
  const nlohmann::json& payload = only.value();
  if (type == "S" && payload.is_string()) return AttributeValue::S(payload.get<std::string>());
  if (type == "N" && payload.is_string()) {
    return AttributeValue::NumberText(payload.get<std::string>());
  }
  if (type == "BOOL" && payload.is_boolean()) return AttributeValue::Bool(payload.get<bool>());
  if (type == "NULL" && payload.is_boolean() && payload.get<bool>()) return AttributeValue::Null();
  if (type == "SS" && payload.is_array()) {
    std::vector<std::string> values;
    for (const auto& element : payload) {
      if (!element.is_string()) return BadValue("SS element " + element.dump());
      values.push_back(element.get<std::string>());
    }
    return AttributeValue::SS(std::move(values));
  }
  if (type == "L" && payload.is_array()) {
    AttributeValue::List list;
    for (const auto& element : payload) {
      IMGUP_ASSIGN_OR_RETURN(auto value, ValueFromJson(element));
      list.push_back(std::move(value));
    }
    return AttributeValue::L(std::move(list));
  }
  if (type == "M" && payload.is_object()) {
    IMGUP_ASSIGN_OR_RETURN(auto map, ItemFromJson(payload));
    return AttributeValue::M(std::move(map));
  }
  return BadValue("unsupported or malformed " + json.dump());
}

Result<Item> ItemFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return BadValue("an item is not an object: " + json.dump());
  Item item;
  for (const auto& [name, wire] : json.items()) {
    IMGUP_ASSIGN_OR_RETURN(auto value, ValueFromJson(wire));
    item.emplace(name, std::move(value));
  }
  return item;
}

Result<std::optional<std::string>> OptionalString(const Item& item, std::string_view name) {
  const auto it = item.find(name);
  if (it == item.end()) return std::nullopt;
  if (const std::string* text = it->second.AsString()) return *text;
  return BadValue(std::string(name) + " is not an S");
}

Result<std::string> RequiredString(const Item& item, std::string_view name) {
  IMGUP_ASSIGN_OR_RETURN(auto text, OptionalString(item, name));
  if (!text) return BadValue(std::string(name) + " is missing");
  return std::move(*text);
}

Result<std::optional<std::uint64_t>> OptionalUint64(const Item& item, std::string_view name) {
  const auto it = item.find(name);
  if (it == item.end()) return std::nullopt;
  if (auto number = it->second.AsUint64()) return *number;
  return BadValue(std::string(name) + " is not an unsigned whole N");
}

Result<std::uint64_t> RequiredUint64(const Item& item, std::string_view name) {
  IMGUP_ASSIGN_OR_RETURN(auto number, OptionalUint64(item, name));
  if (!number) return BadValue(std::string(name) + " is missing");
  return *number;
}

Result<std::int64_t> RequiredInt64(const Item& item, std::string_view name) {
  const auto it = item.find(name);
  if (it == item.end()) return BadValue(std::string(name) + " is missing");
  if (auto number = it->second.AsInt64()) return *number;
  return BadValue(std::string(name) + " is not a whole N");
}

}  // namespace imgup::aws
