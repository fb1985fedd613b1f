#pragma once
// What `imgup serve` and `imgup gateway` share as long-running processes: SIGINT and SIGTERM
// taken by one thread, and request log lines written whole to stdout.
#include <signal.h>

#include <functional>
#include <string>

namespace imgup {

/// Blocks SIGINT and SIGTERM in this thread and in every thread started after it, so that one
/// thread takes them with WaitForStopSignal. Call before any thread starts.
sigset_t BlockStopSignals();

/// Waits for SIGINT or SIGTERM (blocked by BlockStopSignals); "SIGINT" or "SIGTERM".
const char* WaitForStopSignal(const sigset_t& signals);

/// Writes each line it is given to stdout with a newline, flushed, whole even when called from
/// several threads at once.
std::function<void(const std::string&)> StdoutLines();

}  // namespace imgup
