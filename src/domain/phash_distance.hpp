#pragma once
// Comparing perceptual hashes (made by the image pipeline: imaging/phash.hpp).
#include <string_view>

namespace imgup {

/// Hamming distance between two 16-hex-digit perceptual hashes (64 when either is malformed).
int PhashDistance(std::string_view a, std::string_view b);

}  // namespace imgup
