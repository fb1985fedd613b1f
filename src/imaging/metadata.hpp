#pragma once
// Pure parsers for the metadata blocks that libvips hands over as raw bytes: the EXIF block
// (a TIFF structure) and the ICC profile. Every read is bounds-checked: both are untrusted.
#include <string>
#include <string_view>

#include "domain/ports/image_processor.hpp"

namespace imgup {

/// The fields of ExifInfo found in an EXIF block: the TIFF structure, optionally behind the
/// "Exif\0\0" prefix of a JPEG APP1 segment. GPS fields are filled only when `keep_gps`.
/// Malformed or truncated blocks give whatever was readable (never an error): EXIF is optional.
ExifInfo ParseExif(std::string_view exif, bool keep_gps);

/// The description ('desc' tag, v2 textDescription or v4 multiLocalizedUnicode) of an ICC
/// profile, as UTF-8; "" when absent or malformed.
std::string IccDescription(std::string_view icc);

}  // namespace imgup
