#include "fakes/memory_stores.hpp"

#include <algorithm>
#include <chrono>
#include <tuple>
#include <utility>

#include "domain/blob_keys.hpp"
#include "domain/ref_token.hpp"

namespace imgup {

namespace {

tl::unexpected<Error> InvalidKey() {
  return Fail(ErrorCode::kInvalidArgument, "invalid_key", "The storage key is not valid.");
}

tl::unexpected<Error> BlobNotFound() {
  return Fail(ErrorCode::kNotFound, "not_found", "No object under this key.");
}

tl::unexpected<Error> RecordNotFound() {
  return Fail(ErrorCode::kNotFound, "not_found", "No image with this id.");
}

std::optional<Error> Take(std::map<std::string, Error, std::less<>>& failures,
                          std::string_view method) {
  const auto it = failures.find(method);
  if (it == failures.end()) return std::nullopt;
  Error error = std::move(it->second);
  failures.erase(it);
  return error;
}

}  // namespace

// ---- MemoryBlobStore ------------------------------------------------------------------------

std::int64_t MemoryBlobStore::NowMs() const {
  if (clock_ != nullptr) return clock_->NowMs();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<Error> MemoryBlobStore::TakeFailure(std::string_view method) {
  return Take(failures_, method);
}

Result<void> MemoryBlobStore::Put(std::string_view key, std::string_view data,
                                  std::string_view content_type) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("Put")) return tl::unexpected(std::move(*failure));
  if (!IsValidBlobKey(key)) return InvalidKey();
  Object& object = objects_[std::string(key)];
  object.data = std::string(data);
  object.content_type = std::string(content_type);
  object.modified_ms = NowMs();
  return {};
}

Result<std::string> MemoryBlobStore::Get(std::string_view key) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("Get")) return tl::unexpected(std::move(*failure));
  if (!IsValidBlobKey(key)) return InvalidKey();
  const auto it = objects_.find(key);
  if (it == objects_.end()) return BlobNotFound();
  return it->second.data;
}

Result<BlobEntry> MemoryBlobStore::Head(std::string_view key) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("Head")) return tl::unexpected(std::move(*failure));
  if (!IsValidBlobKey(key)) return InvalidKey();
  const auto it = objects_.find(key);
  if (it == objects_.end()) return BlobNotFound();
  return BlobEntry{it->first, it->second.data.size(), it->second.modified_ms};
}

Result<void> MemoryBlobStore::Delete(std::string_view key) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("Delete")) return tl::unexpected(std::move(*failure));
  if (!IsValidBlobKey(key)) return InvalidKey();
  if (const auto it = objects_.find(key); it != objects_.end()) objects_.erase(it);
  return {};
}

Result<std::string> MemoryBlobStore::PresignGet(std::string_view key, std::int64_t expires_in_s,
                                                const GetUrlOptions& options) {
  if (urls_ == nullptr) {
    return Fail(ErrorCode::kInternal, "presign_unavailable", "Presigned URLs are not set up");
  }
  return urls_->SignGet(key, expires_in_s, options);
}

Result<PresignedPost> MemoryBlobStore::PresignPost(const UploadPolicy& policy) {
  if (urls_ == nullptr) {
    return Fail(ErrorCode::kInternal, "presign_unavailable", "Presigned URLs are not set up");
  }
  return urls_->SignPost(policy);
}

Result<BlobPage> MemoryBlobStore::List(std::string_view prefix, std::string_view token,
                                       std::size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("List")) return tl::unexpected(std::move(*failure));
  if (!IsValidBlobPrefix(prefix) || limit == 0) return InvalidKey();
  if (!token.empty() && (!token.starts_with(prefix) || !IsValidBlobKey(token))) {
    return InvalidKey();
  }
  // The token is the last key returned: the page starts after it.
  BlobPage page;
  for (auto it = token.empty() ? objects_.lower_bound(prefix) : objects_.upper_bound(token);
       it != objects_.end() && it->first.starts_with(prefix); ++it) {
    if (page.items.size() == limit) {
      page.next_token = page.items.back().key;
      break;
    }
    page.items.push_back(BlobEntry{it->first, it->second.data.size(), it->second.modified_ms});
  }
  return page;
}

std::size_t MemoryBlobStore::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return objects_.size();
}

std::optional<std::string> MemoryBlobStore::ContentType(std::string_view key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second.content_type;
}

std::vector<std::string> MemoryBlobStore::Keys() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> keys;
  for (const auto& [key, object] : objects_) keys.push_back(key);
  return keys;
}

void MemoryBlobStore::SetModifiedMs(std::string_view key, std::int64_t modified_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (const auto it = objects_.find(key); it != objects_.end()) {
    it->second.modified_ms = modified_ms;
  }
}

