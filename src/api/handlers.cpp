#include "api/handlers.hpp"

#include <simdjson.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/embedded.hpp"
#include "api/http.hpp"
#include "api/record_json.hpp"
#include "codecs/base64.hpp"
#include "codecs/multipart.hpp"
#include "codecs/sniff.hpp"
#include "domain/blob_keys.hpp"
#include "domain/filename.hpp"
#include "domain/ulid.hpp"

namespace imgup {

namespace {

constexpr std::size_t kMaxListLimit = 100;
constexpr std::size_t kDefaultListLimit = 20;

tl::unexpected<Error> BadField(std::string slug, std::string message) {
  return Fail(ErrorCode::kInvalidArgument, std::move(slug), std::move(message));
}

std::string MediaType(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  std::string type = AsciiLower(content_type.substr(0, semi));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

/// Reads a JSON array of strings into `out`.
Result<void> ReadStringArray(simdjson::dom::element value, std::string_view field,
                             std::vector<std::string>& out) {
  simdjson::dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) {
    return BadField("invalid_field", std::string(field) + " must be an array of strings");
  }
  for (auto element : array) {
    std::string_view text;
    if (element.get_string().get(text) != simdjson::SUCCESS) {
      return BadField("invalid_field", std::string(field) + " must be an array of strings");
    }
    out.emplace_back(text);
  }
  return {};
}

Result<std::string_view> ReadString(simdjson::dom::element value, std::string_view field) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return BadField("invalid_field", std::string(field) + " must be a string");
  }
  return text;
}

/// Parses a whole JSON object body, calling `on_field(key, value)` for every member. The DOM
/// parser validates the whole document, so malformed JSON anywhere is refused.
template <class OnField>
Result<void> ParseJsonObject(const std::string& body, OnField on_field) {
  // One parser per thread keeps its buffers between small requests; large bodies get their own
  // so a thread does not hold megabytes after one big upload.
  constexpr std::size_t kReusableBytes = 1 << 20;
  thread_local simdjson::dom::parser reusable;
  simdjson::dom::parser one_off;
  simdjson::dom::parser& parser = body.size() <= kReusableBytes ? reusable : one_off;
  simdjson::dom::element doc;
  // The std::string overload parses in place when the string has simdjson's padding spare
  // (the HTTP transport reserves it), and copies the body only when it has not.
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) {
    return BadField("invalid_json", "The body is not valid JSON");
  }
  simdjson::dom::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return BadField("invalid_json", "The body must be a JSON object");
  }
  for (auto [key, value] : object) {
    if (auto ok = on_field(key, value); !ok) return ok;
  }
  return {};
}

