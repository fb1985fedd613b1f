// The processor function's configuration from its environment (apps/lambda_processor): the
// stores as the API function reads them, the workers' memory budget from Lambda's memory size,
// the pipeline's limits and what becomes of an unusable original.
#include "processor_config.hpp"

#include <gtest/gtest.h>

#include <map>

namespace imgup::lambda_processor {
namespace {

lambda_api::Env EnvOf(std::map<std::string, std::string> vars) {
  vars.emplace("IMGUP_STORAGE", "local");
  vars.emplace("IMGUP_DATA_DIR", "/tmp/d");
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto found = vars.find(std::string(name));
    if (found == vars.end()) return std::nullopt;
    return found->second;
  };
}

constexpr std::uint64_t kMiB = 1 << 20;

/// As the function reads it when installed as /opt/fn/bootstrap.
Result<ProcessorConfig> ReadProcessorConfig(const lambda_api::Env& env) {
  return lambda_processor::ReadProcessorConfig(env, "/opt/fn/bootstrap");
}

TEST(LambdaProcessorConfig, StorageIsReadAsForTheApiFunction) {
  auto config = ReadProcessorConfig(EnvOf({}));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->storage.storage, lambda_api::Storage::kLocal);
  EXPECT_EQ(config->storage.data_dir, "/tmp/d");
  auto bad = ReadProcessorConfig(EnvOf({{"IMGUP_STORAGE", "s4"}}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().slug, "invalid_config");
}

TEST(LambdaProcessorConfig, TheWorkersBudgetIsTheFunctionsMemoryLessTheProcessReserve) {
  EXPECT_EQ(ReadProcessorConfig(EnvOf({}))->memory_budget_bytes, (1024 - 64) * kMiB);
  EXPECT_EQ(ReadProcessorConfig(EnvOf({{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048"}}))
                ->memory_budget_bytes,
            (2048 - 64) * kMiB);
  // A small function keeps at least half of its memory for the workers.
  EXPECT_EQ(
      ReadProcessorConfig(EnvOf({{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "100"}}))->memory_budget_bytes,
      50 * kMiB);
  EXPECT_EQ(ReadProcessorConfig(EnvOf({{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048"},
                                       {"IMGUP_PROCESSING_MEMORY_MB", "300"}}))
                ->memory_budget_bytes,
            300 * kMiB);
  auto bad = ReadProcessorConfig(EnvOf({{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"}}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), std::string::npos);
}

TEST(LambdaProcessorConfig, LimitsMarginAndFailedOriginals) {
  auto defaults = ReadProcessorConfig(EnvOf({}));
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->function.policy.failed_originals, FailedOriginalPolicy::kQuarantine);
  EXPECT_EQ(defaults->function.deadline_margin, std::chrono::milliseconds(3000));
  EXPECT_EQ(defaults->function.policy.limits.max_decode_ms, ProcessingLimits{}.max_decode_ms);
  EXPECT_GT(defaults->function.policy.overlapping_deliveries, 1u);
  EXPECT_EQ(defaults->temp_root, "/tmp/imgup-pixel");
  EXPECT_EQ(defaults->pixel_worker, "/opt/fn/imgup-pixel-worker") << "beside the function";

  auto set = ReadProcessorConfig(EnvOf({{"IMGUP_FAILED_ORIGINALS", "remove"},
                                        {"IMGUP_DEADLINE_MARGIN_MS", "500"},
                                        {"IMGUP_MAX_DECODE_MS", "9000"},
                                        {"IMGUP_MAX_PIXELS", "1000"},
                                        {"TMPDIR", "/var/tmp"},
                                        {"IMGUP_PIXEL_WORKER", "/opt/w"}}));
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->function.policy.failed_originals, FailedOriginalPolicy::kRemove);
  EXPECT_EQ(set->function.deadline_margin, std::chrono::milliseconds(500));
  EXPECT_EQ(set->function.policy.limits.max_decode_ms, 9000u);
  EXPECT_EQ(set->function.policy.limits.max_pixels, 1000u);
  EXPECT_EQ(set->temp_root, "/var/tmp/imgup-pixel");
  EXPECT_EQ(set->pixel_worker, "/opt/w");

  EXPECT_FALSE(ReadProcessorConfig(EnvOf({{"IMGUP_FAILED_ORIGINALS", "keep"}})));
  EXPECT_FALSE(ReadProcessorConfig(EnvOf({{"IMGUP_DEADLINE_MARGIN_MS", "-1"}})));
  EXPECT_FALSE(ReadProcessorConfig(EnvOf({{"IMGUP_MAX_DECODE_MS", "99999999999"}})));
}

}  // namespace
}  // namespace imgup::lambda_processor
