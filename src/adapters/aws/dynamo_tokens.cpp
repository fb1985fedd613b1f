#include "adapters/aws/dynamo_tokens.hpp"

#include "codecs/base64.hpp"
#include "codecs/sha256.hpp"

namespace imgup {
namespace {

std::string Mac(std::string_view secret, std::string_view kind, std::string_view scope,
                std::string_view payload) {
  // Each part length-prefixed, so that no part can be shifted into its neighbour.
  std::string message = "imgup-dynamo-v1";
  for (const std::string_view part : {kind, scope, payload}) {
    message.append("\n").append(std::to_string(part.size())).append(":").append(part);
  }
  return HmacSha256(secret, message);
}

bool SameBytes(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference = static_cast<unsigned char>(difference | (a[i] ^ b[i]));
  }
  return difference == 0;
}

}  // namespace

std::string SealToken(std::string_view secret, std::string_view kind, std::string_view scope,
                      std::string_view payload) {
  return EncodeBase64Url(payload) + "." + EncodeBase64Url(Mac(secret, kind, scope, payload));
}

std::optional<std::string> OpenToken(std::string_view secret, std::string_view kind,
                                     std::string_view scope, std::string_view token) {
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto payload = DecodeBase64Url(token.substr(0, dot));
  auto mac = DecodeBase64Url(token.substr(dot + 1));
  if (!payload || !mac) return std::nullopt;
  if (!SameBytes(*mac, Mac(secret, kind, scope, *payload))) return std::nullopt;
  return std::move(*payload);
}

}  // namespace imgup
