#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "domain/ports/id_generator.hpp"

namespace imgup {

/// ULIDs (https://github.com/ulid/spec): 48-bit millisecond time + 80 random bits, Crockford
/// base32, 26 characters. Monotonic: within one millisecond the random part is incremented, so
/// ids from one generator are strictly increasing. Thread-safe.
class UlidGenerator final : public IdGenerator {
 public:
  UlidGenerator();
  std::string NewId(std::int64_t now_ms) override;

 private:
  std::mutex mutex_;
  std::mt19937_64 rng_;
  std::int64_t last_ms_ = -1;
  std::array<std::uint8_t, 10> last_random_{};
};

/// Whether `text` is a well-formed ULID (26 Crockford base32 characters, uppercase).
bool IsValidUlid(std::string_view text);
/// The millisecond timestamp of a well-formed ULID.
std::int64_t UlidTimeMs(std::string_view ulid);

}  // namespace imgup
