#include "imaging/sandboxed_processor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "imaging/pixel_wire.hpp"
#include "imaging/pixel_worker.hpp"

extern char** environ;

namespace imgup {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---- MemoryBudget ----------------------------------------------------------------------------

std::uint64_t MemoryBudget::Acquire(std::uint64_t bytes, bool alone) {
  std::unique_lock<std::mutex> lock(mutex_);
  const std::uint64_t ticket = next_ticket_++;
  const bool exclusive = alone || bytes >= budget_;
  changed_.wait(lock, [&] {
    if (aborted_) return true;
    if (serving_ != ticket) return false;
    return running_ == 0 || (!exclusive && reserved_ + bytes <= budget_);
  });
  ++serving_;  // the next in line may try now, aborted or not
  changed_.notify_all();
  if (aborted_) return 0;
  // An exclusive job holds the whole budget, so that nothing starts beside it.
  const std::uint64_t held =
      exclusive ? std::max(bytes, budget_) : std::max<std::uint64_t>(bytes, 1);
  reserved_ += held;
  ++running_;
  return held;
}

void MemoryBudget::Release(std::uint64_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    reserved_ -= std::min(reserved_, bytes);
    if (running_ > 0) --running_;
  }
  changed_.notify_all();
}

void MemoryBudget::Abort() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    aborted_ = true;
  }
  changed_.notify_all();
}

std::uint64_t MemoryBudget::reserved() {
  std::lock_guard<std::mutex> lock(mutex_);
  return reserved_;
}

// ---- Measurements of a worker process ---------------------------------------------------------

