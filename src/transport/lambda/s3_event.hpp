#pragma once
// S3 event notifications as Lambda receives them (docs.aws.amazon.com/AmazonS3/latest/userguide/
// notification-content-structure.html): {"Records": [{eventName, s3: {bucket: {name}, object:
// {key, size, sequencer}}}, ...]}. The object key arrives URL-encoded the way an HTML form
// encodes it ('+' for a space, %XX for the rest, so a '+' in a key is "%2B"): decoded here, once,
// so that nothing downstream ever sees an encoded key.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace imgup {

struct S3EventRecord {
  std::string event_name;             // "ObjectCreated:Put", "ObjectRemoved:Delete", ...
  std::string bucket;                 // s3.bucket.name
  std::string key;                    // s3.object.key, decoded
  std::optional<std::uint64_t> size;  // s3.object.size (absent from removal events)
  std::string sequencer;  // s3.object.sequencer: orders the events of one key ("" if absent)

  /// Whether the record says that an object was created (eventName "ObjectCreated:*": Put,
  /// Post, Copy, CompleteMultipartUpload), the only events the processor acts on.
  bool IsObjectCreated() const;
};

/// The records of an S3 event notification, in order.
/// Errors: kInvalidArgument "not_an_s3_event" when `event` is not JSON or has no `Records` array;
/// kInvalidArgument "malformed_s3_event" when a record lacks eventName, the bucket name or the
/// object key, or its key does not decode (a bad %XX escape, or bytes that are not UTF-8: S3 keys
/// are UTF-8). The detail names the record.
Result<std::vector<S3EventRecord>> DecodeS3Event(std::string_view event);

/// An S3 event's object key, decoded: '+' is a space, %XX the byte XX. nullopt for a bad escape
/// or a result that is not valid UTF-8.
std::optional<std::string> DecodeS3Key(std::string_view encoded);

}  // namespace imgup
