#pragma once
// The continuation token of MetadataStore::ListRefs in the local stores (SqliteMetadataStore
// and the test fake): the (owner, id) of the last ref returned, as "<owner length>:<owner><id>".
// Opaque to callers; another store (DynamoDB) encodes its own last evaluated key.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace imgup {

inline std::string EncodeRefToken(std::string_view owner, std::string_view id) {
  return std::to_string(owner.size()) + ":" + std::string(owner) + std::string(id);
}

/// The (owner, id) in `token`, or nullopt when it is not one EncodeRefToken made.
inline std::optional<std::pair<std::string, std::string>> DecodeRefToken(std::string_view token) {
  const auto colon = token.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 9) return std::nullopt;
  std::size_t owner_size = 0;
  for (const char c : token.substr(0, colon)) {
    if (c < '0' || c > '9') return std::nullopt;
    owner_size = owner_size * 10 + static_cast<std::size_t>(c - '0');
  }
  token.remove_prefix(colon + 1);
  if (owner_size == 0 || owner_size >= token.size()) return std::nullopt;  // both non-empty
  return std::pair{std::string(token.substr(0, owner_size)), std::string(token.substr(owner_size))};
}

}  // namespace imgup
