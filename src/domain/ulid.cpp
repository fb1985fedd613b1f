#include "domain/ulid.hpp"

#include <algorithm>

namespace imgup {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::int64_t kMaxTimeMs = (std::int64_t{1} << 48) - 1;

constexpr std::array<std::int8_t, 256> MakeCrockfordValues() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (std::size_t i = 0; i < 32; ++i) {
    t[static_cast<unsigned char>(kCrockford[i])] = static_cast<std::int8_t>(i);
  }
  return t;
}
constexpr std::array<std::int8_t, 256> kCrockfordValue = MakeCrockfordValues();

// Adds one to the big-endian 80-bit number; returns false when it wrapped around to zero.
bool Increment(std::array<std::uint8_t, 10>& bytes) {
  for (std::size_t i = bytes.size(); i-- > 0;) {
    if (++bytes[i] != 0) return true;
  }
  return false;
}

std::string Encode(std::int64_t ms, const std::array<std::uint8_t, 10>& random) {
  // 128 bits: 48-bit time then 80 random bits, written as 26 base32 digits (the first carries
  // only the top 3 bits, hence ULIDs start with 0-7).
  std::array<std::uint8_t, 16> b{};
  const auto t = static_cast<std::uint64_t>(ms);
  for (std::size_t i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(t >> (8 * (5 - i)));
  std::copy(random.begin(), random.end(), b.begin() + 6);
  std::string out(26, '0');
  // Walk the 130-bit big-endian field 5 bits at a time from the end.
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t pos = 26;
  for (std::size_t i = 16; i-- > 0;) {
    acc |= static_cast<std::uint32_t>(b[i]) << bits;
    bits += 8;
    while (bits >= 5 && pos > 0) {
      out[--pos] = kCrockford[acc & 31];
      acc >>= 5;
      bits -= 5;
    }
  }
  if (pos > 0) out[--pos] = kCrockford[acc & 31];
  return out;
}

}  // namespace

UlidGenerator::UlidGenerator() {
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device(),
                     device(), device(), device(), device()};
  rng_.seed(seed);
}

std::string UlidGenerator::NewId(std::int64_t now_ms) {
  const std::int64_t clamped = std::clamp<std::int64_t>(now_ms, 0, kMaxTimeMs);
  std::lock_guard lock(mutex_);
  // A clock that steps back must not make ids go back: keep the last millisecond instead.
  std::int64_t ms = std::max(clamped, last_ms_);
  bool fresh = ms != last_ms_;
  if (!fresh && !Increment(last_random_)) {
    // 2^80 ids in one millisecond cannot happen by counting, only by an unlucky draw near the
    // top; moving to the next millisecond keeps the order strict.
    if (ms < kMaxTimeMs) ++ms;
    fresh = true;
  }
  if (fresh) {
    const std::uint64_t hi = rng_();
    const std::uint64_t lo = rng_();
    for (std::size_t i = 0; i < 8; ++i) {
      last_random_[i] = static_cast<std::uint8_t>(hi >> (8 * (7 - i)));
    }
    last_random_[8] = static_cast<std::uint8_t>(lo >> 8);
    last_random_[9] = static_cast<std::uint8_t>(lo);
  }
  last_ms_ = ms;
  return Encode(ms, last_random_);
}

bool IsValidUlid(std::string_view text) {
  if (text.size() != 26 || text[0] > '7') return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return kCrockfordValue[static_cast<unsigned char>(c)] >= 0; });
}

std::int64_t UlidTimeMs(std::string_view ulid) {
  if (!IsValidUlid(ulid)) return -1;
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    t = (t << 5) | static_cast<std::uint64_t>(kCrockfordValue[static_cast<unsigned char>(ulid[i])]);
  }
  return static_cast<std::int64_t>(t);
}

}  // namespace imgup