namespace {

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
constexpr auto kTick = std::chrono::milliseconds(20);
constexpr auto kStartTimeout = std::chrono::milliseconds(10'000);
// A job killed at its deadline counts as the image's own fault when it had the CPU for at least
// this share of the time; below it, the machine was too busy for the idle-priority worker.
constexpr double kStarvedCpuShare = 0.25;

std::uint64_t ResidentBytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

/// User + system CPU time of the whole process (every thread, living or ended), in ms.
double CpuMs(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  // After the command: state (3) ... utime is field 14, stime 15.
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  return (utime + stime) * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Disc space taken by the files under `dir` (allocated blocks: a sparse file counts for what
/// it really holds).
std::uint64_t DiscUsage(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
      total += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

void RemoveContents(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    fs::remove_all(it->path(), ec);
}

std::string DescribeStatus(int status) {
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended";
}

// The peak a format's decoder needs for an image of this size, beyond the worker's baseline.
std::uint64_t DecoderBytes(std::string_view bytes, const SniffResult& s) {
  const std::uint64_t pixels = std::uint64_t{s.width} * s.height;
  if (s.format == "jpeg") {
    // A progressive JPEG keeps every DCT coefficient until its last scan (the sniffer sums
    // them, sampling factors applied); a baseline one streams a band of rows at a time.
    if (s.progressive) return s.coefficient_bytes;
    return std::uint64_t{s.width} * 4 * 64;
  }
  if (s.format == "png") {
    // IHDR: bit depth at byte 24, interlace method at 28. An interlaced PNG is decoded whole
    // (up to 8 bytes a pixel); a plain one streams a few rows at a time.
    const bool interlaced = bytes.size() > 28 && bytes[28] != 0;
    const std::uint64_t depth =
        bytes.size() > 24 && static_cast<unsigned char>(bytes[24]) == 16 ? 2 : 1;
    return interlaced ? pixels * 4 * depth : std::uint64_t{s.width} * 4 * depth * 64;
  }
  // GIF and animated WebP compose their first frame on a full canvas of RGBA; libwebp, libheif
  // and the AV1/HEVC decoders hold the whole frame, with planes beside the RGBA result.
  return pixels * 4 * 2;
}

}  // namespace

std::uint64_t SandboxedImageProcessor::EstimateMemory(std::string_view bytes,
                                                      const SniffResult& sniffed) {
  // The worker's own resident baseline (libraries, libvips' buffers) and the 1024 px medium, its
  // sRGB copy and the thumb.
  constexpr std::uint64_t kBaseline = 64 * kMiB;
  return kBaseline + DecoderBytes(bytes, sniffed);
}

// ---- SandboxedImageProcessor --------------------------------------------------------------------

SandboxedImageProcessor::SandboxedImageProcessor(SandboxOptions options)
    : options_(std::move(options)), budget_(options_.memory_budget_bytes) {
  std::error_code ec;
  fs::create_directories(options_.temp_root, ec);
}

SandboxedImageProcessor::~SandboxedImageProcessor() {
  Abort();
  std::vector<std::unique_ptr<Worker>> idle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle.swap(idle_);
  }
  for (auto& worker : idle) Discard(std::move(worker));
}

void SandboxedImageProcessor::Abort() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    aborted_ = true;
    // The threads running these jobs see the end of their socket, reap and clean up.
    for (const auto& [pid, rss] : running_) ::kill(pid, SIGKILL);
  }
  budget_.Abort();
}

Result<std::unique_ptr<SandboxedImageProcessor::Worker>> SandboxedImageProcessor::Spawn() {
  auto worker = std::make_unique<Worker>();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    worker->temp_dir = options_.temp_root /
                       ("worker-" + std::to_string(::getpid()) + "-" + std::to_string(spawned_++));
  }
  std::error_code ec;
  fs::create_directories(worker->temp_dir, ec);
  if (ec) {
    return Fail(ErrorCode::kUnavailable, "worker_unavailable",
                "The image worker could not be started.",
                "temp dir " + worker->temp_dir.string() + ": " + ec.message());
  }
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    fs::remove_all(worker->temp_dir, ec);
    return Fail(ErrorCode::kUnavailable, "worker_unavailable",
                "The image worker could not be started.",
                std::string("socketpair: ") + std::strerror(errno));
  }
  // The child's end goes to fd 3 (dup2 clears close-on-exec; fds[1] is never 3 here because
  // 0-2 are open and fds[0] is the lower of the two).
  std::vector<std::string> args = options_.worker_command;
  args.insert(args.end(), {"--fd", "3", "--parent", std::to_string(::getpid()), "--memory-limit",
                           std::to_string(options_.memory_budget_bytes), "--temp-limit",
                           std::to_string(options_.temp_limit_bytes)});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Everything libvips and its loaders write to disc goes to the worker's own directory.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "TMPDIR=", 7) != 0) env_strings.emplace_back(*e);
  }
  env_strings.push_back("TMPDIR=" + worker->temp_dir.string());
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 3);
  // The server blocks SIGINT/SIGTERM in its threads (sigwait): the worker starts with none
  // blocked and default dispositions.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    fs::remove_all(worker->temp_dir, ec);
    return Fail(ErrorCode::kUnavailable, "worker_unavailable",
                "The image worker could not be started.",
                "posix_spawn " + args[0] + ": " + std::strerror(spawned));
  }
  worker->pid = pid;
  worker->fd = fds[0];
  // Wait for the worker's ready byte (it has started libvips), so that no job's deadline pays
  // for the start.
  pollfd pfd{worker->fd, POLLIN, 0};
  char ready = 0;
  int polled = 0;
  while ((polled = ::poll(&pfd, 1, static_cast<int>(kStartTimeout.count()))) < 0 &&
         errno == EINTR) {
  }
  if (polled != 1 || ::read(worker->fd, &ready, 1) != 1 || ready != kPixelWorkerReady) {
    Discard(std::move(worker));
    return Fail(ErrorCode::kUnavailable, "worker_unavailable",
                "The image worker could not be started.",
                args[0] + " did not start (see its output on stderr)");
  }
  ::fcntl(worker->fd, F_SETFL, ::fcntl(worker->fd, F_GETFL) | O_NONBLOCK);
  return worker;
}

