#include "support/test_paths.hpp"

#include <cstdlib>

namespace imgup::test {

std::string CorporaDir() {
  if (const char* env = std::getenv("IMGUP_CORPORA"); env != nullptr && *env != '\0') return env;
  return IMGUP_CORPORA_DIR;
}

std::string LambdaFixturesDir() { return IMGUP_LAMBDA_FIXTURES_DIR; }

std::string HttpPeerScript() { return IMGUP_HTTP_PEER; }

}  // namespace imgup::test
