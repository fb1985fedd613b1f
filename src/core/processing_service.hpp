#pragma once
// Derived work, off the request path: the local worker pool and the AWS processor function
// both call ProcessingService::Process for a stored original.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/image_processor.hpp"
#include "core/ports.hpp"

namespace imgup {

/// What to do with the original of an image that fails the full decode. It is never served.
enum class FailedOriginalPolicy {
  kRemove,      // delete the bytes; the record stays, status "failed", with the reason
  kQuarantine,  // move the bytes to quarantine/{owner}/{id} for inspection
};

struct ProcessingPolicy {
  ProcessingLimits limits;
  FailedOriginalPolicy failed_originals = FailedOriginalPolicy::kRemove;
};

std::string QuarantineKey(std::string_view owner, std::string_view id);

class ProcessingService {
 public:
  ProcessingService(BlobStore& blobs, MetadataStore& records, ImageProcessor& processor,
                    ProcessingPolicy policy)
      : blobs_(blobs), records_(records), processor_(processor), policy_(std::move(policy)) {}

  /// Derives everything for the owner's record `id` and saves it: variants first, then the
  /// record (status "ready"), or status "failed" with a reason. Idempotent: a record that is not
  /// "processing" is returned unchanged, since events may be delivered more than once.
  /// Errors: kNotFound, and storage errors (the record then stays "processing" for a retry).
  Result<ImageRecord> Process(std::string_view owner, std::string_view id);

 private:
  Result<ImageRecord> MarkFailed(ImageRecord record, const Error& error);

  BlobStore& blobs_;
  MetadataStore& records_;
  ImageProcessor& processor_;
  ProcessingPolicy policy_;
};

/// Accepts records to process after their upload.
class ProcessingQueue {
 public:
  virtual ~ProcessingQueue() = default;
  /// Queues the owner's record `id`. May block while the queue is full (back-pressure on the
  /// upload path). Errors: kUnavailable when the queue is shutting down.
  virtual Result<void> Enqueue(const RecordRef& ref) = 0;
};

/// A bounded queue drained by a fixed set of threads; the local server's ProcessingQueue.
class WorkerPool final : public ProcessingQueue {
 public:
  using Job = std::function<void(const RecordRef&)>;
  WorkerPool(std::size_t workers, std::size_t capacity, Job job);
  ~WorkerPool() override;
  Result<void> Enqueue(const RecordRef& ref) override;
  /// Stops taking work, finishes the running jobs, drops the queued ones (their records stay
  /// "processing" and are picked up again at start-up), joins the threads.
  void Shutdown();
  /// Blocks until the queue is empty and no job runs (tests, benchmarks).
  void WaitIdle();
  /// Records queued plus jobs running.
  std::size_t Pending();

 private:
  void Run();

  Job job_;
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_, idle_;
  std::deque<RecordRef> queue_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace imgup
