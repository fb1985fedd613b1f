// The local runtime's WorkerPool: every job runs once, back-pressure or the store as overflow,
// retries after the delay a job asks for, and a job that throws does not take the pool down.
#include "runtime/local/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace imgup {
namespace {

using Retry = std::optional<std::chrono::milliseconds>;

TEST(WorkerPoolTest, AJobIsRetriedAfterTheDelayItAsksFor) {
  std::atomic<int> ran{0};
  WorkerPool pool(1, 3, [&](const RecordRef&) -> Retry {
    if (++ran < 3) return std::chrono::milliseconds(20);
    return std::nullopt;
  });
  ASSERT_TRUE(pool.Enqueue(RecordRef{"o", "a", ""}));
  pool.WaitIdle();  // idle only once the retries are done
  EXPECT_EQ(ran.load(), 3);
  EXPECT_EQ(pool.Pending(), 0u);
}

TEST(WorkerPoolTest, AJobThatThrowsDoesNotTakeThePoolDown) {
  std::atomic<int> ran{0};
  WorkerPool pool(1, 3, [&](const RecordRef& ref) -> Retry {
    ++ran;
    if (ref.id == "bad") throw std::runtime_error("boom");
    return std::nullopt;
  });
  ASSERT_TRUE(pool.Enqueue(RecordRef{"o", "bad", ""}));
  ASSERT_TRUE(pool.Enqueue(RecordRef{"o", "good", ""}));
  while (ran.load() < 2) std::this_thread::yield();
  EXPECT_EQ(pool.Pending(), 1u) << "the one that threw waits for its retry";
  pool.Shutdown();  // and a stop does not wait for it
}

TEST(WorkerPoolTest, RunsEveryJobAndAppliesBackPressure) {
  std::atomic<int> ran{0};
  WorkerPool pool(2, 3, [&](const RecordRef&) -> Retry {
    ++ran;
    return std::nullopt;
  });
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.Enqueue(RecordRef{"o", std::to_string(i), ""}));
  pool.WaitIdle();
  EXPECT_EQ(ran.load(), 50);
  EXPECT_EQ(pool.Pending(), 0u);
  pool.Shutdown();
  EXPECT_EQ(pool.Enqueue(RecordRef{"o", "late", ""}).error().code, ErrorCode::kUnavailable);
}

/// The store side of a WorkerPool with a refill: the ids stored "processing", oldest first.
class WaitingRecords {
 public:
  void Add(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.insert(id);
  }
  void Done(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.erase(id);
  }
  std::vector<RecordRef> List(std::size_t limit) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++refills;
    std::vector<RecordRef> refs;
    for (const std::string& id : waiting_) {
      if (refs.size() == limit) break;
      refs.push_back(RecordRef{"o", id, ""});
    }
    return refs;
  }
  std::atomic<int> refills{0};

 private:
  std::mutex mutex_;
  std::set<std::string> waiting_;
};

std::string Id(int i) {
  std::string id = std::to_string(i);
  return std::string(4 - id.size(), '0') + id;
}

TEST(WorkerPoolTest, WithARefillUploadsNeverWaitAndEveryRecordIsProcessedOnce) {
  WaitingRecords store;
  std::mutex mutex;
  std::map<std::string, int> runs;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  WorkerPool pool(
      2, 3,
      [&](const RecordRef& ref) -> Retry {
        released.wait();  // the workers are busy until every upload is in
        {
          std::lock_guard<std::mutex> lock(mutex);
          ++runs[ref.id];
        }
        store.Done(ref.id);
        return std::nullopt;
      },
      [&](std::size_t limit) -> Result<std::vector<RecordRef>> { return store.List(limit); });
  for (int i = 0; i < 200; ++i) {
    store.Add(Id(i));  // stored first, then queued, as ImageService does
    ASSERT_TRUE(pool.Enqueue(RecordRef{"o", Id(i), ""}));  // returns although the window is full
  }
  EXPECT_GE(pool.Pending(), 4u) << "queued + running + at least one left in the store";
  release.set_value();
  pool.WaitIdle();
  EXPECT_EQ(pool.Pending(), 0u);
  ASSERT_EQ(runs.size(), 200u);
  for (const auto& [id, count] : runs) EXPECT_EQ(count, 1) << id;
  EXPECT_GT(store.refills.load(), 0);
  EXPECT_TRUE(store.List(1000).empty());
}

TEST(WorkerPoolTest, ResumeFetchesWhatTheStoreHolds) {
  WaitingRecords store;
  for (int i = 0; i < 25; ++i) store.Add(Id(i));
  std::atomic<int> ran{0};
  WorkerPool pool(
      2, 4,
      [&](const RecordRef& ref) -> Retry {
        ++ran;
        store.Done(ref.id);
        return std::nullopt;
      },
      [&](std::size_t limit) -> Result<std::vector<RecordRef>> { return store.List(limit); });
  pool.WaitIdle();
  EXPECT_EQ(ran.load(), 0) << "nothing runs before Resume()";
  pool.Resume();
  pool.WaitIdle();
  EXPECT_EQ(ran.load(), 25);
  EXPECT_EQ(pool.Pending(), 0u);
}

TEST(WorkerPoolTest, ARecordQueuedTwiceRunsOnce) {
  std::atomic<int> ran{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  WorkerPool pool(1, 10, [&](const RecordRef&) -> Retry {
    released.wait();
    ++ran;
    return std::nullopt;
  });
  ASSERT_TRUE(pool.Enqueue(RecordRef{"o", "a", ""}));
  ASSERT_TRUE(pool.Enqueue(RecordRef{"o", "b", ""}));
  ASSERT_TRUE(pool.Enqueue(RecordRef{"o", "b", ""}));  // e.g. a repeated event: b is queued
  release.set_value();
  pool.WaitIdle();
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace imgup
