#pragma once
// Small real images for tests that need valid bytes.
#include <fstream>
#include <sstream>
#include <string>

#include "codecs/base64.hpp"
#include "support/test_paths.hpp"

namespace imgup::test {

/// A valid 1x1 RGBA PNG.
inline std::string TinyPng() {
  return *DecodeBase64(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJg"
      "gg"
      "==");
}

/// The bytes of a file under ../shared/corpora, e.g. "pngsuite/png/basn2c08.png".
inline std::string CorpusFile(const std::string& relative) {
  std::ifstream in(CorporaDir() + "/" + relative, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace imgup::test