void MemoryBlobStore::FailNext(std::string method, Error error) {
  std::lock_guard<std::mutex> lock(mutex_);
  failures_.insert_or_assign(std::move(method), std::move(error));
}

// ---- MemoryMetadataStore --------------------------------------------------------------------

std::optional<Error> MemoryMetadataStore::TakeFailure(std::string_view method) {
  return Take(failures_, method);
}

Result<void> MemoryMetadataStore::Insert(const ImageRecord& record) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("Insert")) return tl::unexpected(std::move(*failure));
  if (records_.contains(record.id)) {
    return Fail(ErrorCode::kConflict, "duplicate_id", "An image with this id already exists.");
  }
  for (const auto& [id, existing] : records_) {
    if (existing.owner == record.owner && existing.sha256 == record.sha256) {
      return Fail(ErrorCode::kConflict, "duplicate_content", "This image was already uploaded.");
    }
  }
  records_.emplace(record.id, record);
  return {};
}

Result<ImageRecord> MemoryMetadataStore::Get(std::string_view owner, std::string_view id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("Get")) return tl::unexpected(std::move(*failure));
  const auto it = records_.find(id);
  if (it == records_.end() || it->second.owner != owner) return RecordNotFound();
  return it->second;
}

Result<ImageRecord> MemoryMetadataStore::FindBySha256(std::string_view owner,
                                                      std::string_view sha256) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("FindBySha256")) return tl::unexpected(std::move(*failure));
  for (const auto& [id, record] : records_) {
    if (record.owner == owner && record.sha256 == sha256) return record;
  }
  return Fail(ErrorCode::kNotFound, "not_found", "No image with this content.");
}

Result<ImagePage> MemoryMetadataStore::List(std::string_view owner, const ListQuery& query) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("List")) return tl::unexpected(std::move(*failure));
  const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, 100);
  const auto matches = [&](const ImageRecord& record) {
    return record.owner == owner &&
           (!query.content_type || record.content_type == *query.content_type) &&
           (!query.from_ms || record.uploaded_at_ms >= *query.from_ms) &&
           (!query.to_ms || record.uploaded_at_ms < *query.to_ms) &&
           (!query.tag || std::ranges::find(record.tags, *query.tag) != record.tags.end());
  };
  // Newest first: walk the id order backwards from just below the cursor.
  auto it = query.before_id ? records_.lower_bound(*query.before_id) : records_.end();
  ImagePage page;
  while (it != records_.begin()) {
    --it;
    if (!matches(it->second)) continue;
    if (page.items.size() == limit) {  // one more match exists: there is a next page
      page.next_before_id = page.items.back().id;
      break;
    }
    page.items.push_back(it->second);
  }
  return page;
}

Result<ImageRecord> MemoryMetadataStore::Update(std::string_view owner, std::string_view id,
                                                const ImagePatch& patch) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("Update")) return tl::unexpected(std::move(*failure));
  const auto it = records_.find(id);
  if (it == records_.end() || it->second.owner != owner) return RecordNotFound();
  if (patch.tags) it->second.tags = *patch.tags;
  if (patch.description) it->second.description = *patch.description;
  return it->second;
}

Result<void> MemoryMetadataStore::SaveDerived(const ImageRecord& record) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("SaveDerived")) return tl::unexpected(std::move(*failure));
  const auto it = records_.find(record.id);
  if (it == records_.end() || it->second.owner != record.owner) return RecordNotFound();
  ImageRecord& stored = it->second;
  if (stored.status != ImageStatus::kProcessing) {
    return Fail(ErrorCode::kConflict, "not_processing",
                "The image is no longer being processed: it was completed already.");
  }
  stored.status = record.status;
  stored.failure_reason = record.failure_reason;
  stored.width = record.width;
  stored.height = record.height;
  stored.format = record.format;
  stored.variants = record.variants;
  stored.exif_json = record.exif_json;
  stored.placeholder = record.placeholder;
  stored.dominant_color = record.dominant_color;
  stored.phash = record.phash;
  stored.key = record.key;
  stored.info = record.info;
  return {};
}

Result<std::uint32_t> MemoryMetadataStore::AdjustAttempts(std::string_view owner,
                                                          std::string_view id, int delta) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("AdjustAttempts")) return tl::unexpected(std::move(*failure));
  const auto it = records_.find(id);
  if (it == records_.end() || it->second.owner != owner ||
      it->second.status != ImageStatus::kProcessing) {
    return RecordNotFound();
  }
  std::uint32_t& attempts = attempts_[it->first];
  attempts = static_cast<std::uint32_t>(std::max<std::int64_t>(0, std::int64_t{attempts} + delta));
  return attempts;
}

