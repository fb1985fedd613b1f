#include "transport/http/loopback.hpp"

#include <gtest/gtest.h>

namespace imgup {
namespace {

TEST(ResolvesOnlyToLoopback, LoopbackLiteralsAndLocalhost) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "localhost"}) {
    EXPECT_TRUE(ResolvesOnlyToLoopback(host)) << host;
  }
}

TEST(ResolvesOnlyToLoopback, EverythingElse) {
  // The old start-up check took any name starting with "127." for loopback; such a name is
  // whatever its DNS says (here it does not resolve at all, which is not loopback either).
  for (const char* host : {"127.0.0.1.invalid", "127.attacker.invalid", "0.0.0.0", "::", "10.0.0.1",
                           "192.168.1.1", "::ffff:10.0.0.1", "", "no-such-host.invalid"}) {
    EXPECT_FALSE(ResolvesOnlyToLoopback(host)) << host;
  }
}

}  // namespace
}  // namespace imgup