void SandboxedImageProcessor::Discard(std::unique_ptr<Worker> worker) {
  if (!worker) return;
  if (worker->pid > 0) {
    ::kill(worker->pid, SIGKILL);
    int status = 0;
    while (::waitpid(worker->pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (worker->fd >= 0) ::close(worker->fd);
  std::error_code ec;
  fs::remove_all(worker->temp_dir, ec);
}

Result<ProcessedImage> SandboxedImageProcessor::Process(std::string_view bytes,
                                                        const SniffResult& sniffed,
                                                        const ProcessingLimits& limits) {
  auto shutting_down = [] {
    return Fail(ErrorCode::kUnavailable, "shutting_down", "The server is shutting down.");
  };
  const std::uint64_t estimate = EstimateMemory(bytes, sniffed);
  const std::uint64_t reserved = budget_.Acquire(estimate, limits.run_alone);
  if (reserved == 0) return shutting_down();
  struct Reservation {
    MemoryBudget& budget;
    std::uint64_t bytes;
    ~Reservation() { budget.Release(bytes); }
  } reservation{budget_, reserved};

  std::unique_ptr<Worker> worker;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (aborted_) return shutting_down();
    if (!idle_.empty()) {
      worker = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!worker) {
    IMGUP_ASSIGN_OR_RETURN(worker, Spawn());
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (aborted_) {
      Discard(std::move(worker));
      return shutting_down();
    }
    running_[worker->pid] = 0;
  }
  bool healthy = false;
  auto result = Run(*worker, bytes, limits, std::min(reserved, estimate), healthy);
  ++worker->jobs;
  bool aborted = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (worker->pid > 0) running_.erase(worker->pid);
    aborted = aborted_;
    if (healthy && !aborted && worker->jobs < options_.jobs_per_worker) {
      RemoveContents(worker->temp_dir);
      idle_.push_back(std::move(worker));
    }
  }
  if (worker) Discard(std::move(worker));
  if (aborted && !result) return shutting_down();
  return result;
}

Result<ProcessedImage> SandboxedImageProcessor::Run(Worker& worker, std::string_view bytes,
                                                    const ProcessingLimits& limits,
                                                    std::uint64_t reserved, bool& healthy) {
  // The prefix, then the caller's bytes where they lie: no copy of the original on this side.
  const std::string prefix = wire::EncodeFramePrefix(wire::EncodeJobHeader(limits), bytes.size());
  const std::size_t request_size = prefix.size() + bytes.size();
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(limits.max_decode_ms);
  const double cpu_at_start = CpuMs(worker.pid);
  std::size_t sent = 0;
  std::string received;
  int ticks = 0;

  // Ends the worker now; the caller discards it. Out of running_ before it is reaped, so that
  // Abort() never signals a pid the kernel may have handed to another process.
  auto kill_worker = [this, &worker] {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      running_.erase(worker.pid);
    }
    ::kill(worker.pid, SIGKILL);
    int status = 0;
    while (::waitpid(worker.pid, &status, 0) < 0 && errno == EINTR) {
    }
    worker.pid = -1;
    return status;
  };

  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) {
      const double cpu = CpuMs(worker.pid) - cpu_at_start;
      kill_worker();
      const double wall = std::chrono::duration<double, std::milli>(now - start).count();
      if (cpu < kStarvedCpuShare * wall) {
        return Fail(ErrorCode::kUnavailable, "processing_starved",
                    "The server was too busy to process the image in time.",
                    "cpu " + std::to_string(static_cast<int>(cpu)) + " ms of " +
                        std::to_string(static_cast<int>(wall)) + " ms");
      }
      return Fail(ErrorCode::kUnprocessable, "processing_timeout",
                  "The image took too long to decode.",
                  "stopped after " + std::to_string(limits.max_decode_ms) + " ms (cpu " +
                      std::to_string(static_cast<int>(cpu)) + " ms)");
    }
    pollfd pfd{worker.fd, static_cast<short>(POLLIN | (sent < request_size ? POLLOUT : 0)), 0};
    const auto wait = std::min<Clock::duration>(kTick, deadline - now);
    const int ready = ::poll(
        &pfd, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
    if (ready < 0 && errno != EINTR) {
      kill_worker();
      return Fail(ErrorCode::kInternal, "worker_crashed", "The image worker failed.",
                  std::string("poll: ") + std::strerror(errno));
    }
    if (ready > 0 && (pfd.revents & POLLOUT) != 0 && sent < request_size) {
      iovec parts[2];
      int count = 0;
      if (sent < prefix.size()) {
        parts[count++] = {const_cast<char*>(prefix.data()) + sent, prefix.size() - sent};
      }
      const std::size_t from = sent > prefix.size() ? sent - prefix.size() : 0;
      parts[count++] = {const_cast<char*>(bytes.data()) + from, bytes.size() - from};
      msghdr message{};
      message.msg_iov = parts;
      message.msg_iovlen = static_cast<std::size_t>(count);
      const ssize_t n = ::sendmsg(worker.fd, &message, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<std::size_t>(n);
    }
    bool ended = false;
    if (ready > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      char buffer[64 * 1024];
      for (;;) {
        const ssize_t n = ::recv(worker.fd, buffer, sizeof buffer, 0);
        if (n > 0) {
          received.append(buffer, static_cast<std::size_t>(n));
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) ended = true;
        break;
      }
      wire::Frame frame;
      auto used = wire::DecodeFrame(received, frame);
      if (!used) {
        kill_worker();
        return tl::unexpected(used.error());
      }
      if (*used > 0) {
        healthy = *used == received.size();
        if (!healthy) kill_worker();
        auto result = wire::DecodeResult(std::move(frame));
        // A worker that failed to allocate may have a damaged heap: start the next job afresh.
        if (!result && result.error().slug == "out_of_memory") healthy = false;
        return result;
      }
    }
    if (ended) {
      const int status = kill_worker();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (aborted_) {
          return Fail(ErrorCode::kUnavailable, "shutting_down", "The server is shutting down.");
        }
      }
      return Fail(ErrorCode::kInternal, "worker_crashed", "The image worker died.",
                  "worker " + DescribeStatus(status));
    }

    // Memory: a worker alone over the budget, or over its estimate while the workers together
    // are over the budget, is stopped before the machine runs short.
    const std::uint64_t now_resident = ResidentBytes(worker.pid);
    std::uint64_t total = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      running_[worker.pid] = now_resident;
      for (const auto& [pid, rss] : running_) total += rss;
    }
    const std::uint64_t budget = budget_.budget();
    if (now_resident > budget || (total > budget && now_resident > reserved)) {
      kill_worker();
      return Fail(ErrorCode::kInternal, "out_of_memory",
                  "The image needs more memory than the server can give it now.",
                  "worker resident " + std::to_string(now_resident / kMiB) + " MiB, workers " +
                      std::to_string(total / kMiB) + " MiB, budget " +
                      std::to_string(budget / kMiB) + " MiB, estimate " +
                      std::to_string(reserved / kMiB) + " MiB");
    }
    // Temp files: every 5th tick (~100 ms) is enough, since the worker's RLIMIT_FSIZE also
    // stops any single file at the limit.
    if (++ticks % 5 == 0) {
      const std::uint64_t temp = DiscUsage(worker.temp_dir);
      if (temp > options_.temp_limit_bytes) {
        kill_worker();
        return Fail(ErrorCode::kUnprocessable, "temp_space_exceeded",
                    "The image needs more temporary disc space than allowed.",
                    std::to_string(temp / kMiB) + " MiB of temp files");
      }
    }
  }
}

}  // namespace imgup
