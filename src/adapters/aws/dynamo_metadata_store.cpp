#include "adapters/aws/dynamo_metadata_store.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <random>
#include <thread>
#include <utility>

#include "adapters/aws/dynamo_tokens.hpp"
#include "domain/ref_token.hpp"

namespace imgup {

namespace {

using aws::AttributeValue;
using aws::DynamoError;
using aws::Item;
using aws::TransactWriteItem;

// Attribute names shared by every item, and the constant parts of the keys (docs/dynamodb.md).
constexpr const char* kPk = "PK";
constexpr const char* kSk = "SK";
constexpr const char* kImagePrefix = "IMAGE#";
// Every image sort key sorts below this one: '$' follows '#'.
constexpr const char* kImageEnd = "IMAGE$";
constexpr const char* kOwnersPk = "OWNERS";
constexpr const char* kApiKeysPk = "APIKEYS";
constexpr const char* kByType = "by_type";
constexpr const char* kByPhash = "by_phash";

// A Query page is asked for at most this many items (DynamoDB stops at 1 MB anyway).
constexpr std::size_t kMaxQueryLimit = 1000;
// A transaction writes at most 100 items: the record, its marker (or version check) and one
// entry per distinct tag, twice that in Update (old and new). The API allows 20 tags.
constexpr std::size_t kMaxDistinctTags = 49;

std::string OwnerPk(std::string_view owner) { return "OWNER#" + std::string(owner); }
std::string ImageSk(std::string_view id) { return kImagePrefix + std::string(id); }
std::string ShaSk(std::string_view sha256) { return "SHA256#" + std::string(sha256); }
std::string TagPk(std::string_view owner, std::string_view tag) {
  return "TAG#" + std::string(owner) + "#" + std::string(tag);
}
std::string TypePk(std::string_view owner, std::string_view content_type) {
  return std::string(owner) + "#" + std::string(content_type);
}

Item Key(std::string pk, std::string sk) {
  return Item{{kPk, AttributeValue::S(std::move(pk))}, {kSk, AttributeValue::S(std::move(sk))}};
}
Item RecordKey(std::string_view owner, std::string_view id) {
  return Key(OwnerPk(owner), ImageSk(id));
}
Item MarkerKey(std::string_view owner, std::string_view sha256) {
  return Key(OwnerPk(owner), ShaSk(sha256));
}
Item TagKey(std::string_view owner, std::string_view tag, std::string_view id) {
  return Key(TagPk(owner, tag), std::string(id));
}
Item KeyNameKey(std::string_view name) { return Key(kApiKeysPk, "NAME#" + std::string(name)); }
Item KeyHashKey(std::string_view sha256) { return Key("APIKEY#" + std::string(sha256), "APIKEY"); }

tl::unexpected<Error> Failed(const DynamoError& error) { return tl::unexpected(error.error); }

aws::GetItemRequest GetRequest(std::string table, Item key, bool consistent_read = true) {
  aws::GetItemRequest request;
  request.table = std::move(table);
  request.key = std::move(key);
  request.consistent_read = consistent_read;
  return request;
}

/// A query of the table (or of `index`) with its key condition, names and values.
aws::QueryRequest QueryRequest(std::string table, std::string key_condition,
                               aws::ExpressionNames names, Item values) {
  aws::QueryRequest request;
  request.table = std::move(table);
  request.key_condition = std::move(key_condition);
  request.names = std::move(names);
  request.values = std::move(values);
  return request;
}

aws::UpdateItemRequest UpdateRequest(std::string table, Item key, std::string condition,
                                     aws::ExpressionNames names, Item values) {
  aws::UpdateItemRequest request;
  request.table = std::move(table);
  request.key = std::move(key);
  request.condition = std::move(condition);
  request.names = std::move(names);
  request.values = std::move(values);
  return request;
}

tl::unexpected<Error> NotFound() {
  return Fail(ErrorCode::kNotFound, "not_found", "No image with this id.");
}

tl::unexpected<Error> NotProcessing() {
  return Fail(ErrorCode::kConflict, "not_processing",
              "The image is no longer being processed: it was completed already.");
}

tl::unexpected<Error> InvalidLimit() {
  return Fail(ErrorCode::kInvalidArgument, "invalid_limit", "limit is 0");
}

tl::unexpected<Error> TooManyTags() {
  return Fail(ErrorCode::kInvalidArgument, "too_many_tags",
              "A record may have at most " + std::to_string(kMaxDistinctTags) +
                  " distinct tags in this store.");
}

tl::unexpected<Error> KeptChanging(std::string_view what) {
  return tl::unexpected(StorageFailure(
      true, "metadata store", std::string(what) + " changed under every attempt to write it"));
}

/// Whether action `index` of a cancelled transaction failed its condition.
bool ConditionFailedAt(const DynamoError& error, std::size_t index) {
  return error.TransactionCanceled() && index < error.cancellation_reasons.size() &&
         error.cancellation_reasons[index].code == "ConditionalCheckFailed";
}

bool AnyConditionFailed(const DynamoError& error) {
  return std::ranges::any_of(error.cancellation_reasons, [](const aws::CancellationReason& r) {
    return r.code == "ConditionalCheckFailed";
  });
}

bool AnyConflict(const DynamoError& error) {
  return std::ranges::any_of(error.cancellation_reasons, [](const aws::CancellationReason& r) {
    return r.code == "TransactionConflict";
  });
}

std::chrono::milliseconds Backoff(int attempt) {
  thread_local std::mt19937 random(std::random_device{}());
  const std::int64_t cap = std::min<std::int64_t>(1000, std::int64_t{20} << std::min(attempt, 6));
  return std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, cap)(random));
}

/// The distinct tags of a record, in their first order (a record may repeat a tag; its tag
/// entries may not: a transaction writes each item once).
std::vector<std::string> DistinctTags(const std::vector<std::string>& tags) {
  std::vector<std::string> distinct;
  for (const auto& tag : tags) {
    if (std::ranges::find(distinct, tag) == distinct.end()) distinct.push_back(tag);
  }
  return distinct;
}

/// Collects the parts of an UpdateExpression with its names and values ("#u0", ":u0").
class UpdateBuilder {
 public:
  UpdateBuilder(aws::ExpressionNames& names, Item& values) : names_(names), values_(values) {}

  void Set(const std::string& attribute, AttributeValue value) {
    const std::string slot = std::to_string(count_++);
    names_["#u" + slot] = attribute;
    values_[":u" + slot] = std::move(value);
    set_.push_back("#u" + slot + " = :u" + slot);
  }
  void Remove(const std::string& attribute) {
    const std::string slot = std::to_string(count_++);
    names_["#u" + slot] = attribute;
    remove_.push_back("#u" + slot);
  }
  /// A string attribute that the store leaves out when it is empty.
  void SetOrRemove(const std::string& attribute, const std::string& text) {
    if (text.empty()) {
      Remove(attribute);
    } else {
      Set(attribute, AttributeValue::S(text));
    }
  }
  void SetOrRemove(const std::string& attribute, std::optional<AttributeValue> value) {
    if (value) {
      Set(attribute, std::move(*value));
    } else {
      Remove(attribute);
    }
  }

  std::string Expression() const {
    std::string expression;
    const auto append = [&expression](const char* verb, const std::vector<std::string>& parts) {
      if (parts.empty()) return;
      if (!expression.empty()) expression += " ";
      expression += verb;
      for (std::size_t i = 0; i < parts.size(); ++i) expression += (i ? ", " : " ") + parts[i];
    };
    append("SET", set_);
    append("REMOVE", remove_);
    return expression;
  }