Result<void> MemoryMetadataStore::Remove(std::string_view owner, std::string_view id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("Remove")) return tl::unexpected(std::move(*failure));
  const auto it = records_.find(id);
  if (it == records_.end() || it->second.owner != owner) return RecordNotFound();
  records_.erase(it);
  return {};
}

Result<std::vector<RecordRef>> MemoryMetadataStore::ListProcessing(std::size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("ListProcessing")) return tl::unexpected(std::move(*failure));
  std::vector<RecordRef> refs;
  for (const auto& [id, record] : records_) {  // id order is age order
    if (refs.size() == limit) break;
    if (record.status == ImageStatus::kProcessing) refs.push_back({record.owner, id, record.key});
  }
  return refs;
}

Result<PhashPage> MemoryMetadataStore::ListPhashes(std::string_view owner, std::string_view token,
                                                   std::size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("ListPhashes")) return tl::unexpected(std::move(*failure));
  if (limit == 0) return Fail(ErrorCode::kInvalidArgument, "invalid_limit", "limit is 0");
  // The token is the last id returned: the page starts below it.
  PhashPage page;
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (!token.empty() && it->first >= token) continue;
    if (it->second.owner != owner || it->second.phash.empty()) continue;
    if (page.items.size() == limit) {
      page.next_token = page.items.back().id;
      break;
    }
    page.items.push_back({it->first, it->second.phash});
  }
  return page;
}

Result<RefPage> MemoryMetadataStore::ListRefs(std::string_view token, std::size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("ListRefs")) return tl::unexpected(std::move(*failure));
  if (limit == 0) return Fail(ErrorCode::kInvalidArgument, "invalid_limit", "limit is 0");
  std::optional<std::pair<std::string, std::string>> after;
  if (!token.empty()) {
    after = DecodeRefToken(token);
    if (!after) return Fail(ErrorCode::kInvalidArgument, "invalid_token", "not a ListRefs token");
  }
  std::vector<RecordRef> refs;
  for (const auto& [id, record] : records_) {
    if (!after || std::tie(record.owner, id) > std::tie(after->first, after->second)) {
      refs.push_back({record.owner, id, record.key});
    }
  }
  std::ranges::sort(refs, [](const RecordRef& a, const RecordRef& b) {
    return std::tie(a.owner, a.id) < std::tie(b.owner, b.id);
  });
  RefPage page;
  if (refs.size() > limit) {
    refs.resize(limit);
    page.next_token = EncodeRefToken(refs.back().owner, refs.back().id);
  }
  page.items = std::move(refs);
  return page;
}

Result<void> MemoryMetadataStore::AddKey(std::string_view name, std::string_view key_sha256_hex,
                                         std::int64_t created_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("AddKey")) return tl::unexpected(std::move(*failure));
  if (keys_.contains(name)) {
    return Fail(ErrorCode::kConflict, "duplicate_key_name", "A key with this name exists.");
  }
  for (const auto& [existing_name, key] : keys_) {
    if (key.hash == key_sha256_hex) {
      return Fail(ErrorCode::kConflict, "duplicate_key", "This key already exists.");
    }
  }
  keys_.emplace(std::string(name), Key{std::string(key_sha256_hex), created_ms});
  return {};
}

Result<std::string> MemoryMetadataStore::FindByHash(std::string_view key_sha256_hex) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("FindByHash")) return tl::unexpected(std::move(*failure));
  for (const auto& [name, key] : keys_) {
    if (key.hash == key_sha256_hex) return name;
  }
  return Fail(ErrorCode::kNotFound, "not_found", "No such API key.");
}

Result<std::vector<ApiKeyInfo>> MemoryMetadataStore::ListKeys() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("ListKeys")) return tl::unexpected(std::move(*failure));
  std::vector<ApiKeyInfo> keys;
  for (const auto& [name, key] : keys_) keys.push_back(ApiKeyInfo{name, key.created_ms});
  return keys;
}

Result<void> MemoryMetadataStore::RemoveKey(std::string_view name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("RemoveKey")) return tl::unexpected(std::move(*failure));
  const auto it = keys_.find(name);
  if (it == keys_.end()) return Fail(ErrorCode::kNotFound, "not_found", "No such API key.");
  keys_.erase(it);
  return {};
}

Result<bool> MemoryMetadataStore::HasKeys() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto failure = TakeFailure("HasKeys")) return tl::unexpected(std::move(*failure));
  return !keys_.empty();
}

std::size_t MemoryMetadataStore::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return records_.size();
}

void MemoryMetadataStore::FailNext(std::string method, Error error) {
  std::lock_guard<std::mutex> lock(mutex_);
  failures_.insert_or_assign(std::move(method), std::move(error));
}

}  // namespace imgup
