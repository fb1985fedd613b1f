// SandboxedImageProcessor with real pixel workers: this test binary is its own worker (main.cpp
// runs RunPixelWorker for "pixel-worker"), so the jobs run exactly as under `imgup serve`.
#include "imaging/sandboxed_processor.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <vips/vips8>

#include "codecs/sniff.hpp"
#include "fakes/temp_dir.hpp"
#include "imaging/vips_image_processor.hpp"

namespace imgup {
namespace {

namespace fs = std::filesystem;
using vips::VImage;

std::string JpegOf(int width, int height, bool progressive) {
  // Noise: the slowest content for a JPEG decoder, so that a small deadline is always hit.
  std::vector<VImage> bands;
  for (int i = 0; i < 3; ++i)
    bands.push_back(VImage::gaussnoise(width, height,
                                       VImage::option()->set("sigma", 40.0)->set("seed", i + 7)));
  VipsBlob* blob = VImage::bandjoin(bands)
                       .cast(VIPS_FORMAT_UCHAR)
                       .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
                       .jpegsave_buffer(VImage::option()
                                            ->set("Q", 95)
                                            ->set("interlace", progressive)
                                            ->set("subsample_mode", VIPS_FOREIGN_SUBSAMPLE_OFF));
  std::size_t n = 0;
  const void* data = vips_blob_get(blob, &n);
  std::string bytes(static_cast<const char*>(data), n);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

/// 3000² progressive noise, made once: slow to decode and ~3 s to make.
const std::string& SlowJpeg() {
  static const std::string bytes = JpegOf(3000, 3000, true);
  return bytes;
}

SandboxOptions Options(const fs::path& temp_root) {
  SandboxOptions options;
  options.worker_command = {"/proc/self/exe", "pixel-worker"};
  options.temp_root = temp_root;
  return options;
}

/// The pixel workers that are children of this process.
std::vector<pid_t> Workers() {
  std::vector<pid_t> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(line.substr(paren + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == ::getpid() && state != "Z") pids.push_back(std::stoi(name));
  }
  return pids;
}

std::string ProcFile(pid_t pid, const char* file) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class SandboxedProcessorTest : public ::testing::Test {
 protected:
  Result<ProcessedImage> Run(SandboxedImageProcessor& sandbox, const std::string& bytes,
                             ProcessingLimits limits = {}) {
    auto sniffed = SniffImage(bytes);
    EXPECT_TRUE(sniffed);
    return sandbox.Process(bytes, *sniffed, limits);
  }
  // What an idle worker holds after a small job (VmRSS). Under ASan, whose shadow memory and
  // allocator count as the worker's, 83 MiB here: over the fixed 80 MiB budget this test had.
  std::uint64_t IdleWorkerResidentBytes() {
    std::uint64_t resident = 0;
    SandboxedImageProcessor sandbox(Options(temp_.path()));
    if (!Run(sandbox, JpegOf(64, 64, false))) return 0;
    for (pid_t pid : Workers()) {
      std::ifstream status("/proc/" + std::to_string(pid) + "/status");
      for (std::string line; std::getline(status, line);) {
        if (line.starts_with("VmRSS:")) resident = std::stoull(line.substr(6)) * 1024;
      }
    }
    return resident;
  }
  TempDir temp_;
};

TEST_F(SandboxedProcessorTest, AJobGivesWhatTheInProcessPipelineGives) {
  SandboxedImageProcessor sandbox(Options(temp_.path()));
  const std::string jpeg = JpegOf(640, 480, false);
  auto sniffed = SniffImage(jpeg).value();
  VipsImageProcessor direct;
  auto want = direct.Process(jpeg, sniffed, {});
  ASSERT_TRUE(want);
  for (int i = 0; i < 3; ++i) {  // the same worker serves one job after another
    auto got = Run(sandbox, jpeg);
    ASSERT_TRUE(got) << got.error().slug << " " << got.error().detail;
    EXPECT_EQ(got->width, want->width);
    EXPECT_EQ(got->phash, want->phash);
    EXPECT_EQ(got->placeholder, want->placeholder);
    ASSERT_EQ(got->variants.size(), want->variants.size());
    for (std::size_t v = 0; v < got->variants.size(); ++v) {
      EXPECT_EQ(got->variants[v].name, want->variants[v].name);
      EXPECT_EQ(got->variants[v].bytes, want->variants[v].bytes);
    }
  }
  EXPECT_EQ(Workers().size(), 1u);
  // Bad bytes are the worker's answer too, not a crash.
  std::string cut = jpeg.substr(0, jpeg.size() / 2);
  auto failed = Run(sandbox, cut);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().slug, "decode_failed");
}

TEST_F(SandboxedProcessorTest, TheWorkerIsCappedAndWritesItsTempFilesUnderTheTempRoot) {
  SandboxOptions options = Options(temp_.path());
  options.temp_limit_bytes = std::uint64_t{7} << 20;
  SandboxedImageProcessor sandbox(options);
  ASSERT_TRUE(Run(sandbox, JpegOf(64, 64, false)));
  const auto workers = Workers();
  ASSERT_EQ(workers.size(), 1u);
  const std::string environ = ProcFile(workers[0], "environ");
  const std::string tmpdir = "TMPDIR=" + temp_.path().string() + "/worker-";
  EXPECT_NE(environ.find(tmpdir), std::string::npos) << "temp files go under the temp root";
  const std::string limits = ProcFile(workers[0], "limits");
  EXPECT_NE(limits.find("Max file size             7340032"), std::string::npos) << limits;
  EXPECT_NE(limits.find("Max core file size        0"), std::string::npos) << limits;
}

TEST_F(SandboxedProcessorTest, ADeadlineHoldsWhateverTheBytesAndTheNextJobRunsAtOnce) {
  SandboxedImageProcessor sandbox(Options(temp_.path()));
  // A progressive JPEG is read whole (every scan) before its first pixel: libvips cannot stop
  // it from inside.
  const std::string& slow = SlowJpeg();
  ProcessingLimits limits;
  limits.max_decode_ms = 30;
  auto killed = Run(sandbox, slow, limits);
  ASSERT_FALSE(killed);
  // Which of the two depends on whether this busy test machine gave the worker the CPU.
  EXPECT_TRUE(killed.error().slug == "processing_timeout" ||
              killed.error().slug == "processing_starved")
      << killed.error().slug;
  EXPECT_TRUE(Workers().empty()) << "the worker was killed";
  EXPECT_TRUE(fs::is_empty(temp_.path())) << "and its temp dir removed";
  auto next = Run(sandbox, JpegOf(64, 64, false));
  EXPECT_TRUE(next) << next.error().slug;
}

TEST_F(SandboxedProcessorTest, AWorkerThatDiesIsReportedAndReplaced) {
  SandboxedImageProcessor sandbox(Options(temp_.path()));
  ASSERT_TRUE(Run(sandbox, JpegOf(64, 64, false)));
  const std::string& slow = SlowJpeg();
  auto job = std::async(std::launch::async, [&] { return Run(sandbox, slow); });
  // Kill the worker from outside while it works (as the OOM killer or a segfault would).
  std::vector<pid_t> workers;
  while (workers.empty()) workers = Workers();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(workers[0], SIGSEGV);
  auto died = job.get();
  ASSERT_FALSE(died);
  EXPECT_EQ(died.error().slug, "worker_crashed");
  EXPECT_EQ(died.error().code, ErrorCode::kInternal) << "not the image's fault as such";
  EXPECT_TRUE(Run(sandbox, JpegOf(64, 64, false)));
}

TEST_F(SandboxedProcessorTest, AbortEndsRunningJobsAtOnce) {
  SandboxedImageProcessor sandbox(Options(temp_.path()));
  const std::string& slow = SlowJpeg();
  auto job = std::async(std::launch::async, [&] { return Run(sandbox, slow); });
  while (Workers().empty()) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  sandbox.Abort();
  auto aborted = job.get();
  ASSERT_FALSE(aborted);
  EXPECT_EQ(aborted.error().slug, "shutting_down");
  EXPECT_EQ(Run(sandbox, JpegOf(64, 64, false)).error().slug, "shutting_down");
  EXPECT_TRUE(Workers().empty());
}

TEST_F(SandboxedProcessorTest, AJobOverTheMemoryBudgetFailsAsOutOfMemoryNotAsTheImagesFault) {
  const std::uint64_t idle = IdleWorkerResidentBytes();
  ASSERT_GT(idle, 0u);
  SandboxOptions options = Options(temp_.path());
  // Room for a small job on top of an idle worker, far below the 3000² progressive JPEG's
  // coefficient buffer (3000 × 3000 × 3 × 2 bytes, 51 MiB, before any pixel).
  options.memory_budget_bytes = idle + (std::uint64_t{40} << 20);
  SandboxedImageProcessor sandbox(options);
  auto result = Run(sandbox, SlowJpeg());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().slug, "out_of_memory") << result.error().detail;
  EXPECT_EQ(result.error().code, ErrorCode::kInternal);
  auto next = Run(sandbox, JpegOf(64, 64, false));
  EXPECT_TRUE(next) << next.error().slug << ": " << next.error().detail;
}

TEST(MemoryBudgetTest, JobsWaitForRoomInTheOrderTheyAsked) {
  MemoryBudget budget(100);
  EXPECT_EQ(budget.Acquire(60, false), 60u);
  std::atomic<int> stage{0};
  auto big = std::async(std::launch::async, [&] {
    const auto got = budget.Acquire(50, false);  // waits: 60 + 50 > 100
    stage = 1;
    return got;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(stage.load(), 0);
  budget.Release(60);
  EXPECT_EQ(big.get(), 50u);
  // Larger than the whole budget: runs once nothing else does, holding all of it.
  auto huge = std::async(std::launch::async, [&] { return budget.Acquire(500, false); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(huge.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  budget.Release(50);
  EXPECT_EQ(huge.get(), 500u);
  auto after = std::async(std::launch::async, [&] { return budget.Acquire(1, false); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(after.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  budget.Abort();
  EXPECT_EQ(after.get(), 0u);
}

}  // namespace
}  // namespace imgup