 private:
  aws::ExpressionNames& names_;
  Item& values_;
  int count_ = 0;
  std::vector<std::string> set_;
  std::vector<std::string> remove_;
};

std::optional<AttributeValue> VariantsValue(const std::map<std::string, VariantInfo>& variants) {
  if (variants.empty()) return std::nullopt;
  AttributeValue::Map map;
  for (const auto& [name, v] : variants) {
    map.emplace(name, AttributeValue::M({{"width", AttributeValue::N(v.width)},
                                         {"height", AttributeValue::N(v.height)},
                                         {"size_bytes", AttributeValue::N(v.size_bytes)},
                                         {"content_type", AttributeValue::S(v.content_type)},
                                         {"key", AttributeValue::S(v.key)},
                                         {"sha256", AttributeValue::S(v.sha256)}}));
  }
  return AttributeValue::M(std::move(map));
}

std::optional<AttributeValue> InfoValue(const ImageInfo& info) {
  if (!info.Known()) return std::nullopt;
  return AttributeValue::M({{"bit_depth", AttributeValue::N(info.bit_depth)},
                            {"bands", AttributeValue::N(info.bands)},
                            {"has_alpha", AttributeValue::Bool(info.has_alpha)},
                            {"animated", AttributeValue::Bool(info.animated)},
                            {"frame_count", AttributeValue::N(info.frame_count)},
                            {"icc_profile", AttributeValue::S(info.icc_profile)}});
}

std::optional<AttributeValue> TagsValue(const std::vector<std::string>& tags) {
  if (tags.empty()) return std::nullopt;
  AttributeValue::List list;
  for (const auto& tag : tags) list.push_back(AttributeValue::S(tag));
  return AttributeValue::L(std::move(list));
}

/// The fields SaveDerived owns, as an update of the record's item (empty ones removed).
void DerivedUpdate(const ImageRecord& r, UpdateBuilder& update) {
  update.Set("status", AttributeValue::S(ToString(r.status)));
  update.Set("key", AttributeValue::S(r.key));
  update.Set("width", AttributeValue::N(r.width));
  update.Set("height", AttributeValue::N(r.height));
  update.Set("format", AttributeValue::S(r.format));
  update.SetOrRemove("failure_reason", r.failure_reason);
  update.SetOrRemove("variants", VariantsValue(r.variants));
  update.SetOrRemove("exif_json", r.exif_json);
  update.SetOrRemove("placeholder", r.placeholder);
  update.SetOrRemove("dominant_color", r.dominant_color);
  update.SetOrRemove("phash", r.phash);
  // The sparse index of near-duplicate search holds the records with a hash.
  update.SetOrRemove("phash_pk", r.phash.empty() ? std::string() : r.owner);
  update.SetOrRemove("info", InfoValue(r.info));
}

Item RecordItem(const ImageRecord& r) {
  Item item = RecordKey(r.owner, r.id);
  const auto put = [&item](const char* name, AttributeValue value) {
    item.insert_or_assign(name, std::move(value));
  };
  const auto put_text = [&put](const char* name, const std::string& text) {
    if (!text.empty()) put(name, AttributeValue::S(text));
  };
  put("kind", AttributeValue::S("image"));
  put("id", AttributeValue::S(r.id));
  put("owner", AttributeValue::S(r.owner));
  put("filename", AttributeValue::S(r.filename));
  put("content_type", AttributeValue::S(r.content_type));
  put("format", AttributeValue::S(r.format));
  put("uploaded_at_ms", AttributeValue::N(std::int64_t{r.uploaded_at_ms}));
  put("key", AttributeValue::S(r.key));
  put("size_bytes", AttributeValue::N(r.size_bytes));
  put("width", AttributeValue::N(r.width));
  put("height", AttributeValue::N(r.height));
  put("sha256", AttributeValue::S(r.sha256));
  put("status", AttributeValue::S(ToString(r.status)));
  put_text("failure_reason", r.failure_reason);
  if (auto variants = VariantsValue(r.variants)) put("variants", std::move(*variants));
  put_text("exif_json", r.exif_json);
  put_text("placeholder", r.placeholder);
  put_text("dominant_color", r.dominant_color);
  put_text("phash", r.phash);
  if (!r.phash.empty()) put("phash_pk", AttributeValue::S(r.owner));
  if (auto info = InfoValue(r.info)) put("info", std::move(*info));
  if (auto tags = TagsValue(r.tags)) put("tags", std::move(*tags));
  put_text("description", r.description);
  put("version", AttributeValue::N(std::int64_t{0}));
  put("type_pk", AttributeValue::S(TypePk(r.owner, r.content_type)));
  return item;
}

Item TagEntry(const ImageRecord& r, const std::string& tag) {
  Item item = TagKey(r.owner, tag, r.id);
  item.emplace("kind", AttributeValue::S("tag"));
  item.emplace("content_type", AttributeValue::S(r.content_type));
  item.emplace("uploaded_at_ms", AttributeValue::N(std::int64_t{r.uploaded_at_ms}));
  return item;
}

tl::unexpected<Error> Corrupt(std::string detail) {
  return tl::unexpected(StorageFailure(false, "metadata store", std::move(detail)));
}

Result<std::uint32_t> ToUint32(std::uint64_t value, std::string_view name) {
  if (value > 0xffffffffu) return Corrupt(std::string(name) + " out of range");
  return static_cast<std::uint32_t>(value);
}

Result<std::string> TextOrEmpty(const Item& item, std::string_view name) {
  IMGUP_ASSIGN_OR_RETURN(auto text, aws::OptionalString(item, name));
  return text.value_or(std::string());
}

Result<VariantInfo> VariantFromValue(const AttributeValue& value) {
  const AttributeValue::Map* map = value.AsMap();
  if (!map) return Corrupt("a variant is not a map");
  VariantInfo v;
  IMGUP_ASSIGN_OR_RETURN(const auto width, aws::RequiredUint64(*map, "width"));
  IMGUP_ASSIGN_OR_RETURN(v.width, ToUint32(width, "variant width"));
  IMGUP_ASSIGN_OR_RETURN(const auto height, aws::RequiredUint64(*map, "height"));
  IMGUP_ASSIGN_OR_RETURN(v.height, ToUint32(height, "variant height"));
  IMGUP_ASSIGN_OR_RETURN(v.size_bytes, aws::RequiredUint64(*map, "size_bytes"));
  IMGUP_ASSIGN_OR_RETURN(v.content_type, aws::RequiredString(*map, "content_type"));
  IMGUP_ASSIGN_OR_RETURN(v.key, TextOrEmpty(*map, "key"));
  IMGUP_ASSIGN_OR_RETURN(v.sha256, TextOrEmpty(*map, "sha256"));
  return v;
}

