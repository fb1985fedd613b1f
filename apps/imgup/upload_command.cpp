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

// kNotStarted: Ctrl-C came first; kInterrupted: Ctrl-C cut its upload short.
enum class Outcome { kNotStarted, kStored, kDuplicate, kFailed, kInterrupted };

struct FileResult {
  std::string file;
  Outcome outcome = Outcome::kNotStarted;
  long status = 0;
  nlohmann::json record;
  std::string error;
  std::string final_status;  // with --wait: "ready", "failed", or "processing" when given up
};

bool Uploaded(const FileResult& result) {
  return result.outcome == Outcome::kStored || result.outcome == Outcome::kDuplicate;
}

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
    // Redraw at most every 80 ms, but at once when a file's last byte is out.
    if (sent < total && now - last_draw_ < std::chrono::milliseconds(80)) return;
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
      case Outcome::kInterrupted:
        std::fprintf(stderr, "cut off    %s (Ctrl-C)\n", result.file.c_str());
        break;
      case Outcome::kNotStarted:
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
      if (total > 0 && sent >= total) {
        // Every byte is out: what remains is the server checking and storing them.
        std::fprintf(stderr, "  %-32s waiting for the server (%s sent)\n", name.c_str(),
                     HumanBytes(total).c_str());
      } else {
        std::fprintf(stderr, "  %-32s %s %3d%% %s\n", name.c_str(), Bar(sent, total, 24).c_str(),
                     static_cast<int>(total ? sent * 100 / total : 0), HumanBytes(total).c_str());
      }
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

/// Polls the records of the uploaded files until none is "processing", the deadline passes or
/// Ctrl-C comes; sets each one's final_status (and record). Prints each final state as it comes
/// unless `quiet`.
void WaitForProcessing(const std::string& url, const std::string& key, int timeout_s, bool quiet,
                       std::vector<FileResult>& results) {
  Client client(url, key);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::vector<FileResult*> waiting;
  for (FileResult& result : results) {
    if (Uploaded(result)) waiting.push_back(&result);
  }
  if (!quiet && !waiting.empty()) {
    std::fprintf(stderr, "imgup: waiting for the server to process %zu image(s)...\n",
                 waiting.size());
  }
  auto delay = std::chrono::milliseconds(100);
  while (!waiting.empty() && !Interrupted()) {
    std::vector<FileResult*> still;
    for (FileResult* result : waiting) {
      const std::string id = result->record.value("id", "");
      const ClientResponse response = client.Get("/images/" + id);
      auto record = nlohmann::json::parse(response.body, nullptr, false);
      if (response.status != 200 || !record.is_object()) {
        if (Interrupted()) return;
        result->final_status = "unknown";
        result->error = DescribeFailure(response);
        continue;
      }
      const std::string status = record.value("status", "");
      // A presigned upload is "awaiting_upload" until its bytes are committed (on AWS, when the
      // processor function has the S3 event).
      if (status == "processing" || status == "awaiting_upload") {
        still.push_back(result);
        continue;
      }
      result->record = std::move(record);
      result->final_status = status;
      if (quiet) continue;
      if (status == "failed") {
        std::fprintf(stderr, "failed     %s  %s: %s\n", id.c_str(), result->file.c_str(),
                     FailureInWords(result->record.value("failure_reason", "")).c_str());
      } else {
        std::fprintf(stderr, "%-10s %s  %s\n", status.c_str(), id.c_str(), result->file.c_str());
      }
    }
    waiting = std::move(still);
    if (waiting.empty() || std::chrono::steady_clock::now() >= deadline) break;
    // Small images are processed in tens of milliseconds; big batches take longer, so back off.
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
  for (FileResult* result : waiting) result->final_status = "processing";
}

}  // namespace

