#include "transport/lambda/s3_event.hpp"

#include <simdjson.h>

#include "codecs/text.hpp"
#include "codecs/utf8.hpp"

namespace imgup {

namespace {

using simdjson::dom::element;

Error NotAnS3Event(std::string detail) {
  return Error{ErrorCode::kInvalidArgument, "not_an_s3_event",
               "The event is not an S3 event notification (no Records array)", std::move(detail)};
}

Error Malformed(std::size_t index, std::string what) {
  return Error{ErrorCode::kInvalidArgument, "malformed_s3_event",
               "The S3 event notification is malformed",
               "record " + std::to_string(index) + ": " + std::move(what)};
}

bool IsValidUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (!DecodeUtf8(text, i)) return false;
  }
  return true;
}

Result<S3EventRecord> DecodeRecord(element record, std::size_t index) {
  S3EventRecord out;
  std::string_view text;
  if (record["eventName"].get_string().get(text) != simdjson::SUCCESS) {
    return tl::unexpected(Malformed(index, "no eventName"));
  }
  out.event_name = std::string(text);
  if (record["s3"]["bucket"]["name"].get_string().get(text) != simdjson::SUCCESS) {
    return tl::unexpected(Malformed(index, "no s3.bucket.name"));
  }
  out.bucket = std::string(text);
  const auto object = record["s3"]["object"];
  if (object["key"].get_string().get(text) != simdjson::SUCCESS) {
    return tl::unexpected(Malformed(index, "no s3.object.key"));
  }
  std::optional<std::string> key = DecodeS3Key(text);
  if (!key) {
    return tl::unexpected(
        Malformed(index, "s3.object.key '" + std::string(text) +
                             "' is not a URL-encoded UTF-8 key (a bad %XX escape or not UTF-8)"));
  }
  out.key = std::move(*key);
  const auto size = object["size"];
  if (size.error() != simdjson::NO_SUCH_FIELD) {
    std::uint64_t bytes = 0;
    if (size.get_uint64().get(bytes) != simdjson::SUCCESS) {
      return tl::unexpected(Malformed(index, "s3.object.size is not a number of bytes"));
    }
    out.size = bytes;
  }
  if (object["sequencer"].get_string().get(text) == simdjson::SUCCESS) {
    out.sequencer = std::string(text);
  }
  return out;
}

}  // namespace

bool S3EventRecord::IsObjectCreated() const {
  constexpr std::string_view kPrefix = "ObjectCreated:";
  return event_name.size() > kPrefix.size() && event_name.starts_with(kPrefix);
}

std::optional<std::string> DecodeS3Key(std::string_view encoded) {
  std::optional<std::string> key = PercentDecode(encoded, /*plus_is_space=*/true);
  if (!key || !IsValidUtf8(*key)) return std::nullopt;
  return key;
}

Result<std::vector<S3EventRecord>> DecodeS3Event(std::string_view event) {
  simdjson::dom::parser parser;
  element root;
  if (auto error = parser.parse(event.data(), event.size()).get(root); error != simdjson::SUCCESS) {
    return tl::unexpected(NotAnS3Event(std::string("not JSON: ") + simdjson::error_message(error)));
  }
  simdjson::dom::array records;
  if (root["Records"].get_array().get(records) != simdjson::SUCCESS) {
    return tl::unexpected(NotAnS3Event("no Records array"));
  }
  std::vector<S3EventRecord> out;
  std::size_t index = 0;
  for (element record : records) {
    if (!record.is_object()) return tl::unexpected(Malformed(index, "not an object"));
    IMGUP_ASSIGN_OR_RETURN(S3EventRecord decoded, DecodeRecord(record, index));
    out.push_back(std::move(decoded));
    ++index;
  }
  return out;
}

}  // namespace imgup