Result<ImageInfo> InfoFromValue(const AttributeValue& value) {
  const AttributeValue::Map* map = value.AsMap();
  if (!map) return Corrupt("info is not a map");
  ImageInfo info;
  IMGUP_ASSIGN_OR_RETURN(const auto bit_depth, aws::RequiredUint64(*map, "bit_depth"));
  IMGUP_ASSIGN_OR_RETURN(info.bit_depth, ToUint32(bit_depth, "bit_depth"));
  IMGUP_ASSIGN_OR_RETURN(const auto bands, aws::RequiredUint64(*map, "bands"));
  IMGUP_ASSIGN_OR_RETURN(info.bands, ToUint32(bands, "bands"));
  IMGUP_ASSIGN_OR_RETURN(const auto frames, aws::RequiredUint64(*map, "frame_count"));
  IMGUP_ASSIGN_OR_RETURN(info.frame_count, ToUint32(frames, "frame_count"));
  IMGUP_ASSIGN_OR_RETURN(info.icc_profile, TextOrEmpty(*map, "icc_profile"));
  const auto flag = [map](const char* name) -> Result<bool> {
    const auto it = map->find(name);
    if (it == map->end() || !it->second.AsBool()) return Corrupt(std::string(name) + " not BOOL");
    return *it->second.AsBool();
  };
  IMGUP_ASSIGN_OR_RETURN(info.has_alpha, flag("has_alpha"));
  IMGUP_ASSIGN_OR_RETURN(info.animated, flag("animated"));
  return info;
}

Result<ImageRecord> RecordFromItem(const Item& item) {
  ImageRecord r;
  IMGUP_ASSIGN_OR_RETURN(r.id, aws::RequiredString(item, "id"));
  IMGUP_ASSIGN_OR_RETURN(r.owner, aws::RequiredString(item, "owner"));
  IMGUP_ASSIGN_OR_RETURN(r.filename, aws::RequiredString(item, "filename"));
  IMGUP_ASSIGN_OR_RETURN(r.content_type, aws::RequiredString(item, "content_type"));
  IMGUP_ASSIGN_OR_RETURN(r.format, aws::RequiredString(item, "format"));
  IMGUP_ASSIGN_OR_RETURN(r.uploaded_at_ms, aws::RequiredInt64(item, "uploaded_at_ms"));
  IMGUP_ASSIGN_OR_RETURN(r.key, aws::RequiredString(item, "key"));
  IMGUP_ASSIGN_OR_RETURN(r.size_bytes, aws::RequiredUint64(item, "size_bytes"));
  IMGUP_ASSIGN_OR_RETURN(const auto width, aws::RequiredUint64(item, "width"));
  IMGUP_ASSIGN_OR_RETURN(r.width, ToUint32(width, "width"));
  IMGUP_ASSIGN_OR_RETURN(const auto height, aws::RequiredUint64(item, "height"));
  IMGUP_ASSIGN_OR_RETURN(r.height, ToUint32(height, "height"));
  IMGUP_ASSIGN_OR_RETURN(r.sha256, aws::RequiredString(item, "sha256"));
  IMGUP_ASSIGN_OR_RETURN(const std::string status, aws::RequiredString(item, "status"));
  const auto parsed_status = ParseImageStatus(status);
  if (!parsed_status) return Corrupt("image " + r.id + ": unknown status " + status);
  r.status = *parsed_status;
  IMGUP_ASSIGN_OR_RETURN(r.failure_reason, TextOrEmpty(item, "failure_reason"));
  IMGUP_ASSIGN_OR_RETURN(r.exif_json, TextOrEmpty(item, "exif_json"));
  IMGUP_ASSIGN_OR_RETURN(r.placeholder, TextOrEmpty(item, "placeholder"));
  IMGUP_ASSIGN_OR_RETURN(r.dominant_color, TextOrEmpty(item, "dominant_color"));
  IMGUP_ASSIGN_OR_RETURN(r.phash, TextOrEmpty(item, "phash"));
  IMGUP_ASSIGN_OR_RETURN(r.description, TextOrEmpty(item, "description"));
  if (const auto it = item.find("variants"); it != item.end()) {
    const AttributeValue::Map* variants = it->second.AsMap();
    if (!variants) return Corrupt("image " + r.id + ": variants is not a map");
    for (const auto& [name, value] : *variants) {
      IMGUP_ASSIGN_OR_RETURN(auto variant, VariantFromValue(value));
      r.variants.emplace(name, std::move(variant));
    }
  }
  if (const auto it = item.find("info"); it != item.end()) {
    IMGUP_ASSIGN_OR_RETURN(r.info, InfoFromValue(it->second));
  }
  if (const auto it = item.find("tags"); it != item.end()) {
    const AttributeValue::List* tags = it->second.AsList();
    if (!tags) return Corrupt("image " + r.id + ": tags is not a list");
    for (const auto& tag : *tags) {
      if (!tag.AsString()) return Corrupt("image " + r.id + ": a tag is not an S");
      r.tags.push_back(*tag.AsString());
    }
  }
  return r;
}

Result<std::int64_t> VersionOf(const Item& item) {
  const auto it = item.find("version");
  if (it == item.end()) return 0;
  if (auto version = it->second.AsInt64()) return *version;
  return Corrupt("version is not a whole N");
}

/// The name items of the API keys, in name order.
aws::QueryRequest KeysQuery(std::string table) {
  aws::QueryRequest request = QueryRequest(
      std::move(table), "#pk = :pk AND begins_with(#sk, :name)", {{"#pk", kPk}, {"#sk", kSk}},
      {{":pk", AttributeValue::S(kApiKeysPk)}, {":name", AttributeValue::S("NAME#")}});
  request.consistent_read = true;
  return request;
}

/// A Query walked page by page from where the last page stopped.
class QueryWalk {
 public:
  QueryWalk(aws::DynamoClient& client, aws::QueryRequest request)
      : client_(client), request_(std::move(request)) {}

  bool done() const { return done_; }

  /// The next page, asking DynamoDB to evaluate about `want` items (more when a filter will drop
  /// some: a filter does not lower what is read, but fewer round trips do).
  Result<std::vector<Item>> Next(std::size_t want) {
    std::size_t limit = std::max<std::size_t>(want, 1);
    if (!request_.filter.empty()) limit = std::max<std::size_t>(limit * 4, 100);
    request_.limit = static_cast<int>(std::min(limit, kMaxQueryLimit));
    request_.exclusive_start_key = std::move(start_);
    auto page = client_.Query(request_);
    if (!page) return Failed(page.error());
    start_ = std::move(page->last_evaluated_key);
    done_ = !start_;
    return std::move(page->items);
  }

 private:
  aws::DynamoClient& client_;
  aws::QueryRequest request_;
  std::optional<Item> start_;
  bool done_ = false;
};

}  // namespace

// ---- construction ---------------------------------------------------------------------------

aws::TableSpec DynamoMetadataStore::TableSpec(std::string table) {
  aws::TableSpec spec;
  spec.name = std::move(table);
  spec.keys = {kPk, kSk};
  spec.indexes = {{kByType, {"type_pk", "id"}, {"uploaded_at_ms"}},
                  {kByPhash, {"phash_pk", "id"}, {"phash"}}};
  spec.ttl_attribute = "expires_at";
  return spec;
}

Result<std::unique_ptr<DynamoMetadataStore>> DynamoMetadataStore::Make(aws::DynamoClient& client,
                                                                       Options options) {
  if (options.table.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_table", "The DynamoDB table has no name.");
  }
  if (options.token_secret.size() < 16) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_token_secret",
                "The token secret must hold at least 16 bytes.");
  }
  options.max_transaction_attempts = std::max(1, options.max_transaction_attempts);
  return std::unique_ptr<DynamoMetadataStore>(new DynamoMetadataStore(client, std::move(options)));
}

DynamoMetadataStore::DynamoMetadataStore(aws::DynamoClient& client, Options options)
    : client_(client), options_(std::move(options)) {}

// ---- helpers --------------------------------------------------------------------------------

