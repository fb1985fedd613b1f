// imgup-lambda-api: the API function (a provided.al2023 custom runtime). The composition root:
// the configuration from the environment, the stores it names, the router and handlers, and
// API Gateway's events through the Lambda Runtime API. No image pipeline: it links no libvips
// (scripts/check_link_sides.sh), because a cold start is a user's request waiting.
#include <memory>
#include <string>

#include "../imgup/version.hpp"
#include "api/auth.hpp"
#include "api/blob_routes.hpp"
#include "api/handlers.hpp"
#include "api/router.hpp"
#include "backend.hpp"
#include "config.hpp"
#include "domain/blob_keys.hpp"
#include "domain/ulid.hpp"
#include "function_main.hpp"
#include "services/image_service.hpp"
#include "services/presigned_uploads.hpp"
#include "transport/lambda/api_function.hpp"

namespace imgup::lambda_api {
namespace {

/// Everything an invocation uses, built once by the init phase and kept by the handler.
struct Graph {
  SystemClock clock;
  UlidGenerator ids;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<ImageService> service;
  std::unique_ptr<PresignedUploads> uploads;
  std::unique_ptr<ApiKeyAuthenticator> authenticator;
  std::unique_ptr<Router> router;
};

Result<InvocationHandler> Init() {
  IMGUP_ASSIGN_OR_RETURN(const Config config, ReadConfig(ProcessEnv));
  auto graph = std::make_shared<Graph>();
  IMGUP_ASSIGN_OR_RETURN(graph->backend, OpenBackend(config, graph->clock));
  Backend& backend = *graph->backend;
  // No processing queue: on AWS the original's S3 event starts the processor function.
  graph->service = std::make_unique<ImageService>(backend.Blobs(), backend.Records(), graph->clock,
                                                  graph->ids, UploadLimits{});
  // Uploads past the inline limit: S3's presigned POST for the upload's staging key; its S3
  // event makes the processor function commit the bytes (ADR 15).
  graph->uploads = std::make_unique<PresignedUploads>(
      *graph->service, backend.Blobs(), backend.Records(), backend.Tickets(), graph->clock,
      graph->ids,
      [&blobs = backend.Blobs()](const UploadPolicy& policy) { return blobs.PresignPost(policy); },
      PresignedUploadSettings{config.max_upload_bytes, config.upload_form_ttl_s});
  // Asked at the first request that has no authorizer, not here: no network call at init.
  graph->authenticator = std::make_unique<ApiKeyAuthenticator>(
      backend.Keys(), ApiKeyAuthenticator::FirstLook::kFirstRequest);
  graph->router = std::make_unique<Router>(*graph->authenticator);
  ApiConfig api;
  api.max_body_bytes = config.max_body_bytes;
  api.version = app::kVersion;
  // Lambda answers at most 6 MB: content is a redirect to a presigned URL (ADR 7).
  api.content_redirect = true;
  api.uploads = graph->uploads.get();
  RegisterApiRoutes(*graph->router, *graph->service, api);
  if (SignedUrls* urls = backend.Urls()) {
    // Local storage: the function answers its own forms and commits what arrives (no S3 event).
    RegisterBlobRoutes(*graph->router, *urls, backend.Blobs(),
                       [uploads = graph->uploads.get()](const std::string& key) -> Result<void> {
                         auto image = ParseImageKey(key);
                         if (!image || image->kind != ImageKey::Kind::kStaging) return {};
                         IMGUP_RETURN_IF_ERROR(uploads->Arrived(image->owner, image->id));
                         return {};
                       });
  }

  ApiFunctionOptions options;
  options.max_body_bytes = config.max_body_bytes;
  options.gateway.principal_claim = config.principal_claim;
  ApiGatewayFunction function(*graph->router, options, graph->clock, WriteLine);
  return InvocationHandler(
      [graph, function](const Invocation& invocation) { return function(invocation); });
}

}  // namespace
}  // namespace imgup::lambda_api

int main() { return imgup::lambda_api::RunLambdaMain("imgup-lambda-api", imgup::lambda_api::Init); }