Result<UploadRequest> ParseJsonUpload(const HttpRequest& request) {
  UploadRequest upload;
  bool has_filename = false, has_type = false, has_image = false;
  std::string_view image_base64;
  auto parsed = ParseJsonObject(
      request.body, [&](std::string_view key, simdjson::dom::element value) -> Result<void> {
        if (key == "filename") {
          IMGUP_ASSIGN_OR_RETURN(const std::string_view text, ReadString(value, key));
          upload.filename = std::string(text);
          has_filename = true;
        } else if (key == "content_type") {
          IMGUP_ASSIGN_OR_RETURN(const std::string_view text, ReadString(value, key));
          upload.declared_type = std::string(text);
          has_type = true;
        } else if (key == "image_base64") {
          IMGUP_ASSIGN_OR_RETURN(const std::string_view text, ReadString(value, key));
          // Errors from here on get the field's name in front, once, below.
          auto decoded = [&]() -> Result<std::string> {
            std::string_view data = text;
            // Browsers' FileReader.readAsDataURL gives "data:image/png;base64,...".
            std::string data_url_type;
            if (data.substr(0, 5) == "data:") {
              const std::size_t comma = data.find(',');
              if (comma == std::string_view::npos ||
                  data.substr(0, comma).find(";base64") == std::string_view::npos) {
                return BadField("invalid_base64", "a data: URL must be ;base64,");
              }
              data_url_type = MediaType(data.substr(5, comma - 5));
              data.remove_prefix(comma + 1);
            }
            auto bytes = DecodeBase64(data);
            if (!bytes) return bytes;
            // The data: URL declares a type too, and it must match the bytes like content_type.
            // FileReader writes application/octet-stream (or nothing) for a file of unknown type.
            if (!data_url_type.empty() && data_url_type != "application/octet-stream") {
              if (auto sniffed = SniffImage(*bytes);
                  sniffed && !DeclaredTypeMatches(data_url_type, *sniffed)) {
                return Fail(ErrorCode::kUnsupportedMediaType, "content_type_mismatch",
                            "the content is " + sniffed->content_type +
                                " but the data: URL declares " + data_url_type);
              }
            }
            return bytes;
          }();
          if (!decoded) {
            Error error = decoded.error();
            error.message = "image_base64: " + error.message;
            return tl::unexpected(std::move(error));
          }
          upload.bytes = std::move(*decoded);
          image_base64 = text;
          has_image = true;
        } else if (key == "tags") {
          upload.tags.clear();
          return ReadStringArray(value, key, upload.tags);
        } else if (key == "description") {
          IMGUP_ASSIGN_OR_RETURN(const std::string_view text, ReadString(value, key));
          upload.description = std::string(text);
        }
        return {};
      });
  IMGUP_RETURN_IF_ERROR(parsed);
  if (!has_filename) return BadField("missing_field", "filename is required");
  if (!has_type) return BadField("missing_field", "content_type is required");
  if (!has_image) return BadField("missing_field", "image_base64 is required");
  if (upload.filename.empty()) return BadField("invalid_field", "filename may not be empty");
  if (upload.declared_type.empty()) {
    return BadField("invalid_field", "content_type may not be empty");
  }
  if (image_base64.empty() || upload.bytes.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "empty_body", "image_base64 holds no bytes");
  }
  return upload;
}

std::vector<std::string> SplitTags(std::string_view text) {
  std::vector<std::string> tags;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    std::string_view tag = text.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (!tag.empty()) tags.emplace_back(tag);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return tags;
}

Result<UploadRequest> ParseMultipartUpload(const HttpRequest& request) {
  IMGUP_ASSIGN_OR_RETURN(
      const auto parts,
      ParseMultipart(request.body, MultipartBoundary(request.Header("content-type"))));
  UploadRequest upload;
  bool has_file = false;
  for (const FormPart& part : parts) {
    if (part.name == "file" && !has_file) {
      has_file = true;
      upload.filename = part.filename.empty() ? "upload" : part.filename;
      const std::string type = MediaType(part.content_type);
      // Browsers send application/octet-stream for types they do not know: let the bytes speak.
      if (type != "application/octet-stream") upload.declared_type = type;
      upload.bytes = std::string(part.data);
    } else if (part.name == "tags") {
      for (auto& tag : SplitTags(part.data)) upload.tags.push_back(std::move(tag));
    } else if (part.name == "description") {
      upload.description = std::string(part.data);
    }
  }
  if (!has_file) return BadField("missing_field", "The form has no part named 'file'");
  if (upload.bytes.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "empty_body", "The file part holds no bytes");
  }
  return upload;
}

Result<UploadRequest> ParseRawUpload(const HttpRequest& request, std::string media_type) {
  UploadRequest upload;
  upload.filename = std::string(request.Query("filename").value_or("upload"));
  if (upload.filename.empty()) upload.filename = "upload";
  upload.declared_type = std::move(media_type);
  upload.bytes = request.body;
  if (auto tags = request.Query("tags")) upload.tags = SplitTags(*tags);
  if (auto description = request.Query("description")) upload.description = *description;
  if (upload.bytes.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "empty_body", "The request body is empty");
  }
  return upload;
}

Result<std::size_t> ParseLimit(std::optional<std::string_view> text) {
  if (!text) return kDefaultListLimit;
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc{} || end != text->data() + text->size() || value < 1 ||
      value > kMaxListLimit) {
    return BadField("invalid_query",
                    "limit must be a whole number from 1 to " + std::to_string(kMaxListLimit));
  }
  return value;
}

