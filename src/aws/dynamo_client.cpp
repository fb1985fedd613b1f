#include "aws/dynamo_client.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <utility>

namespace imgup::aws {
namespace {

constexpr std::string_view kStore = "metadata store";
constexpr std::size_t kBatchGetMax = 100;  // keys per BatchGetItem call (DynamoDB's limit)
constexpr int kUnprocessedRounds = 8;      // BatchGetItem calls for one batch at most

const char* ReturnValuesName(ReturnValues values) {
  switch (values) {
    case ReturnValues::kNone:
      return "NONE";
    case ReturnValues::kAllOld:
      return "ALL_OLD";
    case ReturnValues::kUpdatedOld:
      return "UPDATED_OLD";
    case ReturnValues::kAllNew:
      return "ALL_NEW";
    case ReturnValues::kUpdatedNew:
      return "UPDATED_NEW";
  }
  return "NONE";
}

/// Adds the expression parameters every operation shares, leaving out the empty ones (DynamoDB
/// refuses empty ExpressionAttributeNames/Values objects).
void AddExpressionParts(nlohmann::json& body, const ExpressionNames& names, const Item& values) {
  if (!names.empty()) body["ExpressionAttributeNames"] = names;
  if (!values.empty()) body["ExpressionAttributeValues"] = ToJson(values);
}

void AddCondition(nlohmann::json& body, const std::string& condition, bool return_old) {
  if (condition.empty()) return;
  body["ConditionExpression"] = condition;
  if (return_old) body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD";
}

DynamoError Malformed(std::string detail) {
  DynamoError error;
  error.error = StorageFailure(false, kStore, "DynamoDB answer: " + std::move(detail));
  return error;
}

/// An answer's Item / Attributes member, parsed (absent: an empty item).
DynamoResult<Item> ItemMember(const nlohmann::json& answer, const char* member) {
  const auto it = answer.find(member);
  if (it == answer.end()) return Item{};
  auto item = ItemFromJson(*it);
  if (!item) return tl::unexpected(Malformed(item.error().detail));
  return std::move(*item);
}

std::chrono::milliseconds Jitter(std::chrono::milliseconds cap) {
  thread_local std::mt19937 random(std::random_device{}());
  return std::chrono::milliseconds(
      std::uniform_int_distribution<std::int64_t>(0, cap.count())(random));
}

}  // namespace

TransactWriteItem TransactWriteItem::Put(std::string table, Item item, std::string condition) {
  TransactWriteItem action;
  action.kind = Kind::kPut;
  action.table = std::move(table);
  action.item = std::move(item);
  action.condition = std::move(condition);
  return action;
}

TransactWriteItem TransactWriteItem::Update(std::string table, Item key, std::string update,
                                            std::string condition) {
  TransactWriteItem action;
  action.kind = Kind::kUpdate;
  action.table = std::move(table);
  action.item = std::move(key);
  action.update = std::move(update);
  action.condition = std::move(condition);
  return action;
}

TransactWriteItem TransactWriteItem::Delete(std::string table, Item key, std::string condition) {
  TransactWriteItem action;
  action.kind = Kind::kDelete;
  action.table = std::move(table);
  action.item = std::move(key);
  action.condition = std::move(condition);
  return action;
}

TransactWriteItem TransactWriteItem::ConditionCheck(std::string table, Item key,
                                                    std::string condition) {
  TransactWriteItem action;
  action.kind = Kind::kConditionCheck;
  action.table = std::move(table);
  action.item = std::move(key);
  action.condition = std::move(condition);
  return action;
}

DynamoError ErrorFromResponse(const HttpResponse& response) {
  DynamoError error;
  error.aws = ParseAwsError(response);
  // The JSON body may say more than ParseAwsError keeps: which action of a transaction failed,
  // and the item a failed condition saw.
  const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    if (const auto reasons = body.find("CancellationReasons");
        reasons != body.end() && reasons->is_array()) {
      for (const auto& reason : *reasons) {
        CancellationReason parsed;
        if (reason.is_object()) {
          parsed.code = reason.value("Code", std::string());
          parsed.message = reason.value("Message", std::string());
          if (const auto item = reason.find("Item"); item != reason.end()) {
            if (auto old = ItemFromJson(*item)) parsed.item = std::move(*old);
          }
        }
        error.cancellation_reasons.push_back(std::move(parsed));
      }
    }
    if (const auto item = body.find("Item"); item != body.end()) {
      if (auto old = ItemFromJson(*item)) error.item = std::move(*old);
    }
  }
  std::string detail = "DynamoDB " + std::to_string(error.aws.status) + " " + error.aws.code +
                       ": " + error.aws.message;
  if (!error.aws.request_id.empty()) detail += " (request id " + error.aws.request_id + ")";
  if (IsClockSkew(error.aws)) {
    error.error = Error{ErrorCode::kUnavailable, "clock_skewed",
                        "The metadata store refused the request: this server's clock is too far "
                        "from the storage service's. Set the clock right (NTP).",
                        std::move(detail)};
  } else if (std::string refusal = CredentialsRefusal(error.aws); !refusal.empty()) {
    error.error = Error{ErrorCode::kInternal, "storage_error",
                        "The metadata store refused imgup's credentials.",
                        std::move(detail) + ": " + refusal};
  } else {
    error.error = StorageFailure(IsRetryable(error.aws), kStore, std::move(detail));
  }
  return error;
}

