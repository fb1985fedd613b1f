#pragma once
// The continuation tokens DynamoMetadataStore hands out (docs/dynamodb.md, "Continuation
// tokens"): a position in a walk, sealed with HMAC-SHA256 under a configured secret, so that a
// token can neither be forged nor moved to another walk or owner, and no LastEvaluatedKey (table
// and key names, other owners' keys) ever leaves the store.
#include <optional>
#include <string>
#include <string_view>

namespace imgup {

/// base64url(payload) "." base64url(HMAC-SHA256(secret, "imgup-dynamo-v1" and, for each of kind,
/// scope and payload, "\n" length ":" part)). `kind` names the walk ("refs", "phash"), `scope`
/// what the token is valid for (the owner; "" for none).
std::string SealToken(std::string_view secret, std::string_view kind, std::string_view scope,
                      std::string_view payload);

/// The payload of a token SealToken made with the same secret, kind and scope; nullopt for
/// anything else (compared in constant time).
std::optional<std::string> OpenToken(std::string_view secret, std::string_view kind,
                                     std::string_view scope, std::string_view token);

}  // namespace imgup
