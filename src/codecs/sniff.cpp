#include "codecs/sniff.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace imgup {
namespace {

// A cursor over untrusted bytes. Every read is bounds-checked; a read past the end returns
// zero, moves to the end and makes ok() false for good, so parsers can read a whole structure
// and check once. Loops driven by counts read from the data must also stop on !ok().
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}

  bool ok() const { return ok_; }
  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  bool empty() const { return pos_ == bytes_.size(); }

  bool Skip(std::uint64_t n) {
    if (n > remaining()) return Exhaust();
    pos_ += static_cast<std::size_t>(n);
    return true;
  }
  std::string_view Bytes(std::uint64_t n) {
    if (n > remaining()) {
      Exhaust();
      return {};
    }
    const std::string_view out = bytes_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  // A reader over the next n bytes; this one moves past them.
  ByteReader Sub(std::uint64_t n) {
    ByteReader sub(Bytes(n));
    sub.ok_ = ok_;
    return sub;
  }
  std::uint8_t U8() { return static_cast<std::uint8_t>(Be(1)); }
  std::uint16_t U16Be() { return static_cast<std::uint16_t>(Be(2)); }
  std::uint32_t U32Be() { return static_cast<std::uint32_t>(Be(4)); }
  std::uint64_t U64Be() { return Be(8); }
  std::uint16_t U16Le() { return static_cast<std::uint16_t>(Le(2)); }
  std::uint32_t U24Le() { return static_cast<std::uint32_t>(Le(3)); }
  std::uint32_t U32Le() { return static_cast<std::uint32_t>(Le(4)); }

 private:
  bool Exhaust() {
    ok_ = false;
    pos_ = bytes_.size();
    return false;
  }
  std::uint64_t Be(std::size_t n) {
    if (n > remaining()) {
      Exhaust();
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(bytes_[pos_ + i]);
    pos_ += n;
    return v;
  }
  std::uint64_t Le(std::size_t n) {
    if (n > remaining()) {
      Exhaust();
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(bytes_[pos_ + i]);
    pos_ += n;
    return v;
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

tl::unexpected<Error> Invalid(std::string_view format, std::string_view why) {
  return Fail(ErrorCode::kUnprocessable, "invalid_image",
              "invalid " + std::string(format) + " image: " + std::string(why));
}

tl::unexpected<Error> Unsupported(std::string message, std::string detail = {}) {
  return Fail(ErrorCode::kUnsupportedMediaType, "unsupported_media_type", std::move(message),
              std::move(detail));
}

tl::unexpected<Error> Polyglot(std::string_view format, std::string_view where) {
  return Unsupported("the " + std::string(format) + " image is followed by other data after " +
                     std::string(where) + "; such files are refused");
}

Result<SniffResult> Found(const char* content_type, const char* format, std::uint64_t width,
                          std::uint64_t height, std::string_view name) {
  if (width == 0 || height == 0) return Invalid(name, "zero width or height");
  if (width > UINT32_MAX || height > UINT32_MAX) return Invalid(name, "dimensions out of range");
  return SniffResult{content_type, format, static_cast<std::uint32_t>(width),
                     static_cast<std::uint32_t>(height)};
}

bool StartsWith(std::string_view bytes, std::string_view prefix) {
  return bytes.substr(0, prefix.size()) == prefix;
}

// ---------------------------------------------------------------------------------------------
// JPEG (ITU T.81 B.1): markers up to the first frame header.

bool IsSof(std::uint8_t m) {
  return (m >= 0xC0 && m <= 0xCF) && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/// The Orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" payload, or 1 when there is none or
/// the TIFF structure is malformed (a bad EXIF block never refuses an image here).
std::uint32_t ExifOrientation(std::string_view app1) {
  if (!StartsWith(app1, std::string_view("Exif\0\0", 6))) return 1;
  const std::string_view tiff = app1.substr(6);
  ByteReader header(tiff);
  const std::string_view order = header.Bytes(2);
  const bool little = order == "II";
  if (!little && order != "MM") return 1;
  auto u16 = [little](ByteReader& r) { return little ? r.U16Le() : r.U16Be(); };
  auto u32 = [little](ByteReader& r) { return little ? r.U32Le() : r.U32Be(); };
  if (u16(header) != 42) return 1;
  const std::uint32_t ifd0 = u32(header);
  if (!header.ok() || ifd0 >= tiff.size()) return 1;
  ByteReader ifd(tiff.substr(ifd0));
  const std::uint16_t count = u16(ifd);
  for (std::uint16_t i = 0; i < count && ifd.ok(); ++i) {
    const std::uint16_t tag = u16(ifd);
    const std::uint16_t type = u16(ifd);
    u32(ifd);  // count
    ByteReader value = ifd.Sub(4);
    if (tag != 0x0112) continue;
    const std::uint16_t orientation = type == 3 ? u16(value) : 0;  // SHORT
    if (!ifd.ok() || !value.ok() || orientation < 1 || orientation > 8) return 1;
    return orientation;
  }
  return 1;
}

/// SOS markers from `r` (just after the frame header) to EOI or the end of the bytes, skipping
/// each scan's entropy-coded data (where 0xFF is followed by 0x00 or a restart marker). Only
/// counts: a malformed tail is the decoder's to refuse.
std::uint32_t CountJpegScans(ByteReader r) {
  std::uint32_t scans = 0;
  while (r.ok() && !r.empty()) {
    if (r.U8() != 0xFF) return scans;
    std::uint8_t marker = 0xFF;
    while (marker == 0xFF && r.ok()) marker = r.U8();
    if (!r.ok() || marker == 0xD9) return scans;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    const std::uint16_t length = r.U16Be();
    if (length < 2 || !r.Skip(length - 2u)) return scans;
    if (marker != 0xDA) continue;
    ++scans;
    // Entropy-coded data: up to the next marker that is not a stuffed byte or a restart.
    const std::string_view data = r.Bytes(r.remaining());
    std::size_t at = data.find('\xFF');
    while (at != std::string_view::npos && at + 1 < data.size()) {
      const auto next = static_cast<std::uint8_t>(data[at + 1]);
      if (next != 0x00 && next != 0xFF && (next < 0xD0 || next > 0xD7)) break;
      at = data.find('\xFF', at + 1);
    }
    if (at == std::string_view::npos || at + 1 >= data.size()) return scans;
    r = ByteReader(data.substr(at));
  }
  return scans;
}

Result<SniffResult> SniffJpeg(std::string_view bytes) {
  constexpr std::string_view kName = "JPEG";
  std::uint32_t orientation = 1;
  ByteReader r(bytes);
  r.Skip(2);  // SOI
  while (true) {
    if (r.empty()) return Invalid(kName, "truncated before the frame header");
    if (r.U8() != 0xFF) return Invalid(kName, "expected a marker");
    std::uint8_t marker = 0xFF;
    while (marker == 0xFF && r.ok()) marker = r.U8();  // fill bytes
    if (!r.ok()) return Invalid(kName, "truncated before the frame header");
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (marker == 0x00 || marker == 0xD8 || marker == 0xD9 || marker == 0xDA) {
      return Invalid(kName, "no frame header before image data");
    }
    const std::uint16_t length = r.U16Be();
    if (!r.ok()) return Invalid(kName, "truncated marker segment");
    if (length < 2) return Invalid(kName, "bad marker segment length");
    ByteReader segment = r.Sub(length - 2u);
    if (!r.ok()) return Invalid(kName, "truncated marker segment");
    if (marker == 0xE1 && orientation == 1) {
      orientation = ExifOrientation(segment.Bytes(length - 2u));
      continue;
    }
    if (!IsSof(marker)) continue;
    segment.U8();  // sample precision
    const std::uint16_t height = segment.U16Be();
    const std::uint16_t width = segment.U16Be();
    const std::uint8_t components = segment.U8();
    if (!segment.ok() || components == 0 || length != 8u + 3u * components) {
      return Invalid(kName, "malformed frame header");
    }
    std::vector<std::pair<std::uint32_t, std::uint32_t>> sampling;  // (H, V) of each component
    std::uint32_t max_h = 1, max_v = 1;
    for (std::uint8_t c = 0; c < components; ++c) {
      segment.U8();  // component id
      const std::uint8_t factors = segment.U8();
      segment.U8();  // quantisation table
      const std::uint32_t h = factors >> 4, v = factors & 0x0F;
      if (h < 1 || h > 4 || v < 1 || v > 4) return Invalid(kName, "bad sampling factors");
      sampling.emplace_back(h, v);
      max_h = std::max(max_h, h);
      max_v = std::max(max_v, v);
    }
    auto found = Found("image/jpeg", "jpeg", width, height, kName);
    if (!found) return found;
    found->orientation = orientation;
    found->progressive = (marker & 0x03) == 0x02;
    found->components = components;
    // libjpeg's coefficient buffer (jdcoefct.c): each component's blocks, rounded up to whole
    // multiples of its sampling factors.
    auto blocks = [](std::uint64_t size, std::uint32_t factor, std::uint32_t max_factor) {
      const std::uint64_t samples = (size * factor + max_factor - 1) / max_factor;
      const std::uint64_t n = (samples + 7) / 8;
      return (n + factor - 1) / factor * factor;
    };
    for (const auto& [h, v] : sampling) {
      found->coefficient_bytes += blocks(width, h, max_h) * blocks(height, v, max_v) * 64 * 2;
    }
    found->scan_count = CountJpegScans(r);
    return found;
  }
}

// ---------------------------------------------------------------------------------------------
// PNG (ISO/IEC 15948): signature, IHDR, then every chunk to IEND with its CRC.

struct Crc32Tables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
};

constexpr Crc32Tables MakeCrc32Tables() {
  Crc32Tables c;
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t v = i;
    for (int k = 0; k < 8; ++k) v = (v & 1) ? 0xEDB88320u ^ (v >> 1) : v >> 1;
    c.t[0][i] = v;
  }
  for (std::size_t i = 0; i < 256; ++i) {
    for (std::size_t s = 1; s < 8; ++s) {
      const std::uint32_t prev = c.t[s - 1][i];
      c.t[s][i] = (prev >> 8) ^ c.t[0][prev & 0xFF];
    }
  }
  return c;
}

constexpr Crc32Tables kCrc = MakeCrc32Tables();

// Slicing-by-8: the CRC of every chunk is checked, and IDAT holds most of a PNG's bytes.
std::uint32_t Crc32(std::string_view data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  const auto& t = kCrc.t;
  for (; n >= 8; n -= 8, p += 8) {
    const std::uint32_t a = crc ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 |
                                   std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24);
    crc = t[7][a & 0xFF] ^ t[6][(a >> 8) & 0xFF] ^ t[5][(a >> 16) & 0xFF] ^ t[4][a >> 24] ^
          t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
  }
  for (; n > 0; --n, ++p) crc = t[0][(crc ^ *p) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

bool ValidPngDepth(std::uint8_t color_type, std::uint8_t depth) {
  switch (color_type) {
    case 0:
      return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
    case 3:
      return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2:
    case 4:
    case 6:
      return depth == 8 || depth == 16;
    default:
      return false;
  }
}

bool IsChunkTypeByte(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

Result<SniffResult> SniffPng(std::string_view bytes) {
  constexpr std::string_view kName = "PNG";
  if (!StartsWith(bytes, "\x89PNG\r\n\x1A\n")) return Invalid(kName, "bad signature");
  ByteReader r(bytes);
  r.Skip(8);
  constexpr std::uint32_t kMaxLength = 0x7FFFFFFFu;
  std::uint32_t width = 0, height = 0;
  std::uint8_t color_type = 0;
  bool seen_plte = false, seen_idat = false;
  for (std::size_t index = 0;; ++index) {
    if (r.empty()) return Invalid(kName, "truncated: no IEND chunk");
    const std::uint32_t length = r.U32Be();
    const std::string_view type_and_data = r.Bytes(std::uint64_t{length} + 4);
    const std::uint32_t crc = r.U32Be();
    if (!r.ok()) return Invalid(kName, "truncated chunk");
    if (length > kMaxLength) return Invalid(kName, "chunk length out of range");
    const std::string_view type = type_and_data.substr(0, 4);
    for (const char c : type) {
      if (!IsChunkTypeByte(c)) return Invalid(kName, "bad chunk type");
    }
    if (Crc32(type_and_data) != crc) {
      return Invalid(kName, "CRC mismatch in chunk " + std::string(type));
    }
    ByteReader data(type_and_data.substr(4));
    if ((index == 0) != (type == "IHDR")) return Invalid(kName, "IHDR must be the first chunk");
    if (type == "IHDR") {
      if (length != 13) return Invalid(kName, "IHDR length is not 13");
      width = data.U32Be();
      height = data.U32Be();
      const std::uint8_t depth = data.U8();
      color_type = data.U8();
      const std::uint8_t compression = data.U8();
      const std::uint8_t filter = data.U8();
      const std::uint8_t interlace = data.U8();
      if (width > kMaxLength || height > kMaxLength) return Invalid(kName, "size out of range");
      if (!ValidPngDepth(color_type, depth)) {
        return Invalid(kName, "bad bit depth or colour type");
      }
      if (compression != 0 || filter != 0 || interlace > 1) {
        return Invalid(kName, "unknown compression, filter or interlace method");
      }
    } else if (type == "PLTE") {
      if (length == 0 || length % 3 != 0 || length > 3 * 256) {
        return Invalid(kName, "bad PLTE length");
      }
      seen_plte = true;
    } else if (type == "IDAT") {
      if (color_type == 3 && !seen_plte) return Invalid(kName, "palette image without PLTE");
      seen_idat = true;
    } else if (type == "IEND") {
      if (length != 0) return Invalid(kName, "IEND is not empty");
      if (!seen_idat) return Invalid(kName, "no IDAT chunk");
      if (!r.empty()) return Polyglot(kName, "the IEND chunk");
      return Found("image/png", "png", width, height, kName);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GIF (GIF89a specification): header, logical screen, then every block to the trailer.

bool SkipSubBlocks(ByteReader& r) {
  while (r.ok()) {
    const std::uint8_t size = r.U8();
    if (size == 0) break;
    r.Skip(size);
  }
  return r.ok();
}

Result<SniffResult> SniffGif(std::string_view bytes) {
  constexpr std::string_view kName = "GIF";
  if (!StartsWith(bytes, "GIF87a") && !StartsWith(bytes, "GIF89a")) {
    return Invalid(kName, "bad version");
  }
  ByteReader r(bytes);
  r.Skip(6);
  const std::uint16_t width = r.U16Le();
  const std::uint16_t height = r.U16Le();
  const std::uint8_t flags = r.U8();
  r.Skip(2);                                          // background colour index, pixel aspect ratio
  if (flags & 0x80) r.Skip(3u << ((flags & 7) + 1));  // global colour table
  if (!r.ok()) return Invalid(kName, "truncated header");
  std::size_t frames = 0;
  while (true) {
    const std::uint8_t block = r.U8();
    if (!r.ok()) return Invalid(kName, "truncated: no trailer");
    if (block == 0x3B) break;
    if (block == 0x21) {  // extension: label, then data sub-blocks
      r.U8();
      if (!SkipSubBlocks(r)) return Invalid(kName, "truncated extension");
    } else if (block == 0x2C) {  // image descriptor
      r.Skip(8);                 // left, top, width, height
      const std::uint8_t image_flags = r.U8();
      if (image_flags & 0x80) r.Skip(3u << ((image_flags & 7) + 1));  // local colour table
      const std::uint8_t lzw_min_code_size = r.U8();
      if (!r.ok()) return Invalid(kName, "truncated image descriptor");
      if (lzw_min_code_size < 1 || lzw_min_code_size > 11) {
        return Invalid(kName, "bad LZW code size");
      }
      if (!SkipSubBlocks(r)) return Invalid(kName, "truncated image data");
      ++frames;
    } else {
      return Invalid(kName, "unknown block");
    }
  }
  if (frames == 0) return Invalid(kName, "no image");
  if (!r.empty()) return Polyglot(kName, "the trailer");
  auto found = Found("image/gif", "gif", width, height, kName);
  if (found)
    found->frame_count = static_cast<std::uint32_t>(std::min<std::size_t>(frames, UINT32_MAX));
  return found;
}

// ---------------------------------------------------------------------------------------------
// WebP (RFC 9649): the RIFF container, then the first chunk: VP8, VP8L or VP8X.

Result<SniffResult> SniffWebp(std::string_view bytes) {
  constexpr std::string_view kName = "WebP";
  ByteReader r(bytes);
  r.Skip(4);
  const std::uint32_t riff_size = r.U32Le();
  if (riff_size < 4 + 8) return Invalid(kName, "RIFF size too small");
  if (std::uint64_t{riff_size} + 8 > bytes.size()) return Invalid(kName, "truncated");
  if (std::uint64_t{riff_size} + 8 < bytes.size()) return Polyglot(kName, "the RIFF container");
  r.Skip(4);  // "WEBP"

  std::optional<std::pair<std::uint32_t, std::uint32_t>> size;
  std::uint32_t frames = 0;  // ANMF chunks: each is one frame of an animation (VP8X files only)
  for (bool first = true; !r.empty(); first = false) {
    const std::string_view fourcc = r.Bytes(4);
    const std::uint32_t chunk_size = r.U32Le();
    ByteReader chunk = r.Sub(chunk_size);
    if (!r.ok()) return Invalid(kName, "truncated chunk");
    // Chunks are padded to even sizes; tolerate a missing pad byte on the last one.
    if ((chunk_size & 1) && !r.empty()) r.Skip(1);
    if (fourcc == "ANMF") ++frames;
    if (!first) continue;
    if (fourcc == "VP8 ") {
      const std::uint32_t tag = chunk.U24Le();
      const bool key_frame = (tag & 1) == 0;
      const bool shown = (tag >> 4) & 1;
      if (chunk.Bytes(3) != "\x9D\x01\x2A") return Invalid(kName, "bad VP8 start code");
      const std::uint32_t w = chunk.U16Le() & 0x3FFFu;
      const std::uint32_t h = chunk.U16Le() & 0x3FFFu;
      if (!chunk.ok()) return Invalid(kName, "truncated VP8 header");
      if (!key_frame || !shown || ((tag >> 1) & 7) > 3) {
        return Invalid(kName, "bad VP8 frame header");
      }
      size.emplace(w, h);
    } else if (fourcc == "VP8L") {
      const std::uint8_t signature = chunk.U8();
      const std::uint32_t bits = chunk.U32Le();
      if (!chunk.ok()) return Invalid(kName, "truncated VP8L header");
      if (signature != 0x2F || (bits >> 29) != 0) return Invalid(kName, "bad VP8L header");
      size.emplace((bits & 0x3FFFu) + 1, ((bits >> 14) & 0x3FFFu) + 1);
    } else if (fourcc == "VP8X") {
      chunk.Skip(4);  // flags and reserved bits
      const std::uint32_t w = chunk.U24Le() + 1;
      const std::uint32_t h = chunk.U24Le() + 1;
      if (!chunk.ok()) return Invalid(kName, "truncated VP8X header");
      if (std::uint64_t{w} * h > UINT32_MAX) return Invalid(kName, "canvas too large");
      size.emplace(w, h);
    } else {
      return Invalid(kName, "first chunk is not VP8, VP8L or VP8X");
    }
  }
  if (!size) return Invalid(kName, "no image chunk");
  auto found = Found("image/webp", "webp", size->first, size->second, kName);
  if (found) found->frame_count = std::max<std::uint32_t>(1, frames);
  return found;
}

// ---------------------------------------------------------------------------------------------
// HEIF / AVIF (ISO/IEC 23008-12 on ISO BMFF): ftyp brands, then meta/iprp/ipco/ispe.

constexpr std::string_view kHeifName = "HEIF";

struct Box {
  std::string_view type;
  ByteReader body{std::string_view()};
};

// Reads the next box header from `r` and returns its body; nullopt when malformed or truncated.
std::optional<Box> NextBox(ByteReader& r) {
  const std::uint32_t size32 = r.U32Be();
  const std::string_view type = r.Bytes(4);
  if (!r.ok()) return std::nullopt;
  std::uint64_t size = size32;
  std::uint64_t header = 8;
  if (size32 == 1) {
    size = r.U64Be();
    header = 16;
    if (!r.ok()) return std::nullopt;
  } else if (size32 == 0) {
    size = header + r.remaining();  // extends to the end of the enclosing container
  }
  if (size < header) return std::nullopt;
  ByteReader body = r.Sub(size - header);
  if (!r.ok()) return std::nullopt;
  return Box{type, body};
}

enum class HeifKind { kNone, kHeic, kHeif, kAvif };

HeifKind BrandKind(std::string_view brand) {
  if (brand == "avif" || brand == "avis") return HeifKind::kAvif;
  for (const char* b : {"heic", "heix", "heim", "heis", "hevc", "hevx"}) {
    if (brand == b) return HeifKind::kHeic;
  }
  if (brand == "mif1" || brand == "msf1") return HeifKind::kHeif;
  return HeifKind::kNone;
}

HeifKind KindFromFtyp(ByteReader body) {
  const HeifKind major = BrandKind(body.Bytes(4));
  body.Skip(4);  // minor version
  if (major == HeifKind::kAvif || major == HeifKind::kHeic) return major;
  // A generic major brand (mif1, msf1, or another one): the compatible brands say the coding.
  HeifKind best = major;
  while (body.remaining() >= 4) {
    const HeifKind k = BrandKind(body.Bytes(4));
    if (k == HeifKind::kAvif) return k;
    if (k == HeifKind::kHeic || (k == HeifKind::kHeif && best == HeifKind::kNone)) best = k;
  }
  return best;
}

// ---- AV1 (AV1 Bitstream & Decoding Process Specification, 5.3 and 5.5)

using Dimensions = std::pair<std::uint32_t, std::uint32_t>;

// MSB-first bit reader; a read past the end returns 0 and makes ok() false.
class BitReader {
 public:
  explicit BitReader(std::string_view bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  std::uint32_t Bits(int n) {
    std::uint32_t v = 0;
    for (int i = 0; i < n; ++i) {
      if (bit_ >= bytes_.size() * 8) {
        ok_ = false;
        return 0;
      }
      const auto byte = static_cast<unsigned char>(bytes_[bit_ / 8]);
      v = (v << 1) | ((byte >> (7 - bit_ % 8)) & 1u);
      ++bit_;
    }
    return v;
  }
  void Uvlc() {  // 4.10.3; only skipped here
    int zeros = 0;
    while (ok_ && Bits(1) == 0) ++zeros;
    if (zeros < 32) Bits(zeros);
  }

 private:
  std::string_view bytes_;
  std::size_t bit_ = 0;
  bool ok_ = true;
};

// max_frame_width_minus_1 + 1 and max_frame_height_minus_1 + 1 of a sequence header OBU's
// payload (5.5.1): the largest frame the decoder will allocate.
std::optional<Dimensions> Av1SequenceHeaderSize(std::string_view payload) {
  BitReader b(payload);
  b.Bits(3);             // seq_profile
  b.Bits(1);             // still_picture
  if (b.Bits(1) != 0) {  // reduced_still_picture_header
    b.Bits(5);           // seq_level_idx[0]
  } else {
    bool decoder_model_info_present = false;
    std::uint32_t buffer_delay_length = 0;
    if (b.Bits(1) != 0) {            // timing_info_present_flag
      b.Bits(32);                    // num_units_in_display_tick
      b.Bits(32);                    // time_scale
      if (b.Bits(1) != 0) b.Uvlc();  // equal_picture_interval: num_ticks_per_picture_minus_1
      decoder_model_info_present = b.Bits(1) != 0;
      if (decoder_model_info_present) {
        buffer_delay_length = b.Bits(5) + 1;
        b.Bits(32);  // num_units_in_decoding_tick
        b.Bits(5);   // buffer_removal_time_length_minus_1
        b.Bits(5);   // frame_presentation_time_length_minus_1
      }
    }
    const bool initial_display_delay_present = b.Bits(1) != 0;
    const std::uint32_t operating_points = b.Bits(5) + 1;
    for (std::uint32_t i = 0; i < operating_points && b.ok(); ++i) {
      b.Bits(12);                    // operating_point_idc
      if (b.Bits(5) > 7) b.Bits(1);  // seq_level_idx, seq_tier
      if (decoder_model_info_present && b.Bits(1) != 0) {
        b.Bits(static_cast<int>(buffer_delay_length));  // decoder_buffer_delay
        b.Bits(static_cast<int>(buffer_delay_length));  // encoder_buffer_delay
        b.Bits(1);                                      // low_delay_mode_flag
      }
      if (initial_display_delay_present && b.Bits(1) != 0) b.Bits(4);
    }
  }
  const int width_bits = static_cast<int>(b.Bits(4)) + 1;
  const int height_bits = static_cast<int>(b.Bits(4)) + 1;
  const std::uint64_t width = std::uint64_t{b.Bits(width_bits)} + 1;
  const std::uint64_t height = std::uint64_t{b.Bits(height_bits)} + 1;
  if (!b.ok()) return std::nullopt;
  return Dimensions(static_cast<std::uint32_t>(width), static_cast<std::uint32_t>(height));
}

// The frame size of the first sequence header among `obus` (OBUs in the low-overhead format, as
// in av1C's configOBUs and an AV1 image item's data; 5.3); nullopt when there is none.
std::optional<Dimensions> Av1FrameSize(std::string_view obus) {
  ByteReader r(obus);
  while (!r.empty()) {
    const std::uint8_t header = r.U8();
    if (header & 0x80) return std::nullopt;  // obu_forbidden_bit
    const std::uint8_t type = (header >> 3) & 0x0F;
    if (header & 0x04) r.U8();  // obu_extension_header
    std::uint64_t size = r.remaining();
    if (header & 0x02) {  // obu_has_size_field: leb128
      size = 0;
      for (int i = 0; i < 8; ++i) {
        const std::uint8_t byte = r.U8();
        size |= std::uint64_t{byte & 0x7Fu} << (7 * i);
        if (!(byte & 0x80)) break;
      }
    }
    const std::string_view payload = r.Bytes(size);
    if (!r.ok()) return std::nullopt;
    if (type == 1) return Av1SequenceHeaderSize(payload);  // OBU_SEQUENCE_HEADER
  }
  return std::nullopt;
}

struct HeifProperty {
  std::optional<Dimensions> ispe;
  std::optional<Dimensions> av1;  // from an av1C property's configOBUs
};

struct ItemLocation {
  std::uint32_t construction_method = 0;
  std::uint16_t data_reference_index = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;  // absolute offset, length
};

struct HeifProperties {
  std::optional<std::uint32_t> primary_item;
  std::vector<HeifProperty> properties;
  std::vector<std::pair<std::uint32_t, std::uint16_t>> associations;   // item, property index
  std::vector<std::pair<std::uint32_t, std::string_view>> item_types;  // item, infe item_type
  std::vector<std::pair<std::uint32_t, ItemLocation>> locations;       // iloc
  bool ok = true;
};

void ParseIpco(ByteReader body, HeifProperties& out) {
  while (!body.empty()) {
    auto box = NextBox(body);
    if (!box) {
      out.ok = false;
      return;
    }
    HeifProperty property;
    if (box->type == "ispe") {
      box->body.Skip(4);  // version, flags
      const std::uint32_t w = box->body.U32Be();
      const std::uint32_t h = box->body.U32Be();
      if (!box->body.ok()) {
        out.ok = false;
        return;
      }
      property.ispe = Dimensions(w, h);
    } else if (box->type == "av1C" && box->body.Skip(4)) {  // marker/version ... delay
      property.av1 = Av1FrameSize(box->body.Bytes(box->body.remaining()));
    }
    out.properties.push_back(property);
  }
}

// infe (version 2 and 3) item types. A malformed entry only ends the list: libheif judges it.
void ParseIinf(ByteReader body, HeifProperties& out) {
  const std::uint8_t version = body.U8();
  body.Skip(3);
  body.Skip(version == 0 ? 2 : 4);  // entry_count: the boxes themselves are walked
  while (!body.empty()) {
    auto infe = NextBox(body);
    if (!infe) return;
    if (infe->type != "infe") continue;
    ByteReader& b = infe->body;
    const std::uint8_t infe_version = b.U8();
    b.Skip(3);
    if (infe_version < 2) continue;
    const std::uint32_t id = infe_version == 2 ? b.U16Be() : b.U32Be();
    b.U16Be();  // item_protection_index
    const std::string_view type = b.Bytes(4);
    if (b.ok()) out.item_types.emplace_back(id, type);
  }
}

std::uint64_t SizedBe(ByteReader& r, std::uint32_t size) {
  return size == 4 ? r.U32Be() : size == 8 ? r.U64Be() : 0;
}

// iloc (ISO/IEC 14496-12 8.11.3). A malformed box is left out: libheif refuses those itself.
void ParseIloc(ByteReader b, HeifProperties& out) {
  const std::uint8_t version = b.U8();
  b.Skip(3);
  const std::uint8_t sizes = b.U8();
  const std::uint8_t more_sizes = b.U8();
  const std::uint32_t offset_size = sizes >> 4, length_size = sizes & 0x0F;
  const std::uint32_t base_offset_size = more_sizes >> 4;
  const std::uint32_t index_size = (version == 1 || version == 2) ? more_sizes & 0x0F : 0;
  for (const std::uint32_t size : {offset_size, length_size, base_offset_size, index_size}) {
    if (size != 0 && size != 4 && size != 8) return;
  }
  const std::uint32_t items = version < 2 ? b.U16Be() : b.U32Be();
  std::vector<std::pair<std::uint32_t, ItemLocation>> locations;
  for (std::uint32_t i = 0; i < items && b.ok(); ++i) {
    const std::uint32_t id = version < 2 ? b.U16Be() : b.U32Be();
    ItemLocation location;
    if (version == 1 || version == 2) location.construction_method = b.U16Be() & 0x0F;
    location.data_reference_index = b.U16Be();
    const std::uint64_t base = SizedBe(b, base_offset_size);
    const std::uint16_t extents = b.U16Be();
    for (std::uint16_t e = 0; e < extents && b.ok(); ++e) {
      if (index_size > 0) SizedBe(b, index_size);
      const std::uint64_t offset = SizedBe(b, offset_size);
      const std::uint64_t length = SizedBe(b, length_size);
      location.extents.emplace_back(base + offset, length);
    }
    locations.emplace_back(id, std::move(location));
  }
  if (b.ok()) out.locations = std::move(locations);
}

// The first bytes of an item's data stored in the file itself (construction method 0), its
// extents joined: enough for the OBUs that precede the first frame.
std::string ItemDataPrefix(std::string_view file, const ItemLocation& location) {
  constexpr std::size_t kMaxPrefix = 4096;
  std::string out;
  if (location.construction_method != 0 || location.data_reference_index != 0) return out;
  for (const auto& [offset, length] : location.extents) {
    if (offset >= file.size() || out.size() >= kMaxPrefix) break;
    const std::uint64_t available = file.size() - offset;
    const std::uint64_t take = std::min<std::uint64_t>(
        {length == 0 ? available : length, available, kMaxPrefix - out.size()});
    out.append(file.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(take)));
  }
  return out;
}

void ParseMeta(ByteReader body, HeifProperties& out) {
  body.Skip(4);  // version, flags
  while (!body.empty() && out.ok) {
    auto box = NextBox(body);
    if (!box) {
      out.ok = false;
      return;
    }
    if (box->type == "pitm") {
      const std::uint8_t version = box->body.U8();
      box->body.Skip(3);
      const std::uint32_t id = version == 0 ? box->body.U16Be() : box->body.U32Be();
      if (box->body.ok()) out.primary_item = id;
    } else if (box->type == "iinf") {
      ParseIinf(box->body, out);
    } else if (box->type == "iloc") {
      ParseIloc(box->body, out);
    } else if (box->type == "iprp") {
      ByteReader iprp = box->body;
      while (!iprp.empty() && out.ok) {
        auto child = NextBox(iprp);
        if (!child) {
          out.ok = false;
          return;
        }
        if (child->type == "ipco") {
          ParseIpco(child->body, out);
        } else if (child->type == "ipma") {
          ByteReader& b = child->body;
          const std::uint8_t version = b.U8();
          const std::uint32_t flags = std::uint32_t{b.U8()} << 16 | b.U16Be();
          const std::uint32_t entries = b.U32Be();
          for (std::uint32_t e = 0; e < entries && b.ok(); ++e) {
            const std::uint32_t item = version < 1 ? b.U16Be() : b.U32Be();
            const std::uint8_t count = b.U8();
            for (std::uint8_t a = 0; a < count && b.ok(); ++a) {
              const auto index = (flags & 1) ? static_cast<std::uint16_t>(b.U16Be() & 0x7FFF)
                                             : static_cast<std::uint16_t>(b.U8() & 0x7F);
              if (b.ok()) out.associations.emplace_back(item, index);
            }
          }
          if (!b.ok()) out.ok = false;
        }
      }
    }
  }
}

// Track header width and height (16.16 fixed point), for image sequences without items.
std::optional<Dimensions> TrackSize(ByteReader moov) {
  while (!moov.empty()) {
    auto trak = NextBox(moov);
    if (!trak) return std::nullopt;
    if (trak->type != "trak") continue;
    while (!trak->body.empty()) {
      auto box = NextBox(trak->body);
      if (!box) return std::nullopt;
      if (box->type != "tkhd") continue;
      ByteReader& b = box->body;
      const std::uint8_t version = b.U8();
      b.Skip(3);
      b.Skip(version == 1 ? 8 + 8 + 4 + 4 + 8 : 4 + 4 + 4 + 4 + 4);  // times, ids, duration
      b.Skip(8 + 2 + 2 + 2 + 2 + 36);  // reserved, layer, group, volume, reserved, matrix
      const std::uint32_t w = b.U32Be() >> 16;
      const std::uint32_t h = b.U32Be() >> 16;
      if (!b.ok()) return std::nullopt;
      if (w != 0 && h != 0) return std::make_pair(w, h);
    }
  }
  return std::nullopt;
}

Result<SniffResult> SniffIsoBmff(std::string_view bytes) {
  ByteReader r(bytes);
  auto ftyp = NextBox(r);
  if (!ftyp || ftyp->body.remaining() < 8) return Invalid(kHeifName, "truncated ftyp box");
  const HeifKind kind = KindFromFtyp(ftyp->body);
  if (kind == HeifKind::kNone) {
    return Unsupported("not an allowed image type (an ISO BMFF file that is not HEIF or AVIF)");
  }
  const std::string_view name = kind == HeifKind::kAvif ? "AVIF" : kHeifName;

  HeifProperties props;
  bool seen_meta = false;
  std::optional<Dimensions> track_size;
  while (!r.empty()) {
    auto box = NextBox(r);
    if (!box) return Invalid(name, "truncated or malformed box");
    if (box->type == "meta" && !seen_meta) {
      seen_meta = true;
      ParseMeta(box->body, props);
      if (!props.ok) return Invalid(name, "malformed meta box");
    } else if (box->type == "moov" && !track_size) {
      track_size = TrackSize(box->body);
    }
  }

  std::optional<Dimensions> size;
  std::vector<Dimensions> av1_sizes;  // the primary item's AV1 sequence headers
  if (props.primary_item) {
    for (const auto& [item, index] : props.associations) {
      if (item != *props.primary_item || index < 1 || index > props.properties.size()) continue;
      const HeifProperty& property = props.properties[index - 1];
      if (property.ispe) size = property.ispe;
      if (property.av1) av1_sizes.push_back(*property.av1);
    }
  }
  if (!size) {
    // No primary item association: the largest extent is the full image (a grid's tiles and
    // thumbnails are smaller).
    for (const auto& p : props.properties) {
      if (p.ispe && (!size || std::uint64_t{p.ispe->first} * p.ispe->second >
                                  std::uint64_t{size->first} * size->second)) {
        size = p.ispe;
      }
    }
  }
  if (!size) size = track_size;
  if (!size) return Invalid(name, "no image size (ispe) property");
  // An AV1 item: its decoder allocates the frame size of the sequence header (in av1C, or in the
  // item's data, which is what the decoder actually reads), whatever the ispe says. AVIF requires
  // the two to agree; a file where they do not would be stored with dimensions that lie.
  if (props.primary_item) {
    for (const auto& [item, type] : props.item_types) {
      if (item != *props.primary_item || type != "av01") continue;
      for (const auto& [located, location] : props.locations) {
        if (located != *props.primary_item) continue;
        if (auto av1 = Av1FrameSize(ItemDataPrefix(bytes, location))) av1_sizes.push_back(*av1);
      }
    }
  }
  for (const Dimensions& av1 : av1_sizes) {
    if (av1 != *size) {
      return Invalid(name, "the AV1 sequence header says " + std::to_string(av1.first) + "x" +
                               std::to_string(av1.second) + " but the ispe property says " +
                               std::to_string(size->first) + "x" + std::to_string(size->second));
    }
  }
  if (kind == HeifKind::kAvif) {
    return Found("image/avif", "avif", size->first, size->second, name);
  }
  return Found(kind == HeifKind::kHeic ? "image/heic" : "image/heif", "heif", size->first,
               size->second, name);
}

// ---------------------------------------------------------------------------------------------

std::string NormalizeType(std::string_view type) {
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  std::string out(type);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Canonical content type for an accepted type or alias; "" when not accepted.
std::string_view CanonicalType(std::string_view normalized) {
  if (normalized == "image/jpeg" || normalized == "image/jpg" || normalized == "image/pjpeg") {
    return "image/jpeg";
  }
  for (const char* t :
       {"image/png", "image/webp", "image/gif", "image/heic", "image/heif", "image/avif"}) {
    if (normalized == t) return t;
  }
  return {};
}

}  // namespace

Result<SniffResult> SniffImage(std::string_view bytes) {
  if (bytes.empty()) return Fail(ErrorCode::kInvalidArgument, "empty_body", "the body is empty");
  if (StartsWith(bytes, "\x89PNG")) return SniffPng(bytes);
  if (StartsWith(bytes, "\xFF\xD8\xFF")) return SniffJpeg(bytes);
  if (StartsWith(bytes, "GIF8")) return SniffGif(bytes);
  if (bytes.size() >= 12 && StartsWith(bytes, "RIFF") && bytes.substr(8, 4) == "WEBP") {
    return SniffWebp(bytes);
  }
  if (bytes.size() >= 12 && bytes.substr(4, 4) == "ftyp") return SniffIsoBmff(bytes);
  return Unsupported("not an allowed image type (JPEG, PNG, WebP, GIF, HEIC/HEIF or AVIF)");
}

bool DeclaredTypeMatches(std::string_view declared, const SniffResult& sniffed) {
  const std::string_view canonical = CanonicalType(NormalizeType(declared));
  if (canonical.empty()) return false;
  if (sniffed.format == "heif") return canonical == "image/heic" || canonical == "image/heif";
  return canonical == sniffed.content_type;
}

bool IsAllowedImageType(std::string_view content_type) {
  return !CanonicalType(NormalizeType(content_type)).empty();
}

}  // namespace imgup