Result<void> DynamoMetadataStore::EnsureOwnerListed(std::string_view owner) {
  {
    std::lock_guard<std::mutex> lock(owners_mutex_);
    if (listed_owners_.contains(owner)) return {};
  }
  // Read first: an owner is listed once and read by every later process (a read costs half a
  // write, eventually consistent). Two processes may both put it: the same item twice.
  auto listed = client_.GetItem(
      GetRequest(options_.table, Key(kOwnersPk, std::string(owner)), /*consistent_read=*/false));
  if (!listed) return Failed(listed.error());
  if (!*listed) {
    Item item = Key(kOwnersPk, std::string(owner));
    item.emplace("kind", AttributeValue::S("owner"));
    aws::PutItemRequest request;
    request.table = options_.table;
    request.item = std::move(item);
    auto put = client_.PutItem(request);
    if (!put) return Failed(put.error());
  }
  std::lock_guard<std::mutex> lock(owners_mutex_);
  listed_owners_.emplace(owner);
  return {};
}

aws::DynamoResult<void> DynamoMetadataStore::Transact(std::vector<TransactWriteItem> items) {
  aws::TransactWriteRequest request{std::move(items), {}};
  for (int attempt = 1;; ++attempt) {
    // A new token per attempt: the token makes AwsCaller's resending of this very request
    // idempotent, while an attempt after a cancellation must run again.
    request.client_request_token = aws::NewClientRequestToken();
    auto done = client_.TransactWriteItems(request);
    if (done || !done.error().TransactionCanceled() || AnyConditionFailed(done.error()) ||
        !AnyConflict(done.error())) {
      return done;
    }
    if (attempt >= options_.max_transaction_attempts) {
      // Still contended: trying again later may pass.
      done.error().error = StorageFailure(true, "metadata store",
                                          "transaction conflicted " + std::to_string(attempt) +
                                              " times: " + done.error().error.detail);
      return done;
    }
    std::this_thread::sleep_for(Backoff(attempt));
  }
}

Result<std::optional<Item>> DynamoMetadataStore::GetRecordItem(std::string_view owner,
                                                               std::string_view id) {
  auto item = client_.GetItem(GetRequest(options_.table, RecordKey(owner, id)));
  if (!item) return Failed(item.error());
  return std::move(*item);
}

Result<std::vector<ImageRecord>> DynamoMetadataStore::FetchRecords(
    std::string_view owner, const std::vector<std::string>& ids) {
  if (ids.empty()) return std::vector<ImageRecord>{};
  aws::BatchGetRequest request;
  request.table = options_.table;
  for (const auto& id : ids) request.keys.push_back(RecordKey(owner, id));
  auto items = client_.BatchGetItem(request);
  if (!items) return Failed(items.error());
  std::map<std::string, ImageRecord, std::less<>> by_id;
  for (const auto& item : *items) {
    IMGUP_ASSIGN_OR_RETURN(auto record, RecordFromItem(item));
    std::string id = record.id;
    by_id.emplace(std::move(id), std::move(record));
  }
  std::vector<ImageRecord> records;
  for (const auto& id : ids) {
    if (auto it = by_id.find(id); it != by_id.end()) records.push_back(std::move(it->second));
  }
  return records;
}

// ---- MetadataStore --------------------------------------------------------------------------

Result<void> DynamoMetadataStore::Insert(const ImageRecord& record) {
  if (record.owner.empty() || record.owner.find('#') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_owner",
                "An owner name may not be empty or hold '#'.");
  }
  if (DistinctTags(record.tags).size() > kMaxDistinctTags) return TooManyTags();
  IMGUP_RETURN_IF_ERROR(EnsureOwnerListed(record.owner));

  std::vector<TransactWriteItem> actions;
  actions.push_back(
      TransactWriteItem::Put(options_.table, RecordItem(record), "attribute_not_exists(#pk)"));
  actions.back().names = {{"#pk", kPk}};
  Item marker = MarkerKey(record.owner, record.sha256);
  marker.emplace("kind", AttributeValue::S("sha256"));
  marker.emplace("image_id", AttributeValue::S(record.id));
  actions.push_back(
      TransactWriteItem::Put(options_.table, std::move(marker), "attribute_not_exists(#pk)"));
  actions.back().names = {{"#pk", kPk}};
  for (const auto& tag : DistinctTags(record.tags)) {
    actions.push_back(TransactWriteItem::Put(options_.table, TagEntry(record, tag)));
  }

  auto done = Transact(std::move(actions));
  if (done) return {};
  if (ConditionFailedAt(done.error(), 0)) {
    return Fail(ErrorCode::kConflict, "duplicate_id", "An image with this id already exists.");
  }
  if (ConditionFailedAt(done.error(), 1)) {
    return Fail(ErrorCode::kConflict, "duplicate_content", "This image was already uploaded.");
  }
  return Failed(done.error());
}

Result<ImageRecord> DynamoMetadataStore::Get(std::string_view owner, std::string_view id) {
  IMGUP_ASSIGN_OR_RETURN(auto item, GetRecordItem(owner, id));
  if (!item) return NotFound();
  return RecordFromItem(*item);
}

Result<ImageRecord> DynamoMetadataStore::FindBySha256(std::string_view owner,
                                                      std::string_view sha256) {
  const auto not_found = [] {
    return Fail(ErrorCode::kNotFound, "not_found", "No image with this content.");
  };
  auto marker = client_.GetItem(GetRequest(options_.table, MarkerKey(owner, sha256)));
  if (!marker) return Failed(marker.error());
  if (!*marker) return not_found();
  IMGUP_ASSIGN_OR_RETURN(const std::string id, aws::RequiredString(**marker, "image_id"));
  // Removed since the marker was read (both go in one transaction): no record has the bytes.
  IMGUP_ASSIGN_OR_RETURN(auto item, GetRecordItem(owner, id));
  if (!item) return not_found();
  return RecordFromItem(*item);
}

