#pragma once
// The Clock port: wall-clock time, frozen in tests.
#include <cstdint>

namespace imgup {

class Clock {
 public:
  virtual ~Clock() = default;
  /// Unix epoch milliseconds, UTC.
  virtual std::int64_t NowMs() = 0;
};

}  // namespace imgup
