#pragma once
// The BlobStore port: opaque bytes under keys (FsBlobStore; S3BlobStore on AWS). Every
// implementation passes tests/unit/blob_store_contract_test.cpp.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace imgup {

struct BlobEntry {
  std::string key;
  std::uint64_t size_bytes = 0;
  std::int64_t modified_ms = 0;  // last modification, Unix epoch milliseconds
};

/// One page of BlobStore::List.
struct BlobPage {
  std::vector<BlobEntry> items;
  std::string next_token;  // empty: no more pages
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  /// Stores `data` under `key`, replacing any previous object. Atomic: a reader sees the whole
  /// new object or the previous state, never a partial one, even if the process dies mid-way.
  /// Errors: kInvalidArgument for an invalid key, kUnavailable/kInternal for storage failures.
  virtual Result<void> Put(std::string_view key, std::string_view data,
                           std::string_view content_type) = 0;
  /// Returns the bytes stored under `key`. Errors: kNotFound, kInvalidArgument (bad key).
  virtual Result<std::string> Get(std::string_view key) = 0;
  /// Size and time of the object. Errors: kNotFound, kInvalidArgument (bad key).
  virtual Result<BlobEntry> Head(std::string_view key) = 0;
  /// Removes the object. Removing a missing key succeeds (idempotent).
  virtual Result<void> Delete(std::string_view key) = 0;
  /// One page of the objects whose key starts with `prefix`, in key order, starting after the
  /// page that returned `token` (empty: from the first key). Never lists partial writes.
  /// A page holds at most `limit` objects (S3 lists at most 1000 at a time, whatever the
  /// limit); a short page is not the last one: only an empty `next_token` says that no more
  /// follow. The token is opaque, and valid only with the prefix it was returned for.
  /// Walking every page sees every object that existed for the whole walk exactly once.
  /// Errors: kInvalidArgument for an invalid prefix, a token that is not one of this prefix,
  /// or a `limit` of 0.
  virtual Result<BlobPage> List(std::string_view prefix, std::string_view token,
                                std::size_t limit) = 0;
};

}  // namespace imgup