Result<ImagePage> DynamoMetadataStore::List(std::string_view owner, const ListQuery& query) {
  const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, 100);
  enum class Source { kRecords, kTagEntries, kTypeIndex };
  const Source source = query.tag ? Source::kTagEntries
                                  : (query.content_type ? Source::kTypeIndex : Source::kRecords);

  aws::QueryRequest request = QueryRequest(options_.table, "", {}, {});
  request.scan_forward = false;
  std::vector<std::string> filters;
  if (query.from_ms) {
    filters.emplace_back("#up >= :from");
    request.values[":from"] = AttributeValue::N(std::int64_t{*query.from_ms});
  }
  if (query.to_ms) {
    filters.emplace_back("#up < :to");
    request.values[":to"] = AttributeValue::N(std::int64_t{*query.to_ms});
  }
  if (!filters.empty()) request.names["#up"] = "uploaded_at_ms";
  switch (source) {
    case Source::kTagEntries:
      // The tag's own partition, newest first; the other filters apply to the entries.
      request.key_condition = "#pk = :pk";
      request.names["#pk"] = kPk;
      request.names["#sk"] = kSk;
      request.values[":pk"] = AttributeValue::S(TagPk(owner, *query.tag));
      if (query.before_id) {
        request.key_condition += " AND #sk < :before";
        request.values[":before"] = AttributeValue::S(*query.before_id);
      }
      if (query.content_type) {
        filters.emplace_back("#ct = :ct");
        request.names["#ct"] = "content_type";
        request.values[":ct"] = AttributeValue::S(*query.content_type);
      }
      request.projection = "#sk";
      request.consistent_read = true;
      break;
    case Source::kTypeIndex:
      request.index = kByType;
      request.key_condition = "#tp = :tp";
      request.names["#tp"] = "type_pk";
      request.names["#id"] = "id";
      request.values[":tp"] = AttributeValue::S(TypePk(owner, *query.content_type));
      if (query.before_id) {
        request.key_condition += " AND #id < :before";
        request.values[":before"] = AttributeValue::S(*query.before_id);
      }
      request.projection = "#id";
      break;
    case Source::kRecords:
      // BETWEEN is inclusive: the bound itself (an existing id) is skipped below.
      request.key_condition = "#pk = :pk AND #sk BETWEEN :lo AND :hi";
      request.names["#pk"] = kPk;
      request.names["#sk"] = kSk;
      request.values[":pk"] = AttributeValue::S(OwnerPk(owner));
      request.values[":lo"] = AttributeValue::S(kImagePrefix);
      request.values[":hi"] =
          AttributeValue::S(query.before_id ? ImageSk(*query.before_id) : kImageEnd);
      request.consistent_read = true;
      break;
  }
  for (std::size_t i = 0; i < filters.size(); ++i) {
    request.filter += (i ? " AND " : "") + filters[i];
  }
  QueryWalk walk(client_, std::move(request));

  ImagePage page;
  bool more = false;
  if (source == Source::kRecords) {
    // One more than a page says whether another follows.
    while (page.items.size() <= limit && !walk.done()) {
      // The bound itself may come first: one more.
      IMGUP_ASSIGN_OR_RETURN(auto items,
                             walk.Next(limit + 1 - page.items.size() + (query.before_id ? 1 : 0)));
      for (const auto& item : items) {
        IMGUP_ASSIGN_OR_RETURN(auto record, RecordFromItem(item));
        if (query.before_id && record.id == *query.before_id) continue;
        page.items.push_back(std::move(record));
      }
    }
    more = page.items.size() > limit;
    if (more) page.items.resize(limit);
  } else {
    // Ids from the index, newest first; the records of a page by BatchGetItem. An id whose
    // record is gone (removed since, or a GSI entry not yet removed) is skipped, and the page
    // filled from the next ids.
    std::deque<std::string> ids;
    for (;;) {
      const std::size_t need = limit - page.items.size();
      while (ids.size() <= need && !walk.done()) {
        IMGUP_ASSIGN_OR_RETURN(auto items, walk.Next(need + 1 - ids.size()));
        for (const auto& item : items) {
          IMGUP_ASSIGN_OR_RETURN(
              auto id, aws::RequiredString(item, source == Source::kTagEntries ? kSk : "id"));
          ids.push_back(std::move(id));
        }
      }
      const std::size_t take = std::min(need, ids.size());
      std::vector<std::string> wanted(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(take));
      ids.erase(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(take));
      IMGUP_ASSIGN_OR_RETURN(auto records, FetchRecords(owner, wanted));
      for (auto& record : records) {
        // A tag removed between the entry's read and the record's: not a match any more.
        if (query.tag && std::ranges::find(record.tags, *query.tag) == record.tags.end()) continue;
        page.items.push_back(std::move(record));
      }
      if (page.items.size() == limit) {
        more = !ids.empty() || !walk.done();
        break;
      }
      if (ids.empty() && walk.done()) break;
    }
  }
  if (more) page.next_before_id = page.items.back().id;
  return page;
}

Result<ImageRecord> DynamoMetadataStore::Update(std::string_view owner, std::string_view id,
                                                const ImagePatch& patch) {
  if (!patch.tags) {
    if (!patch.description) return Get(owner, id);
    // The description alone: one conditional update, no tag entry to keep in step.
    aws::UpdateItemRequest request = UpdateRequest(options_.table, RecordKey(owner, id),
                                                   "attribute_exists(#pk)", {{"#pk", kPk}}, {});
    request.return_values = aws::ReturnValues::kAllNew;
    UpdateBuilder update(request.names, request.values);
    update.SetOrRemove("description", *patch.description);
    request.update = update.Expression();
    auto updated = client_.UpdateItem(request);
    if (!updated) {
      if (updated.error().ConditionFailed()) return NotFound();
      return Failed(updated.error());
    }
    return RecordFromItem(*updated);
  }

  // New tags: the record and its tag entries change in one transaction, on the condition that
  // the record's tags are still the ones read (its version), else read again.
  if (DistinctTags(*patch.tags).size() > kMaxDistinctTags) return TooManyTags();
  for (int attempt = 1; attempt <= options_.max_transaction_attempts; ++attempt) {
    IMGUP_ASSIGN_OR_RETURN(auto item, GetRecordItem(owner, id));
    if (!item) return NotFound();
    IMGUP_ASSIGN_OR_RETURN(ImageRecord record, RecordFromItem(*item));
    IMGUP_ASSIGN_OR_RETURN(const std::int64_t version, VersionOf(*item));
    const std::vector<std::string> old_tags = DistinctTags(record.tags);
    record.tags = *patch.tags;
    if (patch.description) record.description = *patch.description;
    const std::vector<std::string> new_tags = DistinctTags(record.tags);

    std::vector<TransactWriteItem> actions;
    TransactWriteItem change =
        TransactWriteItem::Update(options_.table, RecordKey(owner, id), "", "#v = :v");
    change.names = {{"#v", "version"}};
    change.values = {{":v", AttributeValue::N(std::int64_t{version})}};
    UpdateBuilder update(change.names, change.values);
    update.SetOrRemove("tags", TagsValue(record.tags));
    if (patch.description) update.SetOrRemove("description", record.description);
    update.Set("version", AttributeValue::N(std::int64_t{version + 1}));
    change.update = update.Expression();
    actions.push_back(std::move(change));
    for (const auto& tag : old_tags) {
      if (std::ranges::find(new_tags, tag) == new_tags.end()) {
        actions.push_back(TransactWriteItem::Delete(options_.table, TagKey(owner, tag, id)));
      }
    }
    for (const auto& tag : new_tags) {
      if (std::ranges::find(old_tags, tag) == old_tags.end()) {
        actions.push_back(TransactWriteItem::Put(options_.table, TagEntry(record, tag)));
      }
    }
    auto done = Transact(std::move(actions));
    if (done) return record;
    if (!ConditionFailedAt(done.error(), 0)) return Failed(done.error());
  }
  return KeptChanging("the image's tags");
}

Result<void> DynamoMetadataStore::SaveDerived(const ImageRecord& record) {
  aws::UpdateItemRequest request = UpdateRequest(
      options_.table, RecordKey(record.owner, record.id),
      "attribute_exists(#pk) AND #status = :processing", {{"#pk", kPk}, {"#status", "status"}},
      {{":processing", AttributeValue::S(ToString(ImageStatus::kProcessing))}});
  request.return_old_on_condition_failure = true;
  UpdateBuilder update(request.names, request.values);
  DerivedUpdate(record, update);
  request.update = update.Expression();
  auto updated = client_.UpdateItem(request);
  if (updated) return {};
  if (!updated.error().ConditionFailed()) return Failed(updated.error());
  // The old item, when DynamoDB returned it, says which half of the condition failed; else
  // read it (the condition itself was checked atomically by the update).
  if (updated.error().item) return NotProcessing();
  IMGUP_ASSIGN_OR_RETURN(auto item, GetRecordItem(record.owner, record.id));
  if (!item) return NotFound();
  return NotProcessing();
}

