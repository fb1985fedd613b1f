#pragma once
// The local runtime's processing queue: threads that drain a window of record ids, the store
// holding the rest. `imgup serve` wires it to ProcessingService; on AWS there is none (the S3
// event of an original starts its processing).
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

#include "base/error.hpp"
#include "domain/image_record.hpp"
#include "domain/ports/processing_queue.hpp"

namespace imgup {

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
