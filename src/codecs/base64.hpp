#pragma once
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace imgup {

/// Decodes standard base64 (RFC 4648 section 4, alphabet A-Z a-z 0-9 + /). Strict: the length
/// must be a multiple of 4, '=' may only pad the last quantum (at most two), the unused bits of
/// the last quantum must be zero, and no whitespace or other character is accepted.
/// Errors: kInvalidArgument, slug "invalid_base64", with the offset of the first bad character.
Result<std::string> DecodeBase64(std::string_view text);

/// Encodes standard base64 with padding.
std::string EncodeBase64(std::string_view bytes);

/// URL-safe base64 without padding (RFC 4648 section 5), for opaque cursors.
std::string EncodeBase64Url(std::string_view bytes);
Result<std::string> DecodeBase64Url(std::string_view text);

}  // namespace imgup
