#pragma once
// Derived work, off the request path: the local worker pool and the AWS processor function
// both call ProcessingService::Process for a stored original.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
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
  /// Attempts at a record whose failures are not the image's own fault (memory, a killed or
  /// crashed worker, storage) before it is marked failed, its original kept.
  std::uint32_t max_attempts = 3;
  /// The wait before the second attempt; each later one waits 4 times longer (with jitter).
  std::chrono::milliseconds retry_base{1000};
};

/// What became of one attempt at a record.
struct ProcessingOutcome {
  /// The record as stored after the attempt, or why there is none (see ProcessingService::Run).
  Result<ImageRecord> record;
  /// Set when the attempt should be made again after this long (the record stays "processing").
  std::optional<std::chrono::milliseconds> retry_after;
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
  ///
  /// Each attempt is counted in the record before it starts. A failure that is the image's own
  /// (kUnprocessable, kUnsupportedMediaType: it does not decode, is too large, takes too long)
  /// fails the record and removes or quarantines the original by policy. Any other failure
  /// (memory, a worker that died, storage, an exception) leaves the record "processing" with a
  /// retry_after, up to max_attempts; then the record fails with that reason and the original is
  /// kept. An attempt that finds the count already past max_attempts means that the earlier ones
  /// took the process down with them: the record fails as "processing_crashed", original kept.
  /// Attempts ended by a shutdown or by a machine too busy to give the job the CPU do not count.
  /// Errors in `record`: kNotFound; kUnavailable for an attempt to make again.
  ProcessingOutcome Run(std::string_view owner, std::string_view id);
  /// Run(), without the retry advice.
  Result<ImageRecord> Process(std::string_view owner, std::string_view id) {
    return Run(owner, id).record;
  }

 private:
  Result<ImageRecord> MarkFailed(ImageRecord record, const Error& error);
  /// Status "failed" with `reason`; the original stays where it is (not the image's fault).
  Result<ImageRecord> MarkFailedKeepingOriginal(ImageRecord record, const Error& reason);
  ProcessingOutcome NotItsFault(ImageRecord record, std::uint32_t attempts, const Error& error);
  ProcessingOutcome Attempt(ImageRecord record, std::uint32_t attempts);

  BlobStore& blobs_;
  MetadataStore& records_;
  ImageProcessor& processor_;
  ProcessingPolicy policy_;
};

/// Accepts records to process after their upload.
class ProcessingQueue {
 public:
  virtual ~ProcessingQueue() = default;
  /// Queues the owner's record `id`, which is already stored with status "processing".
  /// Errors: kUnavailable when the queue is shutting down (the record stays "processing").
  virtual Result<void> Enqueue(const RecordRef& ref) = 0;
};

/// The local server's ProcessingQueue: a fixed set of threads draining a queue of record ids.
///
/// The store is the real queue: every record waiting for processing is stored with status
/// "processing". Memory holds a window of at most `capacity` ids. With a `refill`, an Enqueue
/// that finds the window full returns at once and leaves the record to the store; once the
/// window has drained, a worker asks `refill` for the records still waiting (oldest first), so a
/// burst of uploads never waits for image processing and nothing is lost. Without a `refill`,
/// Enqueue waits for room (back-pressure).
class WorkerPool final : public ProcessingQueue {
 public:
  /// Processes one record; returns when to try it again, if ever.
  using Job = std::function<std::optional<std::chrono::milliseconds>(const RecordRef&)>;
  /// Up to `limit` records still waiting for processing, oldest first.
  using Refill = std::function<Result<std::vector<RecordRef>>(std::size_t limit)>;

  WorkerPool(std::size_t workers, std::size_t capacity, Job job, Refill refill = {});
  ~WorkerPool() override;
  Result<void> Enqueue(const RecordRef& ref) override;
  /// Makes the workers fetch the records waiting in the store (at start-up: those that a crash
  /// or a stop left "processing"). Needs a `refill`.
  void Resume();
  /// Stops taking work and drops the queued and delayed records (they stay "processing" and are
  /// picked up again at start-up). Does not wait: jobs already running go on.
  void Stop();
  /// Stop(), then waits for the running jobs and joins the threads.
  void Shutdown();
  /// Blocks until nothing is queued, running or waiting in the store (tests, benchmarks).
  void WaitIdle();
  /// Records queued, running and (as far as the pool knows) waiting in the store; never 0 while
  /// the store may still hold records to fetch.
  std::size_t Pending();

 private:
  void Run();
  /// Moves the delayed records that are due to the queue. With the lock held.
  void PromoteDueLocked();
  void RefillFromStore();  // called by a worker with the window empty, without the lock
  bool IdleLocked() const;

  Job job_;
  Refill refill_;
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_, idle_;
  std::deque<RecordRef> queue_;
  // Records waiting for a retry, by when. They stay in ids_, so no refill queues them early.
  std::multimap<std::chrono::steady_clock::time_point, RecordRef> delayed_;
  std::unordered_set<std::string> ids_;  // queued, delayed or running: never run twice at once
  std::size_t running_ = 0;
  bool in_store_ = false;          // records may be waiting in the store, not in the window
  std::size_t left_in_store_ = 0;  // Enqueues left to the store since the last refill
  bool refilling_ = false;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace imgup
