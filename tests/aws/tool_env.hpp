#pragma once
// What the test tools (s3_tool, dynamo_tool) take from the environment beyond the peer: the
// retry policy the fault tests set (tests/aws/test_faults.py), so that they can check that the
// client keeps to the bounds it is given.
//
//   IMGUP_TEST_RETRY_MAX_ATTEMPTS, IMGUP_TEST_RETRY_BASE_MS, IMGUP_TEST_RETRY_CAP_MS,
//   IMGUP_TEST_RETRY_MAX_TOTAL_MS   each unset: RetryPolicy's default
#include <chrono>
#include <cstdlib>
#include <string>

#include "aws/http_client.hpp"

namespace imgup::testing {

inline imgup::aws::RetryPolicy RetryPolicyFromEnvironment() {
  imgup::aws::RetryPolicy policy;
  auto number = [](const char* name, auto fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::stoll(value)
                                              : static_cast<long long>(fallback);
  };
  policy.max_attempts =
      static_cast<int>(number("IMGUP_TEST_RETRY_MAX_ATTEMPTS", policy.max_attempts));
  policy.base = std::chrono::milliseconds(number("IMGUP_TEST_RETRY_BASE_MS", policy.base.count()));
  policy.cap = std::chrono::milliseconds(number("IMGUP_TEST_RETRY_CAP_MS", policy.cap.count()));
  policy.max_total =
      std::chrono::milliseconds(number("IMGUP_TEST_RETRY_MAX_TOTAL_MS", policy.max_total.count()));
  return policy;
}

}  // namespace imgup::testing
