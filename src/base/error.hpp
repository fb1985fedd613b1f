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
  kRangeNotSatisfiable,   // 416: a Range that starts past the end of the bytes
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

// Error plumbing for the happy path (Abseil's and Envoy's RETURN_IF_ERROR / ASSIGN_OR_RETURN):
//
//   IMGUP_ASSIGN_OR_RETURN(auto record, records_.Get(owner, id));  // record: ImageRecord
//   IMGUP_RETURN_IF_ERROR(blobs_.Delete(record.key));
//
// Each returns the failed Result's error from the enclosing function, which must return a
// Result. IMGUP_ASSIGN_OR_RETURN declares or assigns `lhs` with the value moved out of `expr`.
#define IMGUP_RETURN_IF_ERROR(expr)                                              \
  do {                                                                           \
    if (auto imgup_status_ = (expr); !imgup_status_) {                           \
      return ::tl::unexpected<::imgup::Error>(std::move(imgup_status_.error())); \
    }                                                                            \
  } while (false)

#define IMGUP_CONCAT_INNER_(a, b) a##b
#define IMGUP_CONCAT_(a, b) IMGUP_CONCAT_INNER_(a, b)
#define IMGUP_ASSIGN_OR_RETURN(lhs, expr) \
  IMGUP_ASSIGN_OR_RETURN_IMPL_(IMGUP_CONCAT_(imgup_result_, __LINE__), lhs, expr)
#define IMGUP_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr)                            \
  auto result = (expr);                                                            \
  if (!result) return ::tl::unexpected<::imgup::Error>(std::move(result.error())); \
  lhs = std::move(*result)
