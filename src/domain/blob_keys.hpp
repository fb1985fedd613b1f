#pragma once
// Blob keys: the grammar of the BlobStore contract (domain/ports/blob_store.hpp), shared by every
// implementation so that no key can mean a different path in one store than in another, and the
// one layout of imgup's keys. A key never contains the client's file name:
//   uploads/{owner}/{id}                    a presigned upload's bytes as posted, unvalidated
//                                           (ADR 15: its form's key; the commit copies what it
//                                           validated to originals/ and deletes this)
//   originals/{owner}/{id}                  the uploaded bytes
//   variants/{owner}/{id}/{name}.webp       derived images ("thumb", "medium")
//   quarantine/{owner}/{id}                 a failed original kept aside by policy
#include <optional>
#include <string>
#include <string_view>

namespace imgup {

/// A relative, '/'-separated key of 1-1024 bytes whose segments are made of [A-Za-z0-9._-], are
/// not "." or "..", and whose first segment is not ".tmp" (reserved for partial writes).
bool IsValidBlobKey(std::string_view key);

/// A listing prefix: its complete segments form a valid key and its last, partial segment uses
/// only key characters ("" and "originals/" are valid, "../" is not).
bool IsValidBlobPrefix(std::string_view prefix);

std::string OriginalKey(std::string_view owner, std::string_view id);
/// Where the form of POST /uploads puts the bytes (ADR 15). Never an image's key: a form stays
/// good until it expires and can be posted again, so what is there may change after any check.
std::string StagingKey(std::string_view owner, std::string_view id);
std::string VariantKey(std::string_view owner, std::string_view id, std::string_view name);
/// The prefix of every variant key of the image: "variants/{owner}/{id}/".
std::string VariantPrefix(std::string_view owner, std::string_view id);
std::string QuarantineKey(std::string_view owner, std::string_view id);

/// Whose image a key belongs to.
struct ImageKey {
  enum class Kind { kOriginal, kVariant, kQuarantine, kStaging };
  Kind kind = Kind::kOriginal;
  std::string owner;
  std::string id;
  std::string variant;  // the variant's name, for kVariant
};

/// Parses a key of the layout above (an S3 event names the object it is about by its key).
/// nullopt for any other key, or one whose owner or id segment is empty or not a key segment.
std::optional<ImageKey> ParseImageKey(std::string_view key);

}  // namespace imgup
