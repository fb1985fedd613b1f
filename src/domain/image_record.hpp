#pragma once
// The image record: the seed's fields (filename, content_type, uploaded_at, key) and the ones
// DESIGN.md adds. Plain data; JSON mapping lives in record_json.hpp.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgup {

enum class ImageStatus { kProcessing, kReady, kFailed };
const char* ToString(ImageStatus status);
std::optional<ImageStatus> ParseImageStatus(std::string_view text);

struct VariantInfo {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint64_t size_bytes = 0;
  std::string content_type;  // "image/webp"
  std::string key;           // blob key; never sent to clients
  std::string sha256;        // of the variant's bytes (its ETag), computed once when it is made
};

/// What the full decode learns about the pixels (zero/empty until the record is processed).
struct ImageInfo {
  std::uint32_t bit_depth = 0;  // bits per sample: 8, 16
  std::uint32_t bands = 0;      // samples per pixel, alpha included
  bool has_alpha = false;
  bool animated = false;
  std::uint32_t frame_count = 0;
  std::string icc_profile;  // the embedded ICC profile's description, "" when none

  bool Known() const { return bands != 0; }
};

struct ImageRecord {
  std::string id;                   // ULID: time-sortable, 26 characters
  std::string owner;                // never sent to clients; every query is scoped to it
  std::string filename;             // sanitised client file name (metadata only, never in a key)
  std::string content_type;         // what the bytes are (sniffed), e.g. "image/jpeg"
  std::string format;               // "jpeg", "png", "webp", "gif", "heif", "avif"
  std::int64_t uploaded_at_ms = 0;  // Unix epoch milliseconds, UTC
  std::string key;                  // blob key of the original: originals/{owner}/{id}
  std::uint64_t size_bytes = 0;
  std::uint32_t width = 0;  // as displayed, after EXIF orientation when known
  std::uint32_t height = 0;
  std::string sha256;  // lowercase hex of the original bytes
  ImageStatus status = ImageStatus::kReady;
  std::string failure_reason;                   // set when status == kFailed
  std::map<std::string, VariantInfo> variants;  // "thumb", "medium"
  std::string exif_json;                        // derived EXIF as a JSON object text ("" = none)
  std::string placeholder;                      // BlurHash ("" = none yet)
  std::string dominant_color;                   // "#rrggbb" ("" = none yet)
  std::string phash;                            // 16 hex digits ("" = none yet)
  ImageInfo info;                               // from the full decode
  std::vector<std::string> tags;
  std::string description;
};

/// A change to the mutable fields of a record. Unset members stay as they are.
struct ImagePatch {
  std::optional<std::vector<std::string>> tags;
  std::optional<std::string> description;
};

/// Filters and position for listing an owner's images, newest first.
struct ListQuery {
  std::size_t limit = 20;                   // 1..100
  std::optional<std::string> before_id;     // exclusive: only ids < before_id (the cursor)
  std::optional<std::string> content_type;  // exact match
  std::optional<std::string> tag;           // records carrying this tag
  std::optional<std::int64_t> from_ms;      // uploaded_at_ms >= from_ms
  std::optional<std::int64_t> to_ms;        // uploaded_at_ms < to_ms
};

struct ImagePage {
  std::vector<ImageRecord> items;
  std::optional<std::string> next_before_id;  // set when more records may follow
};

/// A record's perceptual hash, for near-duplicate search.
struct PhashEntry {
  std::string id;
  std::string phash;
};

/// Where a record points, for consistency checks (fsck).
struct RecordRef {
  std::string owner;
  std::string id;
  std::string key;
};

}  // namespace imgup
