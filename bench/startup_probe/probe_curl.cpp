// Start-up probe (docs/adr/0008-aws-http-client.md): libcurl (Debian's libcurl4-openssl-dev) set
// up as a client would be at init: global init and one easy handle.
#include <curl/curl.h>

#include <iostream>

int main() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* handle = curl_easy_init();
  std::cout << (handle != nullptr ? "ok" : "no handle") << "\n";
  curl_easy_cleanup(handle);
  curl_global_cleanup();
  return 0;
}
