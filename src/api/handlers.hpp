#pragma once
// The API handlers: each turns a request into one service call and the result into a response.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "api/router.hpp"
#include "services/image_service.hpp"
#include "services/presigned_uploads.hpp"

namespace imgup {

struct ApiConfig {
  std::size_t max_body_bytes = 10 * 1024 * 1024;  // larger bodies get 413
  std::string version = "0.1.0";
  /// Images queued or being processed right now (reported by GET /health); none when unset.
  std::function<std::size_t()> pending_processing;
  /// GET /images/{id}/content answers with a redirect to a presigned URL of the blob store
  /// instead of the bytes (Lambda answers at most 6 MB); the URL is good for this long.
  bool content_redirect = false;
  std::int64_t content_url_ttl_s = 300;
  /// POST /uploads, and GET /images/{id} of an upload whose bytes have not been committed; not
  /// offered when null (POST /uploads answers 404). Not owned.
  PresignedUploads* uploads = nullptr;
};

/// Registers every route of the HTTP API (DESIGN.md) on `router`.
void RegisterApiRoutes(Router& router, ImageService& service, const ApiConfig& config);

/// The 413 problem for a body over the limit, shared by the transports that refuse it before
/// reading it. It names the limit and POST /uploads, the way to send larger images.
Error PayloadTooLarge(std::size_t limit_bytes);

/// The parsed form of a POST /upload request body (JSON, multipart or raw), before validation
/// of the image itself. Exposed for tests and benchmarks.
Result<UploadRequest> ParseUploadRequest(const HttpRequest& request);

/// Opaque cursors for GET /images.
std::string EncodeCursor(std::string_view before_id);
Result<std::string> DecodeCursor(std::string_view cursor);

}  // namespace imgup
