#pragma once
// The child side of SandboxedImageProcessor: a process that runs image jobs read from a socket
// with VipsImageProcessor, one at a time, until the socket closes.
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace imgup {

/// The byte a worker sends once it has started, before its first job.
inline constexpr char kPixelWorkerReady = 'R';

struct PixelWorkerOptions {
  int fd = 3;                      // the socket to the parent
  pid_t parent = 0;                // the worker ends when this process does (0: not checked)
  std::uint64_t memory_limit = 0;  // the budget; address space is capped above it (0: no cap)
  std::uint64_t temp_limit = 0;    // largest file the worker may write (0: no cap)
};

/// Caps the process (address space, file size, no core dumps), drops to idle CPU priority,
/// starts libvips and serves jobs. Returns the process's exit code.
int RunPixelWorker(const char* argv0, const PixelWorkerOptions& options);

/// Parses "--fd N --parent PID --memory-limit BYTES --temp-limit BYTES" (the flags that
/// SandboxedImageProcessor appends). Returns false on anything else.
bool ParsePixelWorkerArgs(int argc, char** argv, PixelWorkerOptions& options);

}  // namespace imgup