std::string NewClientRequestToken() {
  thread_local std::mt19937_64 random(std::random_device{}());
  std::array<char, 40> text{};
  const auto high = random();
  const auto low = random();
  std::snprintf(text.data(), text.size(), "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(high >> 32),
                static_cast<unsigned long long>((high >> 16) & 0xffff),
                static_cast<unsigned long long>(high & 0xffff),
                static_cast<unsigned long long>(low >> 48),
                static_cast<unsigned long long>(low & 0xffffffffffffull));
  return std::string(text.data());
}

DynamoClient::DynamoClient(AwsCaller& caller, ServiceEndpoint endpoint)
    : caller_(caller), endpoint_(std::move(endpoint)) {}

DynamoResult<nlohmann::json> DynamoClient::Call(std::string_view op, const nlohmann::json& body) {
  const std::string payload = body.dump();
  SignableRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                     {"X-Amz-Target", "DynamoDB_20120810." + std::string(op)}};
  request.body = payload;
  auto response = caller_.Call(endpoint_, std::move(request));
  if (!response) {
    DynamoError error;
    const bool transient = IsTransientTransportError(response.error());
    error.error =
        StorageFailure(transient, kStore,
                       "DynamoDB " + std::string(op) + ": " + response.error().slug + ": " +
                           response.error().message + " " + response.error().detail);
    return tl::unexpected(std::move(error));
  }
  if (response->status < 200 || response->status > 299) {
    DynamoError error = ErrorFromResponse(*response);
    error.error.detail = std::string(op) + ": " + error.error.detail;
    return tl::unexpected(std::move(error));
  }
  if (response->body.empty()) return nlohmann::json::object();
  auto answer = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object()) {
    return tl::unexpected(
        Malformed(std::string(op) + ": not a JSON object: " + response->body.substr(0, 200)));
  }
  return answer;
}

DynamoResult<void> DynamoClient::PutItem(const PutItemRequest& request) {
  nlohmann::json body = {{"TableName", request.table}, {"Item", ToJson(request.item)}};
  AddCondition(body, request.condition, request.return_old_on_condition_failure);
  AddExpressionParts(body, request.names, request.values);
  auto answer = Call("PutItem", body);
  if (!answer) return tl::unexpected(std::move(answer.error()));
  return {};
}

DynamoResult<std::optional<Item>> DynamoClient::GetItem(const GetItemRequest& request) {
  nlohmann::json body = {{"TableName", request.table},
                         {"Key", ToJson(request.key)},
                         {"ConsistentRead", request.consistent_read}};
  if (!request.projection.empty()) body["ProjectionExpression"] = request.projection;
  AddExpressionParts(body, request.names, {});
  auto answer = Call("GetItem", body);
  if (!answer) return tl::unexpected(std::move(answer.error()));
  if (!answer->contains("Item")) return std::optional<Item>();
  auto item = ItemMember(*answer, "Item");
  if (!item) return tl::unexpected(std::move(item.error()));
  return std::optional<Item>(std::move(*item));
}

DynamoResult<QueryPage> DynamoClient::Query(const QueryRequest& request) {
  nlohmann::json body = {{"TableName", request.table},
                         {"KeyConditionExpression", request.key_condition},
                         {"ScanIndexForward", request.scan_forward}};
  if (!request.index.empty()) body["IndexName"] = request.index;
  if (!request.filter.empty()) body["FilterExpression"] = request.filter;
  if (!request.projection.empty()) body["ProjectionExpression"] = request.projection;
  if (request.limit) body["Limit"] = *request.limit;
  if (request.consistent_read) body["ConsistentRead"] = true;
  if (request.exclusive_start_key) body["ExclusiveStartKey"] = ToJson(*request.exclusive_start_key);
  AddExpressionParts(body, request.names, request.values);
  auto answer = Call("Query", body);
  if (!answer) return tl::unexpected(std::move(answer.error()));
  QueryPage page;
  if (const auto items = answer->find("Items"); items != answer->end() && items->is_array()) {
    for (const auto& wire : *items) {
      auto item = ItemFromJson(wire);
      if (!item) return tl::unexpected(Malformed(item.error().detail));
      page.items.push_back(std::move(*item));
    }
  }
  if (answer->contains("LastEvaluatedKey")) {
    auto key = ItemMember(*answer, "LastEvaluatedKey");
    if (!key) return tl::unexpected(std::move(key.error()));
    page.last_evaluated_key = std::move(*key);
  }
  page.scanned_count = answer->value("ScannedCount", 0);
  return page;
}