int RunUpload(const std::string& url, const std::string& key, bool json,
              const UploadOptions& options, const std::vector<std::string>& paths) {
  const std::vector<std::string> files = ExpandPaths(paths);
  if (files.empty()) {
    std::cerr << "imgup: no files to upload\n";
    return 1;
  }
  std::vector<FileResult> results(files.size());
  for (std::size_t i = 0; i < files.size(); ++i) results[i].file = files[i];
  ProgressBoard board(isatty(fileno(stderr)) != 0, json, files.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    Client client(url, key);  // one connection per worker, kept alive across its files
    for (std::size_t i = next++; i < files.size() && !Interrupted(); i = next++) {
      const std::string& file = files[i];
      std::uint64_t size = 0;
      const ClientResponse response =
          client.UploadFile(file, [&](std::uint64_t sent, std::uint64_t total) {
            size = total;
            board.Update(file, sent, total);
          });
      FileResult& result = results[i];
      result.status = response.status;
      auto body = nlohmann::json::parse(response.body, nullptr, false);
      if (response.status == 201 || response.status == 200) {
        result.outcome = response.status == 201 ? Outcome::kStored : Outcome::kDuplicate;
        result.record = std::move(body);
      } else if (response.status == 0 && Interrupted()) {
        result.outcome = Outcome::kInterrupted;
      } else {
        result.outcome = Outcome::kFailed;
        result.error = DescribeFailure(response);
      }
      board.Finish(result, size);
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < std::min(options.jobs, files.size()); ++i) {
    threads.emplace_back(worker);
  }
  for (std::thread& thread : threads) thread.join();
  board.Close();
  if (options.wait && !Interrupted()) {
    WaitForProcessing(url, key, options.wait_timeout_s, json, results);
  }
  const bool interrupted = Interrupted();

  std::size_t stored = 0, duplicates = 0, failed = 0, cut_off = 0, not_started = 0;
  std::size_t ready = 0, processing_failed = 0, still_processing = 0;
  nlohmann::json report = nlohmann::json::array();
  for (const FileResult& result : results) {
    const auto one_if = [](bool yes) -> std::size_t { return yes ? 1 : 0; };
    stored += one_if(result.outcome == Outcome::kStored);
    duplicates += one_if(result.outcome == Outcome::kDuplicate);
    failed += one_if(result.outcome == Outcome::kFailed);
    cut_off += one_if(result.outcome == Outcome::kInterrupted);
    not_started += one_if(result.outcome == Outcome::kNotStarted);
    ready += one_if(result.final_status == "ready");
    processing_failed += one_if(result.final_status == "failed");
    still_processing += one_if(options.wait && Uploaded(result) && result.final_status != "ready" &&
                               result.final_status != "failed");
    if (json) {
      nlohmann::json item = {{"file", result.file},
                             {"ok", Uploaded(result)},
                             {"duplicate", result.outcome == Outcome::kDuplicate},
                             {"status", result.status}};
      if (Uploaded(result)) item["record"] = result.record;
      if (result.outcome == Outcome::kFailed) item["error"] = result.error;
      if (result.outcome == Outcome::kInterrupted) item["error"] = "interrupted";
      if (result.outcome == Outcome::kNotStarted) item["error"] = "not started";
      if (options.wait && Uploaded(result)) {
        item["final_status"] = result.final_status.empty() ? "processing" : result.final_status;
        if (result.final_status == "failed") {
          item["failure_reason"] = result.record.value("failure_reason", "");
        }
      }
      report.push_back(std::move(item));
    } else if (Uploaded(result)) {
      std::cout << result.record.value("id", "") << "  ";
      if (options.wait) {
        const std::string state = result.final_status.empty() ? "processing" : result.final_status;
        std::cout << state << std::string(state.size() < 10 ? 10 - state.size() : 1, ' ');
      }
      std::cout << result.file;
      if (result.final_status == "failed") {
        std::cout << "  (" << FailureInWords(result.record.value("failure_reason", "")) << ")";
      }
      std::cout << "\n";
    }
  }
  if (json) {
    nlohmann::json summary = {{"stored", stored},
                              {"duplicates", duplicates},
                              {"failed", failed},
                              {"interrupted", interrupted},
                              {"files", std::move(report)}};
    if (options.wait) {
      summary["ready"] = ready;
      summary["processing_failed"] = processing_failed;
      summary["still_processing"] = still_processing;
    }
    std::cout << summary.dump(2) << "\n";
  } else {
    std::fprintf(stderr, "imgup: %s%zu stored, %zu duplicate(s) skipped, %zu failed",
                 interrupted ? "interrupted (Ctrl-C): " : "", stored, duplicates, failed);
    if (interrupted) std::fprintf(stderr, ", %zu cut off, %zu not started", cut_off, not_started);
    if (options.wait) {
      std::fprintf(stderr, "; processed: %zu ready, %zu failed, %zu still processing", ready,
                   processing_failed, still_processing);
    }
    std::fprintf(stderr, "\n");
    for (const FileResult& result : results) {
      if (result.outcome == Outcome::kFailed) {
        std::fprintf(stderr, "  failed: %s: %s\n", result.file.c_str(), result.error.c_str());
      }
    }
  }
  if (interrupted) return 130;
  const bool all_ready = !options.wait || (processing_failed == 0 && still_processing == 0);
  return failed > 0 || !all_ready ? 1 : 0;
}

}  // namespace imgup::cli
