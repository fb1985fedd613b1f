#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace imgup::cli {

/// `imgup upload PATH...`: uploads files (folders recursively) with `jobs` in parallel, a
/// progress bar per file and a total on a terminal, one line per file otherwise, or a JSON
/// report with `json`. Returns 0 when every file was stored (or already was), 1 otherwise.
int RunUpload(const std::string& url, const std::string& key, bool json, std::size_t jobs,
              const std::vector<std::string>& paths);

}  // namespace imgup::cli