Result<std::uint32_t> DynamoMetadataStore::AdjustAttempts(std::string_view owner,
                                                          std::string_view id, int delta) {
  const auto processing = AttributeValue::S(ToString(ImageStatus::kProcessing));
  if (delta >= 0) {
    aws::UpdateItemRequest request = UpdateRequest(
        options_.table, RecordKey(owner, id), "attribute_exists(#pk) AND #status = :processing",
        {{"#a", "attempts"}, {"#pk", kPk}, {"#status", "status"}},
        {{":zero", AttributeValue::N(std::int64_t{0})},
         {":delta", AttributeValue::N(std::int64_t{delta})},
         {":processing", processing}});
    request.update = "SET #a = if_not_exists(#a, :zero) + :delta";
    request.return_values = aws::ReturnValues::kUpdatedNew;
    auto updated = client_.UpdateItem(request);
    if (!updated) {
      if (updated.error().ConditionFailed()) return NotFound();
      return Failed(updated.error());
    }
    IMGUP_ASSIGN_OR_RETURN(const auto attempts, aws::RequiredUint64(*updated, "attempts"));
    return ToUint32(attempts, "attempts");
  }
  // Never below 0, which an update expression cannot say: compare and set.
  for (int attempt = 1; attempt <= 10; ++attempt) {
    IMGUP_ASSIGN_OR_RETURN(auto item, GetRecordItem(owner, id));
    if (!item) return NotFound();
    IMGUP_ASSIGN_OR_RETURN(const std::string status, aws::RequiredString(*item, "status"));
    if (status != *processing.AsString()) return NotFound();
    IMGUP_ASSIGN_OR_RETURN(const auto old, aws::OptionalUint64(*item, "attempts"));
    const std::uint64_t current = old.value_or(0);
    const auto decrease = static_cast<std::uint64_t>(-static_cast<std::int64_t>(delta));
    const std::uint64_t next = current > decrease ? current - decrease : 0;
    aws::UpdateItemRequest request =
        UpdateRequest(options_.table, RecordKey(owner, id), "#status = :processing AND ",
                      {{"#a", "attempts"}, {"#status", "status"}},
                      {{":next", AttributeValue::N(next)}, {":processing", processing}});
    request.update = "SET #a = :next";
    if (old) {
      request.condition += "#a = :old";
      request.values[":old"] = AttributeValue::N(current);
    } else {
      request.condition += "attribute_not_exists(#a)";
    }
    auto updated = client_.UpdateItem(request);
    if (updated) return ToUint32(next, "attempts");
    if (!updated.error().ConditionFailed()) return Failed(updated.error());
  }
  return KeptChanging("the image's attempt count");
}

Result<void> DynamoMetadataStore::Remove(std::string_view owner, std::string_view id) {
  for (int attempt = 1; attempt <= options_.max_transaction_attempts; ++attempt) {
    IMGUP_ASSIGN_OR_RETURN(auto item, GetRecordItem(owner, id));
    if (!item) return NotFound();
    IMGUP_ASSIGN_OR_RETURN(const ImageRecord record, RecordFromItem(*item));
    IMGUP_ASSIGN_OR_RETURN(const std::int64_t version, VersionOf(*item));

    std::vector<TransactWriteItem> actions;
    // The record as read: a change of its tags since then means other tag entries to delete.
    actions.push_back(TransactWriteItem::Delete(options_.table, RecordKey(owner, id), "#v = :v"));
    actions.back().names = {{"#v", "version"}};
    actions.back().values = {{":v", AttributeValue::N(std::int64_t{version})}};
    // The record's claim on its bytes goes with it; never another record's claim.
    actions.push_back(TransactWriteItem::Delete(options_.table, MarkerKey(owner, record.sha256),
                                                "attribute_not_exists(#pk) OR #img = :id"));
    actions.back().names = {{"#pk", kPk}, {"#img", "image_id"}};
    actions.back().values = {{":id", AttributeValue::S(std::string(id))}};
    for (const auto& tag : DistinctTags(record.tags)) {
      actions.push_back(TransactWriteItem::Delete(options_.table, TagKey(owner, tag, id)));
    }
    auto done = Transact(std::move(actions));
    if (done) return {};
    if (ConditionFailedAt(done.error(), 1)) {
      return Corrupt("image " + std::string(id) + ": its sha256 marker names another image");
    }
    if (!ConditionFailedAt(done.error(), 0)) return Failed(done.error());
  }
  return KeptChanging("the image");
}

Result<RefPage> DynamoMetadataStore::ListRefs(std::string_view token, std::size_t limit) {
  if (limit == 0) return InvalidLimit();
  std::string after_owner;
  std::string after_id;
  if (!token.empty()) {
    auto payload = OpenToken(options_.token_secret, "refs", "", token);
    auto position = payload ? DecodeRefToken(*payload) : std::nullopt;
    if (!position) {
      return Fail(ErrorCode::kInvalidArgument, "invalid_token", "Not a ListRefs token.");
    }
    after_owner = std::move(position->first);
    after_id = std::move(position->second);
  }

  // The owner directory in order, from the token's owner on; each owner's records in order.
  aws::QueryRequest owners = QueryRequest(options_.table, "#pk = :pk", {{"#pk", kPk}, {"#sk", kSk}},
                                          {{":pk", AttributeValue::S(kOwnersPk)}});
  owners.consistent_read = true;
  if (!after_owner.empty()) {
    owners.key_condition += " AND #sk >= :from";
    owners.values[":from"] = AttributeValue::S(after_owner);
  }
  owners.projection = "#sk";
  QueryWalk owner_walk(client_, std::move(owners));

  std::vector<RecordRef> refs;
  while (refs.size() <= limit && !owner_walk.done()) {
    IMGUP_ASSIGN_OR_RETURN(auto owner_items, owner_walk.Next(100));
    for (const auto& owner_item : owner_items) {
      IMGUP_ASSIGN_OR_RETURN(const std::string owner, aws::RequiredString(owner_item, kSk));
      const std::string_view after = owner == after_owner ? std::string_view(after_id) : "";
      aws::QueryRequest request =
          QueryRequest(options_.table, "#pk = :pk AND #sk BETWEEN :lo AND :hi",
                       {{"#pk", kPk}, {"#sk", kSk}, {"#id", "id"}, {"#key", "key"}},
                       {{":pk", AttributeValue::S(OwnerPk(owner))},
                        {":lo", AttributeValue::S(ImageSk(after))},
                        {":hi", AttributeValue::S(kImageEnd)}});
      request.projection = "#id, #key";
      request.consistent_read = true;
      QueryWalk records(client_, std::move(request));
      while (refs.size() <= limit && !records.done()) {
        IMGUP_ASSIGN_OR_RETURN(auto items, records.Next(limit + 1 - refs.size()));
        for (const auto& item : items) {
          RecordRef ref{owner, {}, {}};
          IMGUP_ASSIGN_OR_RETURN(ref.id, aws::RequiredString(item, "id"));
          if (ref.id == after) continue;  // BETWEEN includes the bound
          IMGUP_ASSIGN_OR_RETURN(ref.key, aws::RequiredString(item, "key"));
          refs.push_back(std::move(ref));
        }
      }
      if (refs.size() > limit) break;
    }
  }

  RefPage page;
  if (refs.size() > limit) {
    refs.resize(limit);
    page.next_token = SealToken(options_.token_secret, "refs", "",
                                EncodeRefToken(refs.back().owner, refs.back().id));
  }
  page.items = std::move(refs);
  return page;
}

