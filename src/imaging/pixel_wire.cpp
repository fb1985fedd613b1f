#include "imaging/pixel_wire.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

namespace imgup::wire {
namespace {

using nlohmann::json;

void PutLe(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t GetLe(std::string_view in, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= std::uint64_t{static_cast<unsigned char>(in[static_cast<std::size_t>(i)])} << (8 * i);
  return value;
}

tl::unexpected<Error> BadFrame(std::string detail) {
  return Fail(ErrorCode::kInternal, "bad_frame", "The image worker sent a malformed message.",
              std::move(detail));
}

template <class T>
void PutOptional(json& out, const char* name, const std::optional<T>& value) {
  if (value) out[name] = *value;
}

template <class T>
void GetOptional(const json& in, const char* name, std::optional<T>& value) {
  if (const auto it = in.find(name); it != in.end() && !it->is_null()) value = it->get<T>();
}

json ExifJson(const ExifInfo& exif) {
  json out = json::object();
  PutOptional(out, "make", exif.make);
  PutOptional(out, "model", exif.model);
  PutOptional(out, "lens", exif.lens);
  PutOptional(out, "taken_at", exif.taken_at);
  PutOptional(out, "exposure", exif.exposure);
  PutOptional(out, "f_number", exif.f_number);
  PutOptional(out, "iso", exif.iso);
  PutOptional(out, "focal_length_mm", exif.focal_length_mm);
  PutOptional(out, "orientation", exif.orientation);
  PutOptional(out, "gps_latitude", exif.gps_latitude);
  PutOptional(out, "gps_longitude", exif.gps_longitude);
  PutOptional(out, "gps_altitude_m", exif.gps_altitude_m);
  return out;
}

ExifInfo ExifFromJson(const json& in) {
  ExifInfo exif;
  GetOptional(in, "make", exif.make);
  GetOptional(in, "model", exif.model);
  GetOptional(in, "lens", exif.lens);
  GetOptional(in, "taken_at", exif.taken_at);
  GetOptional(in, "exposure", exif.exposure);
  GetOptional(in, "f_number", exif.f_number);
  GetOptional(in, "iso", exif.iso);
  GetOptional(in, "focal_length_mm", exif.focal_length_mm);
  GetOptional(in, "orientation", exif.orientation);
  GetOptional(in, "gps_latitude", exif.gps_latitude);
  GetOptional(in, "gps_longitude", exif.gps_longitude);
  GetOptional(in, "gps_altitude_m", exif.gps_altitude_m);
  return exif;
}

}  // namespace

std::string EncodeFramePrefix(std::string_view header, std::uint64_t payload_size) {
  std::string out;
  out.reserve(12 + header.size());
  PutLe(out, header.size(), 4);
  out += header;
  PutLe(out, payload_size, 8);
  return out;
}

std::string EncodeFrame(const Frame& frame) {
  std::string out = EncodeFramePrefix(frame.header, frame.payload.size());
  out += frame.payload;
  return out;
}

Result<std::size_t> DecodeFrame(std::string_view buffer, Frame& out) {
  if (buffer.size() < 4) return 0;
  const std::uint64_t header_size = GetLe(buffer, 4);
  if (header_size > kMaxHeaderBytes) return BadFrame("header of " + std::to_string(header_size));
  if (buffer.size() < 4 + header_size + 8) return 0;
  const std::uint64_t payload_size = GetLe(buffer.substr(4 + header_size), 8);
  if (payload_size > kMaxPayloadBytes)
    return BadFrame("payload of " + std::to_string(payload_size));
  const std::size_t total = 4 + header_size + 8 + payload_size;
  if (buffer.size() < total) return 0;
  out.header.assign(buffer.substr(4, header_size));
  out.payload.assign(buffer.substr(4 + header_size + 8, payload_size));
  return total;
}

std::string EncodeJobHeader(const ProcessingLimits& limits) {
  const json header = {
      {"limits",
       {{"max_pixels", limits.max_pixels},
        {"max_frames", limits.max_frames},
        {"keep_gps", limits.keep_gps},
        {"max_decode_ms", limits.max_decode_ms}}},
  };
  return header.dump();
}

Result<void> DecodeJobHeader(std::string_view text, ProcessingLimits& limits) {
  try {
    const json header = json::parse(text);
    const json& l = header.at("limits");
    limits.max_pixels = l.at("max_pixels").get<std::uint64_t>();
    limits.max_frames = l.at("max_frames").get<std::uint32_t>();
    limits.keep_gps = l.at("keep_gps").get<bool>();
    limits.max_decode_ms = l.at("max_decode_ms").get<std::uint32_t>();
    return {};
  } catch (const json::exception& e) {
    return BadFrame(e.what());
  }
}

Frame EncodeResult(const Result<ProcessedImage>& result) {
  Frame frame;
  if (!result) {
    const Error& e = result.error();
    frame.header = json{{"error",
                         {{"code", static_cast<int>(e.code)},
                          {"slug", e.slug},
                          {"message", e.message},
                          {"detail", e.detail}}}}
                       .dump(-1, ' ', false, json::error_handler_t::replace);
    return frame;
  }
  const ProcessedImage& image = *result;
  json variants = json::array();
  for (const DerivedVariant& variant : image.variants) {
    variants.push_back({{"name", variant.name},
                        {"width", variant.width},
                        {"height", variant.height},
                        {"content_type", variant.content_type},
                        {"size", variant.bytes.size()}});
    frame.payload += variant.bytes;
  }
  frame.header = json{{"image",
                       {{"width", image.width},
                        {"height", image.height},
                        {"format", image.format},
                        {"bit_depth", image.bit_depth},
                        {"bands", image.bands},
                        {"has_alpha", image.has_alpha},
                        {"animated", image.animated},
                        {"frame_count", image.frame_count},
                        {"icc_profile", image.icc_profile},
                        {"exif", ExifJson(image.exif)},
                        {"placeholder", image.placeholder},
                        {"dominant_color", image.dominant_color},
                        {"phash", image.phash},
                        {"variants", variants}}}}
                     .dump(-1, ' ', false, json::error_handler_t::replace);
  return frame;
}

Result<ProcessedImage> DecodeResult(Frame frame) {
  try {
    const json header = json::parse(frame.header);
    if (const auto error = header.find("error"); error != header.end()) {
      const int code = error->at("code").get<int>();
      if (code < 0 || code > static_cast<int>(ErrorCode::kInternal)) {
        return BadFrame("error code " + std::to_string(code));
      }
      return Fail(static_cast<ErrorCode>(code), error->at("slug").get<std::string>(),
                  error->at("message").get<std::string>(), error->at("detail").get<std::string>());
    }
    const json& i = header.at("image");
    ProcessedImage image;
    image.width = i.at("width").get<std::uint32_t>();
    image.height = i.at("height").get<std::uint32_t>();
    image.format = i.at("format").get<std::string>();
    image.bit_depth = i.at("bit_depth").get<std::uint32_t>();
    image.bands = i.at("bands").get<std::uint32_t>();
    image.has_alpha = i.at("has_alpha").get<bool>();
    image.animated = i.at("animated").get<bool>();
    image.frame_count = i.at("frame_count").get<std::uint32_t>();
    image.icc_profile = i.at("icc_profile").get<std::string>();
    image.exif = ExifFromJson(i.at("exif"));
    image.placeholder = i.at("placeholder").get<std::string>();
    image.dominant_color = i.at("dominant_color").get<std::string>();
    image.phash = i.at("phash").get<std::string>();
    std::size_t offset = 0;
    for (const json& v : i.at("variants")) {
      const auto size = v.at("size").get<std::size_t>();
      if (size > frame.payload.size() - offset) return BadFrame("variant past the payload");
      image.variants.push_back(
          DerivedVariant{v.at("name").get<std::string>(), frame.payload.substr(offset, size),
                         v.at("width").get<std::uint32_t>(), v.at("height").get<std::uint32_t>(),
                         v.at("content_type").get<std::string>()});
      offset += size;
    }
    if (offset != frame.payload.size()) return BadFrame("bytes after the variants");
    return image;
  } catch (const json::exception& e) {
    return BadFrame(e.what());
  }
}

}  // namespace imgup::wire
