#pragma once
// The processor function's configuration, from its environment (Lambda's function settings):
// the stores as the API function names them (IMGUP_STORAGE, apps/lambda_api/config.hpp), and
// the pipeline's deadline and memory. Read once, by the composition root.
#include <cstdint>
#include <filesystem>
#include <string>

#include "base/error.hpp"
#include "lambda_api/config.hpp"
#include "services/processing_service.hpp"
#include "transport/lambda/processor_function.hpp"

namespace imgup::lambda_processor {

/// What the function keeps for itself out of its memory size, outside the pixel workers' budget:
/// the process (runtime client, stores, ~10 MB resident) and the bytes it holds for one record
/// (the original while a worker decodes it, then the variants it writes).
inline constexpr std::uint64_t kProcessReserveMb = 64;

struct ProcessorConfig {
  lambda_api::Config storage;
  ProcessorFunctionOptions function;
  /// Resident memory of the pixel workers together (SandboxOptions::memory_budget_bytes).
  std::uint64_t memory_budget_bytes = 0;
  std::uint64_t temp_limit_bytes = std::uint64_t{256} << 20;
  std::filesystem::path temp_root;
  /// The pixel worker program (imgup-pixel-worker).
  std::filesystem::path pixel_worker;
};

/// The configuration `env` describes:
/// - IMGUP_STORAGE, IMGUP_DATA_DIR: as for the API function (lambda_api::ReadConfig);
/// - AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MB, set by Lambda; 1024 when absent): the pixel workers'
///   memory budget is that less kProcessReserveMb, and never less than half of it. Lambda counts
///   every process of the function against its memory size, the workers included;
/// - IMGUP_PROCESSING_MEMORY_MB: a budget of its own instead;
/// - IMGUP_MAX_PIXELS, IMGUP_MAX_FRAMES, IMGUP_MAX_DECODE_MS, IMGUP_KEEP_GPS ("1"): the
///   pipeline's limits (ProcessingLimits' defaults otherwise);
/// - IMGUP_FAILED_ORIGINALS: "quarantine" (the default: an unusable original is kept under
///   quarantine/) or "remove";
/// - IMGUP_DEADLINE_MARGIN_MS: kept back from each invocation's time (3000 by default);
/// - IMGUP_PROCESSING_TEMP_MB: the temp files of one job (256 by default);
/// - TMPDIR: where the workers' temp dirs go (/tmp, Lambda's writable folder, by default);
/// - IMGUP_PIXEL_WORKER: the pixel worker program; by default imgup-pixel-worker in the folder
///   of `self` (this program's path).
/// Errors: kInvalidArgument "invalid_config", naming the variable.
Result<ProcessorConfig> ReadProcessorConfig(const lambda_api::Env& env,
                                            const std::filesystem::path& self);

}  // namespace imgup::lambda_processor
