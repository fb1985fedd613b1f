// Start-up probe (docs/adr/0008-aws-http-client.md): what imgup's client defers to its first
// TLS connection: an OpenSSL client context with the system's trust store loaded (OpenSSL's
// default paths: Debian's bundle of ~140 certificates, parsed whole).
#include <openssl/ssl.h>

#include <iostream>

int main() {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  const bool loaded = context != nullptr && SSL_CTX_set_default_verify_paths(context) == 1;
  std::cout << (loaded ? "ok" : "no trust store") << "\n";
  SSL_CTX_free(context);
  return 0;
}
