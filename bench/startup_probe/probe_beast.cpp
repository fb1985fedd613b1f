// Start-up probe (docs/adr/0008-aws-http-client.md): imgup's AWS client as the API function
// would build it at init: Boost.Beast + OpenSSL (libssl, libcrypto) + expat, the client made
// with TLS verification against the system's trust store.
#include <iostream>

#include "aws/http_client.hpp"

int main() {
  auto client = imgup::aws::MakeHttpClient();
  std::cout << (client ? "ok" : "no client") << "\n";
  return 0;
}
