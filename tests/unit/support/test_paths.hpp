#pragma once
// Where the tests find files in the checkout: the corpora (../shared/corpora, or IMGUP_CORPORA),
// AWS's sample events (tests/lambda/fixtures/aws) and the HTTP client's peer script. The paths are
// compiled into test_paths.cpp alone, so that no other test object's preprocessed text names the
// checkout it was built in, and ccache serves those objects to a clone elsewhere (CMakeLists.txt).
#include <string>

namespace imgup::test {

/// IMGUP_CORPORA when set and not empty, else the checkout's ../shared/corpora.
std::string CorporaDir();

/// The checkout's tests/lambda/fixtures/aws.
std::string LambdaFixturesDir();

/// The checkout's tests/unit/aws/http_peer.py (the HTTP client's peer).
std::string HttpPeerScript();

}  // namespace imgup::test
