#pragma once
// One error model for the whole service: a small code enum, a stable machine-readable slug,
// a public message, and one table from code to HTTP status.
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace imgup {

enum class ErrorCode {
  kInvalidArgument,       // 400: malformed JSON, base64, fields
  kUnauthenticated,       // 401: missing or wrong API key
  kPermissionDenied,      // 403
  kNotFound,              // 404: unknown id, another owner's id
  kMethodNotAllowed,      // 405
  kConflict,              // 409: id already taken, duplicate content
  kPayloadTooLarge,       // 413
  kUnsupportedMediaType,  // 415: not an allowed image type, or content != declared type
  kUnprocessable,         // 422: an image that does not decode or exceeds the pixel limit
  kResourceExhausted,     // 429: throttled
  kUnavailable,           // 503: shutting down, backend down
  kInternal,              // 500
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string slug;     // stable, machine-readable: "invalid_base64", "not_found", ...
  std::string message;  // public, safe to show to the caller
  std::string detail;   // internal only (logs); never sent to a client
};

template <class T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> Fail(ErrorCode code, std::string slug, std::string message,
                                  std::string detail = {}) {
  return tl::unexpected<Error>(Error{code, std::move(slug), std::move(message), std::move(detail)});
}

/// The error every storage adapter returns for a failure of its backend, so that callers can tell
/// a retry apart from a bug whatever the store: kUnavailable "storage_unavailable" when trying
/// again may succeed (full, busy, I/O, throttled), else kInternal "storage_error". `store` names
/// the store in the public message ("blob store", "metadata store").
Error StorageFailure(bool transient, std::string_view store, std::string detail);

/// The one table from error code to HTTP status.
int HttpStatus(ErrorCode code);
/// A short human title per code, used as the problem+json "title".
const char* Title(ErrorCode code);

}  // namespace imgup
