#include "domain/image_record.hpp"

namespace imgup {

const char* ToString(ImageStatus status) {
  switch (status) {
    case ImageStatus::kProcessing:
      return "processing";
    case ImageStatus::kReady:
      return "ready";
    case ImageStatus::kFailed:
      return "failed";
  }
  return "failed";
}

std::optional<ImageStatus> ParseImageStatus(std::string_view text) {
  if (text == "processing") return ImageStatus::kProcessing;
  if (text == "ready") return ImageStatus::kReady;
  if (text == "failed") return ImageStatus::kFailed;
  return std::nullopt;
}

}  // namespace imgup
