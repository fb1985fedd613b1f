#include "upload_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "client.hpp"

namespace imgup::cli {

namespace fs = std::filesystem;

namespace {

/// Every regular file named by `paths`, folders walked recursively, in a stable order.
std::vector<std::string> ExpandPaths(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::recursive_directory_iterator(
               path, fs::directory_options::skip_permission_denied, ec)) {
        if (entry.is_regular_file(ec) && entry.path().filename().string().front() != '.') {
          found.push_back(entry.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(path);
    }
  }
  return files;
}

enum class Outcome { kStored, kDuplicate, kFailed };

struct FileResult {
  std::string file;
  Outcome outcome = Outcome::kFailed;
  long status = 0;
  nlohmann::json record;
  std::string error;
};

/// The live display: one bar per file in flight and a total line, redrawn in place on a
/// terminal; a line per finished file elsewhere.
class ProgressBoard {
 public:
  ProgressBoard(bool tty, bool quiet, std::size_t total_files)
      : tty_(tty), quiet_(quiet), total_files_(total_files) {}

  void Update(const std::string& file, std::uint64_t sent, std::uint64_t total) {
    std::lock_guard<std::mutex> lock(mutex_);
    active_[file] = {sent, total};
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(80)) return;
    last_draw_ = now;
    Draw();
  }

  void Finish(const FileResult& result, std::uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    active_.erase(result.file);
    ++done_files_;
    done_bytes_ += bytes;
    if (quiet_) return;
    Clear();
    switch (result.outcome) {
      case Outcome::kStored:
        std::fprintf(stderr, "stored     %s  %s\n", result.record.value("id", "").c_str(),
                     result.file.c_str());
        break;
      case Outcome::kDuplicate:
        std::fprintf(stderr, "duplicate  %s  %s (skipped: already uploaded)\n",
                     result.record.value("id", "").c_str(), result.file.c_str());
        break;
      case Outcome::kFailed:
        std::fprintf(stderr, "FAILED     %s: %s\n", result.file.c_str(), result.error.c_str());
        break;
    }
    Draw();
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    Clear();
  }

 private:
  static std::string Bar(std::uint64_t sent, std::uint64_t total, int width) {
    const int filled =
        total == 0 ? 0 : static_cast<int>(sent * static_cast<std::uint64_t>(width) / total);
    return "[" + std::string(static_cast<std::size_t>(filled), '#') +
           std::string(static_cast<std::size_t>(width - filled), '.') + "]";
  }

  void Clear() {
    if (!tty_ || drawn_lines_ == 0) return;
    std::fprintf(stderr, "\033[%zuA\033[J", drawn_lines_);
    drawn_lines_ = 0;
  }

  void Draw() {
    if (!tty_ || quiet_) return;
    Clear();
    std::uint64_t in_flight = 0;
    for (const auto& [file, progress] : active_) {
      const auto [sent, total] = progress;
      in_flight += sent;
      std::string name = fs::path(file).filename().string();
      if (name.size() > 32) name = name.substr(0, 29) + "...";
      std::fprintf(stderr, "  %-32s %s %3d%% %s\n", name.c_str(), Bar(sent, total, 24).c_str(),
                   static_cast<int>(total ? sent * 100 / total : 0), HumanBytes(total).c_str());
      ++drawn_lines_;
    }
    std::fprintf(stderr, "total %zu/%zu files, %s sent\n", done_files_, total_files_,
                 HumanBytes(done_bytes_ + in_flight).c_str());
    ++drawn_lines_;
    std::fflush(stderr);
  }

  std::mutex mutex_;
  bool tty_;
  bool quiet_;
  std::size_t total_files_;
  std::size_t done_files_ = 0;
  std::uint64_t done_bytes_ = 0;
  std::size_t drawn_lines_ = 0;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> active_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace

int RunUpload(const std::string& url, const std::string& key, bool json, std::size_t jobs,
              const std::vector<std::string>& paths) {
  const std::vector<std::string> files = ExpandPaths(paths);
  if (files.empty()) {
    std::cerr << "imgup: no files to upload\n";
    return 1;
  }
  std::vector<FileResult> results(files.size());
  ProgressBoard board(isatty(fileno(stderr)) != 0, json, files.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    Client client(url, key);  // one connection per worker, kept alive across its files
    for (std::size_t i = next++; i < files.size(); i = next++) {
      const std::string& file = files[i];
      std::uint64_t size = 0;
      const ClientResponse response =
          client.UploadFile(file, [&](std::uint64_t sent, std::uint64_t total) {
            size = total;
            board.Update(file, sent, total);
          });
      FileResult& result = results[i];
      result.file = file;
      result.status = response.status;
      auto body = nlohmann::json::parse(response.body, nullptr, false);
      if (response.status == 201 || response.status == 200) {
        result.outcome = response.status == 201 ? Outcome::kStored : Outcome::kDuplicate;
        result.record = std::move(body);
      } else {
        result.error = DescribeFailure(response);
      }
      board.Finish(result, size);
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < std::min(jobs, files.size()); ++i) threads.emplace_back(worker);
  for (std::thread& thread : threads) thread.join();
  board.Close();

  std::size_t stored = 0, duplicates = 0, failed = 0;
  nlohmann::json report = nlohmann::json::array();
  for (const FileResult& result : results) {
    stored += result.outcome == Outcome::kStored ? 1 : 0;
    duplicates += result.outcome == Outcome::kDuplicate ? 1 : 0;
    failed += result.outcome == Outcome::kFailed ? 1 : 0;
    if (json) {
      nlohmann::json item = {{"file", result.file},
                             {"ok", result.outcome != Outcome::kFailed},
                             {"duplicate", result.outcome == Outcome::kDuplicate},
                             {"status", result.status}};
      if (result.outcome != Outcome::kFailed) item["record"] = result.record;
      if (result.outcome == Outcome::kFailed) item["error"] = result.error;
      report.push_back(std::move(item));
    } else if (result.outcome != Outcome::kFailed) {
      std::cout << result.record.value("id", "") << "  " << result.file << "\n";
    }
  }
  if (json) {
    std::cout << nlohmann::json{{"stored", stored},
                                {"duplicates", duplicates},
                                {"failed", failed},
                                {"files", std::move(report)}}
                     .dump(2)
              << "\n";
  } else {
    std::fprintf(stderr, "imgup: %zu stored, %zu duplicate(s) skipped, %zu failed\n", stored,
                 duplicates, failed);
    for (const FileResult& result : results) {
      if (result.outcome == Outcome::kFailed) {
        std::fprintf(stderr, "  failed: %s: %s\n", result.file.c_str(), result.error.c_str());
      }
    }
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace imgup::cli