Result<PhashPage> DynamoMetadataStore::ListPhashes(std::string_view owner, std::string_view token,
                                                   std::size_t limit) {
  if (limit == 0) return InvalidLimit();
  aws::QueryRequest request = QueryRequest(options_.table, "#pp = :owner",
                                           {{"#pp", "phash_pk"}, {"#id", "id"}, {"#ph", "phash"}},
                                           {{":owner", AttributeValue::S(std::string(owner))}});
  request.index = kByPhash;
  request.projection = "#id, #ph";
  request.scan_forward = false;
  if (!token.empty()) {
    auto after = OpenToken(options_.token_secret, "phash", owner, token);
    if (!after) {
      return Fail(ErrorCode::kInvalidArgument, "invalid_token",
                  "Not a ListPhashes token for this owner.");
    }
    request.key_condition += " AND #id < :after";
    request.values[":after"] = AttributeValue::S(std::move(*after));
  }
  QueryWalk walk(client_, std::move(request));
  std::vector<PhashEntry> entries;
  while (entries.size() <= limit && !walk.done()) {
    IMGUP_ASSIGN_OR_RETURN(auto items, walk.Next(limit + 1 - entries.size()));
    for (const auto& item : items) {
      PhashEntry entry;
      IMGUP_ASSIGN_OR_RETURN(entry.id, aws::RequiredString(item, "id"));
      IMGUP_ASSIGN_OR_RETURN(entry.phash, aws::RequiredString(item, "phash"));
      entries.push_back(std::move(entry));
    }
  }
  PhashPage page;
  if (entries.size() > limit) {
    entries.resize(limit);
    page.next_token = SealToken(options_.token_secret, "phash", owner, entries.back().id);
  }
  page.items = std::move(entries);
  return page;
}

// ---- UploadTickets --------------------------------------------------------------------------

namespace {

Item TicketKey(std::string_view owner, std::string_view id) {
  return Key(OwnerPk(owner), "UPLOAD#" + std::string(id));
}

tl::unexpected<Error> NoTicket() {
  return Fail(ErrorCode::kNotFound, "not_found", "No upload with this id.");
}

/// DynamoDB's TTL reads epoch seconds; a ticket is gone for readers at its millisecond.
std::int64_t TtlSeconds(std::int64_t epoch_ms) { return (epoch_ms + 999) / 1000; }

}  // namespace

Result<void> DynamoMetadataStore::PutTicket(const UploadTicket& ticket) {
  if (ticket.owner.empty() || ticket.owner.find('#') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_owner",
                "An owner name may not be empty or hold '#'.");
  }
  Item item = TicketKey(ticket.owner, ticket.id);
  item.emplace("kind", AttributeValue::S("upload"));
  item.emplace("id", AttributeValue::S(ticket.id));
  item.emplace("owner", AttributeValue::S(ticket.owner));
  item.emplace("filename", AttributeValue::S(ticket.filename));
  item.emplace("content_type", AttributeValue::S(ticket.content_type));
  item.emplace("max_bytes", AttributeValue::N(std::uint64_t{ticket.max_bytes}));
  item.emplace("created_ms", AttributeValue::N(std::int64_t{ticket.created_ms}));
  item.emplace("expires_at_ms", AttributeValue::N(std::int64_t{ticket.expires_at_ms}));
  item.emplace("expires_at", AttributeValue::N(TtlSeconds(ticket.expires_at_ms)));
  item.emplace("state", AttributeValue::S(ToString(ticket.state)));
  if (!ticket.failure_reason.empty()) {
    item.emplace("failure_reason", AttributeValue::S(ticket.failure_reason));
  }
  if (!ticket.duplicate_of.empty()) {
    item.emplace("duplicate_of", AttributeValue::S(ticket.duplicate_of));
  }
  aws::PutItemRequest request;
  request.table = options_.table;
  request.item = std::move(item);
  request.condition = "attribute_not_exists(#pk)";
  request.names = {{"#pk", kPk}};
  auto put = client_.PutItem(request);
  if (put) return {};
  if (put.error().ConditionFailed()) {
    return Fail(ErrorCode::kConflict, "duplicate_id", "An upload with this id already exists.");
  }
  return Failed(put.error());
}

Result<UploadTicket> DynamoMetadataStore::GetTicket(std::string_view owner, std::string_view id) {
  auto found = client_.GetItem(GetRequest(options_.table, TicketKey(owner, id)));
  if (!found) return Failed(found.error());
  if (!*found) return NoTicket();
  const Item& item = **found;
  UploadTicket ticket;
  IMGUP_ASSIGN_OR_RETURN(ticket.id, aws::RequiredString(item, "id"));
  IMGUP_ASSIGN_OR_RETURN(ticket.owner, aws::RequiredString(item, "owner"));
  IMGUP_ASSIGN_OR_RETURN(ticket.filename, aws::RequiredString(item, "filename"));
  IMGUP_ASSIGN_OR_RETURN(ticket.content_type, aws::RequiredString(item, "content_type"));
  IMGUP_ASSIGN_OR_RETURN(ticket.max_bytes, aws::RequiredUint64(item, "max_bytes"));
  IMGUP_ASSIGN_OR_RETURN(ticket.created_ms, aws::RequiredInt64(item, "created_ms"));
  IMGUP_ASSIGN_OR_RETURN(ticket.expires_at_ms, aws::RequiredInt64(item, "expires_at_ms"));
  IMGUP_ASSIGN_OR_RETURN(const std::string state, aws::RequiredString(item, "state"));
  bool known = false;
  for (const TicketState s :
       {TicketState::kAwaitingUpload, TicketState::kFailed, TicketState::kDuplicate}) {
    if (state == ToString(s)) {
      ticket.state = s;
      known = true;
    }
  }
  if (!known) return Corrupt("upload " + ticket.id + ": unknown state " + state);
  IMGUP_ASSIGN_OR_RETURN(ticket.failure_reason, TextOrEmpty(item, "failure_reason"));
  IMGUP_ASSIGN_OR_RETURN(ticket.duplicate_of, TextOrEmpty(item, "duplicate_of"));
  IMGUP_ASSIGN_OR_RETURN(ticket.claimed_sha256, TextOrEmpty(item, "claimed_sha256"));
  IMGUP_ASSIGN_OR_RETURN(const auto claimed_at, aws::OptionalUint64(item, "claimed_at_ms"));
  ticket.claimed_at_ms = static_cast<std::int64_t>(claimed_at.value_or(0));
  return ticket;
}

