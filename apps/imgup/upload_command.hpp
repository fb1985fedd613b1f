#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace imgup::cli {

struct UploadOptions {
  std::size_t jobs = 4;      // uploads in parallel
  bool wait = false;         // wait for each image's processing to end (ready or failed)
  int wait_timeout_s = 600;  // how long --wait waits in all
};

/// `imgup upload PATH...`: uploads files (folders recursively) with `jobs` in parallel, a
/// progress bar per file and a total on a terminal ("waiting for the server" once a file's bytes
/// are sent), one line per file otherwise, or a JSON report with `json`. With `wait`, then waits
/// until each image is ready or failed and reports its final state and reason. Ctrl-C stops the
/// uploads in flight and prints what finished (exit 130). Returns 0 when every file was stored
/// (or already was) and, with `wait`, is ready; 1 otherwise.
int RunUpload(const std::string& url, const std::string& key, bool json,
              const UploadOptions& options, const std::vector<std::string>& paths);

}  // namespace imgup::cli
