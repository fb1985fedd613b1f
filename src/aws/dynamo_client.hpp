#pragma once
// A small DynamoDB client over the JSON protocol (X-Amz-Target: DynamoDB_20120810.<Op>,
// application/x-amz-json-1.0), signed, sent and retried by AwsCaller: the operations imgup's
// DynamoMetadataStore uses, and the table management its tests and `imgup init-aws` need.
//
// Requests are plain structs that mirror DynamoDB's own parameters; expressions are DynamoDB's
// expression language, with every attribute name and value passed through `names` ("#n") and
// `values` (":v"), so that reserved words ("status", "key", "owner") need no special care.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/dynamo_value.hpp"
#include "aws/http_client.hpp"
#include "base/error.hpp"

namespace imgup::aws {

using ExpressionNames = std::map<std::string, std::string>;  // "#s" -> "status"

/// One entry of a TransactionCanceledException's CancellationReasons, in request order.
struct CancellationReason {
  std::string code;  // "None", "ConditionalCheckFailed", "TransactionConflict", ...
  std::string message;
  std::optional<Item> item;  // the old item, when ReturnValuesOnConditionCheckFailure asked
};

/// A failed call: DynamoDB's answer when there was one, and the generic mapping of it.
struct DynamoError {
  AwsError aws;  // status 0 when no answer came (the transport failed)
  std::vector<CancellationReason> cancellation_reasons;
  std::optional<Item> item;  // ConditionalCheckFailedException with ALL_OLD: the item as it was
  /// What a caller with nothing more specific to say returns: kUnavailable
  /// "storage_unavailable" for what may pass (throttling, 5xx, no answer), else kInternal
  /// "storage_error"; DynamoDB's code and message in the detail.
  Error error;

  bool ConditionFailed() const { return aws.code == "ConditionalCheckFailedException"; }
  bool TransactionCanceled() const { return aws.code == "TransactionCanceledException"; }
};

template <class T>
using DynamoResult = tl::expected<T, DynamoError>;

/// ReturnValues of UpdateItem and DeleteItem.
enum class ReturnValues { kNone, kAllOld, kUpdatedOld, kAllNew, kUpdatedNew };

struct PutItemRequest {
  std::string table;
  Item item;
  std::string condition;  // ConditionExpression, "" for none
  ExpressionNames names;
  Item values;
  bool return_old_on_condition_failure = false;  // DynamoError::item
};

struct GetItemRequest {
  std::string table;
  Item key;
  bool consistent_read = true;
  std::string projection;  // ProjectionExpression, "" for the whole item
  ExpressionNames names;
};

struct QueryRequest {
  std::string table;
  std::string index;  // "" for the table itself
  std::string key_condition;
  std::string filter;      // FilterExpression, "" for none
  std::string projection;  // ProjectionExpression, "" for every attribute (or the index's)
  ExpressionNames names;
  Item values;
  bool scan_forward = true;      // false: descending sort key
  std::optional<int> limit;      // items evaluated (before the filter) per page
  bool consistent_read = false;  // not allowed on a GSI
  std::optional<Item> exclusive_start_key;
};

struct QueryPage {
  std::vector<Item> items;
  std::optional<Item> last_evaluated_key;  // set when the query has more pages
  int scanned_count = 0;                   // items read, before the filter
};

struct UpdateItemRequest {
  std::string table;
  Item key;
  std::string update;  // UpdateExpression
  std::string condition;
  ExpressionNames names;
  Item values;
  ReturnValues return_values = ReturnValues::kNone;
  bool return_old_on_condition_failure = false;
};

struct DeleteItemRequest {
  std::string table;
  Item key;
  std::string condition;
  ExpressionNames names;
  Item values;
  ReturnValues return_values = ReturnValues::kNone;  // kNone or kAllOld
  bool return_old_on_condition_failure = false;
};

/// One action of TransactWriteItems. Build with Put, Update, Delete or ConditionCheck.
struct TransactWriteItem {
  enum class Kind { kPut, kUpdate, kDelete, kConditionCheck };
  Kind kind = Kind::kPut;
  std::string table;
  Item item;           // kPut: the item; else the key
  std::string update;  // kUpdate
  std::string condition;
  ExpressionNames names;
  Item values;
  bool return_old_on_condition_failure = false;

