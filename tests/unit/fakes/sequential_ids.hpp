#pragma once
// An IdGenerator for tests: predictable, ascending, ULID-shaped ids ("01J" and 23 decimal
// digits: 26 characters of Crockford base32, uppercase), independent of the time.
#include <atomic>
#include <cstdint>
#include <string>

#include "domain/ports/id_generator.hpp"

namespace imgup {

class SequentialIds final : public IdGenerator {
 public:
  /// The first id returned is Format(first).
  explicit SequentialIds(std::uint64_t first = 1) : next_(first) {}
  std::string NewId(std::int64_t /*now_ms*/) override { return Format(next_.fetch_add(1)); }

  /// The id with sequence number `n`: Format(1) == "01J00000000000000000000001".
  static std::string Format(std::uint64_t n) {
    std::string digits = std::to_string(n);
    return "01J" + std::string(23 - digits.size(), '0') + digits;
  }

 private:
  std::atomic<std::uint64_t> next_;
};

}  // namespace imgup
