#pragma once
// The Clock port: wall-clock time, frozen in tests; and the system's clock, which every
// composition root (imgup, the Lambda functions) hands to the services.
#include <chrono>
#include <cstdint>

namespace imgup {

class Clock {
 public:
  virtual ~Clock() = default;
  /// Unix epoch milliseconds, UTC.
  virtual std::int64_t NowMs() = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace imgup
