#include "api/record_json.hpp"

#include <chrono>
#include <cstdio>

namespace imgup {

nlohmann::json RecordToJson(const ImageRecord& record, std::string_view base_path) {
  const std::string self = std::string(base_path) + "/images/" + record.id;
  nlohmann::json variants = nlohmann::json::object();
  for (const auto& [name, variant] : record.variants) {
    variants[name] = {{"width", variant.width},
                      {"height", variant.height},
                      {"size_bytes", variant.size_bytes},
                      {"content_type", variant.content_type}};
  }
  auto optional_string = [](const std::string& value) -> nlohmann::json {
    return value.empty() ? nlohmann::json(nullptr) : nlohmann::json(value);
  };
  nlohmann::json exif = nullptr;
  if (!record.exif_json.empty()) {
    exif = nlohmann::json::parse(record.exif_json, nullptr, /*allow_exceptions=*/false);
    if (exif.is_discarded()) exif = nullptr;
  }
  nlohmann::json out = {
      {"id", record.id},
      {"filename", record.filename},
      {"content_type", record.content_type},
      {"format", record.format},
      {"uploaded_at", FormatRfc3339(record.uploaded_at_ms)},
      {"key", record.key},
      {"size_bytes", record.size_bytes},
      {"width", record.width},
      {"height", record.height},
      {"sha256", record.sha256},
      {"status", ToString(record.status)},
      {"variants", std::move(variants)},
      {"exif", std::move(exif)},
      {"placeholder", optional_string(record.placeholder)},
      {"dominant_color", optional_string(record.dominant_color)},
      {"phash", optional_string(record.phash)},
      {"tags", record.tags},
      {"description", record.description},
      {"bit_depth", record.info.Known() ? nlohmann::json(record.info.bit_depth) : nullptr},
      {"bands", record.info.Known() ? nlohmann::json(record.info.bands) : nullptr},
      {"has_alpha", record.info.Known() ? nlohmann::json(record.info.has_alpha) : nullptr},
      {"animated", record.info.Known() ? nlohmann::json(record.info.animated) : nullptr},
      {"frame_count", record.info.Known() ? nlohmann::json(record.info.frame_count) : nullptr},
      {"icc_profile", optional_string(record.info.icc_profile)},
      {"urls", {{"self", self}, {"content", self + "/content"}}},
  };
  if (record.status == ImageStatus::kFailed) out["failure_reason"] = record.failure_reason;
  return out;
}

std::string FormatRfc3339(std::int64_t epoch_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{epoch_ms}};
  const sys_days day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> tod{tp - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<int>(tod.subseconds().count()));
  return buf;
}

namespace {

bool ReadDigits(std::string_view text, std::size_t& pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += count;
  out = value;
  return true;
}

bool Expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<std::int64_t> ParseRfc3339(std::string_view text) {
  using namespace std::chrono;
  std::size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!ReadDigits(text, pos, 4, y) || !Expect(text, pos, '-') || !ReadDigits(text, pos, 2, mo) ||
      !Expect(text, pos, '-') || !ReadDigits(text, pos, 2, d)) {
    return std::nullopt;
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  std::int64_t ms = duration_cast<milliseconds>(sys_days{ymd}.time_since_epoch()).count();
  if (pos == text.size()) return ms;
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return std::nullopt;
  }
  ++pos;
  if (!ReadDigits(text, pos, 2, h) || !Expect(text, pos, ':') || !ReadDigits(text, pos, 2, mi) ||
      !Expect(text, pos, ':') || !ReadDigits(text, pos, 2, s)) {
    return std::nullopt;
  }
  if (h > 23 || mi > 59 || s > 60) return std::nullopt;
  int fraction_ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) fraction_ms = fraction_ms * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 3; ++i) fraction_ms *= 10;
  }
  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!ReadDigits(text, pos, 2, oh) || !Expect(text, pos, ':') || !ReadDigits(text, pos, 2, om)) {
      return std::nullopt;
    }
    if (oh > 23 || om > 59) return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  ms += ((static_cast<std::int64_t>(h) * 60 + mi - offset_minutes) * 60 + s) * 1000 + fraction_ms;
  return ms;
}

}  // namespace imgup
