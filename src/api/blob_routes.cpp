#include "api/blob_routes.hpp"

#include <optional>
#include <string_view>
#include <utility>

#include "codecs/multipart.hpp"

namespace imgup {

namespace {

Result<HttpResponse> ServeObject(SignedUrls& urls, BlobStore& blobs, const RouteContext& c) {
  IMGUP_ASSIGN_OR_RETURN(const SignedUrls::GetGrant grant, urls.RedeemGet(c.request.query));
  IMGUP_ASSIGN_OR_RETURN(std::string bytes, blobs.Get(grant.key));
  HttpResponse response;
  response.status = 200;
  response.body = std::move(bytes);
  response.SetHeader("Content-Type", grant.options.content_type.empty()
                                         ? "application/octet-stream"
                                         : grant.options.content_type);
  if (!grant.options.content_disposition.empty()) {
    response.SetHeader("Content-Disposition", grant.options.content_disposition);
  }
  // The URL is good once: nothing may keep its answer for another use.
  response.SetHeader("Cache-Control", "private, no-store");
  response.SetHeader("X-Content-Type-Options", "nosniff");
  return response;
}

/// A failure to store or commit what a form brought: the client may post the same form again.
bool IsStorageFailure(const Error& error) {
  return error.code == ErrorCode::kUnavailable || error.code == ErrorCode::kInternal;
}

std::optional<std::string_view> FieldOf(const FormFields& fields, std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

Result<HttpResponse> StoreForm(SignedUrls& urls, BlobStore& blobs, const FormStored& on_stored,
                               const RouteContext& c) {
  // Again here: not every transport checks the URL before the body (FormBodyLimit).
  IMGUP_RETURN_IF_ERROR(urls.CheckPostUrl(c.request.query));
  IMGUP_ASSIGN_OR_RETURN(
      const auto parts,
      ParseMultipart(c.request.body, MultipartBoundary(c.request.Header("content-type"))));
  // S3 reads the fields before the file and ignores any after it.
  FormFields fields;
  const FormPart* file = nullptr;
  for (const FormPart& part : parts) {
    if (part.name == "file") {
      file = &part;
      break;
    }
    fields.emplace_back(part.name, std::string(part.data));
  }
  if (file == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "missing_field",
                "The form has no part named 'file' (it must come after the fields)");
  }
  if (FieldOf(fields, "policy") != c.request.Query("policy")) {
    return Fail(ErrorCode::kPermissionDenied, "signature_mismatch",
                "This form's fields are not the ones its URL was signed with");
  }
  IMGUP_ASSIGN_OR_RETURN(const SignedUrls::PostGrant grant, urls.RedeemPost(fields));
  const UploadPolicy& policy = grant.policy;
  if (file->data.empty()) {
    return Fail(
        ErrorCode::kInvalidArgument, "entity_too_small",
        "The file is empty; this form takes 1 to " + std::to_string(policy.max_bytes) + " bytes");
  }
  if (file->data.size() > policy.max_bytes) {
    return Fail(ErrorCode::kPayloadTooLarge, "entity_too_large",
                "The file is " + std::to_string(file->data.size()) +
                    " bytes; this form takes at most " + std::to_string(policy.max_bytes));
  }
  Result<void> stored = blobs.Put(policy.key, file->data, policy.content_type);
  if (stored && on_stored) stored = on_stored(policy.key);
  if (!stored) {
    if (!IsStorageFailure(stored.error())) return tl::unexpected(stored.error());
    // Nothing was committed: the form stays good for another try (S3 answers a failed store
    // 503 too, and its form works again). The staging object, if stored, is written over then.
    urls.ReleasePost(grant);
    return Fail(ErrorCode::kUnavailable, "storage_unavailable",
                "The upload could not be stored; post the same form again.",
                stored.error().slug + ": " + stored.error().detail);
  }
  HttpResponse response;
  response.status = 204;  // S3's answer to a form without success_action_status
  return response;
}

}  // namespace

std::function<Result<std::size_t>(const HttpRequest& head)> FormBodyLimit(SignedUrls& urls) {
  return [&urls](const HttpRequest& head) -> Result<std::size_t> {
    IMGUP_ASSIGN_OR_RETURN(const UploadPolicy policy, urls.CheckPostUrl(head.query));
    return static_cast<std::size_t>(policy.max_bytes) + kFormFieldsAllowance;
  };
}

void RegisterBlobRoutes(Router& router, SignedUrls& urls, BlobStore& blobs, FormStored on_stored) {
  router.Add(
      "GET", std::string(SignedUrls::kGetPath),
      [&urls, &blobs](const RouteContext& c) { return ServeObject(urls, blobs, c); },
      /*is_public=*/true);
  router.Add(
      "POST", std::string(SignedUrls::kPostPath),
      [&urls, &blobs, on_stored = std::move(on_stored)](const RouteContext& c) {
        return StoreForm(urls, blobs, on_stored, c);
      },
      /*is_public=*/true);
}

}  // namespace imgup
