#include "imaging/pixel_worker.hpp"

#include <glib.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "codecs/sniff.hpp"
#include "imaging/pixel_wire.hpp"
#include "imaging/vips_image_processor.hpp"

namespace imgup {
namespace {

// Address space beyond the memory budget: libraries, thread stacks and malloc's arena
// reservations are address space that is never resident. The budget itself is enforced on
// resident memory by the parent; this cap only makes a runaway allocation fail instead of
// taking the machine's memory.
constexpr std::uint64_t kAddressSpaceHeadroom = std::uint64_t{1} << 30;

bool ReadExact(int fd, char* out, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::read(fd, out, size);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    out += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::uint64_t Le(const unsigned char* bytes, int count) {
  std::uint64_t value = 0;
  for (int i = 0; i < count; ++i) value |= std::uint64_t{bytes[i]} << (8 * i);
  return value;
}

/// A job as it arrives: its header, then its payload read straight into a buffer of its size
/// (the original's bytes are copied once, by the kernel, and never zero-filled).
struct Job {
  std::string header;
  std::unique_ptr<char[]> payload;
  std::size_t payload_size = 0;
};

bool ReadJob(int fd, Job& job) {
  unsigned char length[8];
  if (!ReadExact(fd, reinterpret_cast<char*>(length), 4)) return false;
  const std::uint64_t header_size = Le(length, 4);
  if (header_size > wire::kMaxHeaderBytes) return false;
  job.header.resize(header_size);
  if (!ReadExact(fd, job.header.data(), header_size)) return false;
  if (!ReadExact(fd, reinterpret_cast<char*>(length), 8)) return false;
  const std::uint64_t payload_size = Le(length, 8);
  if (payload_size > wire::kMaxPayloadBytes) return false;
  job.payload_size = static_cast<std::size_t>(payload_size);
  job.payload.reset(new char[job.payload_size]);
  return ReadExact(fd, job.payload.get(), job.payload_size);
}

bool WriteAll(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

/// The largest address space this process has had, from /proc/self/status (VmPeak, in kB).
std::uint64_t PeakAddressSpace() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmPeak:", 0) == 0) return std::strtoull(line.c_str() + 7, nullptr, 10) * 1024;
  }
  return 0;
}

bool MentionsMemory(const std::string& text) {
  for (const char* hint : {"memory", "alloc", "bad_alloc"}) {
    if (text.find(hint) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

bool ParsePixelWorkerArgs(int argc, char** argv, PixelWorkerOptions& options) {
  for (int i = 0; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    char* end = nullptr;
    const unsigned long long value = std::strtoull(argv[i + 1], &end, 10);
    if (end == argv[i + 1] || *end != '\0') return false;
    if (flag == "--fd") {
      options.fd = static_cast<int>(value);
    } else if (flag == "--parent") {
      options.parent = static_cast<pid_t>(value);
    } else if (flag == "--memory-limit") {
      options.memory_limit = value;
    } else if (flag == "--temp-limit") {
      options.temp_limit = value;
    } else {
      return false;
    }
  }
  return argc % 2 == 0;
}

namespace {

/// libvips' and GLib's warnings as one JSON line each on stderr, like every other line the
/// functions and the server write: CloudWatch Logs takes a worker's stderr line by line, and
/// a bare "(process:42): VIPS-WARNING **: ..." would be the one line no query can parse.
GLogWriterOutput WriteGLibLogAsJson(GLogLevelFlags level, const GLogField* fields, gsize n_fields,
                                    gpointer /*user_data*/) {
  std::string domain;
  std::string message;
  for (gsize i = 0; i < n_fields; ++i) {
    if (fields[i].length >= 0) continue;  // not a string (GLib: -1 means nul-terminated)
    const char* value = static_cast<const char*>(fields[i].value);
    if (std::strcmp(fields[i].key, "GLIB_DOMAIN") == 0) domain = value;
    if (std::strcmp(fields[i].key, "MESSAGE") == 0) message = value;
  }
  const bool error = (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) != 0;
  const bool warning = (level & G_LOG_LEVEL_WARNING) != 0;
  if (!error && !warning && (level & G_LOG_LEVEL_MESSAGE) == 0) return G_LOG_WRITER_HANDLED;
  const nlohmann::json line = {{"level", error ? "error" : (warning ? "warn" : "info")},
                               {"msg", message},
                               {"source", "pixel-worker"},
                               {"glib_domain", domain},
                               {"pid", static_cast<long>(::getpid())}};
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
  return G_LOG_WRITER_HANDLED;
}

}  // namespace

int RunPixelWorker(const char* argv0, const PixelWorkerOptions& options) {
  g_log_set_writer_func(WriteGLibLogAsJson, nullptr, nullptr);
  // The worker must not outlive the server, even one killed with SIGKILL.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (options.parent != 0 && ::getppid() != options.parent) return 1;
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  std::uint64_t address_cap = 0;
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer reserves terabytes of shadow address space: no cap can hold it. The
  // parent's resident-memory budget still applies.
  constexpr bool kCapAddressSpace = false;
#else
  constexpr bool kCapAddressSpace = true;
#endif
  if (kCapAddressSpace && options.memory_limit > 0) {
    address_cap = options.memory_limit + kAddressSpaceHeadroom;
    rlimit as{address_cap, address_cap};
    ::setrlimit(RLIMIT_AS, &as);
  }
  if (options.temp_limit > 0) {
    // A write past the limit fails with EFBIG instead of killing the worker with SIGXFSZ.
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit fsize{options.temp_limit, options.temp_limit};
    ::setrlimit(RLIMIT_FSIZE, &fsize);
  }
  // Pixel work takes only CPU time that nothing else wants; every thread libvips and libwebp
  // start inherits the policy.
  const sched_param zero{};
  ::sched_setscheduler(0, SCHED_IDLE, &zero);

  if (auto started = VipsImageProcessor::InitVips(argv0); !started) {
    const nlohmann::json line = {{"level", "error"},
                                 {"msg", started.error().message},
                                 {"source", "pixel-worker"},
                                 {"error_code", started.error().slug},
                                 {"error_detail", started.error().detail}};
    std::fprintf(stderr, "%s\n",
                 line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 1;
  }
  VipsImageProcessor processor;
  // Ready: the parent starts a job's clock only now, so no job pays for this start.
  if (!WriteAll(options.fd, std::string(1, kPixelWorkerReady))) return 0;
  for (;;) {
    Job job;
    if (!ReadJob(options.fd, job)) return 0;  // the parent closed the socket
    const std::string_view bytes(job.payload.get(), job.payload_size);
    ProcessingLimits limits;
    Result<ProcessedImage> result =
        wire::DecodeJobHeader(job.header, limits).and_then([&]() -> Result<ProcessedImage> {
          try {
            IMGUP_ASSIGN_OR_RETURN(const SniffResult sniffed, SniffImage(bytes));
            return processor.Process(bytes, sniffed, limits);
          } catch (const std::bad_alloc&) {
            return Fail(ErrorCode::kInternal, "out_of_memory",
                        "The image needs more memory than allowed.", "std::bad_alloc");
          } catch (const std::exception& e) {
            return Fail(ErrorCode::kInternal, "processing_failed",
                        "The image could not be processed.", e.what());
          }
        });
    job = {};
    // An allocation refused at the address-space cap surfaces as whatever error the library
    // made of it ("Insufficient memory", a failed read): it is the cap, not the image.
    if (!result && address_cap > 0 && result.error().slug != "out_of_memory" &&
        (PeakAddressSpace() + (std::uint64_t{64} << 20) >= address_cap ||
         MentionsMemory(result.error().detail))) {
      result =
          Fail(ErrorCode::kInternal, "out_of_memory", "The image needs more memory than allowed.",
               result.error().slug + ": " + result.error().detail);
    }
    // A temp file stopped at RLIMIT_FSIZE (EFBIG) surfaces as a failed write inside libvips.
    if (!result && result.error().detail.find("File too large") != std::string::npos) {
      result =
          Fail(ErrorCode::kUnprocessable, "temp_space_exceeded",
               "The image needs more temporary disc space than allowed.", result.error().detail);
    }
    if (!WriteAll(options.fd, wire::EncodeFrame(wire::EncodeResult(result)))) return 0;
  }
}

}  // namespace imgup
