#pragma once
// Writes EXIF blocks (TIFF structures) by hand, in either byte order, so that tests control every
// tag and every offset: the parser under test must not be the only thing that knows the format.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace imgup::test {

struct TiffTag {
  std::uint16_t tag = 0;
  std::uint16_t type = 0;
  std::uint32_t count = 0;
  std::vector<std::uint32_t> values;  // shorts/longs/bytes, or numerator/denominator pairs
  std::string text;                   // ASCII (without the NUL, which is added)
};

inline TiffTag Ascii(std::uint16_t tag, std::string text) {
  return {tag, 2, static_cast<std::uint32_t>(text.size() + 1), {}, std::move(text)};
}
inline TiffTag Short(std::uint16_t tag, std::uint32_t v) { return {tag, 3, 1, {v}, {}}; }
inline TiffTag Byte(std::uint16_t tag, std::uint32_t v) { return {tag, 1, 1, {v}, {}}; }
inline TiffTag Rationals(std::uint16_t tag, std::vector<std::uint32_t> pairs) {
  const auto n = static_cast<std::uint32_t>(pairs.size() / 2);
  return {tag, 5, n, std::move(pairs), {}};
}

class TiffWriter {
 public:
  explicit TiffWriter(bool little_endian) : little_(little_endian) {}

  /// IFD0 with `ifd0`, plus the EXIF and GPS sub-IFDs when they are not empty.
  std::string Build(std::vector<TiffTag> ifd0, std::vector<TiffTag> exif,
                    std::vector<TiffTag> gps) {
    if (!exif.empty()) ifd0.push_back({0x8769, 4, 1, {0}, {}});
    if (!gps.empty()) ifd0.push_back({0x8825, 4, 1, {0}, {}});
    auto by_tag = [](const TiffTag& a, const TiffTag& b) { return a.tag < b.tag; };
    for (auto* ifd : {&ifd0, &exif, &gps}) std::sort(ifd->begin(), ifd->end(), by_tag);
    auto ifd_size = [](const std::vector<TiffTag>& ifd) {
      return ifd.empty() ? 0u : static_cast<std::uint32_t>(2 + 12 * ifd.size() + 4);
    };
    const std::uint32_t ifd0_at = 8, exif_at = ifd0_at + ifd_size(ifd0),
                        gps_at = exif_at + ifd_size(exif);
    for (auto& t : ifd0) {
      if (t.tag == 0x8769) t.values = {exif_at};
      if (t.tag == 0x8825) t.values = {gps_at};
    }
    data_at_ = gps_at + ifd_size(gps);
    out_ = little_ ? std::string("II*\0", 4) : std::string("MM\0*", 4);
    out_ += U32(ifd0_at);
    for (auto* ifd : {&ifd0, &exif, &gps}) WriteIfd(*ifd);
    return out_ + data_;
  }

  std::string U16(std::uint32_t v) const {
    std::string s(2, '\0');
    s[little_ ? 0 : 1] = static_cast<char>(v & 0xFF);
    s[little_ ? 1 : 0] = static_cast<char>((v >> 8) & 0xFF);
    return s;
  }
  std::string U32(std::uint32_t v) const {
    const std::string lo = U16(v & 0xFFFF), hi = U16(v >> 16);
    return little_ ? lo + hi : hi + lo;
  }

 private:
  void WriteIfd(const std::vector<TiffTag>& ifd) {
    if (ifd.empty()) return;
    out_ += U16(static_cast<std::uint32_t>(ifd.size()));
    for (const auto& t : ifd) {
      std::string value;
      if (t.type == 2) {
        value = t.text + '\0';
      } else {
        for (const auto v : t.values) {
          if (t.type == 1) value += static_cast<char>(v);
          if (t.type == 3) value += U16(v);
          if (t.type == 4 || t.type == 5) value += U32(v);
        }
      }
      out_ += U16(t.tag) + U16(t.type) + U32(t.count);
      if (value.size() <= 4) {
        value.resize(4, '\0');
        out_ += value;
      } else {
        out_ += U32(data_at_ + static_cast<std::uint32_t>(data_.size()));
        data_ += value;
        if (data_.size() % 2) data_ += '\0';
      }
    }
    out_ += U32(0);
  }

  bool little_;
  std::uint32_t data_at_ = 0;
  std::string out_, data_;
};

/// A camera's EXIF block: Canon-like identity, exposure, taken-at with offset, and GPS at
/// 52°31'12.34"N 13°24'0"W, 34.5 m below sea level. Orientation `orientation`.
inline std::string CameraExif(bool little_endian, std::uint32_t orientation = 1) {
  TiffWriter w(little_endian);
  return w.Build(
      {Ascii(0x010F, "imgup-test-camera"), Ascii(0x0110, "Model X100"), Short(0x0112, orientation)},
      {Rationals(0x829A, {10, 2500}), Rationals(0x829D, {28, 10}), Short(0x8827, 200),
       Ascii(0x9003, "2023:06:01 14:30:00"), Ascii(0x9011, "+02:00"), Rationals(0x920A, {50, 1}),
       Ascii(0xA434, "EF50mm f/1.8")},
      {Ascii(0x0001, "N"), Rationals(0x0002, {52, 1, 31, 1, 1234, 100}), Ascii(0x0003, "W"),
       Rationals(0x0004, {13, 1, 24, 1, 0, 1}), Byte(0x0005, 1), Rationals(0x0006, {345, 10})});
}

}  // namespace imgup::test
