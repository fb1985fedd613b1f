// imgup-pixel-worker: the pixel worker of the processor function, a program of its own so that
// the function's process links no libvips: its ~100 shared libraries would be loaded at every
// cold start (bench/README.md), while a worker starts once per instance, at the first record.
// SandboxedImageProcessor starts it with "--fd N --parent PID --memory-limit B --temp-limit B".
#include <iostream>

#include "imaging/pixel_worker.hpp"

int main(int argc, char** argv) {
  imgup::PixelWorkerOptions options;
  if (!imgup::ParsePixelWorkerArgs(argc - 1, argv + 1, options)) {
    std::cerr << "imgup-pixel-worker: started by imgup-lambda-processor, with --fd N --parent PID "
                 "--memory-limit BYTES --temp-limit BYTES\n";
    return 2;
  }
  return imgup::RunPixelWorker(argv[0], options);
}