Result<std::optional<std::int64_t>> ParseTimeParam(const HttpRequest& request,
                                                   std::string_view name) {
  const auto text = request.Query(name);
  if (!text) return std::optional<std::int64_t>{};
  auto ms = ParseRfc3339(*text);
  if (!ms) {
    return BadField("invalid_query",
                    std::string(name) + " must be an RFC 3339 time such as 2026-11-25T00:00:00Z");
  }
  return std::optional<std::int64_t>{*ms};
}

HttpResponse RecordResponse(const RouteContext& context, int status, const ImageRecord& record,
                            std::optional<bool> duplicate = std::nullopt) {
  nlohmann::json json = RecordToJson(record, context.request.base_path);
  if (duplicate) json["duplicate"] = *duplicate;
  return JsonResponse(status, json.dump());
}

Result<HttpResponse> HandleUpload(ImageService& service, const RouteContext& context) {
  IMGUP_ASSIGN_OR_RETURN(UploadRequest upload, ParseUploadRequest(context.request));
  upload.owner = context.owner;
  IMGUP_ASSIGN_OR_RETURN(const UploadOutcome outcome, service.Upload(std::move(upload)));
  HttpResponse response =
      RecordResponse(context, outcome.duplicate ? 200 : 201, outcome.record, outcome.duplicate);
  response.SetHeader("Location", context.request.base_path + "/images/" + outcome.record.id);
  response.image_bytes = outcome.record.size_bytes;
  return response;
}

/// POST /uploads {filename, content_type, size_bytes}: a ticket and its presigned form.
Result<HttpResponse> HandleStartUpload(PresignedUploads& uploads, const RouteContext& context) {
  if (const std::string type = MediaType(context.request.Header("content-type"));
      !type.empty() && type != "application/json") {
    return Fail(ErrorCode::kUnsupportedMediaType, "unsupported_media_type",
                "Send application/json: {filename, content_type, size_bytes}");
  }
  std::optional<std::string> filename, content_type;
  std::optional<std::uint64_t> size_bytes;
  IMGUP_RETURN_IF_ERROR(ParseJsonObject(
      context.request.body,
      [&](std::string_view key, simdjson::dom::element value) -> Result<void> {
        if (key == "filename") {
          IMGUP_ASSIGN_OR_RETURN(const std::string_view text, ReadString(value, key));
          filename = std::string(text);
        } else if (key == "content_type") {
          IMGUP_ASSIGN_OR_RETURN(const std::string_view text, ReadString(value, key));
          content_type = std::string(text);
        } else if (key == "size_bytes") {
          std::uint64_t size = 0;
          if (value.get_uint64().get(size) != simdjson::SUCCESS) {
            return BadField("invalid_field", "size_bytes must be a whole number of bytes");
          }
          size_bytes = size;
        }
        return {};
      }));
  if (!filename) return BadField("missing_field", "filename is required");
  if (!content_type) return BadField("missing_field", "content_type is required");
  if (!size_bytes) return BadField("missing_field", "size_bytes is required");
  IMGUP_ASSIGN_OR_RETURN(StartedUpload started,
                         uploads.Start(context.owner, *filename, *content_type, *size_bytes));
  std::string url = started.post.url;
  // The local server's form is relative to it: absolute, as S3's is and as form clients expect,
  // under the base path the record links have, at the origin the client addressed (https
  // behind a TLS proxy that says so).
  if (!url.empty() && url.front() == '/') {
    url = context.request.PublicOrigin() + context.request.base_path + url;
  }
  // The form's fields in their order (S3 reads them before the file).
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  for (const auto& [name, value] : started.post.fields) fields[name] = value;
  const std::string self = context.request.base_path + "/images/" + started.ticket.id;
  nlohmann::ordered_json body = {
      {"id", started.ticket.id},
      {"url", std::move(url)},
      {"fields", std::move(fields)},
      {"expires_at", FormatRfc3339(started.post.expires_at_ms)},
      {"status", ToString(started.ticket.state)},
      {"max_bytes", started.ticket.max_bytes},
      {"content_type", started.ticket.content_type},
      {"urls", {{"self", self}}},
  };
  HttpResponse response = JsonResponse(201, body.dump());
  response.SetHeader("Location", self);
  return response;
}

