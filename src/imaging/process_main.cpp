// imgup_process_bench: runs the whole ImageProcessor job (validation, metadata, both variants,
// placeholder, hashes) on one file N times and prints the time per job and the process's peak
// RSS. Also makes the benchmark's input files, so that no other tool is needed:
//   imgup_process_bench [--sandbox] FILE [ITERATIONS]
//                       (--sandbox: each job in a pixel worker process, as `imgup serve` runs it)
//   imgup_process_bench --make-noise OUT.jpg [WIDTH HEIGHT]   (gaussian noise, JPEG Q=90)
//   imgup_process_bench --make-camera SRC OUT.jpg             (a photo upscaled to 12 MP, Q=95)
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <vips/vips8>

#include "codecs/sniff.hpp"
#include "imaging/pixel_worker.hpp"
#include "imaging/sandboxed_processor.hpp"
#include "imaging/vips_image_processor.hpp"

namespace {

using vips::VImage;

long PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// User + system CPU time of the whole process: steadier than wall time on a shared machine.
double CpuMs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

// Straight into a string of the file's size: a stringstream would hold the bytes twice, and the
// peak RSS measured here would be the copy's, not the job's.
std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  std::string bytes(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

// Noise is the worst case for a JPEG decoder: nearly every coefficient is non-zero.
int MakeNoise(const char* out, int width, int height) {
  std::vector<VImage> bands;
  for (int i = 0; i < 3; ++i)
    bands.push_back(VImage::gaussnoise(width, height,
                                       VImage::option()->set("sigma", 20.0)->set("seed", i + 1)));
  VImage::bandjoin(bands)
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .jpegsave(out, VImage::option()->set("Q", 90));
  return 0;
}

// A camera-like file: real photo content at 12 MP with a little sensor-like noise, chroma
// subsampled 4:2:0 as cameras and phones write them.
int MakeCamera(const char* src, const char* out) {
  VImage photo = VImage::new_from_file(src);
  photo = photo.resize(4032.0 / photo.width(),
                       VImage::option()->set("vscale", 3024.0 / photo.height()));
  std::vector<VImage> bands;
  for (int i = 0; i < 3; ++i)
    bands.push_back(VImage::gaussnoise(
        4032, 3024, VImage::option()->set("sigma", 3.0)->set("mean", 0.0)->set("seed", i + 1)));
  (photo.cast(VIPS_FORMAT_FLOAT) + VImage::bandjoin(bands))
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .jpegsave(out,
                VImage::option()->set("Q", 95)->set("subsample_mode", VIPS_FOREIGN_SUBSAMPLE_ON));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The pixel worker that --sandbox starts: this program again.
  if (argc >= 2 && std::string_view(argv[1]) == "pixel-worker") {
    imgup::PixelWorkerOptions options;
    if (!imgup::ParsePixelWorkerArgs(argc - 2, argv + 2, options)) return 2;
    return imgup::RunPixelWorker(argv[0], options);
  }
  const bool sandboxed = argc >= 2 && std::string_view(argv[1]) == "--sandbox";
  if (sandboxed) {
    --argc;
    ++argv;
  }
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s FILE [ITERATIONS] | --make-noise OUT [W H] | --make-camera SRC OUT\n",
                 argv[0]);
    return 2;
  }
  const std::string first = argv[1];
  try {
    // The fixture makers read files with loaders that InitVips() blocks: plain start-up for them.
    if (first.starts_with("--make-") && VIPS_INIT(argv[0]) != 0) return 1;
    if (first == "--make-noise" && argc >= 3)
      return MakeNoise(argv[2], argc >= 5 ? std::atoi(argv[3]) : 4000,
                       argc >= 5 ? std::atoi(argv[4]) : 3000);
    if (first == "--make-camera" && argc >= 4) return MakeCamera(argv[2], argv[3]);
  } catch (const vips::VError& e) {
    std::fprintf(stderr, "vips: %s\n", e.what());
    return 1;
  }

  if (auto ok = imgup::VipsImageProcessor::InitVips(argv[0]); !ok) {
    std::fprintf(stderr, "vips: %s\n", ok.error().detail.c_str());
    return 1;
  }
  const std::string bytes = ReadFile(argv[1]);
  const int iterations = argc >= 3 ? std::max(1, std::atoi(argv[2])) : 10;
  const auto sniffed = imgup::SniffImage(bytes);
  if (!sniffed) {
    std::fprintf(stderr, "sniff: %s\n", sniffed.error().slug.c_str());
    return 1;
  }
  imgup::VipsImageProcessor in_process;
  std::unique_ptr<imgup::SandboxedImageProcessor> sandbox;
  if (sandboxed) {
    imgup::SandboxOptions options;
    options.worker_command = {"/proc/self/exe", "pixel-worker"};
    options.temp_root = std::filesystem::temp_directory_path() /
                        ("imgup-process-bench-" + std::to_string(::getpid()));
    sandbox = std::make_unique<imgup::SandboxedImageProcessor>(options);
  }
  imgup::ImageProcessor& processor =
      sandbox ? static_cast<imgup::ImageProcessor&>(*sandbox) : in_process;
  const imgup::ProcessingLimits limits;
  std::vector<double> ms;
  imgup::ProcessedImage last;
  const double cpu_start = CpuMs();
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto result = processor.Process(bytes, *sniffed, limits);
    const auto stop = std::chrono::steady_clock::now();
    if (!result) {
      std::fprintf(stderr, "process: %s (%s)\n", result.error().slug.c_str(),
                   result.error().detail.c_str());
      return 1;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    last = std::move(*result);
  }
  const double cpu_per_job = (CpuMs() - cpu_start) / iterations;
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : ms) sum += v;
  std::printf("file %s: %zu bytes, %ux%u %s\n", argv[1], bytes.size(), last.width, last.height,
              last.format.c_str());
  for (const auto& v : last.variants)
    std::printf("  %s %ux%u %zu bytes\n", v.name.c_str(), v.width, v.height, v.bytes.size());
  std::printf("  placeholder %s colour %s phash %s\n", last.placeholder.c_str(),
              last.dominant_color.c_str(), last.phash.c_str());
  std::printf(
      "iterations %d%s: mean %.1f ms, median %.1f ms, min %.1f ms; CPU %.1f ms/job; peak RSS %.1f "
      "MB\n",
      iterations, sandboxed ? " (sandboxed)" : "", sum / iterations, sorted[sorted.size() / 2],
      sorted.front(), cpu_per_job, static_cast<double>(PeakRssKb()) / 1024.0);
  if (sandbox) {
    sandbox.reset();  // ends the worker
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                    ("imgup-process-bench-" + std::to_string(::getpid())),
                                ec);
  }
  return 0;
}
