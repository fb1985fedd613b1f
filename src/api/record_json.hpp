#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "domain/image_record.hpp"

namespace imgup {

/// The record as clients see it (DESIGN.md names). The owner is never included. Its links start
/// with `base_path`, where the API is mounted (HttpRequest::base_path).
nlohmann::json RecordToJson(const ImageRecord& record, std::string_view base_path = {});

/// RFC 3339 in UTC with milliseconds: "2026-11-25T17:32:58.123Z".
std::string FormatRfc3339(std::int64_t epoch_ms);
/// Parses RFC 3339 ("2026-11-25T17:32:58Z", with optional fraction and +hh:mm offset; a plain
/// date "2026-11-25" means its midnight UTC). nullopt when malformed.
std::optional<std::int64_t> ParseRfc3339(std::string_view text);

}  // namespace imgup