/// GET /images/{id} for an id with no image record: its upload ticket, while it lasts.
Result<HttpResponse> PendingUploadResponse(PresignedUploads& uploads, const RouteContext& context) {
  IMGUP_ASSIGN_OR_RETURN(const PendingUpload pending,
                         uploads.Find(context.owner, context.Param("id")));
  if (pending.duplicate_of) {
    // As POST /upload answers a repeated upload: the owner's image with these bytes.
    return RecordResponse(context, 200, *pending.duplicate_of, /*duplicate=*/true);
  }
  const UploadTicket& ticket = pending.ticket;
  const std::string self = context.request.base_path + "/images/" + ticket.id;
  nlohmann::json body = {
      {"id", ticket.id},
      {"filename", ticket.filename},
      {"content_type", ticket.content_type},
      {"uploaded_at", nullptr},
      {"key", OriginalKey(ticket.owner, ticket.id)},
      {"size_bytes", ticket.max_bytes},
      {"status", ticket.state == TicketState::kAwaitingUpload ? "awaiting_upload" : "failed"},
      {"expires_at", FormatRfc3339(ticket.expires_at_ms)},
      {"variants", nlohmann::json::object()},
      {"tags", nlohmann::json::array()},
      {"description", ""},
      {"urls", {{"self", self}, {"content", self + "/content"}}},
  };
  if (ticket.state != TicketState::kAwaitingUpload) body["failure_reason"] = ticket.failure_reason;
  return JsonResponse(200, body.dump());
}

Result<HttpResponse> HandleList(ImageService& service, const RouteContext& context) {
  const HttpRequest& request = context.request;
  ListQuery query;
  IMGUP_ASSIGN_OR_RETURN(query.limit, ParseLimit(request.Query("limit")));
  if (auto cursor = request.Query("cursor"); cursor && !cursor->empty()) {
    IMGUP_ASSIGN_OR_RETURN(query.before_id, DecodeCursor(*cursor));
  }
  if (auto type = request.Query("content_type"); type && !type->empty()) {
    query.content_type = AsciiLower(*type);
  }
  if (auto tag = request.Query("tag"); tag && !tag->empty()) query.tag = std::string(*tag);
  IMGUP_ASSIGN_OR_RETURN(query.from_ms, ParseTimeParam(request, "from"));
  IMGUP_ASSIGN_OR_RETURN(query.to_ms, ParseTimeParam(request, "to"));

  IMGUP_ASSIGN_OR_RETURN(const ImagePage page, service.List(context.owner, query));
  nlohmann::json items = nlohmann::json::array();
  for (const ImageRecord& record : page.items)
    items.push_back(RecordToJson(record, context.request.base_path));
  nlohmann::json body = {{"items", std::move(items)}, {"next_cursor", nullptr}};
  if (page.next_before_id) body["next_cursor"] = EncodeCursor(*page.next_before_id);
  return JsonResponse(200, body.dump());
}

Result<HttpResponse> HandlePatch(ImageService& service, const RouteContext& context) {
  ImagePatch patch;
  auto parsed = ParseJsonObject(
      context.request.body,
      [&](std::string_view key, simdjson::dom::element value) -> Result<void> {
        if (key == "tags") {
          std::vector<std::string> tags;
          if (auto ok = ReadStringArray(value, key, tags); !ok) return ok;
          patch.tags = std::move(tags);
        } else if (key == "description") {
          IMGUP_ASSIGN_OR_RETURN(const std::string_view text, ReadString(value, key));
          patch.description = std::string(text);
        }
        return {};
      });
  IMGUP_RETURN_IF_ERROR(parsed);
  IMGUP_ASSIGN_OR_RETURN(const ImageRecord record,
                         service.Patch(context.owner, context.Param("id"), patch));
  return RecordResponse(context, 200, record);
}

