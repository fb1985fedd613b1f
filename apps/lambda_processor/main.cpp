// imgup-lambda-processor: the processor function (a provided.al2023 custom runtime). The
// composition root: the configuration from the environment, the stores the API function uses
// (lambda_api::OpenBackend), the image pipeline of `imgup serve` (pixel workers, killed at the
// deadline or past the memory budget), and S3's events through the Lambda Runtime API.
//
// This process links no libvips: the workers are imgup-pixel-worker, a program of their own
// beside this one (IMGUP_PIXEL_WORKER names another). The init phase starts none; the first
// record spawns one, which loads and starts libvips then (docs/adr/0011-processor-function.md).
#include <filesystem>
#include <memory>
#include <string>

#include "imaging/sandboxed_processor.hpp"
#include "lambda_api/backend.hpp"
#include "lambda_api/function_main.hpp"
#include "processor_config.hpp"
#include "transport/lambda/processor_function.hpp"

namespace imgup::lambda_processor {
namespace {

/// Everything an invocation uses, built once by the init phase and kept by the handler.
struct Graph {
  SystemClock clock;
  std::unique_ptr<lambda_api::Backend> backend;
  std::unique_ptr<SandboxedImageProcessor> processor;
};

Result<InvocationHandler> Init() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  IMGUP_ASSIGN_OR_RETURN(const ProcessorConfig config,
                         ReadProcessorConfig(lambda_api::ProcessEnv, self));
  if (!std::filesystem::exists(config.pixel_worker, ec)) {
    return Fail(
        ErrorCode::kInternal, "no_pixel_worker", "The pixel worker program is missing.",
        config.pixel_worker.string() + " does not exist (IMGUP_PIXEL_WORKER names another)");
  }
  auto graph = std::make_shared<Graph>();
  IMGUP_ASSIGN_OR_RETURN(graph->backend, lambda_api::OpenBackend(config.storage, graph->clock));
  SandboxOptions sandbox;
  sandbox.worker_command = {config.pixel_worker.string()};
  sandbox.temp_root = config.temp_root;
  sandbox.memory_budget_bytes = config.memory_budget_bytes;
  sandbox.temp_limit_bytes = config.temp_limit_bytes;
  graph->processor = std::make_unique<SandboxedImageProcessor>(sandbox);
  S3ProcessorFunction function(graph->backend->Blobs(), graph->backend->Records(),
                               *graph->processor, config.function, graph->clock,
                               lambda_api::WriteLine, &graph->backend->Tickets());
  return InvocationHandler(
      [graph, function](const Invocation& invocation) { return function(invocation); });
}

}  // namespace
}  // namespace imgup::lambda_processor

int main() {
  return imgup::lambda_api::RunLambdaMain("imgup-lambda-processor", imgup::lambda_processor::Init);
}
