// libvips starts once per process, locked down exactly as in production, before any test runs.
#include <gtest/gtest.h>

#include <cstdio>
#include <string_view>

#include "imaging/pixel_worker.hpp"
#include "imaging/vips_image_processor.hpp"

int main(int argc, char** argv) {
  // The pixel worker of sandboxed_processor_test.cpp: this binary, started by the sandbox.
  if (argc >= 2 && std::string_view(argv[1]) == "pixel-worker") {
    imgup::PixelWorkerOptions options;
    if (!imgup::ParsePixelWorkerArgs(argc - 2, argv + 2, options)) return 2;
    return imgup::RunPixelWorker(argv[0], options);
  }
  testing::InitGoogleTest(&argc, argv);
  if (auto ok = imgup::VipsImageProcessor::InitVips(argv[0]); !ok) {
    std::fprintf(stderr, "InitVips failed: %s\n", ok.error().detail.c_str());
    return 1;
  }
  return RUN_ALL_TESTS();
}
