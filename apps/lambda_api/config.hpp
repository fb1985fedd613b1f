#pragma once
// The API function's configuration, from its environment (Lambda's function settings). Read in
// one place, the composition root; nothing else reads the environment.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace imgup::lambda_api {

enum class Storage {
  kAws,    // S3 and DynamoDB (issue C's adapters)
  kLocal,  // the folder and SQLite stores under data_dir: for running under the emulator
};

/// Request bodies that fit in Lambda's 6 MB event once API Gateway has base64-encoded them,
/// with 64 KiB left for the rest of the event: (6 MiB - 64 KiB) * 3 / 4.
inline constexpr std::size_t kLambdaMaxBodyBytes = (6 * 1024 * 1024 - 64 * 1024) / 4 * 3;

struct Config {
  Storage storage = Storage::kAws;
  std::string data_dir;                              // IMGUP_DATA_DIR, for kLocal
  std::string bucket;                                // IMGUP_BUCKET, for kAws
  std::string table;                                 // IMGUP_TABLE, for kAws
  std::string cursor_secret;                         // IMGUP_CURSOR_SECRET, for kAws
  std::string principal_claim = "sub";               // IMGUP_PRINCIPAL_CLAIM
  std::size_t max_body_bytes = kLambdaMaxBodyBytes;  // IMGUP_MAX_BODY_BYTES
  std::uint64_t max_upload_bytes = 64ull << 20;      // IMGUP_MAX_UPLOAD_BYTES (POST /uploads)
  std::int64_t upload_form_ttl_s = 900;              // IMGUP_UPLOAD_TTL (POST /uploads' form)
};

using Env = std::function<std::optional<std::string>(std::string_view name)>;

/// The configuration `env` describes:
/// - IMGUP_STORAGE: "aws" (the default) or "local";
/// - IMGUP_DATA_DIR: the data directory of "local" storage (required there);
/// - IMGUP_BUCKET, IMGUP_TABLE: the S3 bucket and DynamoDB table of "aws" storage (required
///   there), IMGUP_CURSOR_SECRET: what seals DynamoDB continuation tokens (at least 16 bytes;
///   when unset, a random secret per instance: see apps/aws_backend/aws_backend.hpp);
/// - IMGUP_PRINCIPAL_CLAIM: the authorizer's claim that names the owner, "sub" by default;
/// - IMGUP_MAX_BODY_BYTES: the largest request body, kLambdaMaxBodyBytes by default;
/// - IMGUP_MAX_UPLOAD_BYTES: the largest image POST /uploads takes (64 MiB by default);
/// - IMGUP_UPLOAD_TTL: seconds its form works (900 by default).
/// Errors: kInvalidArgument "invalid_config", naming the variable.
Result<Config> ReadConfig(const Env& env);

/// The process environment.
std::optional<std::string> ProcessEnv(std::string_view name);

}  // namespace imgup::lambda_api