DynamoResult<Item> DynamoClient::UpdateItem(const UpdateItemRequest& request) {
  nlohmann::json body = {{"TableName", request.table},
                         {"Key", ToJson(request.key)},
                         {"UpdateExpression", request.update}};
  AddCondition(body, request.condition, request.return_old_on_condition_failure);
  if (request.return_values != ReturnValues::kNone) {
    body["ReturnValues"] = ReturnValuesName(request.return_values);
  }
  AddExpressionParts(body, request.names, request.values);
  auto answer = Call("UpdateItem", body);
  if (!answer) return tl::unexpected(std::move(answer.error()));
  return ItemMember(*answer, "Attributes");
}

DynamoResult<Item> DynamoClient::DeleteItem(const DeleteItemRequest& request) {
  nlohmann::json body = {{"TableName", request.table}, {"Key", ToJson(request.key)}};
  AddCondition(body, request.condition, request.return_old_on_condition_failure);
  if (request.return_values != ReturnValues::kNone) {
    body["ReturnValues"] = ReturnValuesName(request.return_values);
  }
  AddExpressionParts(body, request.names, request.values);
  auto answer = Call("DeleteItem", body);
  if (!answer) return tl::unexpected(std::move(answer.error()));
  return ItemMember(*answer, "Attributes");
}

DynamoResult<void> DynamoClient::TransactWriteItems(const TransactWriteRequest& request) {
  nlohmann::json actions = nlohmann::json::array();
  for (const auto& action : request.items) {
    nlohmann::json wire = {{"TableName", action.table}};
    const char* kind = "Put";
    switch (action.kind) {
      case TransactWriteItem::Kind::kPut:
        wire["Item"] = ToJson(action.item);
        break;
      case TransactWriteItem::Kind::kUpdate:
        kind = "Update";
        wire["Key"] = ToJson(action.item);
        wire["UpdateExpression"] = action.update;
        break;
      case TransactWriteItem::Kind::kDelete:
        kind = "Delete";
        wire["Key"] = ToJson(action.item);
        break;
      case TransactWriteItem::Kind::kConditionCheck:
        kind = "ConditionCheck";
        wire["Key"] = ToJson(action.item);
        break;
    }
    AddCondition(wire, action.condition, action.return_old_on_condition_failure);
    AddExpressionParts(wire, action.names, action.values);
    actions.push_back({{kind, std::move(wire)}});
  }
  nlohmann::json body = {{"TransactItems", std::move(actions)}};
  if (!request.client_request_token.empty()) {
    body["ClientRequestToken"] = request.client_request_token;
  }
  auto answer = Call("TransactWriteItems", body);
  if (!answer) return tl::unexpected(std::move(answer.error()));
  return {};
}

DynamoResult<std::vector<Item>> DynamoClient::BatchGetItem(const BatchGetRequest& request) {
  std::vector<Item> found;
  for (std::size_t start = 0; start < request.keys.size(); start += kBatchGetMax) {
    const std::size_t end = std::min(request.keys.size(), start + kBatchGetMax);
    nlohmann::json keys = nlohmann::json::array();
    for (std::size_t i = start; i < end; ++i) keys.push_back(ToJson(request.keys[i]));
    for (int round = 0;; ++round) {
      nlohmann::json wanted = {{"Keys", std::move(keys)},
                               {"ConsistentRead", request.consistent_read}};
      if (!request.projection.empty()) wanted["ProjectionExpression"] = request.projection;
      if (!request.names.empty()) wanted["ExpressionAttributeNames"] = request.names;
      auto answer = Call("BatchGetItem", {{"RequestItems", {{request.table, std::move(wanted)}}}});
      if (!answer) return tl::unexpected(std::move(answer.error()));
      const auto responses = answer->find("Responses");
      if (responses != answer->end()) {
        if (const auto items = responses->find(request.table);
            items != responses->end() && items->is_array()) {
          for (const auto& wire : *items) {
            auto item = ItemFromJson(wire);
            if (!item) return tl::unexpected(Malformed(item.error().detail));
            found.push_back(std::move(*item));
          }
        }
      }
      // Keys DynamoDB did not get to (throttling, 16 MB per answer) come back to be asked again.
      keys = nlohmann::json::array();
      if (const auto unprocessed = answer->find("UnprocessedKeys"); unprocessed != answer->end()) {
        if (const auto table = unprocessed->find(request.table); table != unprocessed->end()) {
          keys = table->value("Keys", nlohmann::json::array());
        }
      }
      if (keys.empty()) break;
      if (round + 1 >= kUnprocessedRounds) {
        DynamoError error;
        error.error = StorageFailure(true, kStore, "BatchGetItem: keys still unprocessed");
        return tl::unexpected(std::move(error));
      }
      std::this_thread::sleep_for(Jitter(std::chrono::milliseconds(
          std::min<std::int64_t>(2000, std::int64_t{25} << std::min(round, 6)))));
    }
  }
  return found;
}

