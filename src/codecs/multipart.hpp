#pragma once
// multipart/form-data (RFC 7578) parsing over a whole body, so every transport (the local
// server, API Gateway events) hands the same bytes to the same code.
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace imgup {

struct FormPart {
  std::string name;          // from Content-Disposition
  std::string filename;      // from Content-Disposition (filename* preferred); may be empty
  std::string content_type;  // the part's Content-Type, may be empty
  std::string_view data;     // points into the body passed to ParseMultipart
};

/// The boundary parameter of a multipart/form-data Content-Type, or "" when there is none.
std::string MultipartBoundary(std::string_view content_type);

/// Splits `body` into its parts. Errors: kInvalidArgument "invalid_multipart".
Result<std::vector<FormPart>> ParseMultipart(std::string_view body, std::string_view boundary);

}  // namespace imgup
