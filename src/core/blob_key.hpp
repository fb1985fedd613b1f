#pragma once
// The key grammar of the BlobStore contract (core/ports.hpp), shared by every implementation so
// that no key can mean a different path in one store than in another.
#include <string_view>

namespace imgup {

/// A relative, '/'-separated key of 1-1024 bytes whose segments are made of [A-Za-z0-9._-], are
/// not "." or "..", and whose first segment is not ".tmp" (reserved for partial writes).
bool IsValidBlobKey(std::string_view key);

/// A listing prefix: its complete segments form a valid key and its last, partial segment uses
/// only key characters ("" and "originals/" are valid, "../" is not).
bool IsValidBlobPrefix(std::string_view prefix);

}  // namespace imgup
