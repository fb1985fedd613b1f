#pragma once
// The ImageProcessor port with the pixel work in child processes ("pixel workers") that imgup
// can stop from outside. libvips can only stop between scanlines and libjpeg reads every scan of
// a progressive JPEG before the first one, so a deadline inside the process does not hold for
// every input; a process can always be killed. Each worker runs RunPixelWorker (pixel_worker.hpp)
// with rlimits, its own temp dir and idle CPU priority; this side sends it one job at a time and
// kills it at the deadline, when the workers together go over the memory budget, or when its temp
// files go over their limit. Workers are reused across jobs, so a normal job pays only for
// sending its bytes, not for a process start.
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/ports/image_processor.hpp"

namespace imgup {

/// Bytes of memory shared by jobs that reserve an estimate before they start. Jobs start in the
/// order they asked (a large job is not overtaken forever by small ones); a job whose estimate is
/// larger than the whole budget starts once nothing else runs.
class MemoryBudget {
 public:
  explicit MemoryBudget(std::uint64_t bytes) : budget_(bytes) {}
  /// Blocks until `bytes` fit beside what is reserved (or nothing is, when `alone` or when
  /// `bytes` exceeds the budget). Returns the bytes reserved, or 0 once Abort() was called.
  std::uint64_t Acquire(std::uint64_t bytes, bool alone);
  void Release(std::uint64_t bytes);
  /// Wakes every waiter; Acquire returns 0 from now on.
  void Abort();
  std::uint64_t budget() const { return budget_; }
  std::uint64_t reserved();

 private:
  const std::uint64_t budget_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t reserved_ = 0;
  std::size_t running_ = 0;
  std::uint64_t next_ticket_ = 0;
  std::uint64_t serving_ = 0;
  bool aborted_ = false;
};

struct SandboxOptions {
  /// The worker program and its arguments; it must run RunPixelWorker on file descriptor 3 (for
  /// imgup: {"/proc/self/exe", "pixel-worker"}). The options below are appended as flags.
  std::vector<std::string> worker_command;
  /// Each worker's temp dir is made under this directory and removed when the worker ends.
  std::filesystem::path temp_root;
  /// Resident memory of all pixel workers together. Jobs reserve an estimate before they start
  /// (and wait for room); a worker is killed when the workers' resident memory goes over it.
  std::uint64_t memory_budget_bytes = std::uint64_t{1} << 30;
  /// Temp files of one job, together (libvips spills large images to disc).
  std::uint64_t temp_limit_bytes = std::uint64_t{256} << 20;
  /// A worker is replaced after this many jobs, so that no heap fragments for ever.
  std::size_t jobs_per_worker = 500;
};

class SandboxedImageProcessor final : public ImageProcessor {
 public:
  explicit SandboxedImageProcessor(SandboxOptions options);
  /// Kills every worker.
  ~SandboxedImageProcessor() override;
  SandboxedImageProcessor(const SandboxedImageProcessor&) = delete;
  SandboxedImageProcessor& operator=(const SandboxedImageProcessor&) = delete;

  /// Runs the job in a worker. Besides the worker's own errors (ImageProcessor::Process):
  ///  - kUnprocessable "processing_timeout": the job ran past limits.max_decode_ms while using
  ///    the CPU (the worker is killed at the deadline).
  ///  - kUnprocessable "temp_space_exceeded": the job's temp files went over the limit.
  ///  - kInternal "out_of_memory": the workers went over the memory budget and this job over
  ///    its estimate, or the job failed to allocate memory. Not the image's fault as such.
  ///  - kInternal "worker_crashed": the worker died (a signal, an exit) during the job.
  ///  - kUnavailable "processing_starved": the deadline passed while the job hardly had the CPU
  ///    (a busy machine: the workers run at idle priority). Not the image's fault.
  ///  - kUnavailable "shutting_down" after Abort(); "worker_unavailable" when no worker starts.
  Result<ProcessedImage> Process(std::string_view bytes, const SniffResult& sniffed,
                                 const ProcessingLimits& limits) override;

  /// Kills the running jobs (they fail with kUnavailable "shutting_down") and refuses new ones.
  void Abort();

  /// What a job is expected to need at its peak, from the header alone: the worker's own
  /// baseline, the decoder's buffers for this format and size, and the variants.
  static std::uint64_t EstimateMemory(std::string_view bytes, const SniffResult& sniffed);

 private:
  struct Worker {
    pid_t pid = -1;
    int fd = -1;
    std::filesystem::path temp_dir;
    std::size_t jobs = 0;
  };
  Result<std::unique_ptr<Worker>> Spawn();
  /// Ends the worker for good: SIGKILL, reap, close, remove its temp dir.
  void Discard(std::unique_ptr<Worker> worker);
  Result<ProcessedImage> Run(Worker& worker, std::string_view bytes, const ProcessingLimits& limits,
                             std::uint64_t reserved, bool& healthy);

  SandboxOptions options_;
  MemoryBudget budget_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Worker>> idle_;
  std::unordered_map<pid_t, std::uint64_t> running_;  // pid -> last resident bytes seen
  std::uint64_t spawned_ = 0;
  bool aborted_ = false;
};

}  // namespace imgup
