#pragma once
// DynamoDB's typed attribute values (S, N, SS, M, L, BOOL, NULL) and their JSON wire form
// ({"S": "text"}, {"N": "42"}, {"M": {...}}, ...), as the JSON protocol sends and returns them.
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace imgup::aws {

class AttributeValue {
 public:
  // std::map and std::vector of the class being defined: libstdc++ allows both (nlohmann::json
  // is built the same way).
  using Map = std::map<std::string, AttributeValue, std::less<>>;
  using List = std::vector<AttributeValue>;
  enum class Type { kString, kNumber, kStringSet, kMap, kList, kBool, kNull };

  AttributeValue() = default;  // NULL

  static AttributeValue S(std::string text);
  static AttributeValue N(std::int64_t number);
  static AttributeValue N(std::uint64_t number);
  static AttributeValue N(std::uint32_t number) { return N(std::uint64_t{number}); }
  /// A number as DynamoDB's decimal text ("-1.5E3"); not checked here, DynamoDB checks it.
  static AttributeValue NumberText(std::string text);
  /// A string set: DynamoDB refuses empty sets and sets with repeats; their order is not kept.
  static AttributeValue SS(std::vector<std::string> values);
  static AttributeValue M(Map map);
  static AttributeValue L(List list);
  static AttributeValue Bool(bool value);
  static AttributeValue Null() { return {}; }

  Type type() const { return type_; }
  /// The text of an S, else nullptr.
  const std::string* AsString() const { return type_ == Type::kString ? &text_ : nullptr; }
  /// The decimal text of an N, else nullptr.
  const std::string* AsNumberText() const { return type_ == Type::kNumber ? &text_ : nullptr; }
  /// An N that is a whole number in range, else nullopt.
  std::optional<std::int64_t> AsInt64() const;
  std::optional<std::uint64_t> AsUint64() const;
  const std::vector<std::string>* AsStringSet() const {
    return type_ == Type::kStringSet ? &set_ : nullptr;
  }
  const Map* AsMap() const { return type_ == Type::kMap ? &map_ : nullptr; }
  const List* AsList() const { return type_ == Type::kList ? &list_ : nullptr; }
  std::optional<bool> AsBool() const {
    return type_ == Type::kBool ? std::optional<bool>(bool_) : std::nullopt;
  }
  bool IsNull() const { return type_ == Type::kNull; }

  friend bool operator==(const AttributeValue& a, const AttributeValue& b);

 private:
  Type type_ = Type::kNull;
  std::string text_;  // S, N
  std::vector<std::string> set_;
  Map map_;
  List list_;
  bool bool_ = false;
};

/// An item, a key, or the values of an expression (":name" -> value).
using Item = AttributeValue::Map;

/// The wire form of one value: {"S": "text"}.
nlohmann::json ToJson(const AttributeValue& value);
/// The wire form of an item: {"name": {"S": "text"}, ...}.
nlohmann::json ToJson(const Item& item);

/// Parses one wire value. Errors: kInternal "dynamodb_bad_value" for anything that is not one of
/// the seven types with a well-formed payload (B, BS and NS are not used by imgup).
Result<AttributeValue> ValueFromJson(const nlohmann::json& json);
/// Parses an item (a JSON object of wire values).
Result<Item> ItemFromJson(const nlohmann::json& json);

// Readers for the attributes of an item, for adapters that map items to their own structs.

/// The S named `name`; nullopt when absent; an error when it holds another type.
Result<std::optional<std::string>> OptionalString(const Item& item, std::string_view name);
/// The S named `name`; an error when absent or another type.
Result<std::string> RequiredString(const Item& item, std::string_view name);
/// The N named `name` as an unsigned whole number (nullopt when absent).
Result<std::optional<std::uint64_t>> OptionalUint64(const Item& item, std::string_view name);
Result<std::uint64_t> RequiredUint64(const Item& item, std::string_view name);
Result<std::int64_t> RequiredInt64(const Item& item, std::string_view name);

}  // namespace imgup::aws