/// Whether an If-None-Match header (a list of entity tags, or "*") names `etag`. Weak
/// comparison, as RFC 9110 asks for If-None-Match.
bool EtagMatches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view candidate = header.substr(0, comma);
    while (!candidate.empty() && candidate.front() == ' ') candidate.remove_prefix(1);
    while (!candidate.empty() && candidate.back() == ' ') candidate.remove_suffix(1);
    if (candidate.substr(0, 2) == "W/") candidate.remove_prefix(2);
    if (candidate == "*" || candidate == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

Result<HttpResponse> HandleContent(ImageService& service, const ApiConfig& config,
                                   const RouteContext& context) {
  const std::string_view variant = context.request.Query("variant").value_or("original");
  if (variant != "original" && variant != "thumb" && variant != "medium") {
    return BadField("invalid_query", "variant must be original, thumb or medium");
  }
  HttpResponse response;
  response.SetHeader("X-Content-Type-Options", "nosniff");
  if (config.content_redirect) {
    IMGUP_ASSIGN_OR_RETURN(const ContentLocation location,
                           service.LocateContent(context.owner, context.Param("id"), variant));
    if (!location.sha256.empty()) {
      const std::string etag = "\"" + location.sha256 + "\"";
      if (EtagMatches(context.request.Header("if-none-match"), etag)) {
        response.SetHeader("ETag", etag);
        response.status = 304;
        return response;
      }
    }
    IMGUP_ASSIGN_OR_RETURN(
        std::string url, service.PresignContent(
                             location, config.content_url_ttl_s,
                             "inline; filename*=" + ContentDispositionFilename(location.filename)));
    // A local URL is relative to the server, which may be mounted under a base path.
    if (url.starts_with('/')) url = context.request.base_path + url;
    response.status = 302;
    response.SetHeader("Location", url);
    // The URL expires (and a local one works once): never reuse this answer.
    response.SetHeader("Cache-Control", "private, no-store");
    return response;
  }
  IMGUP_ASSIGN_OR_RETURN(Content content,
                         service.GetContent(context.owner, context.Param("id"), variant));
  const std::string etag = "\"" + content.sha256 + "\"";
  response.SetHeader("ETag", etag);
  response.SetHeader("Cache-Control", "private, max-age=31536000, immutable");
  if (EtagMatches(context.request.Header("if-none-match"), etag)) {
    response.status = 304;
    return response;
  }
  // Range (video-style seeking, resumed downloads): one range, unless If-Range names another
  // version than this one (then the whole bytes, as RFC 9110 says).
  RangeAsk range;
  if (const std::string_view asked = context.request.Header("range"); !asked.empty()) {
    const std::string_view if_range = context.request.Header("if-range");
    if (if_range.empty() || if_range == etag) range = ParseRange(asked, content.bytes.size());
  }
  const std::string size = std::to_string(content.bytes.size());
  if (range.kind == RangeAsk::Kind::kUnsatisfiable) {
    HttpResponse refused =
        ProblemResponse(Error{ErrorCode::kRangeNotSatisfiable,
                              "range_not_satisfiable",
                              "The range starts past the end of the " + size + " bytes.",
                              {}},
                        context.request.request_id);
    refused.SetHeader("Content-Range", "bytes */" + size);  // says how many there are
    return refused;
  }
  response.SetHeader("Accept-Ranges", "bytes");
  response.SetHeader("Content-Type", content.content_type);
  response.SetHeader("Content-Disposition",
                     "inline; filename*=" + ContentDispositionFilename(content.filename));
  if (range.kind == RangeAsk::Kind::kPart) {
    response.status = 206;
    response.SetHeader("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                            std::to_string(range.last) + "/" + size);
    response.body = content.bytes.substr(range.first, range.last - range.first + 1);
    return response;
  }
  response.status = 200;
  response.body = std::move(content.bytes);
  return response;
}

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

/// An embedded page asset, with a Content-Security-Policy that allows no inline code.
Result<HttpResponse> StaticFile(const RouteContext& context, std::string_view name) {
  const auto bytes = name == "openapi.json" ? std::nullopt : FindEmbeddedFile(name);
  if (!bytes) {
    return Fail(ErrorCode::kNotFound, "not_found", "No such file: " + std::string(name));
  }
  const std::string_view extension = name.substr(name.rfind('.') + 1);
  const char* type = extension == "html"  ? "text/html; charset=utf-8"
                     : extension == "js"  ? "text/javascript; charset=utf-8"
                     : extension == "css" ? "text/css; charset=utf-8"
                                          : "application/octet-stream";
  HttpResponse response;
  response.status = 200;
  response.body = std::string(*bytes);
  if (name == "index.html")
    ReplaceAll(response.body, "{{BASE}}", MarkupEscape(context.request.base_path));
  response.SetHeader("Content-Type", type);
  response.SetHeader("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
                     "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                     "form-action 'self'; frame-ancestors 'none'");
  response.SetHeader("X-Content-Type-Options", "nosniff");
  response.SetHeader("Referrer-Policy", "no-referrer");
  response.SetHeader("Cache-Control", "no-cache");
  return response;
}

Result<HttpResponse> HandleSimilar(ImageService& service, const RouteContext& context) {
  constexpr int kDefaultMaxDistance = 10;
  int max_distance = kDefaultMaxDistance;
  if (auto text = context.request.Query("max_distance")) {
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), max_distance);
    if (ec != std::errc{} || end != text->data() + text->size() || max_distance < 0 ||
        max_distance > 64) {
      return BadField("invalid_query", "max_distance must be a whole number from 0 to 64");
    }
  }
  IMGUP_ASSIGN_OR_RETURN(const std::size_t limit, ParseLimit(context.request.Query("limit")));
  IMGUP_ASSIGN_OR_RETURN(const auto similar, service.FindSimilar(context.owner, context.Param("id"),
                                                                 max_distance, limit));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& match : similar) {
    nlohmann::json item = RecordToJson(match.record, context.request.base_path);
    item["distance"] = match.distance;
    items.push_back(std::move(item));
  }
  return JsonResponse(200, nlohmann::json{{"items", std::move(items)}}.dump());
}

}  // namespace

