#pragma once
// Files compiled into the binary (cmake/Embed.cmake): the OpenAPI document and the web page, so
// one binary serves both locally and from the Lambda package.
#include <optional>
#include <string_view>

namespace imgup {

/// The bytes of an embedded file: "openapi.json", "index.html", "app.js", "blurhash.js",
/// "style.css".
std::optional<std::string_view> FindEmbeddedFile(std::string_view name);

}  // namespace imgup
