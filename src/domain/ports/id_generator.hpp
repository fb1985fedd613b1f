#pragma once
// The IdGenerator port: new record ids (UlidGenerator).
#include <cstdint>
#include <string>

namespace imgup {

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  /// A new unique id that sorts after every id this generator returned before (ULID).
  virtual std::string NewId(std::int64_t now_ms) = 0;
};

}  // namespace imgup
