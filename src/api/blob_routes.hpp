#pragma once
// The local server's answers to the presigned URLs of a blob store without its own (SignedUrls):
// GET /blobs/object gives the object's bytes, POST /blobs/upload takes a form the way S3's POST
// does. Both are public: the signature is the credential. The composition root registers them
// when the blob store is the local one.
#include <cstddef>
#include <functional>
#include <string>

#include "api/router.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/signed_urls.hpp"

namespace imgup {

/// Room in a form's body for its fields and multipart framing, beside the file.
inline constexpr std::size_t kFormFieldsAllowance = 64 * 1024;

/// What the HTTP transport asks of a request to POST /blobs/upload once its header is read, before
/// any of its body (HttpServerOptions::large_body_check): a URL this server did not sign, expired
/// or used is refused (kPermissionDenied, as the route would refuse it), so that nobody without a
/// form can make the server read a body; else the most the body may hold, the form's max_bytes
/// and kFormFieldsAllowance.
std::function<Result<std::size_t>(const HttpRequest& head)> FormBodyLimit(SignedUrls& urls);

/// Runs after a form's object has been stored under `key`, in the same request (the local
/// stand-in for S3's ObjectCreated event): commits it. An error of the stores (kUnavailable,
/// kInternal) makes the form's answer 503 and leaves the form usable; the route answers any
/// other error as it is.
using FormStored = std::function<Result<void>(const std::string& key)>;

/// `on_stored`: none when empty.
void RegisterBlobRoutes(Router& router, SignedUrls& urls, BlobStore& blobs,
                        FormStored on_stored = {});

}  // namespace imgup