Error PayloadTooLarge(std::size_t limit_bytes) {
  // Names the limit and the way around it: a presigned upload, whose bytes skip this body.
  return Error{ErrorCode::kPayloadTooLarge,
               "payload_too_large",
               "The request body is larger than this server's inline limit of " +
                   std::to_string(limit_bytes) +
                   " bytes (its operator sets it: imgup serve --max-body-bytes, "
                   "IMGUP_MAX_BODY_BYTES on Lambda); send larger images with POST /uploads "
                   "{filename, content_type, size_bytes} and the form it answers (GET /health "
                   "says both limits)",
               {}};
}

Result<UploadRequest> ParseUploadRequest(const HttpRequest& request) {
  const std::string media_type = MediaType(request.Header("content-type"));
  if (media_type == "application/json" || media_type.empty()) {
    if (request.body.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "empty_body", "The request body is empty");
    }
    return ParseJsonUpload(request);
  }
  if (media_type == "multipart/form-data") return ParseMultipartUpload(request);
  if (media_type.rfind("image/", 0) == 0 || media_type == "application/octet-stream") {
    return ParseRawUpload(request, media_type == "application/octet-stream" ? "" : media_type);
  }
  return Fail(ErrorCode::kUnsupportedMediaType, "unsupported_media_type",
              "Send application/json ({filename, content_type, image_base64}), "
              "multipart/form-data with a 'file' part, or the raw image with an image/* type");
}

std::string EncodeCursor(std::string_view before_id) {
  return EncodeBase64Url("v1:" + std::string(before_id));
}

