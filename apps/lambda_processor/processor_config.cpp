#include "processor_config.hpp"

#include <algorithm>
#include <charconv>

namespace imgup::lambda_processor {

namespace {

tl::unexpected<Error> Invalid(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, "invalid_config", std::move(message));
}

/// `name`'s value as a positive number, or `fallback` when it is unset.
Result<std::uint64_t> Number(const lambda_api::Env& env, const char* name, std::uint64_t fallback) {
  const std::optional<std::string> text = env(name);
  if (!text) return fallback;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value == 0) {
    return Invalid(std::string(name) + " must be a positive whole number, not '" + *text + "'");
  }
  return value;
}

}  // namespace

Result<ProcessorConfig> ReadProcessorConfig(const lambda_api::Env& env,
                                            const std::filesystem::path& self) {
  ProcessorConfig config;
  IMGUP_ASSIGN_OR_RETURN(config.storage, lambda_api::ReadConfig(env));

  IMGUP_ASSIGN_OR_RETURN(const std::uint64_t memory_mb,
                         Number(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1024));
  const std::uint64_t derived_mb =
      std::max(memory_mb - std::min(memory_mb, kProcessReserveMb), memory_mb / 2);
  IMGUP_ASSIGN_OR_RETURN(const std::uint64_t budget_mb,
                         Number(env, "IMGUP_PROCESSING_MEMORY_MB", derived_mb));
  config.memory_budget_bytes = budget_mb << 20;

  ProcessingLimits& limits = config.function.policy.limits;
  IMGUP_ASSIGN_OR_RETURN(limits.max_pixels, Number(env, "IMGUP_MAX_PIXELS", limits.max_pixels));
  IMGUP_ASSIGN_OR_RETURN(const std::uint64_t frames,
                         Number(env, "IMGUP_MAX_FRAMES", limits.max_frames));
  IMGUP_ASSIGN_OR_RETURN(const std::uint64_t decode_ms,
                         Number(env, "IMGUP_MAX_DECODE_MS", limits.max_decode_ms));
  if (frames > UINT32_MAX || decode_ms > UINT32_MAX) {
    return Invalid("IMGUP_MAX_FRAMES and IMGUP_MAX_DECODE_MS must fit in 32 bits");
  }
  limits.max_frames = static_cast<std::uint32_t>(frames);
  limits.max_decode_ms = static_cast<std::uint32_t>(decode_ms);
  limits.keep_gps = env("IMGUP_KEEP_GPS").value_or("") == "1";

  const std::string failed = env("IMGUP_FAILED_ORIGINALS").value_or("quarantine");
  if (failed == "quarantine") {
    config.function.policy.failed_originals = FailedOriginalPolicy::kQuarantine;
  } else if (failed == "remove") {
    config.function.policy.failed_originals = FailedOriginalPolicy::kRemove;
  } else {
    return Invalid("IMGUP_FAILED_ORIGINALS must be quarantine or remove, not '" + failed + "'");
  }
  // S3 delivers an event at least once, sometimes to several instances at once; Lambda's own
  // retries (at most 2) and the dead-letter queue bound a crash loop. Up to 16 deliveries of one
  // object at the same time never fail its record as crashed (ProcessingPolicy).
  config.function.policy.overlapping_deliveries = 16;

  IMGUP_ASSIGN_OR_RETURN(const std::uint64_t margin_ms,
                         Number(env, "IMGUP_DEADLINE_MARGIN_MS", 3000));
  config.function.deadline_margin = std::chrono::milliseconds(margin_ms);
  IMGUP_ASSIGN_OR_RETURN(const std::uint64_t temp_mb, Number(env, "IMGUP_PROCESSING_TEMP_MB", 256));
  config.temp_limit_bytes = temp_mb << 20;
  config.temp_root = std::filesystem::path(env("TMPDIR").value_or("/tmp")) / "imgup-pixel";
  config.pixel_worker = env("IMGUP_PIXEL_WORKER").value_or("");
  if (config.pixel_worker.empty()) config.pixel_worker = self.parent_path() / "imgup-pixel-worker";
  return config;
}

}  // namespace imgup::lambda_processor
