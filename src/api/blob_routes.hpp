#pragma once
// The local server's answers to the presigned URLs of a blob store without its own (SignedUrls):
// GET /blobs/object gives the object's bytes, POST /blobs/upload takes a form the way S3's POST
// does. Both are public: the signature is the credential. The composition root registers them
// when the blob store is the local one.
#include <functional>
#include <string>

#include "api/router.hpp"
#include "domain/ports/blob_store.hpp"
#include "domain/signed_urls.hpp"

namespace imgup {

/// `on_stored(key)` runs after a form's object has been stored (the local stand-in for S3's
/// ObjectCreated event); none when empty.
void RegisterBlobRoutes(Router& router, SignedUrls& urls, BlobStore& blobs,
                        std::function<void(const std::string& key)> on_stored = {});

}  // namespace imgup
