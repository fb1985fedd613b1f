#pragma once
// The ApiKeyStore port: API keys, stored only as hashes (tests/unit/api_key_store_test.cpp).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace imgup {

struct ApiKeyInfo {
  std::string name;  // also the owner of everything uploaded with the key
  std::int64_t created_ms = 0;
};

class ApiKeyStore {
 public:
  virtual ~ApiKeyStore() = default;
  /// Stores the hash of a new key for `name`. Errors: kConflict when the name exists.
  virtual Result<void> AddKey(std::string_view name, std::string_view key_sha256_hex,
                              std::int64_t created_ms) = 0;
  /// The name whose key hashes to `key_sha256_hex`. Errors: kNotFound.
  virtual Result<std::string> FindByHash(std::string_view key_sha256_hex) = 0;
  virtual Result<std::vector<ApiKeyInfo>> ListKeys() = 0;
  /// Errors: kNotFound.
  virtual Result<void> RemoveKey(std::string_view name) = 0;
  /// Whether any key is configured (auth is off when none is).
  virtual Result<bool> HasKeys() = 0;
};

}  // namespace imgup
