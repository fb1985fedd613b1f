#include "runtime/local/worker_pool.hpp"

#include <algorithm>

namespace imgup {

WorkerPool::WorkerPool(std::size_t workers, std::size_t capacity, Job job, Refill refill)
    : job_(std::move(job)), refill_(std::move(refill)), capacity_(capacity == 0 ? 1 : capacity) {
  for (std::size_t i = 0; i < (workers == 0 ? 1 : workers); ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

Result<void> WorkerPool::Enqueue(const RecordRef& ref) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!refill_) {
    not_full_.wait(lock, [this] { return stopping_ || queue_.size() < capacity_; });
  }
  if (stopping_) {
    return Fail(ErrorCode::kUnavailable, "shutting_down", "The server is shutting down");
  }
  if (ids_.contains(ref.id)) return {};  // already queued or running
  if (queue_.size() >= capacity_) {
    // The record is stored as "processing": a worker fetches it once the window has drained.
    in_store_ = true;
    ++left_in_store_;
    return {};
  }
  ids_.insert(ref.id);
  queue_.push_back(ref);
  not_empty_.notify_one();
  return {};
}

void WorkerPool::Resume() {
  if (!refill_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    in_store_ = true;
  }
  not_empty_.notify_one();
}

void WorkerPool::Shutdown() {
  Stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void WorkerPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    // Queued records stay "processing" in the store and are queued again at the next start;
    // only the jobs already running are finished.
    for (const RecordRef& ref : queue_) ids_.erase(ref.id);
    queue_.clear();
    for (const auto& [when, ref] : delayed_) ids_.erase(ref.id);
    delayed_.clear();
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

bool WorkerPool::IdleLocked() const {
  return queue_.empty() && delayed_.empty() && running_ == 0 && !in_store_ && !refilling_;
}

void WorkerPool::WaitIdle() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [this] { return stopping_ || IdleLocked(); });
}

std::size_t WorkerPool::Pending() {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::size_t in_store =
      in_store_ || refilling_ ? std::max<std::size_t>(left_in_store_, 1) : 0;
  return queue_.size() + delayed_.size() + running_ + in_store;
}

void WorkerPool::RefillFromStore() {
  auto refs = refill_(capacity_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    refilling_ = false;
    if (refs) {
      std::size_t added = 0;
      for (RecordRef& ref : *refs) {
        if (stopping_ || queue_.size() >= capacity_) break;
        if (!ids_.insert(ref.id).second) continue;
        queue_.push_back(std::move(ref));
        ++added;
      }
      // A full page may mean more in the store; a short one that it has been emptied (records
      // stored after the listing were enqueued or left to the store, which set in_store_ again).
      if (refs->size() >= capacity_) {
        in_store_ = true;
        left_in_store_ -= std::min(left_in_store_, added);
      } else if (!in_store_) {
        left_in_store_ = 0;
      }
    }
    // On a store error the records stay "processing": the next overflow or start-up retries.
    if (IdleLocked()) idle_.notify_all();
  }
  not_empty_.notify_all();
}

void WorkerPool::PromoteDueLocked() {
  const auto now = std::chrono::steady_clock::now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    queue_.push_back(std::move(delayed_.begin()->second));
    delayed_.erase(delayed_.begin());
  }
}

void WorkerPool::Run() {
  for (;;) {
    RecordRef ref;
    bool refill = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      auto ready = [this] {
        PromoteDueLocked();
        return stopping_ || !queue_.empty() || (in_store_ && !refilling_);
      };
      while (!ready()) {
        if (delayed_.empty()) {
          not_empty_.wait(lock);
        } else {
          // A copy: the node may be gone (promoted, or cleared by a stop) while this waits.
          const auto until = delayed_.begin()->first;
          not_empty_.wait_until(lock, until);
        }
      }
      if (stopping_) return;  // Shutdown() emptied the queue; running jobs are other threads'
      if (queue_.empty()) {
        in_store_ = false;
        refilling_ = refill = true;
      } else {
        ref = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
      }
    }
    if (refill) {
      RefillFromStore();
      continue;
    }
    not_full_.notify_one();
    std::optional<std::chrono::milliseconds> retry_after;
    try {
      retry_after = job_(ref);
    } catch (...) {
      // A job must never take the pool down. The record stays "processing"; the attempt that
      // threw was counted in it, so these retries end.
      retry_after = std::chrono::seconds(5);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --running_;
      if (retry_after && !stopping_) {
        delayed_.emplace(std::chrono::steady_clock::now() + *retry_after, ref);
      } else {
        ids_.erase(ref.id);
      }
      if (IdleLocked()) idle_.notify_all();
    }
    // A sleeping worker must learn of the new earliest retry.
    if (retry_after) not_empty_.notify_one();
  }
}

}  // namespace imgup