  static TransactWriteItem Put(std::string table, Item item, std::string condition = {});
  static TransactWriteItem Update(std::string table, Item key, std::string update,
                                  std::string condition = {});
  static TransactWriteItem Delete(std::string table, Item key, std::string condition = {});
  static TransactWriteItem ConditionCheck(std::string table, Item key, std::string condition);
};

struct TransactWriteRequest {
  std::vector<TransactWriteItem> items;  // at most 100, no two on the same item
  /// Idempotency: a request repeated with the same token within 10 minutes succeeds without
  /// writing again (so that a retry after a lost answer is not a conflict with itself).
  std::string client_request_token;
};

struct BatchGetRequest {
  std::string table;
  std::vector<Item> keys;  // any number: sent 100 at a time
  bool consistent_read = true;
  std::string projection;
  ExpressionNames names;
};

// Table management (tests, `imgup init-aws`).

struct KeySchema {
  std::string partition_key;  // attribute names; every key attribute is an S
  std::string sort_key;       // "" for none
};

struct GlobalSecondaryIndex {
  std::string name;
  KeySchema keys;
  /// Projection: KEYS_ONLY when empty, else INCLUDE of these attributes.
  std::vector<std::string> include;
};

struct TableSpec {
  std::string name;
  KeySchema keys;
  std::vector<GlobalSecondaryIndex> indexes;
  std::string ttl_attribute;  // "" for none; enabled by EnableTimeToLive
};

struct TableDescription {
  std::string status;  // "CREATING", "ACTIVE", ...
  bool indexes_active = true;
};

class DynamoClient {
 public:
  /// `endpoint.service` should be "dynamodb".
  DynamoClient(AwsCaller& caller, ServiceEndpoint endpoint);

  DynamoResult<void> PutItem(const PutItemRequest& request);
  /// The item, or nullopt when there is none with that key.
  DynamoResult<std::optional<Item>> GetItem(const GetItemRequest& request);
  /// One page of a query.
  DynamoResult<QueryPage> Query(const QueryRequest& request);
  /// The attributes ReturnValues asked for (empty for kNone).
  DynamoResult<Item> UpdateItem(const UpdateItemRequest& request);
  DynamoResult<Item> DeleteItem(const DeleteItemRequest& request);
  /// All or nothing. On a failed condition or a conflict: TransactionCanceled(), with one
  /// cancellation reason per action.
  DynamoResult<void> TransactWriteItems(const TransactWriteRequest& request);
  /// The items found, in no particular order; keys with no item are left out. Unprocessed keys
  /// (throttling) are asked for again with backoff, a bounded number of times.
  DynamoResult<std::vector<Item>> BatchGetItem(const BatchGetRequest& request);

  /// Creates the table (on demand billing, every key attribute an S) and its indexes.
  /// DynamoDB's ResourceInUseException when it exists.
  DynamoResult<void> CreateTable(const TableSpec& spec);
  DynamoResult<TableDescription> DescribeTable(std::string_view name);
  /// Polls DescribeTable until the table and its indexes are ACTIVE.
  DynamoResult<void> WaitForActive(std::string_view name, std::chrono::milliseconds timeout);
  DynamoResult<void> EnableTimeToLive(std::string_view name, std::string_view attribute);
  DynamoResult<void> DeleteTable(std::string_view name);

  /// One call of operation `op` ("PutItem") with a JSON body; the parsed answer. Public for
  /// operations without a method here.
  DynamoResult<nlohmann::json> Call(std::string_view op, const nlohmann::json& body);

 private:
  AwsCaller& caller_;
  ServiceEndpoint endpoint_;
};

/// The DynamoError of an answer that is not 2xx (parsed body: __type, message,
/// CancellationReasons, Item).
DynamoError ErrorFromResponse(const HttpResponse& response);

/// A random token for TransactWriteRequest::client_request_token (36 characters).
std::string NewClientRequestToken();

}  // namespace imgup::aws
