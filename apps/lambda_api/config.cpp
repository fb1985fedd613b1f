#include "config.hpp"

#include <charconv>
#include <cstdlib>

namespace imgup::lambda_api {

namespace {

tl::unexpected<Error> Invalid(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, "invalid_config", std::move(message));
}

}  // namespace

std::optional<std::string> ProcessEnv(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

Result<Config> ReadConfig(const Env& env) {
  Config config;
  const std::string storage = env("IMGUP_STORAGE").value_or("aws");
  if (storage == "aws") {
    config.storage = Storage::kAws;
    config.bucket = env("IMGUP_BUCKET").value_or("");
    config.table = env("IMGUP_TABLE").value_or("");
    config.cursor_secret = env("IMGUP_CURSOR_SECRET").value_or("");
    if (config.bucket.empty()) return Invalid("IMGUP_STORAGE=aws needs IMGUP_BUCKET, the bucket");
    if (config.table.empty()) return Invalid("IMGUP_STORAGE=aws needs IMGUP_TABLE, the table");
    if (!config.cursor_secret.empty() && config.cursor_secret.size() < 16) {
      return Invalid("IMGUP_CURSOR_SECRET must be at least 16 bytes long");
    }
  } else if (storage == "local") {
    config.storage = Storage::kLocal;
    config.data_dir = env("IMGUP_DATA_DIR").value_or("");
    if (config.data_dir.empty()) {
      return Invalid("IMGUP_STORAGE=local needs IMGUP_DATA_DIR, the data directory");
    }
  } else {
    return Invalid("IMGUP_STORAGE must be aws or local, not '" + storage + "'");
  }
  if (auto claim = env("IMGUP_PRINCIPAL_CLAIM")) {
    if (claim->empty()) return Invalid("IMGUP_PRINCIPAL_CLAIM may not be empty");
    config.principal_claim = *claim;
  }
  if (auto limit = env("IMGUP_MAX_BODY_BYTES")) {
    std::size_t bytes = 0;
    const auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), bytes);
    if (ec != std::errc() || end != limit->data() + limit->size() || bytes == 0) {
      return Invalid("IMGUP_MAX_BODY_BYTES must be a positive number of bytes, not '" + *limit +
                     "'");
    }
    config.max_body_bytes = bytes;
  }
  if (auto limit = env("IMGUP_MAX_UPLOAD_BYTES")) {
    std::uint64_t bytes = 0;
    const auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), bytes);
    if (ec != std::errc() || end != limit->data() + limit->size() || bytes == 0) {
      return Invalid("IMGUP_MAX_UPLOAD_BYTES must be a positive number of bytes, not '" + *limit +
                     "'");
    }
    config.max_upload_bytes = bytes;
  }
  if (auto ttl = env("IMGUP_UPLOAD_TTL")) {
    std::int64_t seconds = 0;
    const auto [end, ec] = std::from_chars(ttl->data(), ttl->data() + ttl->size(), seconds);
    if (ec != std::errc() || end != ttl->data() + ttl->size() || seconds <= 0 ||
        seconds > 7 * 86400) {
      return Invalid("IMGUP_UPLOAD_TTL must be from 1 to 604800 seconds, not '" + *ttl + "'");
    }
    config.upload_form_ttl_s = seconds;
  }
  return config;
}

}  // namespace imgup::lambda_api
