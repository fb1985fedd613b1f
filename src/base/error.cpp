#include "base/error.hpp"

namespace imgup {

int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kUnsupportedMediaType:
      return 415;
    case ErrorCode::kRangeNotSatisfiable:
      return 416;
    case ErrorCode::kUnprocessable:
      return 422;
    case ErrorCode::kResourceExhausted:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

const char* Title(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "Bad Request";
    case ErrorCode::kUnauthenticated:
      return "Unauthorized";
    case ErrorCode::kPermissionDenied:
      return "Forbidden";
    case ErrorCode::kNotFound:
      return "Not Found";
    case ErrorCode::kMethodNotAllowed:
      return "Method Not Allowed";
    case ErrorCode::kConflict:
      return "Conflict";
    case ErrorCode::kPayloadTooLarge:
      return "Content Too Large";
    case ErrorCode::kUnsupportedMediaType:
      return "Unsupported Media Type";
    case ErrorCode::kRangeNotSatisfiable:
      return "Range Not Satisfiable";
    case ErrorCode::kUnprocessable:
      return "Unprocessable Content";
    case ErrorCode::kResourceExhausted:
      return "Too Many Requests";
    case ErrorCode::kUnavailable:
      return "Service Unavailable";
    case ErrorCode::kInternal:
      return "Internal Server Error";
  }
  return "Internal Server Error";
}

Error StorageFailure(bool transient, std::string_view store, std::string detail) {
  if (transient) {
    return Error{ErrorCode::kUnavailable, "storage_unavailable",
                 "The " + std::string(store) + " is temporarily unavailable.", std::move(detail)};
  }
  return Error{ErrorCode::kInternal, "storage_error", "The " + std::string(store) + " failed.",
               std::move(detail)};
}

}  // namespace imgup