Result<std::string> DecodeCursor(std::string_view cursor) {
  auto decoded = DecodeBase64Url(cursor);
  if (!decoded || decoded->rfind("v1:", 0) != 0 || !IsValidUlid(decoded->substr(3))) {
    return Fail(ErrorCode::kInvalidArgument, "invalid_cursor",
                "cursor is not one this server gave out; start again without it");
  }
  return decoded->substr(3);
}

void RegisterApiRoutes(Router& router, ImageService& service, const ApiConfig& config) {
  router.Add("POST", "/upload",
             [&service](const RouteContext& c) { return HandleUpload(service, c); });
  router.Add("GET", "/images",
             [&service](const RouteContext& c) { return HandleList(service, c); });
  router.Add("GET", "/images/{id}",
             [&service, uploads = config.uploads](const RouteContext& c) -> Result<HttpResponse> {
               auto record = service.Get(c.owner, c.Param("id"));
               if (!record && record.error().code == ErrorCode::kNotFound && uploads != nullptr) {
                 // Not an image (yet): a presigned upload whose bytes are still to come, or
                 // were refused.
                 if (auto pending = PendingUploadResponse(*uploads, c);
                     pending || pending.error().code != ErrorCode::kNotFound) {
                   return pending;
                 }
                 // Neither: unless the upload was committed between the two reads (the record
                 // is written before its ticket is removed), so the record is read once more.
                 record = service.Get(c.owner, c.Param("id"));
               }
               if (!record) return tl::unexpected(record.error());
               return RecordResponse(c, 200, *record);
             });
  if (config.uploads != nullptr) {
    router.Add("POST", "/uploads", [uploads = config.uploads](const RouteContext& c) {
      return HandleStartUpload(*uploads, c);
    });
  }
  router.Add("PATCH", "/images/{id}",
             [&service](const RouteContext& c) { return HandlePatch(service, c); });
  router.Add("DELETE", "/images/{id}", [&service](const RouteContext& c) -> Result<HttpResponse> {
    IMGUP_RETURN_IF_ERROR(service.Delete(c.owner, c.Param("id")));
    HttpResponse response;
    response.status = 204;
    return response;
  });
  router.Add("GET", "/images/{id}/content", [&service, config](const RouteContext& c) {
    return HandleContent(service, config, c);
  });
  router.Add("GET", "/images/{id}/similar",
             [&service](const RouteContext& c) { return HandleSimilar(service, c); });
  router.Add(
      "GET", "/health",
      [config](const RouteContext&) -> Result<HttpResponse> {
        // The limits a client needs to refuse up front what the server would refuse anyway
        // (the web page sizes its uploads by max_body_bytes).
        nlohmann::json health = {{"status", "ok"},
                                 {"version", config.version},
                                 {"limits", {{"max_body_bytes", config.max_body_bytes}}}};
        // Images past max_body_bytes go through POST /uploads, up to max_upload_bytes.
        if (config.uploads != nullptr) {
          health["limits"]["max_upload_bytes"] = config.uploads->settings().max_upload_bytes;
          health["limits"]["upload_form_ttl_s"] = config.uploads->settings().form_ttl_s;
        }
        if (config.pending_processing) health["processing"] = config.pending_processing();
        return JsonResponse(200, health.dump());
      },
      /*is_public=*/true);
  router.Add(
      "GET", "/openapi.json",
      [](const RouteContext&) -> Result<HttpResponse> {
        return JsonResponse(200, std::string(FindEmbeddedFile("openapi.json").value_or("{}")));
      },
      /*is_public=*/true);
  // The web page is public; its API calls carry the key the page asks for.
  router.Add(
      "GET", "/",
      [](const RouteContext& c) -> Result<HttpResponse> { return StaticFile(c, "index.html"); },
      /*is_public=*/true);
  router.Add(
      "GET", "/assets/{name}",
      [](const RouteContext& c) -> Result<HttpResponse> { return StaticFile(c, c.Param("name")); },
      /*is_public=*/true);
}

}  // namespace imgup
