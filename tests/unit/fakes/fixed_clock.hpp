#pragma once
// A Clock for tests: time stands still until the test moves it.
#include <atomic>
#include <cstdint>

#include "domain/ports/clock.hpp"

namespace imgup {

class FixedClock final : public Clock {
 public:
  /// 2023-11-14T22:13:20Z by default.
  explicit FixedClock(std::int64_t now_ms = 1'700'000'000'000) : now_ms_(now_ms) {}
  std::int64_t NowMs() override { return now_ms_.load(); }
  void Set(std::int64_t now_ms) { now_ms_.store(now_ms); }
  void Advance(std::int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }

 private:
  std::atomic<std::int64_t> now_ms_;
};

}  // namespace imgup
