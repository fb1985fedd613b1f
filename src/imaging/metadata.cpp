#include "imaging/metadata.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <utility>

#include "codecs/utf8.hpp"

namespace imgup {
namespace {

constexpr std::size_t kMaxText = 256;

// Keeps printable ASCII and well-formed UTF-8; drops control bytes and anything malformed.
// Trailing NULs, spaces and padding are trimmed. The result is always valid UTF-8.
std::string CleanText(std::string_view raw) {
  std::string out;
  std::size_t i = 0;
  while (i < raw.size() && out.size() < kMaxText) {
    const std::size_t at = i;
    const std::optional<char32_t> cp = DecodeUtf8(raw, i);
    if (cp == U'\0') break;
    // Malformed sequences and ASCII control characters are dropped; the rest is kept as is.
    if (!cp || *cp < 0x20 || *cp == 0x7F) continue;
    out.append(raw.substr(at, i - at));
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  std::size_t start = 0;
  while (start < out.size() && out[start] == ' ') ++start;
  return out.substr(start);
}

std::optional<std::string> NonEmpty(std::string s) {
  if (s.empty()) return std::nullopt;
  return s;
}

// ---------------------------------------------------------------------------------------------
// TIFF / EXIF

enum : std::uint16_t {
  kByte = 1,
  kAscii = 2,
  kShort = 3,
  kLong = 4,
  kRational = 5,
  kUndefined = 7,
  kSLong = 9,
  kSRational = 10,
};

struct Entry {
  std::uint16_t type = 0;
  std::uint32_t count = 0;
  std::string_view data;  // count values, bounds-checked
};

class Tiff {
 public:
  explicit Tiff(std::string_view bytes) : bytes_(bytes) {}

  bool ReadHeader(std::uint32_t* ifd0) {
    if (bytes_.size() < 8) return false;
    if (bytes_.substr(0, 4) == std::string_view("II*\0", 4)) {
      little_ = true;
    } else if (bytes_.substr(0, 4) == std::string_view("MM\0*", 4)) {
      little_ = false;
    } else {
      return false;
    }
    *ifd0 = U32(4);
    return true;
  }

  // Finds `tag` in the IFD at `offset`. Returns nullopt when the IFD or the value lies outside
  // the block.
  std::optional<Entry> Find(std::uint32_t offset, std::uint16_t tag) const {
    if (offset < 8 || offset > bytes_.size() || bytes_.size() - offset < 2) return std::nullopt;
    const std::uint32_t n = U16(offset);
    const std::size_t first = std::size_t{offset} + 2;
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::size_t at = first + std::size_t{i} * 12;
      if (at + 12 > bytes_.size()) return std::nullopt;
      if (U16(at) != tag) continue;
      Entry e;
      e.type = static_cast<std::uint16_t>(U16(at + 2));
      e.count = U32(at + 4);
      const std::size_t unit = UnitSize(e.type);
      if (unit == 0 || e.count == 0 || e.count > (1u << 20)) return std::nullopt;
      const std::size_t size = unit * e.count;
      const std::size_t value_at = size <= 4 ? at + 8 : std::size_t{U32(at + 8)};
      if (value_at > bytes_.size() || bytes_.size() - value_at < size) return std::nullopt;
      e.data = bytes_.substr(value_at, size);
      return e;
    }
    return std::nullopt;
  }

  std::optional<std::uint32_t> Unsigned(std::uint32_t ifd, std::uint16_t tag) const {
    const auto e = Find(ifd, tag);
    if (!e) return std::nullopt;
    const auto at = static_cast<std::size_t>(e->data.data() - bytes_.data());
    switch (e->type) {
      case kByte:
        return static_cast<std::uint8_t>(e->data[0]);
      case kShort:
        return U16(at);
      case kLong:
        return U32(at);
      default:
        return std::nullopt;
    }
  }

  // The `index`th rational value of `tag`, as numerator and denominator.
  std::optional<std::pair<double, double>> Rational(std::uint32_t ifd, std::uint16_t tag,
                                                    std::uint32_t index = 0) const {
    const auto e = Find(ifd, tag);
    if (!e || index >= e->count || (e->type != kRational && e->type != kSRational))
      return std::nullopt;
    const auto at = static_cast<std::size_t>(e->data.data() - bytes_.data()) + 8u * index;
    const std::uint32_t n = U32(at), d = U32(at + 4);
    if (e->type == kSRational)
      return std::pair{static_cast<double>(static_cast<std::int32_t>(n)),
                       static_cast<double>(static_cast<std::int32_t>(d))};
    return std::pair{static_cast<double>(n), static_cast<double>(d)};
  }

  std::optional<double> Real(std::uint32_t ifd, std::uint16_t tag, std::uint32_t index = 0) const {
    const auto r = Rational(ifd, tag, index);
    if (!r || r->second == 0) return std::nullopt;
    const double v = r->first / r->second;
    if (!std::isfinite(v)) return std::nullopt;
    return v;
  }

  std::optional<std::string> Text(std::uint32_t ifd, std::uint16_t tag) const {
    const auto e = Find(ifd, tag);
    if (!e || (e->type != kAscii && e->type != kUndefined && e->type != kByte)) return std::nullopt;
    return NonEmpty(CleanText(e->data));
  }

 private:
  static std::size_t UnitSize(std::uint16_t type) {
    switch (type) {
      case kByte:
      case kAscii:
      case kUndefined:
        return 1;
      case kShort:
        return 2;
      case kLong:
      case kSLong:
        return 4;
      case kRational:
      case kSRational:
        return 8;
      default:
        return 0;
    }
  }
  // Callers have checked that the bytes exist.
  std::uint32_t U16(std::size_t at) const {
    const auto b0 = static_cast<unsigned char>(bytes_[at]);
    const auto b1 = static_cast<unsigned char>(bytes_[at + 1]);
    return little_ ? (std::uint32_t{b1} << 8 | b0) : (std::uint32_t{b0} << 8 | b1);
  }
  std::uint32_t U32(std::size_t at) const {
    const std::uint32_t a = U16(at), b = U16(at + 2);
    return little_ ? (b << 16 | a) : (a << 16 | b);
  }

  std::string_view bytes_;
  bool little_ = true;
};

// EXIF "YYYY:MM:DD HH:MM:SS" plus an optional "+HH:MM" offset, as RFC 3339.
std::optional<std::string> TakenAt(const std::optional<std::string>& when,
                                   const std::optional<std::string>& offset) {
  if (!when || when->size() < 19) return std::nullopt;
  const std::string& s = *when;
  auto digits = [&](std::size_t from, std::size_t n) {
    int v = 0;
    for (std::size_t i = from; i < from + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  const int hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  // EXIF says "YYYY:MM:DD HH:MM:SS"; some writers use '-' in the date or a 'T'.
  const bool separators_ok = (s[4] == ':' || s[4] == '-') && (s[7] == ':' || s[7] == '-') &&
                             (s[10] == ' ' || s[10] == 'T') && s[13] == ':' && s[16] == ':';
  if (!separators_ok) return std::nullopt;
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60)
    return std::nullopt;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute,
                second);
  std::string out = buf;
  if (offset && offset->size() >= 6) {
    const std::string& o = *offset;
    const bool digits_ok = o[1] >= '0' && o[1] <= '9' && o[2] >= '0' && o[2] <= '9' &&
                           o[4] >= '0' && o[4] <= '9' && o[5] >= '0' && o[5] <= '9';
    if ((o[0] == '+' || o[0] == '-') && o[3] == ':' && digits_ok) {
      out += (o.substr(0, 6) == "-00:00") ? std::string("+00:00") : o.substr(0, 6);
    }
  }
  return out;
}

// An exposure time as photographers write it: "1/250", "0.5"... "2", "30".
std::optional<std::string> Exposure(const std::optional<std::pair<double, double>>& r) {
  if (!r || r->first <= 0 || r->second <= 0) return std::nullopt;
  const double seconds = r->first / r->second;
  if (!std::isfinite(seconds) || seconds > 1e6) return std::nullopt;
  char buf[32];
  if (seconds < 1.0) {
    const double inverse = r->second / r->first;
    if (inverse <= 2.0 && std::fabs(inverse - std::round(inverse)) > 0.01) {
      std::snprintf(buf, sizeof buf, "%.2g", seconds);  // e.g. 0.6
    } else {
      std::snprintf(buf, sizeof buf, "1/%.0f", std::round(inverse));
    }
  } else {
    std::snprintf(buf, sizeof buf, "%.10g", std::round(seconds * 10) / 10);
  }
  return std::string(buf);
}

std::optional<double> Coordinate(const Tiff& tiff, std::uint32_t gps, std::uint16_t ref_tag,
                                 std::uint16_t tag, char negative, double limit) {
  const auto deg = tiff.Real(gps, tag, 0);
  const auto min = tiff.Real(gps, tag, 1);
  const auto sec = tiff.Real(gps, tag, 2);
  const auto ref = tiff.Text(gps, ref_tag);
  if (!deg || !min || !sec || !ref) return std::nullopt;
  double v = *deg + *min / 60.0 + *sec / 3600.0;
  if ((*ref)[0] == negative) {
    v = -v;
  } else if ((*ref)[0] != (negative == 'S' ? 'N' : 'E')) {
    return std::nullopt;
  }
  if (!(std::fabs(v) <= limit)) return std::nullopt;
  return v;
}

}  // namespace

ExifInfo ParseExif(std::string_view exif, bool keep_gps) {
  ExifInfo info;
  if (exif.substr(0, 6) == std::string_view("Exif\0\0", 6)) exif.remove_prefix(6);
  Tiff tiff(exif);
  std::uint32_t ifd0 = 0;
  if (!tiff.ReadHeader(&ifd0)) return info;

  info.make = tiff.Text(ifd0, 0x010F);
  info.model = tiff.Text(ifd0, 0x0110);
  if (const auto o = tiff.Unsigned(ifd0, 0x0112); o && *o >= 1 && *o <= 8) info.orientation = *o;

  if (const auto sub = tiff.Unsigned(ifd0, 0x8769)) {
    const std::uint32_t ifd = *sub;
    info.lens = tiff.Text(ifd, 0xA434);
    info.taken_at = TakenAt(tiff.Text(ifd, 0x9003), tiff.Text(ifd, 0x9011));
    info.exposure = Exposure(tiff.Rational(ifd, 0x829A));
    if (const auto f = tiff.Real(ifd, 0x829D); f && *f > 0 && *f < 1000) info.f_number = *f;
    if (const auto iso = tiff.Unsigned(ifd, 0x8827); iso && *iso > 0) info.iso = *iso;
    if (const auto fl = tiff.Real(ifd, 0x920A); fl && *fl > 0 && *fl < 100000)
      info.focal_length_mm = *fl;
  }
  if (!info.taken_at) info.taken_at = TakenAt(tiff.Text(ifd0, 0x0132), std::nullopt);

  if (keep_gps) {
    if (const auto gps = tiff.Unsigned(ifd0, 0x8825)) {
      info.gps_latitude = Coordinate(tiff, *gps, 0x0001, 0x0002, 'S', 90.0);
      info.gps_longitude = Coordinate(tiff, *gps, 0x0003, 0x0004, 'W', 180.0);
      if (info.gps_latitude && info.gps_longitude) {
        if (auto alt = tiff.Real(*gps, 0x0006)) {
          if (tiff.Unsigned(*gps, 0x0005) == 1u) *alt = -*alt;
          if (std::fabs(*alt) < 1e6) info.gps_altitude_m = *alt;
        }
      } else {
        info.gps_latitude.reset();
        info.gps_longitude.reset();
      }
    }
  }
  return info;
}

std::string IccDescription(std::string_view icc) {
  auto u32 = [&](std::size_t at) -> std::optional<std::uint32_t> {
    if (at > icc.size() || icc.size() - at < 4) return std::nullopt;
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(icc[at + i]);
    return v;
  };
  const auto count = u32(128);
  if (!count || *count > 1000) return {};
  for (std::uint32_t i = 0; i < *count; ++i) {
    const std::size_t entry = 132 + std::size_t{i} * 12;
    if (entry + 12 > icc.size()) return {};
    if (icc.substr(entry, 4) != "desc") continue;
    const std::size_t offset = *u32(entry + 4);
    const std::size_t size = *u32(entry + 8);
    if (offset > icc.size() || icc.size() - offset < size || size < 12) return {};
    const std::string_view tag = icc.substr(offset, size);
    if (tag.substr(0, 4) == "desc") {
      // v2 textDescriptionType: type, reserved, ASCII length (with the NUL), ASCII.
      const std::uint32_t n = *u32(offset + 8);
      if (n > size - 12) return {};
      return CleanText(tag.substr(12, n));
    }
    if (tag.substr(0, 4) == "mluc") {
      // v4 multiLocalizedUnicodeType: records of language, country, length, offset into UTF-16BE.
      const std::uint32_t records = *u32(offset + 8);
      const std::uint32_t record_size = *u32(offset + 12);
      if (records == 0 || record_size < 12 || 16 + std::size_t{records} * record_size > size)
        return {};
      std::size_t pick = 0;
      for (std::uint32_t r = 0; r < records; ++r) {
        if (tag.substr(16 + std::size_t{r} * record_size, 2) == "en") {
          pick = r;
          break;
        }
      }
      const std::size_t rec = offset + 16 + pick * record_size;
      const std::uint32_t len = *u32(rec + 4);
      const std::uint32_t at = *u32(rec + 8);
      if (at > size || size - at < len) return {};
      const std::string_view text = tag.substr(at, len);
      std::string utf8;
      for (std::size_t k = 0; k + 1 < text.size() && utf8.size() < kMaxText; k += 2) {
        std::uint32_t cp = static_cast<std::uint32_t>(static_cast<unsigned char>(text[k])) << 8 |
                           static_cast<unsigned char>(text[k + 1]);
        if (cp >= 0xD800 && cp <= 0xDBFF && k + 3 < text.size()) {
          const std::uint32_t lo =
              static_cast<std::uint32_t>(static_cast<unsigned char>(text[k + 2])) << 8 |
              static_cast<unsigned char>(text[k + 3]);
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            k += 2;
          }
        }
        if (cp == 0) break;
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // unpaired surrogate
        AppendUtf8(utf8, cp);
      }
      return CleanText(utf8);
    }
    return {};
  }
  return {};
}

}  // namespace imgup
