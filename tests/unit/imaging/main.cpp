// libvips starts once per process, locked down exactly as in production, before any test runs.
#include <gtest/gtest.h>

#include <cstdio>

#include "imaging/vips_image_processor.hpp"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (auto ok = imgup::VipsImageProcessor::InitVips(argv[0]); !ok) {
    std::fprintf(stderr, "InitVips failed: %s\n", ok.error().detail.c_str());
    return 1;
  }
  return RUN_ALL_TESTS();
}