Result<void> DynamoMetadataStore::FinishTicket(const UploadTicket& finished) {
  // Unclaimed, or claimed by the finishing delivery's bytes.
  std::string condition = "attribute_exists(#pk) AND #state = :awaiting AND ";
  Item values{{":awaiting", AttributeValue::S(ToString(TicketState::kAwaitingUpload))},
              {":state", AttributeValue::S(ToString(finished.state))},
              {":reason", AttributeValue::S(finished.failure_reason)},
              {":dup", AttributeValue::S(finished.duplicate_of)},
              {":exp_ms", AttributeValue::N(std::int64_t{finished.expires_at_ms})},
              {":exp", AttributeValue::N(TtlSeconds(finished.expires_at_ms))}};
  if (finished.claimed_sha256.empty()) {
    condition += "attribute_not_exists(#claim)";
  } else {
    condition += "(attribute_not_exists(#claim) OR #claim = :held)";
    values.emplace(":held", AttributeValue::S(finished.claimed_sha256));
  }
  aws::UpdateItemRequest request = UpdateRequest(
      options_.table, TicketKey(finished.owner, finished.id), std::move(condition),
      {{"#pk", kPk}, {"#state", "state"}, {"#claim", "claimed_sha256"}}, std::move(values));
  request.names["#reason"] = "failure_reason";
  request.names["#dup"] = "duplicate_of";
  request.names["#exp_ms"] = "expires_at_ms";
  request.names["#exp"] = "expires_at";
  request.update =
      "SET #state = :state, #reason = :reason, #dup = :dup, #exp_ms = :exp_ms, #exp = :exp";
  request.return_old_on_condition_failure = true;
  auto updated = client_.UpdateItem(request);
  if (updated) return {};
  return TicketConflict(updated.error(), finished.owner, finished.id);
}

Result<void> DynamoMetadataStore::ClaimTicket(std::string_view owner, std::string_view id,
                                              std::string_view sha256, std::int64_t now_ms,
                                              std::int64_t stale_before_ms) {
  aws::UpdateItemRequest request = UpdateRequest(
      options_.table, TicketKey(owner, id),
      "attribute_exists(#pk) AND #state = :awaiting AND (attribute_not_exists(#claim) OR "
      "#claim = :sha OR #claimed_at < :stale)",
      {{"#pk", kPk},
       {"#state", "state"},
       {"#claim", "claimed_sha256"},
       {"#claimed_at", "claimed_at_ms"}},
      {{":awaiting", AttributeValue::S(ToString(TicketState::kAwaitingUpload))},
       {":sha", AttributeValue::S(std::string(sha256))},
       {":now", AttributeValue::N(std::int64_t{now_ms})},
       {":stale", AttributeValue::N(std::int64_t{stale_before_ms})}});
  request.update = "SET #claim = :sha, #claimed_at = :now";
  request.return_old_on_condition_failure = true;
  auto updated = client_.UpdateItem(request);
  if (updated) return {};
  return TicketConflict(updated.error(), owner, id);
}

Result<void> DynamoMetadataStore::TicketConflict(const aws::DynamoError& error,
                                                 std::string_view owner, std::string_view id) {
  if (!error.ConditionFailed()) return Failed(error);
  std::optional<Item> item = error.item;
  if (!item) {
    // A peer that does not return the old item on a failed condition: read it.
    auto read = client_.GetItem(GetRequest(options_.table, TicketKey(owner, id)));
    if (!read) return Failed(read.error());
    item = std::move(*read);
  }
  if (!item) return NoTicket();
  IMGUP_ASSIGN_OR_RETURN(const std::string state, aws::RequiredString(*item, "state"));
  if (state == ToString(TicketState::kAwaitingUpload)) {
    return Fail(ErrorCode::kConflict, "claimed", "Other bytes of this upload are being committed.");
  }
  return Fail(ErrorCode::kConflict, "not_awaiting", "The upload was finished already.");
}

Result<void> DynamoMetadataStore::RemoveTicket(std::string_view owner, std::string_view id) {
  aws::DeleteItemRequest request;
  request.table = options_.table;
  request.key = TicketKey(owner, id);
  auto removed = client_.DeleteItem(request);
  if (!removed) return Failed(removed.error());
  return {};
}

// ---- ApiKeyStore ----------------------------------------------------------------------------

Result<void> DynamoMetadataStore::AddKey(std::string_view name, std::string_view key_sha256_hex,
                                         std::int64_t created_ms) {
  Item by_name = KeyNameKey(name);
  by_name.emplace("kind", AttributeValue::S("apikey"));
  by_name.emplace("name", AttributeValue::S(std::string(name)));
  by_name.emplace("key_sha256", AttributeValue::S(std::string(key_sha256_hex)));
  by_name.emplace("created_ms", AttributeValue::N(std::int64_t{created_ms}));
  Item by_hash = KeyHashKey(key_sha256_hex);
  by_hash.emplace("kind", AttributeValue::S("apikey_hash"));
  by_hash.emplace("name", AttributeValue::S(std::string(name)));
  std::vector<TransactWriteItem> actions;
  actions.push_back(
      TransactWriteItem::Put(options_.table, std::move(by_name), "attribute_not_exists(#pk)"));
  actions.back().names = {{"#pk", kPk}};
  actions.push_back(
      TransactWriteItem::Put(options_.table, std::move(by_hash), "attribute_not_exists(#pk)"));
  actions.back().names = {{"#pk", kPk}};
  auto done = Transact(std::move(actions));
  if (done) return {};
  if (ConditionFailedAt(done.error(), 0)) {
    return Fail(ErrorCode::kConflict, "duplicate_key_name", "A key with this name exists.");
  }
  if (ConditionFailedAt(done.error(), 1)) {
    return Fail(ErrorCode::kConflict, "duplicate_key", "This key already exists.");
  }
  return Failed(done.error());
}

Result<std::string> DynamoMetadataStore::FindByHash(std::string_view key_sha256_hex) {
  auto item = client_.GetItem(GetRequest(options_.table, KeyHashKey(key_sha256_hex)));
  if (!item) return Failed(item.error());
  if (!*item) return Fail(ErrorCode::kNotFound, "not_found", "No such API key.");
  return aws::RequiredString(**item, "name");
}

Result<std::vector<ApiKeyInfo>> DynamoMetadataStore::ListKeys() {
  QueryWalk walk(client_, KeysQuery(options_.table));
  std::vector<ApiKeyInfo> keys;
  while (!walk.done()) {
    IMGUP_ASSIGN_OR_RETURN(auto items, walk.Next(kMaxQueryLimit));
    for (const auto& item : items) {
      ApiKeyInfo info;
      IMGUP_ASSIGN_OR_RETURN(info.name, aws::RequiredString(item, "name"));
      IMGUP_ASSIGN_OR_RETURN(info.created_ms, aws::RequiredInt64(item, "created_ms"));
      keys.push_back(std::move(info));
    }
  }
  return keys;
}

Result<void> DynamoMetadataStore::RemoveKey(std::string_view name) {
  for (int attempt = 1; attempt <= options_.max_transaction_attempts; ++attempt) {
    auto item = client_.GetItem(GetRequest(options_.table, KeyNameKey(name)));
    if (!item) return Failed(item.error());
    if (!*item) return Fail(ErrorCode::kNotFound, "not_found", "No such API key.");
    IMGUP_ASSIGN_OR_RETURN(const std::string hash, aws::RequiredString(**item, "key_sha256"));
    std::vector<TransactWriteItem> actions;
    actions.push_back(TransactWriteItem::Delete(options_.table, KeyNameKey(name), "#hash = :hash"));
    actions.back().names = {{"#hash", "key_sha256"}};
    actions.back().values = {{":hash", AttributeValue::S(hash)}};
    actions.push_back(TransactWriteItem::Delete(options_.table, KeyHashKey(hash)));
    auto done = Transact(std::move(actions));
    if (done) return {};
    if (!ConditionFailedAt(done.error(), 0)) return Failed(done.error());
  }
  return KeptChanging("the API key");
}

Result<bool> DynamoMetadataStore::HasKeys() {
  aws::QueryRequest request = KeysQuery(options_.table);
  request.limit = 1;
  auto page = client_.Query(request);
  if (!page) return Failed(page.error());
  return !page->items.empty();
}

}  // namespace imgup