DynamoResult<void> DynamoClient::CreateTable(const TableSpec& spec) {
  std::vector<std::string> attributes;
  const auto note = [&attributes](const std::string& name) {
    if (!name.empty() && std::ranges::find(attributes, name) == attributes.end()) {
      attributes.push_back(name);
    }
  };
  const auto key_schema = [&note](const KeySchema& keys) {
    note(keys.partition_key);
    note(keys.sort_key);
    nlohmann::json schema = nlohmann::json::array();
    schema.push_back({{"AttributeName", keys.partition_key}, {"KeyType", "HASH"}});
    if (!keys.sort_key.empty()) {
      schema.push_back({{"AttributeName", keys.sort_key}, {"KeyType", "RANGE"}});
    }
    return schema;
  };
  nlohmann::json body = {{"TableName", spec.name},
                         {"KeySchema", key_schema(spec.keys)},
                         {"BillingMode", "PAY_PER_REQUEST"}};
  if (!spec.indexes.empty()) {
    nlohmann::json indexes = nlohmann::json::array();
    for (const auto& index : spec.indexes) {
      nlohmann::json projection = {{"ProjectionType", "KEYS_ONLY"}};
      if (!index.include.empty()) {
        projection = {{"ProjectionType", "INCLUDE"}, {"NonKeyAttributes", index.include}};
      }
      indexes.push_back({{"IndexName", index.name},
                         {"KeySchema", key_schema(index.keys)},
                         {"Projection", std::move(projection)}});
    }
    body["GlobalSecondaryIndexes"] = std::move(indexes);
  }
  nlohmann::json definitions = nlohmann::json::array();
  for (const auto& name : attributes) {
    definitions.push_back({{"AttributeName", name}, {"AttributeType", "S"}});
  }
  body["AttributeDefinitions"] = std::move(definitions);
  auto answer = Call("CreateTable", body);
  if (!answer) return tl::unexpected(std::move(answer.error()));
  return {};
}

DynamoResult<TableDescription> DynamoClient::DescribeTable(std::string_view name) {
  auto answer = Call("DescribeTable", {{"TableName", name}});
  if (!answer) return tl::unexpected(std::move(answer.error()));
  const nlohmann::json table = answer->value("Table", nlohmann::json::object());
  TableDescription description;
  description.status = table.value("TableStatus", std::string());
  for (const auto& index : table.value("GlobalSecondaryIndexes", nlohmann::json::array())) {
    if (index.value("IndexStatus", std::string("ACTIVE")) != "ACTIVE") {
      description.indexes_active = false;
    }
  }
  return description;
}

DynamoResult<void> DynamoClient::WaitForActive(std::string_view name,
                                               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto description = DescribeTable(name);
    if (!description) return tl::unexpected(std::move(description.error()));
    if (description->status == "ACTIVE" && description->indexes_active) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      DynamoError error;
      error.error = StorageFailure(true, kStore,
                                   "table " + std::string(name) + " is " + description->status +
                                       " after " + std::to_string(timeout.count()) + " ms");
      return tl::unexpected(std::move(error));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

DynamoResult<void> DynamoClient::EnableTimeToLive(std::string_view name,
                                                  std::string_view attribute) {
  auto answer =
      Call("UpdateTimeToLive",
           {{"TableName", name},
            {"TimeToLiveSpecification", {{"Enabled", true}, {"AttributeName", attribute}}}});
  if (!answer) return tl::unexpected(std::move(answer.error()));
  return {};
}

DynamoResult<void> DynamoClient::DeleteTable(std::string_view name) {
  auto answer = Call("DeleteTable", {{"TableName", name}});
  if (!answer) return tl::unexpected(std::move(answer.error()));
  return {};
}

}  // namespace imgup::aws
